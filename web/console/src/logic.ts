// Pure helpers (no DOM, no React) so they can be unit tested.
import type { Agent, ListFilter, Message, PendingMessage, Team, Ticket, TicketEvent } from './types';

// ---------- time ----------

/** Compact relative time: "now", "5m", "3h", "2d", then a short date. */
export function relativeTime(iso: string | null | undefined, now: number = Date.now()): string {
  if (!iso) return '';
  const ts = Date.parse(iso);
  if (Number.isNaN(ts)) return '';
  const s = Math.round((now - ts) / 1000);
  if (s < 45) return 'now';
  const m = Math.round(s / 60);
  if (m < 60) return `${m}m`;
  const h = Math.round(s / 3600);
  if (h < 24) return `${h}h`;
  const d = Math.round(s / 86400);
  if (d < 7) return `${d}d`;
  const dt = new Date(ts);
  const sameYear = dt.getUTCFullYear() === new Date(now).getUTCFullYear();
  const months = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
  const base = `${dt.getUTCDate()} ${months[dt.getUTCMonth()]}`;
  return sameYear ? base : `${base} ${dt.getUTCFullYear()}`;
}

export function formatSize(n: number): string {
  if (!n && n !== 0) return '';
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(n < 10240 ? 1 : 0)} KB`;
  return `${(n / 1024 / 1024).toFixed(1)} MB`;
}

// ---------- ticket list ----------

export interface MeLite {
  id: number;
  team_ids?: number[] | null;
}

/** Whether a ticket belongs in the list described by `f` for agent `me`. */
export function matchesFilter(t: Ticket, f: ListFilter, me: MeLite, opts: { ignoreQuery?: boolean } = {}): boolean {
  switch (f.view) {
    case 'mine':
      if (!t.assignee_id || t.assignee_id !== me.id) return false;
      break;
    case 'unassigned':
      if (t.assignee_id) return false;
      break;
    case 'teams':
      if (!t.team_id || !(me.team_ids ?? []).includes(t.team_id)) return false;
      break;
    case 'all':
      break;
  }
  if (f.statuses.length > 0 && !f.statuses.includes(t.status)) return false;
  if (f.channel && t.channel !== f.channel) return false;
  if (f.tag && !(t.tags ?? []).includes(f.tag)) return false;
  if (f.q && !opts.ignoreQuery) {
    const q = f.q.trim().toLowerCase();
    if (q && !`${t.subject ?? ''} ${t.ref ?? ''}`.toLowerCase().includes(q)) return false;
  }
  return true;
}

export type ListChange = 'inserted' | 'updated' | 'removed' | 'none';

/**
 * Apply a live `ticket` frame to the list: an unseen matching ticket goes to
 * the top, a known one is replaced in place, and one that no longer matches
 * the filter is dropped. (A full-text query is only approximated locally, so
 * it is never used to drop a ticket the server already matched.)
 */
export function applyTicketToList(items: Ticket[], t: Ticket, f: ListFilter, me: MeLite): { items: Ticket[]; change: ListChange } {
  const idx = items.findIndex((x) => x.id === t.id);
  if (idx >= 0) {
    if (!matchesFilter(t, f, me, { ignoreQuery: true })) {
      return { items: items.filter((x) => x.id !== t.id), change: 'removed' };
    }
    const next = items.slice();
    next[idx] = { ...items[idx], ...t };
    return { items: next, change: 'updated' };
  }
  if (matchesFilter(t, f, me)) return { items: [t, ...items], change: 'inserted' };
  return { items, change: 'none' };
}

/** Reflect a new message in the list row (sequence and activity time). */
export function applyMessageToList(items: Ticket[], ticketId: number, m: Message): Ticket[] {
  const idx = items.findIndex((x) => x.id === ticketId);
  if (idx < 0) return items;
  const cur = items[idx];
  const upd: Ticket = {
    ...cur,
    last_seq: Math.max(cur.last_seq ?? 0, m.seq ?? 0),
    updated_at: m.created_at && m.created_at > cur.updated_at ? m.created_at : cur.updated_at,
  };
  if (m.author_kind === 'contact') upd.last_customer_message_at = m.created_at;
  const next = items.slice();
  next[idx] = upd;
  return next;
}

/** Append a page, skipping tickets already present (live inserts may overlap). */
export function appendPage(items: Ticket[], page: Ticket[]): Ticket[] {
  const seen = new Set(items.map((t) => t.id));
  return items.concat(page.filter((t) => !seen.has(t.id)));
}

export function isUnread(t: Ticket, lastRead: Record<number, number>): boolean {
  const seq = t.last_seq ?? 0;
  if (!seq) return false;
  return seq > (lastRead[t.id] ?? 0);
}

export function isNewChatAlert(t: Ticket): boolean {
  return t.channel === 'chat' && t.status === 'new' && !t.assignee_id;
}

// ---------- timeline ----------

export type TimelineItem =
  | { kind: 'message'; key: string; at: number; message: Message }
  | { kind: 'event'; key: string; at: number; event: TicketEvent }
  | { kind: 'pending'; key: string; at: number; pending: PendingMessage };

function ts(iso: string | undefined | null): number {
  const v = iso ? Date.parse(iso) : NaN;
  return Number.isNaN(v) ? 0 : v;
}

/** Insert or replace a message (by id), keeping the array ordered by seq. */
export function upsertMessage(list: Message[], m: Message): Message[] {
  const idx = list.findIndex((x) => x.id === m.id);
  if (idx >= 0) {
    const next = list.slice();
    next[idx] = m;
    return next;
  }
  return [...list, m].sort((a, b) => (a.seq ?? 0) - (b.seq ?? 0) || a.id - b.id);
}

/**
 * Merge messages and events into one chronological timeline. Messages keep
 * their seq order; events are placed by time (after messages of the same
 * instant). Pending (optimistic) messages not yet confirmed go last.
 */
export function mergeTimeline(messages: Message[], events: TicketEvent[], pending: PendingMessage[] = []): TimelineItem[] {
  const confirmed = new Set(messages.map((m) => m.client_id).filter(Boolean));
  const out: TimelineItem[] = [];
  const msgs = messages.slice().sort((a, b) => (a.seq ?? 0) - (b.seq ?? 0) || a.id - b.id);
  const evs = events.slice().sort((a, b) => ts(a.created_at) - ts(b.created_at) || a.id - b.id);
  let i = 0;
  let j = 0;
  while (i < msgs.length || j < evs.length) {
    const m = msgs[i];
    const e = evs[j];
    // Ties (same millisecond: one transaction) put a message before the
    // events it caused, except the ticket's "created" event, which is first.
    const mt = m ? ts(m.created_at) : 0;
    const et = e ? ts(e.created_at) : 0;
    if (m && (!e || mt < et || (mt === et && e.field !== 'created'))) {
      out.push({ kind: 'message', key: `m${m.id}`, at: ts(m.created_at), message: m });
      i++;
    } else {
      out.push({ kind: 'event', key: `e${e.id}`, at: ts(e.created_at), event: e });
      j++;
    }
  }
  for (const p of pending) {
    if (confirmed.has(p.client_id)) continue;
    out.push({ kind: 'pending', key: `p${p.client_id}`, at: ts(p.created_at), pending: p });
  }
  return out;
}

export function maxSeq(messages: Message[]): number {
  return messages.reduce((acc, m) => Math.max(acc, m.seq ?? 0), 0);
}

// ---------- events ----------

const FIELD_LABELS: Record<string, string> = {
  status: 'status',
  priority: 'priority',
  assignee_id: 'assignee',
  team_id: 'team',
  tags: 'tags',
  category: 'category',
  subject: 'subject',
};

export interface EventLookups {
  agents: Pick<Agent, 'id' | 'name'>[];
  teams: Pick<Team, 'id' | 'name'>[];
}

function valueText(field: string, v: unknown, lk: EventLookups): string {
  if (v === null || v === undefined || v === '' || v === 0) return '';
  if (Array.isArray(v)) return v.length ? v.join(', ') : '';
  if (field === 'assignee_id') {
    const a = lk.agents.find((x) => x.id === Number(v));
    return a ? a.name : `#${v}`;
  }
  if (field === 'team_id') {
    const tm = lk.teams.find((x) => x.id === Number(v));
    return tm ? tm.name : `#${v}`;
  }
  if (typeof v === 'object') return JSON.stringify(v);
  return String(v);
}

