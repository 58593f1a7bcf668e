import type { ChatMessage, KV, OutboxItem } from './types';

/** Safe wrapper around localStorage-like storage: never throws. */
export class SafeKV {
  constructor(private kv: KV | null, private prefix: string) {}
  get(key: string): string | null {
    try {
      return this.kv ? this.kv.getItem(this.prefix + key) : null;
    } catch {
      return null;
    }
  }
  set(key: string, value: string): void {
    try {
      if (this.kv) this.kv.setItem(this.prefix + key, value);
    } catch {
      /* quota / private mode: keep working in memory */
    }
  }
  del(key: string): void {
    try {
      if (this.kv) this.kv.removeItem(this.prefix + key);
    } catch {
      /* ignore */
    }
  }
  getJSON<T>(key: string): T | null {
    const s = this.get(key);
    if (!s) return null;
    try {
      return JSON.parse(s) as T;
    } catch {
      return null;
    }
  }
  setJSON(key: string, v: unknown): void {
    this.set(key, JSON.stringify(v));
  }
}

/** Unacknowledged messages, in send order, persisted so nothing typed is lost. */
export class Outbox {
  items: OutboxItem[] = [];
  constructor(private kv: SafeKV, private key = 'outbox') {
    const saved = kv.getJSON<OutboxItem[]>(key);
    if (Array.isArray(saved)) {
      this.items = saved.filter(
        (i) => i && typeof i.client_id === 'string' && typeof i.text === 'string' && Array.isArray(i.attachments),
      );
    }
  }
  private save(): void {
    if (this.items.length) this.kv.setJSON(this.key, this.items);
    else this.kv.del(this.key);
  }
  add(item: OutboxItem): void {
    this.items.push(item);
    this.save();
  }
  get(clientId: string): OutboxItem | undefined {
    return this.items.find((i) => i.client_id === clientId);
  }
  has(clientId: string): boolean {
    return !!this.get(clientId);
  }
  remove(clientId: string): OutboxItem | undefined {
    const i = this.items.findIndex((x) => x.client_id === clientId);
    if (i < 0) return undefined;
    const [item] = this.items.splice(i, 1);
    this.save();
    return item;
  }
  setState(clientId: string, state: OutboxItem['state'], error?: string): void {
    const item = this.get(clientId);
    if (!item) return;
    item.state = state;
    if (error) item.error = error;
    else delete item.error;
    this.save();
  }
  pending(): OutboxItem[] {
    return this.items.filter((i) => i.state === 'pending');
  }
}

/** Messages of one or more conversations, ordered by (conversation_id, seq), deduplicated by seq. */
export class MessageStore {
  list: ChatMessage[] = [];
  private keys = new Set<string>();

  /** Adds a message; returns false if this (conversation, seq) is already present. */
  add(m: ChatMessage): boolean {
    const k = m.conversation_id + ':' + m.seq;
    if (this.keys.has(k)) return false;
    this.keys.add(k);
    // Insert in order; the common case is appending at the end.
    let i = this.list.length;
    while (i > 0 && cmp(this.list[i - 1], m) > 0) i--;
    this.list.splice(i, 0, m);
    return true;
  }
  has(conversationId: number, seq: number): boolean {
    return this.keys.has(conversationId + ':' + seq);
  }
  lastSeq(conversationId: number): number {
    let max = 0;
    for (const m of this.list) if (m.conversation_id === conversationId && m.seq > max) max = m.seq;
    return max;
  }
  clear(): void {
    this.list = [];
    this.keys.clear();
  }
}

function cmp(a: ChatMessage, b: ChatMessage): number {
  return a.conversation_id - b.conversation_id || a.seq - b.seq;
}
