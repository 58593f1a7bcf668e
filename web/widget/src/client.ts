// Protocol client: connection, hello/welcome, resume, outbox, dedupe, heartbeat,
// reconnect. No DOM here, so it runs under node tests with a fake socket.
import { backoffDelay } from './backoff';
import { Emitter } from './emitter';
import { MessageStore, Outbox, SafeKV } from './store';
import type {
  AckFrame,
  Attachment,
  Author,
  ChatMessage,
  Contact,
  Conversation,
  ErrorFrame,
  KV,
  OutboxItem,
  SocketLike,
  WelcomeFrame,
} from './types';

export const SUBPROTOCOL = 'custos.chat.v1';
export const MAX_TEXT_BYTES = 32 * 1024;
export const MAX_ATTACHMENTS = 10;

export type Status = 'idle' | 'connecting' | 'online' | 'reconnecting' | 'auth_error' | 'replaced';

export interface Timers {
  setTimeout(fn: () => void, ms: number): any;
  clearTimeout(id: any): void;
  now(): number;
}

export interface ClientOptions {
  url: string; // wss://host/chat/v1/ws
  siteKey: string;
  identity?: string;
  language?: string;
  storage?: KV | null;
  createSocket?: (url: string, protocol: string) => SocketLike;
  timers?: Timers;
  random?: () => number;
  newId?: () => string;
  /** how long to wait for welcome after the socket opened */
  helloTimeoutMs?: number;
}

interface SavedConversation {
  id: number;
  who: string;
  read: number; // local read seq (for the unread badge)
}

/** Events: status, change, message (new incoming ChatMessage), ack, welcome, error (ErrorFrame), auth_error (reason) */
export class ChatClient extends Emitter {
  status: Status = 'idle';
  authError = '';
  session = '';
  deviceToken = '';
  contact: Contact | null = null;
  conversation: Conversation | null = null;
  heartbeatSec = 25;
  /** 0-based queue position; -1 when an agent has the chat or unknown */
  queuePosition = -1;
  typing: Author | null = null;
  /** highest seq an agent has read in the current conversation */
  agentReadSeq = 0;
  /** highest seq the customer has seen (local, drives the unread badge) */
  localReadSeq = 0;
  readonly messages = new MessageStore();
  readonly outbox: Outbox;

  private opts: ClientOptions;
  private kv: SafeKV;
  private timers: Timers;
  private random: () => number;
  private newId: () => string;
  private ws: SocketLike | null = null;
  private gen = 0;
  private attempt = 0;
  private stopped = true;
  private inflight = new Set<string>();
  private resumeSent: { conversation_id: number; last_seq: number } | null = null;
  private lastSend = 0;
  private lastRecv = 0;
  private readSent = 0;
  private typingSentAt = 0;
  private tReconnect: any = null;
  private tHello: any = null;
  private tHeartbeat: any = null;
  private tFlush: any = null;
  private tTypingOff: any = null;
  private tTypingIn: any = null;
  private savedConv: SavedConversation | null;

  constructor(opts: ClientOptions) {
    super();
    this.opts = opts;
    this.kv = new SafeKV(opts.storage === undefined ? null : opts.storage, 'custos:' + opts.siteKey + ':');
    this.timers = opts.timers || {
      setTimeout: (fn, ms) => setTimeout(fn, ms),
      clearTimeout: (id) => clearTimeout(id),
      now: () => Date.now(),
    };
    this.random = opts.random || Math.random;
    this.newId = opts.newId || defaultId;
    this.outbox = new Outbox(this.kv);
    this.deviceToken = this.kv.get('device_token') || '';
    const sc = this.kv.getJSON<SavedConversation>('conversation');
    this.savedConv = sc && typeof sc.id === 'number' && sc.who === this.who() ? sc : null;
    if (this.savedConv) this.localReadSeq = this.savedConv.read || 0;
  }

  /** True if there is state worth connecting for at page load (history or unsent messages). */
  hasHistory(): boolean {
    return !!this.savedConv || this.outbox.items.length > 0 || !!this.opts.identity;
  }

  start(): void {
    if (!this.stopped && this.status !== 'auth_error' && this.status !== 'replaced') return;
    this.stopped = false;
    this.attempt = 0;
    this.connect();
  }

  stop(): void {
    this.stopped = true;
    this.drop();
    this.clear('tReconnect');
    this.setStatus('idle');
  }