export function actorName(kind: string, id: number | undefined, lk: EventLookups): string {
  if (kind === 'agent') {
    const a = lk.agents.find((x) => x.id === id);
    return a ? a.name : id ? `Agent #${id}` : 'Agent';
  }
  if (kind === 'contact') return 'Customer';
  if (kind === 'bot') return 'Bot';
  if (kind === 'token') return 'Integration';
  return 'System';
}

/** "Alice changed status open → pending" */
export function describeEvent(e: TicketEvent, lk: EventLookups): string {
  const actor = actorName(e.actor_kind, e.actor_id, lk);
  if (e.field === 'created') return `${actor} opened the ticket`;
  const field = FIELD_LABELS[e.field] ?? e.field.replace(/_/g, ' ');
  const o = valueText(e.field, e.old, lk);
  const n = valueText(e.field, e.new, lk);
  if (!o && n) return `${actor} set ${field} to ${n}`;
  if (o && !n) return `${actor} cleared ${field} (was ${o})`;
  if (!o && !n) return `${actor} changed ${field}`;
  return `${actor} changed ${field} ${o} → ${n}`;
}

// ---------- misc ----------

export function channelLabel(c: string): string {
  switch (c) {
    case 'chat': return 'Chat';
    case 'email': return 'Email';
    case 'api': return 'API';
    case 'web': return 'Web';
    case 'telegram': return 'TG';
    case 'social': return 'Social';
    case 'phone': return 'Phone';
    default: return c;
  }
}

export function channelIcon(c: string): string {
  // Plain symbols that exist in common system fonts (no emoji font needed).
  switch (c) {
    case 'chat': return '◉';
    case 'email': return '✉';
    case 'api': return '⚙';
    case 'web': return '◍';
    case 'telegram': return '➤';
    case 'social': return '#';
    case 'phone': return '☎';
    default: return '•';
  }
}

export function newClientId(): string {
  const c = (globalThis as { crypto?: Crypto }).crypto;
  if (c && typeof c.randomUUID === 'function') return c.randomUUID();
  return `c-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 10)}`;
}

/** Reconnect delay with exponential backoff and jitter, capped at 30s. */
export function backoffDelay(attempt: number, rand: number = Math.random()): number {
  const base = Math.min(30000, 1000 * 2 ** Math.max(0, attempt));
  return Math.round(base * (0.5 + rand * 0.5));
}

/** Strip HTML to text without executing it (used only as a fallback when text is empty). */
export function htmlToText(html: string): string {
  return html
    .replace(/<(script|style)[\s\S]*?<\/\1>/gi, '')
    .replace(/<br\s*\/?>/gi, '\n')
    .replace(/<\/(p|div|li|tr|h\d)>/gi, '\n')
    .replace(/<[^>]+>/g, '')
    .replace(/&nbsp;/g, ' ')
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&quot;/g, '"')
    .replace(/&#39;/g, "'")
    .replace(/&amp;/g, '&')
    .replace(/\n{3,}/g, '\n\n')
    .trim();
}
