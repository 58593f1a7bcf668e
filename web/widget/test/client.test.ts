import { test } from 'node:test';
import assert from 'node:assert/strict';
import { identitySubject, utf8Length } from '../src/client';
import { MemKV, msg, setup, welcome } from './fakes';

function online(over: object = {}) {
  const s = setup();
  s.client.start();
  s.ws().open();
  s.ws().recv(welcome(over));
  return s;
}

test('hello is the first frame, with subprotocol, site key, language and no resume at first', () => {
  const { client, ws } = setup();
  client.start();
  assert.equal(client.status, 'connecting');
  assert.equal(ws().protocol, 'custos.chat.v1');
  assert.equal(ws().url, 'wss://desk.example.com/chat/v1/ws');
  ws().open();
  assert.deepEqual(ws().sent, [{ type: 'hello', v: 1, site_key: 'demo', language: 'ko' }]);
  ws().recv(welcome());
  assert.equal(client.status, 'online');
  assert.equal(client.session, 'cs_1');
});

test('device token is stored and sent in the next hello; identity replaces it', () => {
  const kv = new MemKV();
  const a = setup({}, kv);
  a.client.start();
  a.ws().open();
  a.ws().recv(welcome({ device_token: 'dt_xyz' }));
  assert.equal(kv.getItem('custos:demo:device_token'), 'dt_xyz');
  const b = setup({}, kv);
  b.client.start();
  b.ws().open();
  assert.equal(b.ws().sent[0].device_token, 'dt_xyz');
  const c = setup({ identity: 'h.eyJzdWIiOiJVSUQtMSJ9.s' }, kv);
  c.client.start();
  c.ws().open();
  assert.equal(c.ws().sent[0].identity, 'h.eyJzdWIiOiJVSUQtMSJ9.s');
  assert.equal(c.ws().sent[0].device_token, undefined);
});

test('send: outbox, ack, then delivered message with seq', () => {
  const { client, ws } = online();
  const item = client.send('My withdrawal is stuck');
  assert.deepEqual(ws().last(), { type: 'send', client_id: item.client_id, text: 'My withdrawal is stuck' });
  assert.equal(client.outbox.items.length, 1);
  ws().recv({ type: 'ack', client_id: item.client_id, conversation_id: 42, id: 311, seq: 21, at: '2026-11-23T12:00:00Z', duplicate: false });
  assert.equal(client.outbox.items.length, 0);
  assert.equal(client.conversation!.id, 42);
  assert.equal(client.messages.list.length, 1);
  const m = client.messages.list[0];
  assert.equal(m.seq, 21);
  assert.equal(m.author.kind, 'contact');
  assert.equal(m.text, 'My withdrawal is stuck');
  // echo of our own message (e.g. via sync) is deduped by seq
  ws().recv(msg(21, { author: { kind: 'contact', name: 'Visitor 9' }, client_id: item.client_id, text: 'My withdrawal is stuck' }));
  assert.equal(client.messages.list.length, 1);
});

test('attachments are sent as ids', () => {
  const { client, ws } = online();
  const att = { id: 'at_1', name: 'a.png', content_type: 'image/png', size: 5, url: '/chat/v1/attachments/at_1' };
  client.send('', [att]);
  assert.deepEqual(ws().last().attachments, ['at_1']);
  assert.throws(() => client.send('   '), /empty/);
  assert.throws(() => client.send('가'.repeat(11000)), /too_long/);
});

test('messages typed offline are kept and sent after welcome', () => {
  const { client, ws, sockets } = setup();
  client.start();
  client.send('one');
  client.send('two');
  ws().open();
  assert.deepEqual(ws().types(), ['hello']);
  ws().recv(welcome());
  assert.deepEqual(ws().types(), ['hello', 'send', 'send']);
  assert.deepEqual(ws().sent.slice(1).map((f) => f.text), ['one', 'two']);
  assert.equal(sockets.length, 1);
});