  /** Reconnect now if waiting for a backoff timer (e.g. the browser came back online). */
  reconnectNow(): void {
    if (this.stopped) return;
    if (this.status === 'reconnecting' && this.tReconnect) {
      this.clear('tReconnect');
      this.connect();
    }
  }

  /** Sets a new identity token and reconnects with it. */
  identify(token: string | undefined): void {
    const before = this.who();
    this.opts.identity = token || undefined;
    if (this.who() !== before) {
      // Another customer: forget what was shown for the previous one.
      this.messages.clear();
      this.conversation = null;
      this.savedConv = null;
      this.localReadSeq = 0;
      this.agentReadSeq = 0;
      this.queuePosition = -1;
      this.typing = null;
      this.kv.del('conversation');
    }
    this.authError = '';
    if (this.stopped && this.status !== 'auth_error' && this.status !== 'replaced') {
      this.emit('change');
      return;
    }
    this.stopped = false;
    this.attempt = 0;
    this.drop();
    this.clear('tReconnect');
    this.connect();
    this.emit('change');
  }

  get identity(): string | undefined {
    return this.opts.identity;
  }

  /**
   * Queues a message and sends it when online. Returns the outbox item, or
   * throws an Error('too_long' | 'empty' | 'too_many') for invalid input.
   */
  send(text: string, attachments: Attachment[] = []): OutboxItem {
    if (!text.trim() && !attachments.length) throw new Error('empty');
    if (utf8Length(text) > MAX_TEXT_BYTES) throw new Error('too_long');
    if (attachments.length > MAX_ATTACHMENTS) throw new Error('too_many');
    const item: OutboxItem = {
      client_id: this.newId(),
      text,
      attachments,
      created: this.timers.now(),
      state: 'pending',
    };
    this.outbox.add(item);
    this.sendTypingOff();
    if (this.stopped || this.status === 'replaced') this.start();
    this.flush();
    this.emit('change');
    return item;
  }

  /** Retries a failed message with the same client_id. */
  retry(clientId: string): void {
    const item = this.outbox.get(clientId);
    if (!item) return;
    this.outbox.setState(clientId, 'pending');
    this.inflight.delete(clientId);
    if (this.stopped || this.status === 'replaced') this.start();
    this.flush();
    this.emit('change');
  }

  /** Drops an unsent message. */
  discard(clientId: string): void {
    this.outbox.remove(clientId);
    this.inflight.delete(clientId);
    this.emit('change');
  }

  /** Call on composer input; sends typing on/off with throttling. */
  userTyping(): void {
    if (this.status !== 'online') return;
    const now = this.timers.now();
    if (!this.typingSentAt || now - this.typingSentAt > 3000) {
      this.typingSentAt = now;
      this.frame({ type: 'typing', on: true });
    }
    this.clear('tTypingOff');
    this.tTypingOff = this.timers.setTimeout(() => {
      this.tTypingOff = null;
      this.sendTypingOff();
    }, 4000);
  }

  private sendTypingOff(): void {
    this.clear('tTypingOff');
    if (this.typingSentAt) {
      this.typingSentAt = 0;
      if (this.status === 'online') this.frame({ type: 'typing', on: false });
    }
  }

  /** Unread agent/bot/system messages of the current conversation. */
  unreadCount(): number {
    const c = this.conversation;
    if (!c) return 0;
    let n = 0;
    for (const m of this.messages.list) {
      if (m.conversation_id === c.id && m.author.kind !== 'contact' && m.seq > this.localReadSeq) n++;
    }
    return n;
  }

  /** The customer has seen everything shown: clears unread and tells agents. */
  markRead(): void {
    const c = this.conversation;
    if (!c) return;
    const last = this.messages.lastSeq(c.id);
    if (last > this.localReadSeq) {
      this.localReadSeq = last;
      this.saveConversation();
      this.emit('change');
    }
    if (this.status === 'online' && last > this.readSent) {
      this.readSent = last;
      this.frame({ type: 'read', seq: last });
    }
  }

  // ---- connection ----

