import { useCallback, useEffect, useMemo, useRef, useState } from 'react';
import { ApiError, api, errorText } from './api';
import { notifyState, playChime, requestNotify, showNotification, unlockAudio, type NotifyState } from './alerts';
import { ContactPanel } from './ContactPanel';
import { Conversation, type ComposerHandle } from './Conversation';
import { t, tv } from './i18n';
import {
  appendPage,
  applyMessageToList,
  applyTicketToList,
  isNewChatAlert,
  maxSeq,
  newClientId,
  upsertMessage,
} from './logic';
import { loadJSON, saveJSON } from './storage';
import { TicketList } from './TicketList';
import type { Agent, AttachmentRef, ListFilter, Me, Message, PendingMessage, ServerFrame, Team, Ticket, TicketDetail, View } from './types';
import { PRESENCES } from './types';
import { AgentSocket, type WsState } from './ws';

const FILTER_KEY = 'custos.filter';
const READ_KEY = 'custos.lastRead';
const PAGE = 50;

export interface ListState {
  items: Ticket[];
  nextCursor: number | string | null;
  loading: boolean;
  loadingMore: boolean;
  error: string | null;
}

export interface DetailState {
  id: number;
  loading: boolean;
  error: string | null;
  data: TicketDetail | null;
  messages: Message[];
  pending: PendingMessage[];
  typing: { name: string; until: number } | null;
  customerReadSeq: number;
}

function selectedFromHash(): number | null {
  const m = /^#\/t\/(\d+)/.exec(location.hash);
  return m ? Number(m[1]) : null;
}

function allowedViews(perms: string[]): View[] {
  const v: View[] = ['mine', 'unassigned', 'teams'];
  if (perms.includes('ticket.read_all')) v.push('all');
  return v;
}