test('unacked message is resent with the same client_id after reconnect, never duplicated', () => {
  const { client, ws, timers, sockets } = online({ conversation: { id: 42, ref: 'K', status: 'open', last_seq: 20 } });
  const item = client.send('hello?');
  assert.equal(ws().last().client_id, item.client_id);
  ws().serverClose(1006);
  assert.equal(client.status, 'reconnecting');
  assert.equal(client.outbox.items.length, 1);
  timers.advance(1000);
  assert.equal(sockets.length, 2);
  ws().open();
  const hello = ws().sent[0];
  assert.deepEqual(hello.resume, { conversation_id: 42, last_seq: 0 });
  ws().recv(welcome({ conversation: { id: 42, status: 'open', last_seq: 21 } }));
  const resend = ws().last('send');
  assert.equal(resend.client_id, item.client_id);
  // server answers with the original ack
  ws().recv({ type: 'ack', client_id: item.client_id, conversation_id: 42, id: 311, seq: 21, at: 'x', duplicate: true });
  ws().recv({ type: 'ack', client_id: item.client_id, conversation_id: 42, id: 311, seq: 21, at: 'x', duplicate: true });
  assert.equal(client.messages.list.filter((m) => m.author.kind === 'contact').length, 1);
  assert.equal(client.outbox.items.length, 0);
});

test('own message arriving as a message frame (lost ack) clears the outbox', () => {
  const { client, ws } = online();
  const item = client.send('hi');
  ws().recv(msg(5, { author: { kind: 'contact', name: 'V' }, client_id: item.client_id, text: 'hi' }));
  assert.equal(client.outbox.items.length, 0);
  assert.equal(client.messages.list.length, 1);
});

test('outbox survives a page reload (localStorage) and is resent', () => {
  const kv = new MemKV();
  const a = setup({}, kv);
  a.client.start();
  a.client.send('typed before reload');
  const b = setup({}, kv);
  assert.equal(b.client.outbox.items.length, 1);
  assert.ok(b.client.hasHistory());
  b.client.start();
  b.ws().open();
  b.ws().recv(welcome());
  assert.equal(b.ws().last('send').client_id, a.client.outbox.items[0].client_id);
  assert.equal(b.ws().last('send').text, 'typed before reload');
});

test('resume uses the last seq shown; incoming messages deduped by seq', () => {
  const { client, ws, timers } = online({ conversation: { id: 42, status: 'open', last_seq: 3 } });
  // no resume was sent, so the client syncs the history
  assert.deepEqual(ws().last(), { type: 'sync', after_seq: 0 });
  for (const s of [1, 2, 3]) ws().recv(msg(s));
  ws().recv({ type: 'synced', last_seq: 3 });
  ws().recv(msg(2));
  ws().recv(msg(5)); // gaps allowed
  assert.deepEqual(client.messages.list.map((m) => m.seq), [1, 2, 3, 5]);
  ws().serverClose(4009, 'too slow');
  timers.advance(1200);
  ws().open();
  assert.deepEqual(ws().sent[0].resume, { conversation_id: 42, last_seq: 5 });
  ws().recv(welcome({ conversation: { id: 42, status: 'open', last_seq: 6 } }));
  assert.equal(ws().last('sync'), undefined, 'resume already replays, no sync needed');
  ws().recv(msg(5));
  ws().recv(msg(6));
  assert.deepEqual(client.messages.list.map((m) => m.seq), [1, 2, 3, 5, 6]);
});

test('conversation saved in storage is resumed after reload', () => {
  const kv = new MemKV();
  const a = setup({}, kv);
  a.client.start();
  a.ws().open();
  a.ws().recv(welcome({ conversation: { id: 77, status: 'open', last_seq: 2 } }));
  const b = setup({}, kv);
  assert.ok(b.client.hasHistory());
  b.client.start();
  b.ws().open();
  assert.deepEqual(b.ws().sent[0].resume, { conversation_id: 77, last_seq: 0 });
  // another identity must not resume the anonymous conversation
  const c = setup({ identity: 'h.eyJzdWIiOiJVSUQtMSJ9.s' }, kv);
  c.client.start();
  c.ws().open();
  assert.equal(c.ws().sent[0].resume, undefined);
});