  private connect(): void {
    this.clear('tReconnect');
    this.drop();
    const g = ++this.gen;
    this.setStatus(this.attempt === 0 && this.status !== 'reconnecting' ? 'connecting' : 'reconnecting');
    let ws: SocketLike;
    try {
      const make = this.opts.createSocket || ((u: string, p: string) => new WebSocket(u, p) as unknown as SocketLike);
      ws = make(this.opts.url, SUBPROTOCOL);
    } catch {
      this.scheduleReconnect();
      return;
    }
    this.ws = ws;
    ws.onopen = () => {
      if (g !== this.gen) return;
      this.lastRecv = this.timers.now();
      this.sendHello();
      this.tHello = this.timers.setTimeout(() => {
        this.tHello = null;
        if (g !== this.gen) return;
        this.drop();
        this.scheduleReconnect();
      }, this.opts.helloTimeoutMs || 15000);
    };
    ws.onmessage = (ev) => {
      if (g !== this.gen) return;
      this.lastRecv = this.timers.now();
      let f: any;
      try {
        f = JSON.parse(typeof ev.data === 'string' ? ev.data : String(ev.data));
      } catch {
        return;
      }
      if (!f || typeof f !== 'object' || typeof f.type !== 'string') return;
      try {
        this.handle(f);
      } catch (e) {
        try {
          console.error('[custos] frame', e);
        } catch {
          /* ignore */
        }
      }
    };
    ws.onerror = () => {
      /* a close event follows */
    };
    ws.onclose = (ev) => {
      if (g !== this.gen) return;
      this.ws = null;
      this.cleanupConnection();
      this.onClose(ev ? ev.code : 1006, (ev && ev.reason) || '');
    };
  }

  private onClose(code: number, reason: string): void {
    if (this.stopped) return;
    switch (code) {
      case 4001:
        this.stopped = true;
        this.authError = reason || 'unauthorized';
        this.setStatus('auth_error');
        this.emit('auth_error', this.authError);
        return;
      case 4010:
        // Replaced by another connection of this customer: stay quiet until the user acts.
        this.stopped = true;
        this.setStatus('replaced');
        return;
      case 4008:
        this.scheduleReconnect(15000);
        return;
      case 4000:
      case 4003:
      case 1009:
        // A client bug; do not hammer the server.
        this.scheduleReconnect(30000);
        return;
      default:
        this.scheduleReconnect();
    }
  }

  private scheduleReconnect(minDelay = 0): void {
    if (this.stopped) return;
    this.clear('tReconnect');
    const delay = backoffDelay(this.attempt++, this.random, minDelay);
    this.setStatus('reconnecting');
    this.tReconnect = this.timers.setTimeout(() => {
      this.tReconnect = null;
      this.connect();
    }, delay);
    this.emit('reconnect_scheduled', delay);
  }

  /** Detaches and closes the current socket without triggering reconnect logic. */
  private drop(): void {
    const ws = this.ws;
    this.ws = null;
    this.gen++;
    this.cleanupConnection();
    if (ws) {
      ws.onopen = ws.onmessage = ws.onclose = ws.onerror = null;
      try {
        ws.close(1000, 'bye');
      } catch {
        /* ignore */
      }
    }
  }

  private cleanupConnection(): void {
    this.clear('tHello');
    this.clear('tHeartbeat');
    this.clear('tFlush');
    this.clear('tTypingOff');
    this.inflight.clear();
    this.typingSentAt = 0;
    this.readSent = 0;
  }

  private sendHello(): void {
    const h: any = { type: 'hello', v: 1, site_key: this.opts.siteKey };
    if (this.opts.identity) h.identity = this.opts.identity;
    else if (this.deviceToken) h.device_token = this.deviceToken;
    if (this.opts.language) h.language = this.opts.language;
    const cid = this.conversation ? this.conversation.id : this.savedConv ? this.savedConv.id : 0;
    this.resumeSent = null;
    if (cid) {
      this.resumeSent = { conversation_id: cid, last_seq: this.messages.lastSeq(cid) };
      h.resume = this.resumeSent;
    }
    this.frame(h);
  }

  private frame(f: object): boolean {
    const ws = this.ws;
    if (!ws || ws.readyState !== 1) return false;
    try {
      ws.send(JSON.stringify(f));
      this.lastSend = this.timers.now();
      return true;
    } catch {
      return false;
    }
  }

  private heartbeat(): void {
    this.clear('tHeartbeat');
    const hb = Math.max(5, this.heartbeatSec) * 1000;
    this.tHeartbeat = this.timers.setTimeout(() => {
      this.tHeartbeat = null;
      if (this.status !== 'online') return;
      const now = this.timers.now();
      if (now - this.lastRecv > 2 * hb + 5000) {
        // Nothing heard (not even our pongs): the connection is dead.
        this.drop();
        this.scheduleReconnect();
        return;
      }
      if (now - this.lastSend >= hb * 0.9) this.frame({ type: 'ping' });
      this.heartbeat();
    }, hb / 2);
  }

