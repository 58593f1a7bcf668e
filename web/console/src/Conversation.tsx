import { useEffect, useImperativeHandle, useLayoutEffect, useMemo, useRef, useState, type KeyboardEvent, type MutableRefObject, type ReactNode } from 'react';
import { api, attachmentUrl, errorText } from './api';
import { t, tv } from './i18n';
import { channelIcon, channelLabel, describeEvent, formatSize, htmlToText, mergeTimeline, relativeTime } from './logic';
import { PriorityChip, StatusChip, VipBadge } from './TicketList';
import type { Agent, AttachmentRef, Message, PendingMessage, Team, Ticket, TicketEvent } from './types';
import { PRIORITIES, STATUSES } from './types';
import type { DetailState } from './Workspace';

export type ComposerMode = 'reply' | 'note';
export interface ComposerHandle {
  focus: (mode: ComposerMode) => void;
}

interface Props {
  state: DetailState;
  me: Agent;
  agents: Agent[];
  teams: Team[];
  perms: string[];
  composerRef: MutableRefObject<ComposerHandle | null>;
  onPatch: (patch: Partial<Ticket>) => Promise<void>;
  onSend: (text: string, internal: boolean, attachments: AttachmentRef[]) => void;
  onRetry: (p: PendingMessage) => void;
  onDiscard: (p: PendingMessage) => void;
  onTyping: (on: boolean) => void;
}

export function Conversation(props: Props) {
  const { state, agents, teams } = props;
  const ticket = state.data!.ticket;
  const rawEvents = state.data!.events;
  const items = useMemo(() => mergeTimeline(state.messages, rawEvents ?? [], state.pending), [state.messages, rawEvents, state.pending]);
  const lookups = useMemo(() => ({ agents, teams }), [agents, teams]);

  // "Seen" marker: the latest agent reply the customer has read
  const seenSeq = useMemo(() => {
    let s = 0;
    for (const m of state.messages) if (m.author_kind === 'agent' && !m.internal && m.seq <= state.customerReadSeq) s = Math.max(s, m.seq);
    return s;
  }, [state.messages, state.customerReadSeq]);

  const scroller = useRef<HTMLDivElement>(null);
  const stick = useRef(true);
  useLayoutEffect(() => {
    const el = scroller.current;
    if (el && stick.current) el.scrollTop = el.scrollHeight;
  }, [items.length, state.typing]);

  return (
    <div className="conversation" data-testid="conversation" data-ticket-id={ticket.id}>
      <ConvHeader {...props} ticket={ticket} />
      <div
        className="timeline"
        ref={scroller}
        data-testid="timeline"
        onScroll={(e) => {
          const el = e.currentTarget;
          stick.current = el.scrollHeight - el.scrollTop - el.clientHeight < 80;
        }}
      >
        {items.length === 0 && <div className="empty-state small">{t('conv.empty')}</div>}
        {items.map((it) => {
          if (it.kind === 'event') return <EventLine key={it.key} e={it.event} text={describeEvent(it.event, lookups)} />;
          if (it.kind === 'message') return <MessageBubble key={it.key} m={it.message} seen={it.message.seq === seenSeq} />;
          return <PendingBubble key={it.key} p={it.pending} me={props.me} onRetry={props.onRetry} onDiscard={props.onDiscard} />;
        })}
        {state.typing && (
          <div className="typing" data-testid="typing-indicator">
            <span className="typing-dots"><i /><i /><i /></span> {t('conv.typing', { name: state.typing.name })}
          </div>
        )}
      </div>
      <Composer ticketId={ticket.id} composerRef={props.composerRef} onSend={props.onSend} onTyping={props.onTyping} />
    </div>
  );
}

// ---------------- header ----------------