export function Workspace({ me: initialMe, onLogout }: { me: Me; onLogout: () => void }) {
  const perms = initialMe.permissions;
  const views = useMemo(() => allowedViews(perms), [perms]);
  const [me, setMe] = useState<Agent>(initialMe.agent);
  const [agents, setAgents] = useState<Agent[]>([]);
  const [teams, setTeams] = useState<Team[]>([]);
  const [filter, setFilter] = useState<ListFilter>(() => {
    const f = loadJSON<Partial<ListFilter>>(FILTER_KEY, {});
    return {
      view: f.view && views.includes(f.view) ? f.view : 'mine',
      statuses: Array.isArray(f.statuses) ? f.statuses : ['new', 'open', 'pending'],
      channel: f.channel ?? '',
      tag: f.tag ?? '',
      q: '',
    };
  });
  const [list, setList] = useState<ListState>({ items: [], nextCursor: null, loading: true, loadingMore: false, error: null });
  const [selectedId, setSelectedId] = useState<number | null>(selectedFromHash);
  const [detail, setDetail] = useState<DetailState | null>(null);
  const [lastRead, setLastRead] = useState<Record<number, number>>(() => loadJSON(READ_KEY, {}));
  const [wsState, setWsState] = useState<WsState>('connecting');
  const [notify, setNotify] = useState<NotifyState>(notifyState);
  const [showHelp, setShowHelp] = useState(false);
  const [toasts, setToasts] = useState<{ id: number; msg: string }[]>([]);
  const [chatLoad, setChatLoad] = useState<number | null>(null);
  const [, setTick] = useState(0);

  const sockRef = useRef<AgentSocket | null>(null);
  const composerRef = useRef<ComposerHandle | null>(null);
  const filterRef = useRef(filter);
  filterRef.current = filter;
  const meRef = useRef(me);
  meRef.current = me;
  const selectedRef = useRef(selectedId);
  selectedRef.current = selectedId;
  const listRef = useRef(list);
  listRef.current = list;
  const agentsRef = useRef(agents);
  agentsRef.current = agents;
  const alertedRef = useRef(new Set<number>());
  const sentReadRef = useRef<Record<number, number>>({});
  const listAbort = useRef<AbortController | null>(null);

  const toast = useCallback((msg: string) => {
    const id = Date.now() + Math.random();
    setToasts((ts) => [...ts.slice(-3), { id, msg }]);
    window.setTimeout(() => setToasts((ts) => ts.filter((x) => x.id !== id)), 6000);
  }, []);

  // The agent's open chats against their concurrent-chat limit, refreshed
  // (at most once a second) when ticket frames arrive.
  const loadTimer = useRef<number | null>(null);
  const refreshChatLoad = useCallback(() => {
    if (loadTimer.current !== null) return;
    loadTimer.current = window.setTimeout(() => {
      loadTimer.current = null;
      api
        .tickets({ view: 'mine', channel: 'chat', status: 'new,open,pending,on-hold', limit: 100 })
        .then((r) => setChatLoad(r.items ? r.items.length : 0))
        .catch(() => setChatLoad(null));
    }, 1000);
  }, []);
  useEffect(() => {
    refreshChatLoad();
    return () => {
      if (loadTimer.current !== null) window.clearTimeout(loadTimer.current);
    };
  }, [refreshChatLoad]);

  // relative times refresh
  useEffect(() => {
    const i = window.setInterval(() => setTick((x) => x + 1), 30000);
    return () => window.clearInterval(i);
  }, []);

  useEffect(() => {
    saveJSON(FILTER_KEY, { view: filter.view, statuses: filter.statuses, channel: filter.channel, tag: filter.tag });
  }, [filter.view, filter.statuses, filter.channel, filter.tag]);

  useEffect(() => {
    saveJSON(READ_KEY, lastRead);
  }, [lastRead]);

  // agents and teams for selects and event descriptions
  const loadDirectory = useCallback(() => {
    api.agents().then((r) => setAgents(r.items ?? [])).catch(() => {});
    api.teams().then((r) => setTeams(r.items ?? [])).catch(() => {});
  }, []);
  useEffect(loadDirectory, [loadDirectory]);

  // ---------- ticket list ----------
  const fetchList = useCallback(async (more: boolean) => {
    const f = filterRef.current;
    const cursor = more ? listRef.current.nextCursor : null;
    if (more && (cursor === null || cursor === undefined)) return;
    if (!more) {
      listAbort.current?.abort();
    }
    const ac = new AbortController();
    if (!more) listAbort.current = ac;
    setList((l) => (more ? { ...l, loadingMore: true, error: null } : { ...l, loading: true, error: null }));
    try {
      const r = await api.tickets(
        {
          view: f.view,
          status: f.statuses.join(','),
          channel: f.channel,
          tag: f.tag,
          q: f.q.trim(),
          cursor: cursor ?? undefined,
          limit: PAGE,
        },
        ac.signal,
      );
      const page = r.items ?? [];
      for (const tk of page) alertedRef.current.add(tk.id);
      setList((l) => ({
        items: more ? appendPage(l.items, page) : page,
        nextCursor: r.next_cursor ?? null,
        loading: false,
        loadingMore: false,
        error: null,
      }));
    } catch (e) {
      if ((e as Error).name === 'AbortError') return;
      setList((l) => ({ ...l, loading: false, loadingMore: false, error: errorText(e) }));
    }
  }, []);

  useEffect(() => {
    void fetchList(false);
  }, [filter, fetchList]);

  // ---------- open ticket ----------
  const loadDetail = useCallback(async (id: number, quiet = false) => {
    if (!quiet) {
      setDetail({ id, loading: true, error: null, data: null, messages: [], pending: [], typing: null, customerReadSeq: 0 });
    }
    try {
      const d = await api.ticket(id);
      if (selectedRef.current !== id) return;
      setDetail((cur) => {
        const pending = cur && cur.id === id ? cur.pending : [];
        const msgs = d.messages ?? [];
        const confirmed = new Set(msgs.map((m) => m.client_id).filter(Boolean));
        return {
          id,
          loading: false,
          error: null,
          data: d,
          messages: msgs,
          pending: pending.filter((p) => !confirmed.has(p.client_id)),
          typing: cur && cur.id === id ? cur.typing : null,
          customerReadSeq: cur && cur.id === id ? cur.customerReadSeq : 0,
        };
      });
      setList((l) => {
        const idx = l.items.findIndex((x) => x.id === id);
        if (idx < 0) return l;
        const items = l.items.slice();
        items[idx] = { ...items[idx], ...d.ticket };
        return { ...l, items };
      });
    } catch (e) {
      if (selectedRef.current !== id) return;
      setDetail((cur) =>
        quiet && cur && cur.id === id && cur.data
          ? cur
          : { id, loading: false, error: errorText(e), data: null, messages: [], pending: [], typing: null, customerReadSeq: 0 },
      );
    }
  }, []);

  useEffect(() => {
    if (selectedId === null) {
      setDetail(null);
      return;
    }
    void loadDetail(selectedId);
  }, [selectedId, loadDetail]);

  useEffect(() => {
    const onHash = () => setSelectedId(selectedFromHash());
    window.addEventListener('hashchange', onHash);
    return () => window.removeEventListener('hashchange', onHash);
  }, []);

  const select = useCallback((id: number | null) => {
    if (id === null) {
      history.replaceState(null, '', location.pathname + location.search);
      setSelectedId(null);
    } else {
      location.hash = `#/t/${id}`;
      setSelectedId(id);
    }
  }, []);

  // ---------- read receipts ----------
  const currentSeq = detail && detail.id === selectedId ? Math.max(maxSeq(detail.messages), detail.data?.ticket.last_seq ?? 0) : 0;
  useEffect(() => {
    if (!selectedId || !currentSeq) return;
    const send = () => {
      if (document.visibilityState !== 'visible') return;
      if ((sentReadRef.current[selectedId] ?? 0) < currentSeq) {
        if (sockRef.current?.send({ type: 'read', ticket_id: selectedId, seq: currentSeq })) {
          sentReadRef.current[selectedId] = currentSeq;
        }
      }
      setLastRead((lr) => ((lr[selectedId] ?? 0) >= currentSeq ? lr : { ...lr, [selectedId]: currentSeq }));
    };
    send();
    document.addEventListener('visibilitychange', send);
    return () => document.removeEventListener('visibilitychange', send);
  }, [selectedId, currentSeq, wsState]);

  // ---------- websocket ----------
  const onFrame = useCallback(
    (f: ServerFrame) => {
      switch (f.type) {
        case 'ticket': {
          const tk = f.ticket;
          if (!tk) return;
          if (tk.channel === 'chat') refreshChatLoad();
          setList((l) => {
            const r = applyTicketToList(l.items, tk, filterRef.current, meRef.current);
            return r.change === 'none' ? l : { ...l, items: r.items };
          });
          setDetail((d) => (d && d.id === tk.id && d.data ? { ...d, data: { ...d.data, ticket: { ...d.data.ticket, ...tk } } } : d));
          if (isNewChatAlert(tk) && !alertedRef.current.has(tk.id)) {
            alertedRef.current.add(tk.id);
            if (meRef.current.presence !== 'offline') {
              playChime();
              showNotification(`${t('notify.newChat')} ${tk.ref ?? ''}`.trim(), tk.subject || '', () => select(tk.id));
            }
          } else {
            alertedRef.current.add(tk.id);
          }
          break;
        }
        case 'message': {
          const m = f.message;
          if (!m) return;
          setList((l) => ({ ...l, items: applyMessageToList(l.items, f.ticket_id, m) }));
          setDetail((d) => {
            if (!d || d.id !== f.ticket_id) return d;
            const typing = m.author_kind === 'contact' ? null : d.typing;
            return {
              ...d,
              messages: upsertMessage(d.messages, m),
              pending: m.client_id ? d.pending.filter((p) => p.client_id !== m.client_id) : d.pending,
              typing,
            };
          });
          if (m.author_kind === 'agent' && m.author_id === meRef.current.id) {
            setLastRead((lr) => ((lr[f.ticket_id] ?? 0) >= m.seq ? lr : { ...lr, [f.ticket_id]: m.seq }));
          }
          break;
        }
        case 'typing': {
          if (!f.author || f.author.kind !== 'contact') return;
          setDetail((d) =>
            d && d.id === f.ticket_id
              ? { ...d, typing: f.on ? { name: f.author.name || t('actor.contact'), until: Date.now() + 8000 } : null }
              : d,
          );
          break;
        }
        case 'read': {
          setDetail((d) => (d && d.id === f.ticket_id && f.seq > d.customerReadSeq ? { ...d, customerReadSeq: f.seq } : d));
          break;
        }
        case 'presence': {
          setAgents((as) => as.map((a) => (a.id === f.agent_id ? { ...a, presence: f.presence } : a)));
          if (f.agent_id === meRef.current.id) setMe((m) => ({ ...m, presence: f.presence }));
          break;
        }
        default:
          break;
      }
    },
    [select],
  );

  useEffect(() => {
    const s = new AgentSocket({
      onFrame,
      onState: setWsState,
      onReconnect: () => {
        void fetchList(false);
        const id = selectedRef.current;
        if (id !== null) void loadDetail(id, true);
        loadDirectory();
      },
      // The server ended the session: back to the login page.
      onSessionEnded: onLogout,
    });
    sockRef.current = s;
    s.start();
    return () => {
      s.stop();
      sockRef.current = null;
    };
  }, [onFrame, fetchList, loadDetail, loadDirectory, onLogout]);

  // expire stale typing indicators
  useEffect(() => {
    if (!detail?.typing) return;
    const ms = Math.max(0, detail.typing.until - Date.now());
    const h = window.setTimeout(() => setDetail((d) => (d && d.typing && d.typing.until <= Date.now() + 50 ? { ...d, typing: null } : d)), ms + 60);
    return () => window.clearTimeout(h);
  }, [detail?.typing]);

  // ---------- actions ----------
  const patchTicket = useCallback(
    async (id: number, patch: Partial<Ticket>): Promise<void> => {
      try {
        const tk = await api.patchTicket(id, patch);
        if (tk && tk.id) {
          setList((l) => ({ ...l, items: applyTicketToList(l.items, tk, filterRef.current, meRef.current).items }));
          setDetail((d) => (d && d.id === id && d.data ? { ...d, data: { ...d.data, ticket: { ...d.data.ticket, ...tk } } } : d));
        }
        // refresh events (the change is audited server-side)
        if (selectedRef.current === id) void loadDetail(id, true);
      } catch (e) {
        const fields = e instanceof ApiError && Object.keys(e.fields).length ? ` (${Object.entries(e.fields).map(([k, v]) => `${k}: ${v}`).join('; ')})` : '';
        toast(errorText(e) + fields);
        throw e;
      }
    },
    [loadDetail, toast],
  );

  const sendMessage = useCallback(
    async (ticketId: number, text: string, internal: boolean, attachments: AttachmentRef[], retryOf?: PendingMessage) => {
      const p: PendingMessage = retryOf
        ? { ...retryOf, failed: undefined }
        : { client_id: newClientId(), ticket_id: ticketId, internal, text, attachments, created_at: new Date().toISOString() };
      setDetail((d) =>
        d && d.id === ticketId
          ? { ...d, pending: retryOf ? d.pending.map((x) => (x.client_id === p.client_id ? p : x)) : [...d.pending, p] }
          : d,
      );
      try {
        const m = await api.sendMessage(ticketId, {
          text: p.text,
          internal: p.internal,
          attachment_ids: p.attachments.map((a) => a.id),
          client_id: p.client_id,
        });
        setDetail((d) =>
          d && d.id === ticketId
            ? {
                ...d,
                messages: m && m.id ? upsertMessage(d.messages, { ...m, client_id: m.client_id || p.client_id }) : d.messages,
                pending: d.pending.filter((x) => x.client_id !== p.client_id),
              }
            : d,
        );
        if (m && m.id) {
          setList((l) => ({ ...l, items: applyMessageToList(l.items, ticketId, m) }));
          setLastRead((lr) => ({ ...lr, [ticketId]: Math.max(lr[ticketId] ?? 0, m.seq ?? 0) }));
        }
      } catch (e) {
        const fields = e instanceof ApiError && Object.keys(e.fields).length ? ` (${Object.entries(e.fields).map(([k, v]) => `${k}: ${v}`).join('; ')})` : '';
        const msg = errorText(e) + fields;
        setDetail((d) =>
          d && d.id === ticketId ? { ...d, pending: d.pending.map((x) => (x.client_id === p.client_id ? { ...x, failed: msg } : x)) } : d,
        );
      }
    },
    [],
  );

  const discardPending = useCallback((ticketId: number, clientId: string) => {
    setDetail((d) => (d && d.id === ticketId ? { ...d, pending: d.pending.filter((x) => x.client_id !== clientId) } : d));
  }, []);

  const sendTyping = useCallback((ticketId: number, on: boolean) => {
    sockRef.current?.send({ type: 'typing', ticket_id: ticketId, on });
  }, []);

  const setPresence = useCallback(
    async (p: string) => {
      const prev = meRef.current.presence;
      setMe((m) => ({ ...m, presence: p }));
      try {
        const a = await api.setPresence(p);
        if (a && a.id) setMe((m) => ({ ...m, ...a }));
      } catch (e) {
        setMe((m) => ({ ...m, presence: prev }));
        toast(errorText(e));
      }
    },
    [toast],
  );

  // ---------- keyboard shortcuts ----------
  useEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      if (e.defaultPrevented) return;
      const el = e.target as HTMLElement | null;
      const typing = !!el && (el.tagName === 'INPUT' || el.tagName === 'TEXTAREA' || el.tagName === 'SELECT' || el.isContentEditable);
      if (e.key === 'Escape' && showHelp) {
        setShowHelp(false);
        return;
      }
      if (typing || e.ctrlKey || e.metaKey || e.altKey) return;
      const items = listRef.current.items;
      const cur = selectedRef.current;
      switch (e.key) {
        case 'r':
        case 'n':
          if (cur !== null && composerRef.current) {
            e.preventDefault();
            composerRef.current.focus(e.key === 'n' ? 'note' : 'reply');
          }
          break;
        case 's':
          if (cur !== null) {
            e.preventDefault();
            void patchTicket(cur, { status: 'solved' }).catch(() => {});
          }
          break;
        case 'j':
        case 'k': {
          if (!items.length) return;
          e.preventDefault();
          const idx = items.findIndex((x) => x.id === cur);
          let next: number;
          if (idx < 0) next = e.key === 'j' ? 0 : items.length - 1;
          else next = e.key === 'j' ? Math.min(items.length - 1, idx + 1) : Math.max(0, idx - 1);
          select(items[next].id);
          document.querySelector(`[data-testid="ticket-row"][data-ticket-id="${items[next].id}"]`)?.scrollIntoView({ block: 'nearest' });
          break;
        }
        case '?':
          e.preventDefault();
          setShowHelp((v) => !v);
          break;
      }
    };
    window.addEventListener('keydown', onKey);
    return () => window.removeEventListener('keydown', onKey);
  }, [patchTicket, select, showHelp]);

  const enableNotify = async () => {
    setNotify(await requestNotify());
  };

  const openTicket = detail && detail.id === selectedId ? detail : null;

  return (
    <div className="app" onPointerDown={unlockAudio}>
      <header className="topbar">
        <div className="brand"><span className="brand-mark" />{t('app.name')}</div>
        <div className="topbar-spacer" />
        <span className={`ws-pill ws-${wsState}`} data-testid="ws-status" data-state={wsState} title="WebSocket">
          <span className="dot" />
          {t(wsState === 'connected' ? 'ws.connected' : wsState === 'connecting' ? 'ws.connecting' : 'ws.offline')}
        </span>
        {notify !== 'unsupported' && (
          <button
            className="btn ghost sm"
            data-testid="enable-notifications"
            onClick={() => void enableNotify()}
            disabled={notify === 'granted' || notify === 'denied'}
          >
            {notify === 'granted' ? t('header.notifyOn') : notify === 'denied' ? t('header.notifyDenied') : t('header.notify')}
          </button>
        )}
        <button className="btn ghost sm" onClick={() => setShowHelp(true)} data-testid="shortcuts-help">{t('header.shortcuts')}</button>
        {chatLoad !== null && (
          <span
            className={`chat-load${chatLoad >= (me.chat_limit ?? 0) ? ' full' : ''}`}
            data-testid="chat-load"
            title={t('header.chatLoadTitle')}
          >
            {t('header.chatLoad')} {chatLoad}/{me.chat_limit ?? 0}
          </span>
        )}
        <label className={`presence-select presence-${me.presence ?? 'offline'}`}>
          <span className="dot" />
          <select data-testid="presence-select" aria-label={t('header.presence')} value={me.presence ?? 'offline'} onChange={(e) => void setPresence(e.target.value)}>
            {PRESENCES.map((p) => (
              <option key={p} value={p}>{tv('presence', p)}</option>
            ))}
          </select>
        </label>
        <div className="whoami" data-testid="whoami">
          <span className="whoami-name">{me.name || me.login}</span>
          <span className="whoami-role">{me.role}</span>
        </div>
        <button className="btn sm" data-testid="logout" onClick={onLogout}>{t('header.logout')}</button>
      </header>

      <nav className="sidebar" aria-label={t('sidebar.views')}>
        <div className="sidebar-title">{t('sidebar.views')}</div>
        {views.map((v) => (
          <button
            key={v}
            className={`nav-item${filter.view === v ? ' active' : ''}`}
            data-testid={`inbox-view-${v}`}
            aria-current={filter.view === v ? 'page' : undefined}
            onClick={() => setFilter((f) => ({ ...f, view: v }))}
          >
            {tv('view', v)}
            {filter.view === v && !list.loading && <span className="count">{list.items.length}{list.nextCursor !== null ? '+' : ''}</span>}
          </button>
        ))}
      </nav>

      <TicketList
        list={list}
        filter={filter}
        setFilter={setFilter}
        selectedId={selectedId}
        onSelect={select}
        onLoadMore={() => void fetchList(true)}
        onRetry={() => void fetchList(false)}
        lastRead={lastRead}
        agents={agents}
      />

      <main className="conversation-pane">
        {selectedId === null && <div className="empty-state">{t('conv.none')}</div>}
        {selectedId !== null && (!openTicket || openTicket.loading) && <div className="empty-state">{t('common.loading')}</div>}
        {openTicket && !openTicket.loading && openTicket.error && (
          <div className="empty-state">
            <div className="alert error" role="alert">{openTicket.error}</div>
            <button className="btn" onClick={() => void loadDetail(openTicket.id)}>{t('common.retry')}</button>
          </div>
        )}
        {openTicket && openTicket.data && (
          <Conversation
            key={openTicket.id}
            state={openTicket}
            me={me}
            agents={agents}
            teams={teams}
            perms={perms}
            composerRef={composerRef}
            onPatch={(patch) => patchTicket(openTicket.id, patch)}
            onSend={(text, internal, atts) => sendMessage(openTicket.id, text, internal, atts)}
            onRetry={(p) => sendMessage(openTicket.id, p.text, p.internal, p.attachments, p)}
            onDiscard={(p) => discardPending(openTicket.id, p.client_id)}
            onTyping={(on) => sendTyping(openTicket.id, on)}
          />
        )}
      </main>

      <aside className="contact-pane">
        {openTicket && openTicket.data && (
          <ContactPanel
            key={openTicket.data.ticket.contact_id}
            contact={openTicket.data.contact}
            contactId={openTicket.data.ticket.contact_id}
            currentTicketId={openTicket.id}
            canReveal={perms.includes('contact.reveal')}
            onSelect={select}
          />
        )}
      </aside>

      {showHelp && <ShortcutsHelp onClose={() => setShowHelp(false)} />}

      <div className="toasts" aria-live="polite">
        {toasts.map((x) => (
          <div key={x.id} className="toast" role="alert" data-testid="toast">{x.msg}</div>
        ))}
      </div>
    </div>
  );
}

function ShortcutsHelp({ onClose }: { onClose: () => void }) {
  const rows: [string, Parameters<typeof t>[0]][] = [
    ['r', 'shortcuts.r'],
    ['n', 'shortcuts.n'],
    ['s', 'shortcuts.s'],
    ['j', 'shortcuts.j'],
    ['k', 'shortcuts.k'],
    ['Ctrl/Cmd + Enter', 'shortcuts.send'],
    ['?', 'shortcuts.help'],
  ];
  return (
    <div className="overlay" onClick={onClose} data-testid="shortcuts-overlay">
      <div className="card modal" role="dialog" aria-modal="true" aria-label={t('shortcuts.title')} onClick={(e) => e.stopPropagation()}>
        <div className="modal-head">
          <h2>{t('shortcuts.title')}</h2>
          <button className="btn ghost sm" onClick={onClose} autoFocus>{t('common.close')}</button>
        </div>
        <table className="shortcuts">
          <tbody>
            {rows.map(([k, label]) => (
              <tr key={k}>
                <td><kbd>{k}</kbd></td>
                <td>{t(label)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </div>
  );
}