  /** Sends pending outbox items (at most 5 per second, as the server allows). */
  private flush(): void {
    if (this.status !== 'online' || this.tFlush) return;
    let n = 0;
    for (const item of this.outbox.pending()) {
      if (this.inflight.has(item.client_id)) continue;
      if (n >= 5) {
        this.tFlush = this.timers.setTimeout(() => {
          this.tFlush = null;
          this.flush();
        }, 1100);
        return;
      }
      const f: any = { type: 'send', client_id: item.client_id, text: item.text };
      if (item.attachments.length) f.attachments = item.attachments.map((a) => a.id);
      if (!this.frame(f)) return;
      this.inflight.add(item.client_id);
      n++;
    }
  }

  // ---- frames ----

  private handle(f: any): void {
    switch (f.type) {
      case 'welcome':
        return this.onWelcome(f as WelcomeFrame);
      case 'message':
        return this.onMessage(f as ChatMessage);
      case 'ack':
        return this.onAck(f as AckFrame);
      case 'conversation':
        if (f.conversation && typeof f.conversation.id === 'number') this.setConversation(f.conversation);
        this.emit('change');
        return;
      case 'typing':
        this.clear('tTypingIn');
        if (f.on && f.author) {
          this.typing = f.author;
          this.tTypingIn = this.timers.setTimeout(() => {
            this.tTypingIn = null;
            this.typing = null;
            this.emit('change');
          }, 10000);
        } else {
          this.typing = null;
        }
        this.emit('change');
        return;
      case 'read':
        if (typeof f.seq === 'number' && f.seq > this.agentReadSeq) {
          this.agentReadSeq = f.seq;
          this.emit('change');
        }
        return;
      case 'queue':
        if (typeof f.position === 'number') {
          this.queuePosition = f.position;
          this.emit('change');
        }
        return;
      case 'error':
        return this.onError(f as ErrorFrame);
      case 'synced':
      case 'pong':
      default:
        return; // unknown frame types are ignored
    }
  }

  private onWelcome(f: WelcomeFrame): void {
    this.clear('tHello');
    this.session = f.session || '';
    if (f.device_token) {
      this.deviceToken = f.device_token;
      this.kv.set('device_token', f.device_token);
    }
    if (typeof f.heartbeat_sec === 'number' && f.heartbeat_sec > 0) this.heartbeatSec = f.heartbeat_sec;
    if (f.contact) this.contact = f.contact;
    this.attempt = 0;
    this.authError = '';
    this.setStatus('online');
    const wc = f.conversation;
    if (wc && typeof wc.id === 'number') {
      const known = this.messages.lastSeq(wc.id);
      const resumed = this.resumeSent && this.resumeSent.conversation_id === wc.id;
      this.setConversation(wc);
      if (!resumed && (wc.last_seq || 0) > known) this.frame({ type: 'sync', after_seq: known });
    } else if (this.conversation && this.conversation.status === 'open') {
      // The conversation we showed is no longer open.
      this.conversation = { ...this.conversation, status: 'solved' };
      this.queuePosition = -1;
    }
    this.heartbeat();
    this.flush();
    this.emit('welcome', f);
    this.emit('change');
  }

  private onMessage(m: ChatMessage): void {
    if (typeof m.seq !== 'number' || typeof m.conversation_id !== 'number' || !m.author) return;
    if (!Array.isArray(m.attachments)) m.attachments = [];
    if (typeof m.text !== 'string') m.text = '';
    if (m.client_id && this.outbox.has(m.client_id)) {
      // Our own message, committed; its ack was lost with a connection.
      this.outbox.remove(m.client_id);
      this.inflight.delete(m.client_id);
    }
    const added = this.messages.add(m);
    const c = this.conversation;
    if (c && m.conversation_id === c.id && m.seq > (c.last_seq || 0)) c.last_seq = m.seq;
    if (!added) return;
    if (this.typing && m.author.kind === this.typing.kind && m.author.name === this.typing.name) {
      this.typing = null;
      this.clear('tTypingIn');
    }
    this.emit('message', m);
    this.emit('change');
  }