function ConvHeader({ ticket, me, agents, teams, onPatch }: Props & { ticket: Ticket }) {
  const [busy, setBusy] = useState<string | null>(null);
  const [tagDraft, setTagDraft] = useState('');
  const tags = ticket.tags ?? [];

  const patch = async (field: string, p: Partial<Ticket>) => {
    setBusy(field);
    try {
      await onPatch(p);
    } catch {
      /* the workspace shows a toast */
    } finally {
      setBusy(null);
    }
  };

  const addTag = () => {
    const v = tagDraft.trim().replace(/,$/, '').trim();
    if (!v) return;
    setTagDraft('');
    if (tags.includes(v)) return;
    void patch('tags', { tags: [...tags, v] });
  };

  const activeAgents = agents.filter((a) => !a.disabled || a.id === ticket.assignee_id);
  const assigneeKnown = !ticket.assignee_id || activeAgents.some((a) => a.id === ticket.assignee_id);
  const teamKnown = !ticket.team_id || teams.some((x) => x.id === ticket.team_id);

  return (
    <div className="conv-header">
      <div className="conv-title">
        <h2 title={ticket.subject}>{ticket.subject || '(no subject)'}</h2>
        <div className="conv-meta">
          <span className="ref" data-testid="ticket-ref">{ticket.ref}</span>
          <span className="chan">{channelIcon(ticket.channel)} {channelLabel(ticket.channel)}</span>
          <StatusChip status={ticket.status} />
          <PriorityChip priority={ticket.priority} />
          <VipBadge tier={ticket.tier} />
          {ticket.language && <span className="chip lang">{ticket.language.toUpperCase()}</span>}
          {ticket.category && <span className="muted">· {ticket.category}</span>}
          <span className="muted">· {relativeTime(ticket.created_at)}</span>
        </div>
      </div>
      <div className="conv-controls">
        <label className="ctl">
          <span>{t('conv.status')}</span>
          <select data-testid="status-select" value={ticket.status} disabled={busy === 'status'} onChange={(e) => void patch('status', { status: e.target.value })}>
            {STATUSES.map((s) => (
              <option key={s} value={s}>{tv('status', s)}</option>
            ))}
          </select>
        </label>
        <label className="ctl">
          <span>{t('conv.priority')}</span>
          <select data-testid="priority-select" value={ticket.priority} disabled={busy === 'priority'} onChange={(e) => void patch('priority', { priority: e.target.value })}>
            {PRIORITIES.map((s) => (
              <option key={s} value={s}>{tv('priority', s)}</option>
            ))}
          </select>
        </label>
        <label className="ctl">
          <span>{t('conv.assignee')}</span>
          <select
            data-testid="assignee-select"
            value={String(ticket.assignee_id ?? 0)}
            disabled={busy === 'assignee'}
            onChange={(e) => void patch('assignee', { assignee_id: Number(e.target.value) })}
          >
            <option value="0">{t('conv.unassigned')}</option>
            {!assigneeKnown && <option value={String(ticket.assignee_id)}>#{ticket.assignee_id}</option>}
            {activeAgents.map((a) => (
              <option key={a.id} value={String(a.id)}>
                {a.name || a.login}{a.presence && a.presence !== 'online' ? ` (${tv('presence', a.presence)})` : ''}
              </option>
            ))}
          </select>
        </label>
        <button
          className="btn sm"
          data-testid="assign-me"
          disabled={ticket.assignee_id === me.id || busy === 'assignee'}
          onClick={() => void patch('assignee', { assignee_id: me.id })}
        >
          {t('conv.assignMe')}
        </button>
        <label className="ctl">
          <span>{t('conv.team')}</span>
          <select data-testid="team-select" value={String(ticket.team_id ?? 0)} disabled={busy === 'team'} onChange={(e) => void patch('team', { team_id: Number(e.target.value) })}>
            <option value="0">{t('conv.noTeam')}</option>
            {!teamKnown && <option value={String(ticket.team_id)}>#{ticket.team_id}</option>}
            {teams.map((x) => (
              <option key={x.id} value={String(x.id)}>{x.name}</option>
            ))}
          </select>
        </label>
      </div>
      <div className="tags-editor" data-testid="tags-editor">
        <span className="ctl-label">{t('conv.tags')}</span>
        {tags.map((tg) => (
          <span key={tg} className="chip tag" data-testid="tag-chip" data-tag={tg}>
            {tg}
            <button
              className="chip-x"
              aria-label={`Remove ${tg}`}
              data-testid="tag-remove"
              disabled={busy === 'tags'}
              onClick={() => void patch('tags', { tags: tags.filter((x) => x !== tg) })}
            >
              ×
            </button>
          </span>
        ))}
        <input
          data-testid="tags-input"
          className="tag-input"
          placeholder={t('conv.addTag')}
          value={tagDraft}
          disabled={busy === 'tags'}
          onChange={(e) => setTagDraft(e.target.value)}
          onKeyDown={(e) => {
            if (e.key === 'Enter' || e.key === ',') {
              e.preventDefault();
              addTag();
            } else if (e.key === 'Backspace' && !tagDraft && tags.length) {
              void patch('tags', { tags: tags.slice(0, -1) });
            }
          }}
          onBlur={() => tagDraft.trim() && addTag()}
        />
      </div>
    </div>
  );
}

// ---------------- timeline ----------------

function timeText(iso: string): string {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return '';
  const today = new Date();
  const hm = d.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
  if (d.toDateString() === today.toDateString()) return hm;
  return `${d.toLocaleDateString([], { month: 'short', day: 'numeric' })} ${hm}`;
}

function Attachments({ list }: { list?: AttachmentRef[] | null }) {
  if (!list || list.length === 0) return null;
  return (
    <div className="attachments">
      {list.map((a) => {
        const url = attachmentUrl(a);
        const isImg = (a.content_type || '').startsWith('image/');
        return (
          <a key={a.id} className={`attachment${isImg ? ' img' : ''}`} href={url} target="_blank" rel="noopener noreferrer" data-testid="attachment" title={a.name}>
            {isImg ? <img src={url} alt="" loading="lazy" /> : null}
            <span className="att-name">{a.name}</span>
            {a.size ? <span className="att-size">{formatSize(a.size)}</span> : null}
          </a>
        );
      })}
    </div>
  );
}

function sideOf(kind: string, internal: boolean): string {
  if (internal) return 'right note';
  switch (kind) {
    case 'contact': return 'left contact';
    case 'agent': return 'right agent';
    case 'bot': return 'left bot';
    case 'token': return 'right token';
    case 'system': return 'center system';
    default: return 'left';
  }
}

function Bubble({ cls, header, children, testProps }: { cls: string; header: ReactNode; children: ReactNode; testProps: Record<string, string> }) {
  return (
    <div className={`msg ${cls}`} data-testid="timeline-message" {...testProps}>
      <div className="msg-head">{header}</div>
      <div className="msg-body">{children}</div>
    </div>
  );
}

function MessageBubble({ m, seen }: { m: Message; seen: boolean }) {
  const text = m.text || (m.html ? htmlToText(m.html) : '');
  const who = m.author_name || (m.author_kind === 'contact' ? t('actor.contact') : m.author_kind === 'bot' ? t('actor.bot') : m.author_kind === 'system' ? t('actor.system') : m.author_kind);
  return (
    <Bubble
      cls={sideOf(m.author_kind, m.internal)}
      testProps={{ 'data-seq': String(m.seq), 'data-author-kind': m.author_kind, 'data-internal': String(!!m.internal), 'data-message-id': String(m.id) }}
      header={
        <>
          {m.internal && <span className="note-label">{t('conv.internalNote')}</span>}
          <span className="who">{who}</span>
          <time dateTime={m.created_at} title={new Date(m.created_at).toLocaleString()}>{timeText(m.created_at)}</time>
          {seen && <span className="seen" data-testid="seen">✓ Seen</span>}
        </>
      }
    >
      {text && <div className="msg-text">{text}</div>}
      <Attachments list={m.attachments} />
    </Bubble>
  );
}

function PendingBubble({ p, me, onRetry, onDiscard }: { p: PendingMessage; me: Agent; onRetry: (p: PendingMessage) => void; onDiscard: (p: PendingMessage) => void }) {
  return (
    <Bubble
      cls={`${sideOf('agent', p.internal)} pending${p.failed ? ' failed' : ''}`}
      testProps={{ 'data-seq': '', 'data-author-kind': 'agent', 'data-internal': String(p.internal), 'data-pending': 'true', 'data-client-id': p.client_id }}
      header={
        <>
          {p.internal && <span className="note-label">{t('conv.internalNote')}</span>}
          <span className="who">{me.name}</span>
          <span className="pending-state">{p.failed ? t('conv.failed') : t('conv.pending')}</span>
        </>
      }
    >
      {p.text && <div className="msg-text">{p.text}</div>}
      <Attachments list={p.attachments} />
      {p.failed && (
        <div className="msg-error">
          <span>{p.failed}</span>
          <button className="btn sm" onClick={() => onRetry(p)}>{t('common.retry')}</button>
          <button className="btn ghost sm" onClick={() => onDiscard(p)}>×</button>
        </div>
      )}
    </Bubble>
  );
}

function EventLine({ e, text }: { e: TicketEvent; text: string }) {
  return (
    <div className="event-line" data-testid="timeline-event" data-field={e.field}>
      <span>{text}</span>
      <time dateTime={e.created_at}>{timeText(e.created_at)}</time>
    </div>
  );
}

// ---------------- composer ----------------

interface Upload {
  key: string;
  name: string;
  status: 'uploading' | 'done' | 'error';
  ref?: AttachmentRef;
  error?: string;
}

const drafts = new Map<string, string>();

function Composer({ ticketId, composerRef, onSend, onTyping }: {
  ticketId: number;
  composerRef: MutableRefObject<ComposerHandle | null>;
  onSend: (text: string, internal: boolean, attachments: AttachmentRef[]) => void;
  onTyping: (on: boolean) => void;
}) {
  const [mode, setMode] = useState<ComposerMode>('reply');
  const [text, setText] = useState(() => drafts.get(`${ticketId}:reply`) ?? '');
  const [uploads, setUploads] = useState<Upload[]>([]);
  const taRef = useRef<HTMLTextAreaElement>(null);
  const fileRef = useRef<HTMLInputElement>(null);
  const typingOn = useRef(false);
  const typingSentAt = useRef(0);
  const typingTimer = useRef<number | undefined>(undefined);

  const stopTyping = () => {
    window.clearTimeout(typingTimer.current);
    if (typingOn.current) {
      typingOn.current = false;
      onTyping(false);
    }
  };

  useEffect(() => () => stopTyping(), []); // eslint-disable-line react-hooks/exhaustive-deps

  const switchMode = (m: ComposerMode) => {
    if (m === mode) return;
    drafts.set(`${ticketId}:${mode}`, text);
    if (m === 'note') stopTyping();
    setMode(m);
    setText(drafts.get(`${ticketId}:${m}`) ?? '');
  };

  useImperativeHandle(composerRef, () => ({
    focus: (m: ComposerMode) => {
      switchMode(m);
      window.setTimeout(() => taRef.current?.focus(), 0);
    },
  }));

  const change = (v: string) => {
    setText(v);
    drafts.set(`${ticketId}:${mode}`, v);
    if (mode !== 'reply') return;
    const now = Date.now();
    if (v && (!typingOn.current || now - typingSentAt.current > 3000)) {
      typingOn.current = true;
      typingSentAt.current = now;
      onTyping(true);
    }
    window.clearTimeout(typingTimer.current);
    typingTimer.current = window.setTimeout(stopTyping, v ? 4000 : 0);
  };

  const addFiles = (files: FileList | null) => {
    if (!files) return;
    for (const f of Array.from(files)) {
      const key = `${Date.now()}-${Math.random()}`;
      setUploads((u) => [...u, { key, name: f.name, status: 'uploading' }]);
      api
        .upload(f)
        .then((ref) => setUploads((u) => u.map((x) => (x.key === key ? { ...x, status: 'done', ref: { ...ref, name: ref.name || f.name } } : x))))
        .catch((e) => setUploads((u) => u.map((x) => (x.key === key ? { ...x, status: 'error', error: errorText(e) } : x))));
    }
    if (fileRef.current) fileRef.current.value = '';
  };

  const uploading = uploads.some((u) => u.status === 'uploading');
  const ready = uploads.filter((u) => u.status === 'done' && u.ref).map((u) => u.ref!);
  const canSend = !uploading && (text.trim().length > 0 || ready.length > 0);

  const send = () => {
    if (!canSend) return;
    onSend(text.trim(), mode === 'note', ready);
    stopTyping();
    setText('');
    drafts.delete(`${ticketId}:${mode}`);
    setUploads([]);
  };

  const onKeyDown = (e: KeyboardEvent<HTMLTextAreaElement>) => {
    if (e.key === 'Enter' && (e.ctrlKey || e.metaKey)) {
      e.preventDefault();
      send();
    }
  };

  return (
    <div className={`composer mode-${mode}`} data-testid="composer" data-mode={mode}>
      <div className="composer-tabs" role="tablist">
        <button role="tab" aria-selected={mode === 'reply'} className={mode === 'reply' ? 'active' : ''} data-testid="composer-mode-reply" onClick={() => switchMode('reply')}>
          {t('composer.reply')}
        </button>
        <button role="tab" aria-selected={mode === 'note'} className={mode === 'note' ? 'active' : ''} data-testid="composer-mode-note" onClick={() => switchMode('note')}>
          {t('composer.note')}
        </button>
      </div>
      <textarea
        ref={taRef}
        data-testid="composer-text"
        value={text}
        placeholder={mode === 'reply' ? t('composer.placeholderReply') : t('composer.placeholderNote')}
        onChange={(e) => change(e.target.value)}
        onKeyDown={onKeyDown}
        onBlur={() => stopTyping()}
        rows={3}
      />
      {uploads.length > 0 && (
        <div className="uploads">
          {uploads.map((u) => (
            <span key={u.key} className={`chip upload ${u.status}`} data-testid="composer-upload" data-status={u.status} title={u.error}>
              {u.name} {u.status === 'uploading' ? `· ${t('composer.uploading')}` : u.status === 'error' ? `· ${u.error}` : ''}
              <button className="chip-x" aria-label="Remove" onClick={() => setUploads((x) => x.filter((y) => y.key !== u.key))}>×</button>
            </span>
          ))}
        </div>
      )}
      <div className="composer-actions">
        <label className="btn ghost sm file-btn">
          + {t('composer.attach')}
          <input ref={fileRef} type="file" multiple data-testid="composer-file" onChange={(e) => addFiles(e.target.files)} />
        </label>
        <span className="grow" />
        <span className="muted small">Ctrl/Cmd+Enter</span>
        <button className={`btn ${mode === 'note' ? 'note' : 'primary'}`} data-testid="composer-send" disabled={!canSend} onClick={send}>
          {mode === 'reply' ? t('composer.send') : t('composer.addNote')}
        </button>
      </div>
    </div>
  );
}
