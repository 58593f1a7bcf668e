import type { KV, SocketLike } from '../src/types';
import { ChatClient, type ClientOptions } from '../src/client';

export class FakeSocket implements SocketLike {
  readyState = 0;
  sent: any[] = [];
  closed: { code?: number; reason?: string } | null = null;
  onopen: ((ev: any) => void) | null = null;
  onmessage: ((ev: { data: any }) => void) | null = null;
  onclose: ((ev: { code: number; reason: string }) => void) | null = null;
  onerror: ((ev: any) => void) | null = null;
  constructor(
    public url: string,
    public protocol: string,
  ) {}
  send(data: string): void {
    if (this.readyState !== 1) throw new Error('not open');
    this.sent.push(JSON.parse(data));
  }
  close(code?: number, reason?: string): void {
    this.closed = { code, reason };
    this.readyState = 3;
  }
  // server side helpers
  open(): void {
    this.readyState = 1;
    this.onopen && this.onopen({});
  }
  recv(frame: object): void {
    this.onmessage && this.onmessage({ data: JSON.stringify(frame) });
  }
  serverClose(code: number, reason = ''): void {
    this.readyState = 3;
    this.onclose && this.onclose({ code, reason });
  }
  types(): string[] {
    return this.sent.map((f) => f.type);
  }
  last(type?: string): any {
    const a = type ? this.sent.filter((f) => f.type === type) : this.sent;
    return a[a.length - 1];
  }
}

export class FakeTimers {
  t = 1_000_000;
  private seq = 0;
  private q = new Map<number, { at: number; fn: () => void }>();
  setTimeout = (fn: () => void, ms: number) => {
    const id = ++this.seq;
    this.q.set(id, { at: this.t + ms, fn });
    return id;
  };
  clearTimeout = (id: any) => {
    this.q.delete(id);
  };
  now = () => this.t;
  /** delays of pending timers, relative to now */
  pending(): number[] {
    return [...this.q.values()].map((x) => x.at - this.t).sort((a, b) => a - b);
  }
  advance(ms: number): void {
    const end = this.t + ms;
    for (;;) {
      let next: [number, { at: number; fn: () => void }] | null = null;
      for (const e of this.q) if (e[1].at <= end && (!next || e[1].at < next[1].at)) next = e;
      if (!next) break;
      this.q.delete(next[0]);
      this.t = next[1].at;
      next[1].fn();
    }
    this.t = end;
  }
}

export class MemKV implements KV {
  m = new Map<string, string>();
  getItem(k: string) {
    return this.m.has(k) ? (this.m.get(k) as string) : null;
  }
  setItem(k: string, v: string) {
    this.m.set(k, String(v));
  }
  removeItem(k: string) {
    this.m.delete(k);
  }
}

export function setup(over: Partial<ClientOptions> = {}, kv = new MemKV()) {
  const timers = new FakeTimers();
  const sockets: FakeSocket[] = [];
  let n = 0;
  const client = new ChatClient({
    url: 'wss://desk.example.com/chat/v1/ws',
    siteKey: 'demo',
    language: 'ko',
    storage: kv,
    timers,
    random: () => 0.5,
    newId: () => 'c-' + ++n,
    createSocket: (url, protocol) => {
      const s = new FakeSocket(url, protocol);
      sockets.push(s);
      return s;
    },
    ...over,
  });
  const ws = () => sockets[sockets.length - 1];
  return { client, timers, sockets, ws, kv };
}

export const welcome = (over: object = {}) => ({
  type: 'welcome',
  v: 1,
  session: 'cs_1',
  device_token: 'dt_1',
  heartbeat_sec: 25,
  contact: { id: 9, name: 'Visitor 9' },
  conversation: null,
  ...over,
});

export const msg = (seq: number, over: object = {}) => ({
  type: 'message',
  conversation_id: 42,
  id: 300 + seq,
  seq,
  author: { kind: 'agent', name: 'Alice' },
  text: 'm' + seq,
  attachments: [],
  at: '2026-11-23T12:00:05.001Z',
  client_id: '',
  ...over,
});
