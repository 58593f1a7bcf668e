// Development mock of the Custos chat server (protocol v1, a small subset):
// serves demo.html at /demo/, dist/widget.js at /widget.js, a WebSocket at
// /chat/v1/ws and attachment upload. Agent "Alice" echoes customer messages.
// Usage: node scripts/mock-server.mjs [port]. Not used in production.
import { createServer } from 'node:http';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const port = Number(process.argv[2] || 8089);
const convs = new Map(); // token -> {id, seq, msgs, clients:Map}
const files = new Map();
let nextConv = 1000 + (Date.now() % 100000);
let nextAt = 1;

function frame(sock, obj) {
  const data = Buffer.from(JSON.stringify(obj));
  let hdr;
  if (data.length < 126) hdr = Buffer.from([0x81, data.length]);
  else if (data.length < 65536) {
    hdr = Buffer.alloc(4);
    hdr[0] = 0x81;
    hdr[1] = 126;
    hdr.writeUInt16BE(data.length, 2);
  } else throw new Error('too big');
  sock.write(Buffer.concat([hdr, data]));
}
function closeSock(sock, code, reason) {
  const r = Buffer.from(reason);
  const b = Buffer.alloc(2 + r.length);
  b.writeUInt16BE(code, 0);
  r.copy(b, 2);
  sock.end(Buffer.concat([Buffer.from([0x88, b.length]), b]));
}

const server = createServer((req, res) => {
  const u = new URL(req.url, 'http://x');
  res.setHeader('Access-Control-Allow-Origin', '*');
  res.setHeader('Access-Control-Allow-Headers', 'Authorization');
  if (req.method === 'OPTIONS') return res.end();
  if (u.pathname === '/widget.js') {
    res.setHeader('Content-Type', 'text/javascript');
    return res.end(readFileSync(join(root, 'dist/widget.js')));
  }
  if (u.pathname === '/demo/' || u.pathname === '/') {
    res.setHeader('Content-Type', 'text/html');
    return res.end(readFileSync(join(root, 'demo.html')));
  }
  if (u.pathname === '/chat/v1/attachments' && req.method === 'POST') {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      const m = /filename="([^"]*)"[\s\S]*?Content-Type: ([^\r\n]+)/.exec(body.toString('latin1'));
      const id = 'at_' + nextAt++;
      const start = body.indexOf('\r\n\r\n') + 4;
      const end = body.lastIndexOf('\r\n--');
      const a = { id, name: m ? m[1] : 'file', content_type: m ? m[2] : 'application/octet-stream', size: end - start, url: '/chat/v1/attachments/' + id };
      files.set(id, { a, bytes: body.subarray(start, end) });
      res.statusCode = 201;
      res.setHeader('Content-Type', 'application/json');
      res.end(JSON.stringify(a));
    });
    return;
  }
  const fm = /^\/chat\/v1\/attachments\/(.+)$/.exec(u.pathname);
  if (fm && files.has(fm[1])) {
    const f = files.get(fm[1]);
    res.setHeader('Content-Type', f.a.content_type);
    return res.end(f.bytes);
  }
  res.statusCode = 404;
  res.end('not found');
});