  private onAck(a: AckFrame): void {
    if (!a.client_id) return;
    this.inflight.delete(a.client_id);
    const item = this.outbox.remove(a.client_id);
    if (!this.conversation || this.conversation.id !== a.conversation_id) {
      this.setConversation({ id: a.conversation_id, status: 'open', last_seq: a.seq });
    }
    if (item && typeof a.seq === 'number') {
      this.messages.add({
        conversation_id: a.conversation_id,
        id: a.id,
        seq: a.seq,
        author: { kind: 'contact', name: this.contact ? this.contact.name : '' },
        text: item.text,
        attachments: item.attachments,
        at: a.at,
        client_id: a.client_id,
      });
      const c = this.conversation;
      if (c && c.id === a.conversation_id && a.seq > (c.last_seq || 0)) c.last_seq = a.seq;
      // Our own message counts as seen by us.
      if (a.seq > this.localReadSeq && this.unreadCount() === 0) {
        this.localReadSeq = a.seq;
        this.saveConversation();
      }
    }
    this.emit('ack', a);
    this.emit('change');
  }

  private onError(e: ErrorFrame): void {
    const id = e.client_id;
    if (id && this.outbox.has(id)) {
      this.inflight.delete(id);
      if (e.code === 'rate_limited' || e.code === 'internal') {
        // Transient: try again shortly with the same client_id.
        if (!this.tFlush) {
          this.tFlush = this.timers.setTimeout(() => {
            this.tFlush = null;
            this.flush();
          }, 2000);
        }
      } else {
        this.outbox.setState(id, 'failed', e.code || 'error');
      }
      this.emit('change');
    }
    this.emit('error', e);
  }

  private setConversation(c: Conversation): void {
    const prev = this.conversation;
    if (!prev || prev.id !== c.id) {
      this.agentReadSeq = 0;
      this.readSent = 0;
      this.typing = null;
      this.queuePosition = -1;
      if (!this.savedConv || this.savedConv.id !== c.id) this.localReadSeq = 0;
    }
    this.conversation = { id: c.id, ref: c.ref, status: c.status || 'open', last_seq: c.last_seq || 0 };
    if (this.conversation.status !== 'open') {
      this.queuePosition = -1;
      this.typing = null;
    }
    this.saveConversation();
  }

  private saveConversation(): void {
    const c = this.conversation;
    if (!c) return;
    this.savedConv = { id: c.id, who: this.who(), read: this.localReadSeq };
    this.kv.setJSON('conversation', this.savedConv);
  }

  private who(): string {
    return identitySubject(this.opts.identity);
  }

  private setStatus(s: Status): void {
    if (this.status === s) return;
    this.status = s;
    this.emit('status', s);
    this.emit('change');
  }

  private clear(name: 'tReconnect' | 'tHello' | 'tHeartbeat' | 'tFlush' | 'tTypingOff' | 'tTypingIn'): void {
    const t = this[name];
    if (t != null) {
      this.timers.clearTimeout(t);
      this[name] = null;
    }
  }
}

/** The (unverified) `sub` of an identity JWT, or "anon". Only used to key local state. */
export function identitySubject(token: string | undefined): string {
  if (!token) return 'anon';
  try {
    const p = token.split('.')[1];
    const b = p.replace(/-/g, '+').replace(/_/g, '/');
    const json = decodeURIComponent(
      atob(b + '==='.slice((b.length + 3) % 4))
        .split('')
        .map((ch) => '%' + ('0' + ch.charCodeAt(0).toString(16)).slice(-2))
        .join(''),
    );
    const sub = JSON.parse(json).sub;
    return typeof sub === 'string' && sub ? 'uid:' + sub : 'tok';
  } catch {
    return 'tok';
  }
}

export function utf8Length(s: string): number {
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x80) n += 1;
    else if (c < 0x800) n += 2;
    else if (c >= 0xd800 && c <= 0xdbff) {
      n += 4;
      i++;
    } else n += 3;
  }
  return n;
}

function defaultId(): string {
  try {
    const c: any = (globalThis as any).crypto;
    if (c && typeof c.randomUUID === 'function') return 'c-' + c.randomUUID();
    if (c && typeof c.getRandomValues === 'function') {
      const b = new Uint8Array(16);
      c.getRandomValues(b);
      return 'c-' + Array.from(b, (x) => ('0' + x.toString(16)).slice(-2)).join('');
    }
  } catch {
    /* fall through */
  }
  return 'c-' + Date.now().toString(36) + '-' + Math.random().toString(36).slice(2, 12);
}
