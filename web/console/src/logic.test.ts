import { describe, expect, it } from 'vitest';
import {
  appendPage,
  applyMessageToList,
  applyTicketToList,
  backoffDelay,
  describeEvent,
  htmlToText,
  isNewChatAlert,
  isUnread,
  matchesFilter,
  mergeTimeline,
  relativeTime,
  upsertMessage,
} from './logic';
import type { ListFilter, Message, PendingMessage, Ticket, TicketEvent } from './types';

const me = { id: 7, team_ids: [2] };

function tk(p: Partial<Ticket> & { id: number }): Ticket {
  return {
    ref: `T-${p.id}`,
    channel: 'chat',
    subject: `Ticket ${p.id}`,
    status: 'open',
    priority: 'normal',
    contact_id: 1,
    created_at: '2024-01-01T00:00:00Z',
    updated_at: '2024-01-01T00:00:00Z',
    ...p,
  };
}

function msg(p: Partial<Message> & { id: number; seq: number; created_at: string }): Message {
  return { ticket_id: 1, author_kind: 'contact', internal: false, text: 'hi', ...p };
}

const base: ListFilter = { view: 'all', statuses: ['new', 'open', 'pending'], channel: '', tag: '', q: '' };

describe('relativeTime', () => {
  const now = Date.parse('2024-05-10T12:00:00Z');
  it('formats recent times compactly', () => {
    expect(relativeTime('2024-05-10T11:59:40Z', now)).toBe('now');
    expect(relativeTime('2024-05-10T11:55:00Z', now)).toBe('5m');
    expect(relativeTime('2024-05-10T09:00:00Z', now)).toBe('3h');
    expect(relativeTime('2024-05-08T12:00:00Z', now)).toBe('2d');
  });
  it('falls back to a date for older times', () => {
    expect(relativeTime('2024-03-02T12:00:00Z', now)).toBe('2 Mar');
    expect(relativeTime('2022-03-02T12:00:00Z', now)).toBe('2 Mar 2022');
  });
  it('handles empty and invalid input', () => {
    expect(relativeTime(undefined, now)).toBe('');
    expect(relativeTime('garbage', now)).toBe('');
  });
});

describe('matchesFilter', () => {
  it('applies views', () => {
    expect(matchesFilter(tk({ id: 1, assignee_id: 7 }), { ...base, view: 'mine' }, me)).toBe(true);
    expect(matchesFilter(tk({ id: 1, assignee_id: 8 }), { ...base, view: 'mine' }, me)).toBe(false);
    expect(matchesFilter(tk({ id: 1 }), { ...base, view: 'unassigned' }, me)).toBe(true);
    expect(matchesFilter(tk({ id: 1, assignee_id: 0 }), { ...base, view: 'unassigned' }, me)).toBe(true);
    expect(matchesFilter(tk({ id: 1, assignee_id: 3 }), { ...base, view: 'unassigned' }, me)).toBe(false);
    expect(matchesFilter(tk({ id: 1, team_id: 2 }), { ...base, view: 'teams' }, me)).toBe(true);
    expect(matchesFilter(tk({ id: 1, team_id: 5 }), { ...base, view: 'teams' }, me)).toBe(false);
  });
  it('applies status, channel, tag and query', () => {
    expect(matchesFilter(tk({ id: 1, status: 'solved' }), base, me)).toBe(false);
    expect(matchesFilter(tk({ id: 1, status: 'solved' }), { ...base, statuses: [] }, me)).toBe(true);
    expect(matchesFilter(tk({ id: 1 }), { ...base, channel: 'email' }, me)).toBe(false);
    expect(matchesFilter(tk({ id: 1, tags: ['kyc'] }), { ...base, tag: 'kyc' }, me)).toBe(true);
    expect(matchesFilter(tk({ id: 1 }), { ...base, tag: 'kyc' }, me)).toBe(false);
    expect(matchesFilter(tk({ id: 1, subject: 'Withdrawal stuck' }), { ...base, q: 'withdrawal' }, me)).toBe(true);
    expect(matchesFilter(tk({ id: 1, subject: '出金が遅い' }), { ...base, q: '出金' }, me)).toBe(true);
    expect(matchesFilter(tk({ id: 1 }), { ...base, q: 'zzz' }, me)).toBe(false);
    expect(matchesFilter(tk({ id: 1 }), { ...base, q: 'zzz' }, me, { ignoreQuery: true })).toBe(true);
  });
});