test('reconnect backoff grows and resets after welcome', () => {
  const { client, ws, timers, sockets } = setup();
  const delays: number[] = [];
  client.on('reconnect_scheduled', (d: number) => delays.push(d));
  client.start();
  for (let i = 0; i < 7; i++) {
    ws().serverClose(1006);
    timers.advance(delays[delays.length - 1]);
  }
  assert.deepEqual(delays, [1000, 2000, 4000, 8000, 16000, 30000, 30000]);
  assert.equal(sockets.length, 8);
  ws().open();
  ws().recv(welcome());
  ws().serverClose(1001, 'server shutting down');
  assert.equal(delays[delays.length - 1], 1000);
});

test('close codes: 4001 stops with auth error, 4008 waits longer, 4010 stays quiet', () => {
  const a = online();
  let authErr = '';
  a.client.on('auth_error', (r: string) => (authErr = r));
  a.ws().serverClose(4001, 'unauthorized: bad identity');
  assert.equal(a.client.status, 'auth_error');
  assert.equal(authErr, 'unauthorized: bad identity');
  assert.deepEqual(a.timers.pending(), []);
  // a new identity token reconnects at once
  a.client.identify('h.eyJzdWIiOiJVSUQtMiJ9.s');
  assert.equal(a.sockets.length, 2);
  a.ws().open();
  assert.equal(a.ws().sent[0].identity, 'h.eyJzdWIiOiJVSUQtMiJ9.s');

  const b = online();
  let d = 0;
  b.client.on('reconnect_scheduled', (x: number) => (d = x));
  b.ws().serverClose(4008, 'rate limited');
  assert.ok(d >= 15000, 'rate limited waits at least 15s, got ' + d);
  assert.equal(b.client.status, 'reconnecting');

  const c = online();
  c.ws().serverClose(4010, 'replaced');
  assert.equal(c.client.status, 'replaced');
  assert.deepEqual(c.timers.pending(), []);
  c.client.send('back'); // user action reconnects
  assert.equal(c.sockets.length, 2);
});

test('heartbeat: ping when idle; dead connection is dropped', () => {
  const { ws, timers, sockets } = online({ heartbeat_sec: 10 });
  timers.advance(10000);
  assert.equal(ws().last().type, 'ping');
  ws().recv({ type: 'pong' });
  const pings = () => ws().sent.filter((f) => f.type === 'ping').length;
  const n = pings();
  timers.advance(4000);
  assert.equal(pings(), n, 'no ping before heartbeat_sec of idleness');
  // server goes silent
  timers.advance(30000);
  assert.equal(sockets[0].closed?.code, 1000);
  timers.advance(2000);
  assert.equal(sockets.length, 2);
});

test('no welcome within the hello timeout reconnects', () => {
  const { client, ws, timers, sockets } = setup();
  client.start();
  ws().open();
  timers.advance(15000);
  assert.equal(client.status, 'reconnecting');
  timers.advance(1000);
  assert.equal(sockets.length, 2);
});

test('frames: typing, queue, read, conversation status, unknown', () => {
  const { client, ws, timers } = online({ conversation: { id: 42, status: 'open', last_seq: 0 } });
  ws().recv({ type: 'queue', position: 2 });
  assert.equal(client.queuePosition, 2);
  ws().recv({ type: 'typing', author: { kind: 'agent', name: 'Alice' }, on: true });
  assert.equal(client.typing!.name, 'Alice');
  ws().recv(msg(1));
  assert.equal(client.typing, null, 'a message from the typist ends typing');
  ws().recv({ type: 'typing', author: { kind: 'agent', name: 'Alice' }, on: true });
  timers.advance(10000);
  assert.equal(client.typing, null, 'typing expires');
  ws().recv({ type: 'queue', position: -1 });
  assert.equal(client.queuePosition, -1);
  ws().recv({ type: 'read', seq: 21 });
  ws().recv({ type: 'read', seq: 20 });
  assert.equal(client.agentReadSeq, 21);
  ws().recv({ type: 'something_new', x: 1 });
  ws().recv({ type: 'conversation', conversation: { id: 42, ref: 'K7Q2MX', status: 'solved', last_seq: 21 } });
  assert.equal(client.conversation!.status, 'solved');
  ws().recv({ type: 'conversation', conversation: { id: 43, ref: 'Z', status: 'open', last_seq: 0 } });
  assert.equal(client.conversation!.id, 43);
  assert.equal(client.agentReadSeq, 0);
});

