import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MessageStore, Outbox, SafeKV } from '../src/store';
import { MemKV } from './fakes';

const m = (conversation_id: number, seq: number) => ({
  conversation_id,
  id: seq,
  seq,
  author: { kind: 'agent' as const, name: 'A' },
  text: '',
  attachments: [],
  at: '',
});

test('message store dedupes by seq and keeps order', () => {
  const s = new MessageStore();
  assert.equal(s.add(m(1, 3)), true);
  assert.equal(s.add(m(1, 1)), true);
  assert.equal(s.add(m(1, 3)), false);
  assert.equal(s.add(m(2, 1)), true);
  assert.equal(s.add(m(1, 7)), true);
  assert.deepEqual(
    s.list.map((x) => x.conversation_id + ':' + x.seq),
    ['1:1', '1:3', '1:7', '2:1'],
  );
  assert.equal(s.lastSeq(1), 7);
  assert.equal(s.lastSeq(2), 1);
  assert.equal(s.lastSeq(3), 0);
});

test('outbox persists and reloads', () => {
  const kv = new MemKV();
  const o = new Outbox(new SafeKV(kv, 'p:'));
  o.add({ client_id: 'a', text: 'x', attachments: [], created: 1, state: 'pending' });
  o.add({ client_id: 'b', text: 'y', attachments: [], created: 2, state: 'pending' });
  o.setState('b', 'failed', 'invalid');
  const o2 = new Outbox(new SafeKV(kv, 'p:'));
  assert.deepEqual(o2.items.map((i) => i.client_id), ['a', 'b']);
  assert.equal(o2.get('b')!.state, 'failed');
  assert.deepEqual(o2.pending().map((i) => i.client_id), ['a']);
  o2.remove('a');
  o2.remove('b');
  assert.equal(kv.getItem('p:outbox'), null);
});

test('storage that throws does not break anything', () => {
  const bad = {
    getItem() {
      throw new Error('denied');
    },
    setItem() {
      throw new Error('quota');
    },
    removeItem() {
      throw new Error('denied');
    },
  };
  const o = new Outbox(new SafeKV(bad, 'p:'));
  o.add({ client_id: 'a', text: 'x', attachments: [], created: 1, state: 'pending' });
  assert.equal(o.items.length, 1);
  const corrupt = new MemKV();
  corrupt.setItem('p:outbox', '{not json');
  assert.equal(new Outbox(new SafeKV(corrupt, 'p:')).items.length, 0);
});