describe('applyTicketToList', () => {
  const list = [tk({ id: 3 }), tk({ id: 2 }), tk({ id: 1 })];
  it('puts a new matching ticket at the top', () => {
    const r = applyTicketToList(list, tk({ id: 9, status: 'new' }), base, me);
    expect(r.change).toBe('inserted');
    expect(r.items.map((t) => t.id)).toEqual([9, 3, 2, 1]);
  });
  it('updates a known ticket in place', () => {
    const r = applyTicketToList(list, tk({ id: 2, status: 'pending', subject: 'changed' }), base, me);
    expect(r.change).toBe('updated');
    expect(r.items.map((t) => t.id)).toEqual([3, 2, 1]);
    expect(r.items[1].subject).toBe('changed');
    expect(list[1].subject).toBe('Ticket 2'); // not mutated
  });
  it('drops a ticket that no longer matches', () => {
    const r = applyTicketToList(list, tk({ id: 2, status: 'solved' }), base, me);
    expect(r.change).toBe('removed');
    expect(r.items.map((t) => t.id)).toEqual([3, 1]);
  });
  it('drops a ticket assigned to someone else from Unassigned', () => {
    const r = applyTicketToList(list, tk({ id: 3, assignee_id: 42 }), { ...base, view: 'unassigned' }, me);
    expect(r.items.map((t) => t.id)).toEqual([2, 1]);
  });
  it('ignores non-matching unknown tickets', () => {
    const r = applyTicketToList(list, tk({ id: 10, status: 'closed' }), base, me);
    expect(r.change).toBe('none');
    expect(r.items).toBe(list);
  });
  it('keeps a known ticket under a text query it may match server-side', () => {
    const r = applyTicketToList(list, tk({ id: 2, subject: 'x' }), { ...base, q: 'refund' }, me);
    expect(r.change).toBe('updated');
  });
});

describe('list helpers', () => {
  it('applyMessageToList bumps last_seq and activity', () => {
    const list = [tk({ id: 1, last_seq: 3 })];
    const out = applyMessageToList(list, 1, msg({ id: 5, seq: 4, created_at: '2024-02-01T00:00:00Z' }));
    expect(out[0].last_seq).toBe(4);
    expect(out[0].updated_at).toBe('2024-02-01T00:00:00Z');
    expect(out[0].last_customer_message_at).toBe('2024-02-01T00:00:00Z');
    expect(applyMessageToList(list, 99, msg({ id: 5, seq: 4, created_at: 'x' }))).toBe(list);
  });
  it('appendPage skips duplicates', () => {
    expect(appendPage([tk({ id: 5 }), tk({ id: 4 })], [tk({ id: 4 }), tk({ id: 3 })]).map((t) => t.id)).toEqual([5, 4, 3]);
  });
  it('isUnread compares last_seq with the last read seq', () => {
    expect(isUnread(tk({ id: 1, last_seq: 5 }), { 1: 5 })).toBe(false);
    expect(isUnread(tk({ id: 1, last_seq: 6 }), { 1: 5 })).toBe(true);
    expect(isUnread(tk({ id: 1, last_seq: 0 }), {})).toBe(false);
  });
  it('isNewChatAlert only for new unassigned chats', () => {
    expect(isNewChatAlert(tk({ id: 1, status: 'new' }))).toBe(true);
    expect(isNewChatAlert(tk({ id: 1, status: 'new', assignee_id: 3 }))).toBe(false);
    expect(isNewChatAlert(tk({ id: 1, status: 'new', channel: 'email' }))).toBe(false);
    expect(isNewChatAlert(tk({ id: 1, status: 'open' }))).toBe(false);
  });
});