server.on('upgrade', (req, sock) => {
  const key = req.headers['sec-websocket-key'];
  const accept = createHash('sha1').update(key + '258EAFA5-E914-47DA-95CA-C5AB0DC85B11').digest('base64');
  sock.write(
    'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
      `Sec-WebSocket-Accept: ${accept}\r\nSec-WebSocket-Protocol: custos.chat.v1\r\n\r\n`,
  );
  let buf = Buffer.alloc(0);
  let conv = null;
  const send = (o) => frame(sock, o);
  sock.on('error', () => {});
  sock.on('close', () => conv && conv.clients.delete(sock));
  sock.on('data', (d) => {
    buf = Buffer.concat([buf, d]);
    while (buf.length >= 2) {
      const op = buf[0] & 15;
      let len = buf[1] & 127;
      let off = 2;
      if (len === 126) {
        len = buf.readUInt16BE(2);
        off = 4;
      }
      if (buf.length < off + 4 + len) return;
      const mask = buf.subarray(off, off + 4);
      const p = Buffer.from(buf.subarray(off + 4, off + 4 + len));
      for (let i = 0; i < p.length; i++) p[i] ^= mask[i & 3];
      buf = buf.subarray(off + 4 + len);
      if (op === 8) return sock.end();
      if (op !== 1) continue;
      const f = JSON.parse(p.toString());
      if (!conv && f.type !== 'hello') return closeSock(sock, 4000, 'hello expected');
      if (f.type === 'hello') {
        if (f.site_key !== 'demo') return closeSock(sock, 4001, 'unauthorized: bad site key');
        const dt = f.device_token || 'dt_' + Math.random().toString(36).slice(2);
        if (!convs.has(dt)) convs.set(dt, { id: 0, seq: 0, msgs: [], byClient: new Map(), clients: new Set() });
        conv = convs.get(dt);
        conv.clients.add(sock);
        send({ type: 'welcome', v: 1, session: 'cs_mock', device_token: dt, heartbeat_sec: 25, contact: { id: 9, name: 'Visitor 9' },
          conversation: conv.id ? { id: conv.id, ref: 'K7Q2MX', status: 'open', last_seq: conv.seq } : null });
        if (f.resume && f.resume.conversation_id === conv.id) conv.msgs.filter((m) => m.seq > f.resume.last_seq).forEach(send);
      } else if (f.type === 'send') {
        if (conv.byClient.has(f.client_id)) {
          send({ ...conv.byClient.get(f.client_id), duplicate: true });
          continue;
        }
        if (!conv.id) {
          conv.id = nextConv++;
          send({ type: 'conversation', conversation: { id: conv.id, ref: 'K7Q2MX', status: 'open', last_seq: 0 } });
          send({ type: 'queue', position: 2 });
        }
        const seq = ++conv.seq;
        const at = new Date().toISOString();
        const atts = (f.attachments || []).map((id) => files.get(id)?.a).filter(Boolean);
        const m = { type: 'message', conversation_id: conv.id, id: 300 + seq, seq, author: { kind: 'contact', name: 'Visitor 9' }, text: f.text, attachments: atts, at, client_id: f.client_id };
        conv.msgs.push(m);
        const ack = { type: 'ack', client_id: f.client_id, conversation_id: conv.id, id: m.id, seq, at, duplicate: false };
        conv.byClient.set(f.client_id, ack);
        send(ack);
        for (const c of conv.clients) if (c !== sock) frame(c, m);
        const c0 = conv;
        setTimeout(() => {
          for (const c of c0.clients) frame(c, { type: 'queue', position: -1 });
          for (const c of c0.clients) frame(c, { type: 'typing', author: { kind: 'agent', name: 'Alice' }, on: true });
        }, 300);
        setTimeout(() => {
          const s2 = ++c0.seq;
          const reply = { type: 'message', conversation_id: c0.id, id: 300 + s2, seq: s2, author: { kind: 'agent', name: 'Alice' }, text: 'You said: ' + (f.text || '(attachment)'), attachments: [], at: new Date().toISOString(), client_id: '' };
          c0.msgs.push(reply);
          for (const c of c0.clients) {
            frame(c, { type: 'read', seq });
            frame(c, reply);
          }
        }, 900);
      } else if (f.type === 'sync') {
        conv.msgs.filter((m) => m.seq > f.after_seq).forEach(send);
        send({ type: 'synced', last_seq: conv.seq });
      } else if (f.type === 'ping') send({ type: 'pong' });
    }
  });
});

server.listen(port, '127.0.0.1', () => console.log(`mock Custos on http://127.0.0.1:${port}/demo/`));