test('error frames: validation fails the message, rate limit retries it', () => {
  const { client, ws, timers } = online();
  const a = client.send('bad');
  ws().recv({ type: 'error', code: 'invalid', message: 'validation failed', client_id: a.client_id });
  assert.equal(client.outbox.get(a.client_id)!.state, 'failed');
  const b = client.send('later');
  ws().recv({ type: 'error', code: 'rate_limited', message: 'slow down', client_id: b.client_id });
  assert.equal(client.outbox.get(b.client_id)!.state, 'pending');
  const before = ws().sent.filter((f) => f.type === 'send' && f.client_id === b.client_id).length;
  timers.advance(2000);
  const after = ws().sent.filter((f) => f.type === 'send' && f.client_id === b.client_id).length;
  assert.equal(after, before + 1);
  client.retry(a.client_id);
  assert.equal(ws().last('send').client_id, a.client_id);
  let got: any = null;
  client.on('error', (e: any) => (got = e));
  ws().recv({ type: 'error', code: 'forbidden', message: 'no' });
  assert.equal(got.code, 'forbidden');
});

test('outbox flush respects the send rate (5 per second)', () => {
  const { client, ws, timers } = setup();
  client.start();
  for (let i = 0; i < 12; i++) client.send('m' + i);
  ws().open();
  ws().recv(welcome());
  const sends = () => ws().sent.filter((f) => f.type === 'send').length;
  assert.equal(sends(), 5);
  timers.advance(1100);
  assert.equal(sends(), 10);
  timers.advance(1100);
  assert.equal(sends(), 12);
  assert.deepEqual(ws().sent.filter((f) => f.type === 'send').map((f) => f.text), Array.from({ length: 12 }, (_, i) => 'm' + i));
});

test('unread count and read frames', () => {
  const { client, ws } = online({ conversation: { id: 42, status: 'open', last_seq: 0 } });
  ws().recv(msg(1));
  ws().recv(msg(2, { author: { kind: 'bot', name: 'Bot' } }));
  ws().recv(msg(3, { author: { kind: 'contact', name: 'me' } }));
  assert.equal(client.unreadCount(), 2);
  client.markRead();
  assert.equal(client.unreadCount(), 0);
  assert.deepEqual(ws().last(), { type: 'read', seq: 3 });
  const n = ws().sent.length;
  client.markRead();
  assert.equal(ws().sent.length, n, 'read is not repeated');
});

test('typing frames are throttled and turned off', () => {
  const { client, ws, timers } = online();
  client.userTyping();
  client.userTyping();
  timers.advance(1000);
  client.userTyping();
  assert.equal(ws().sent.filter((f) => f.type === 'typing').length, 1);
  timers.advance(4000);
  assert.deepEqual(ws().last(), { type: 'typing', on: false });
});

test('malformed frames are ignored', () => {
  const { client, ws } = online();
  ws().onmessage!({ data: 'not json' });
  ws().onmessage!({ data: '[]' });
  ws().recv({ type: 'message', seq: 'x' });
  assert.equal(client.status, 'online');
  assert.equal(client.messages.list.length, 0);
});

test('helpers', () => {
  assert.equal(utf8Length('aé가😀'), 1 + 2 + 3 + 4);
  assert.equal(identitySubject(undefined), 'anon');
  assert.equal(identitySubject('h.eyJzdWIiOiJVSUQtMSJ9.s'), 'uid:UID-1');
  assert.equal(identitySubject('garbage'), 'tok');
});