describe('timeline', () => {
  const messages = [
    msg({ id: 2, seq: 2, created_at: '2024-01-01T00:02:00Z', author_kind: 'agent' }),
    msg({ id: 1, seq: 1, created_at: '2024-01-01T00:00:00Z' }),
    msg({ id: 3, seq: 3, created_at: '2024-01-01T00:05:00Z', client_id: 'c1' }),
  ];
  const events: TicketEvent[] = [
    { id: 10, ticket_id: 1, actor_kind: 'agent', actor_id: 7, field: 'status', old: 'new', new: 'open', created_at: '2024-01-01T00:01:00Z' },
    { id: 11, ticket_id: 1, actor_kind: 'system', field: 'priority', old: 'normal', new: 'high', created_at: '2024-01-01T00:09:00Z' },
  ];
  it('merges messages and events by time', () => {
    const items = mergeTimeline(messages, events);
    expect(items.map((i) => i.key)).toEqual(['m1', 'e10', 'm2', 'm3', 'e11']);
  });
  it('appends pending messages and hides confirmed ones', () => {
    const pending: PendingMessage[] = [
      { client_id: 'c1', ticket_id: 1, internal: false, text: 'x', attachments: [], created_at: '2024-01-01T00:05:00Z' },
      { client_id: 'c2', ticket_id: 1, internal: true, text: 'y', attachments: [], created_at: '2024-01-01T00:10:00Z' },
    ];
    const items = mergeTimeline(messages, events, pending);
    expect(items.map((i) => i.key)).toEqual(['m1', 'e10', 'm2', 'm3', 'e11', 'pc2']);
  });
  it('upsertMessage dedupes by id and keeps seq order', () => {
    let list = upsertMessage([], msg({ id: 2, seq: 2, created_at: 'b' }));
    list = upsertMessage(list, msg({ id: 1, seq: 1, created_at: 'a' }));
    list = upsertMessage(list, msg({ id: 2, seq: 2, created_at: 'b', text: 'edited' }));
    expect(list.map((m) => m.id)).toEqual([1, 2]);
    expect(list[1].text).toBe('edited');
  });
  it('describes events with names', () => {
    const lk = { agents: [{ id: 7, name: 'Alice' }, { id: 8, name: 'Bob' }], teams: [{ id: 2, name: 'VIP desk' }] };
    expect(describeEvent(events[0], lk)).toBe('Alice changed status new → open');
    expect(describeEvent({ ...events[0], field: 'assignee_id', old: 0, new: 8 }, lk)).toBe('Alice set assignee to Bob');
    expect(describeEvent({ ...events[0], field: 'team_id', old: 2, new: null }, lk)).toBe('Alice cleared team (was VIP desk)');
    expect(describeEvent({ ...events[1] }, lk)).toBe('System changed priority normal → high');
    expect(describeEvent({ ...events[0], field: 'tags', old: ['a'], new: ['a', 'b'] }, lk)).toBe('Alice changed tags a → a, b');
  });
});

describe('misc', () => {
  it('backoff grows and caps', () => {
    expect(backoffDelay(0, 1)).toBe(1000);
    expect(backoffDelay(3, 1)).toBe(8000);
    expect(backoffDelay(20, 1)).toBe(30000);
    expect(backoffDelay(0, 0)).toBe(500);
  });
  it('htmlToText strips markup without scripts', () => {
    expect(htmlToText('<p>Hello&nbsp;<b>world</b></p><script>alert(1)</script><p>2 &lt; 3</p>')).toBe('Hello world\n2 < 3');
  });
});

describe('mergeTimeline ties', () => {
  it('puts the created event first and caused events after their message', () => {
    const at = '2026-11-23T12:00:00.000Z';
    const msg = { id: 1, ticket_id: 1, seq: 1, author_kind: 'contact', author_id: 1, internal: false, text: 'hi', attachments: [], client_id: '', created_at: at } as unknown as Message;
    const created = { id: 1, ticket_id: 1, actor_kind: 'contact', actor_id: 1, field: 'created', old: '', new: 'new', created_at: at } as unknown as TicketEvent;
    const status = { id: 2, ticket_id: 1, actor_kind: 'agent', actor_id: 2, field: 'status', old: 'new', new: 'open', created_at: at } as unknown as TicketEvent;
    const out = mergeTimeline([msg], [created, status]);
    expect(out.map((x) => x.key)).toEqual(['e1', 'm1', 'e2']);
  });
});
