import { useEffect, useRef, useState, type Dispatch, type SetStateAction } from 'react';
import { t, tv } from './i18n';
import { channelIcon, channelLabel, isUnread, relativeTime } from './logic';
import type { Agent, ListFilter, Ticket } from './types';
import { CHANNELS, STATUSES } from './types';
import type { ListState } from './Workspace';

interface Props {
  list: ListState;
  filter: ListFilter;
  setFilter: Dispatch<SetStateAction<ListFilter>>;
  selectedId: number | null;
  onSelect: (id: number) => void;
  onLoadMore: () => void;
  onRetry: () => void;
  lastRead: Record<number, number>;
  agents: Agent[];
}

export function StatusChip({ status }: { status: string }) {
  return <span className={`chip status-${status}`} data-testid="status-chip">{tv('status', status)}</span>;
}

export function PriorityChip({ priority, always }: { priority: string; always?: boolean }) {
  if (!always && (priority === 'normal' || !priority)) return null;
  return <span className={`chip prio-${priority}`} data-testid="priority-chip">{tv('priority', priority)}</span>;
}

export function VipBadge({ tier }: { tier?: number }) {
  if (!tier) return null;
  return <span className="chip vip" data-testid="vip-badge" title={`VIP tier ${tier}`}>VIP {tier}</span>;
}

function StatusFilter({ value, onChange }: { value: string[]; onChange: (v: string[]) => void }) {
  const ref = useRef<HTMLDetailsElement>(null);
  useEffect(() => {
    const close = (e: MouseEvent) => {
      if (ref.current && !ref.current.contains(e.target as Node)) ref.current.open = false;
    };
    document.addEventListener('mousedown', close);
    return () => document.removeEventListener('mousedown', close);
  }, []);
  const label = value.length === 0 ? 'Any status' : value.map((s) => tv('status', s)).join(', ');
  return (
    <details className="multi" ref={ref} data-testid="filter-status">
      <summary title={label}>
        <span className="muted">{t('filter.status')}:</span> {label}
      </summary>
      <div className="multi-menu">
        {STATUSES.map((s) => (
          <label key={s} className="multi-opt">
            <input
              type="checkbox"
              data-testid={`filter-status-${s}`}
              checked={value.includes(s)}
              onChange={(e) => onChange(e.target.checked ? STATUSES.filter((x) => x === s || value.includes(x)) : value.filter((x) => x !== s))}
            />
            {tv('status', s)}
          </label>
        ))}
      </div>
    </details>
  );
}

export function TicketList({ list, filter, setFilter, selectedId, onSelect, onLoadMore, onRetry, lastRead, agents }: Props) {
  const [q, setQ] = useState(filter.q);
  const [tag, setTag] = useState(filter.tag);

  // debounce the search box
  useEffect(() => {
    if (q === filter.q) return;
    const h = window.setTimeout(() => setFilter((f) => ({ ...f, q })), 350);
    return () => window.clearTimeout(h);
  }, [q, filter.q, setFilter]);

  useEffect(() => {
    if (tag === filter.tag) return;
    const h = window.setTimeout(() => setFilter((f) => ({ ...f, tag: tag.trim() })), 500);
    return () => window.clearTimeout(h);
  }, [tag, filter.tag, setFilter]);

  const now = Date.now();
  const agentName = (id?: number) => (id ? agents.find((a) => a.id === id)?.name ?? `#${id}` : '');

  return (
    <section className="list-pane" aria-label="Tickets">
      <div className="filters">
        <input
          className="search"
          type="search"
          placeholder={t('filter.search')}
          data-testid="filter-search"
          value={q}
          onChange={(e) => setQ(e.target.value)}
          onKeyDown={(e) => {
            if (e.key === 'Enter') setFilter((f) => ({ ...f, q }));
          }}
        />
        <div className="filter-row">
          <StatusFilter value={filter.statuses} onChange={(statuses) => setFilter((f) => ({ ...f, statuses }))} />
        </div>
        <div className="filter-row">
          <select data-testid="filter-channel" aria-label={t('filter.channel')} value={filter.channel} onChange={(e) => setFilter((f) => ({ ...f, channel: e.target.value }))}>
            <option value="">{t('filter.anyChannel')}</option>
            {CHANNELS.map((c) => (
              <option key={c} value={c}>{channelLabel(c)}</option>
            ))}
          </select>
          <input
            data-testid="filter-tag"
            placeholder={t('filter.tag')}
            aria-label={t('filter.tag')}
            value={tag}
            onChange={(e) => setTag(e.target.value)}
            onKeyDown={(e) => {
              if (e.key === 'Enter') setFilter((f) => ({ ...f, tag: tag.trim() }));
            }}
          />
        </div>
      </div>

      <div className="ticket-list" data-testid="ticket-list" data-loading={list.loading ? 'true' : 'false'}>
        {list.error && (
          <div className="list-msg">
            <div className="alert error" role="alert" data-testid="list-error">{list.error}</div>
            <button className="btn sm" onClick={onRetry}>{t('common.retry')}</button>
          </div>
        )}
        {list.loading && list.items.length === 0 && !list.error && <div className="list-msg muted">{t('common.loading')}</div>}
        {!list.loading && !list.error && list.items.length === 0 && (
          <div className="list-msg muted" data-testid="list-empty">{t('list.empty')}</div>
        )}
        {list.items.map((tk) => (
          <TicketRow
            key={tk.id}
            tk={tk}
            selected={tk.id === selectedId}
            unread={tk.id !== selectedId && isUnread(tk, lastRead)}
            now={now}
            assignee={agentName(tk.assignee_id)}
            onSelect={onSelect}
          />
        ))}
        {list.nextCursor !== null && list.items.length > 0 && (
          <div className="list-msg">
            <button className="btn sm block" data-testid="load-more" onClick={onLoadMore} disabled={list.loadingMore}>
              {list.loadingMore ? t('common.loading') : t('list.loadMore')}
            </button>
          </div>
        )}
      </div>
    </section>
  );
}

function TicketRow({ tk, selected, unread, now, assignee, onSelect }: {
  tk: Ticket;
  selected: boolean;
  unread: boolean;
  now: number;
  assignee: string;
  onSelect: (id: number) => void;
}) {
  return (
    <button
      className={`ticket-row${selected ? ' selected' : ''}${unread ? ' unread' : ''}`}
      data-testid="ticket-row"
      data-ticket-id={tk.id}
      data-status={tk.status}
      aria-current={selected ? 'true' : undefined}
      onClick={() => onSelect(tk.id)}
    >
      <div className="row-line">
        <span className={`unread-dot${unread ? ' on' : ''}`} data-testid={unread ? 'unread-dot' : undefined} title={unread ? t('list.unread') : undefined} />
        <span className="chan" title={channelLabel(tk.channel)}>{channelIcon(tk.channel)} {channelLabel(tk.channel)}</span>
        <span className="ref">{tk.ref}</span>
        <span className="grow" />
        <time className="rel" dateTime={tk.updated_at} title={tk.updated_at ? new Date(tk.updated_at).toLocaleString() : ''}>{relativeTime(tk.updated_at, now)}</time>
      </div>
      <div className="row-subject" data-testid="ticket-subject">{tk.subject || '(no subject)'}</div>
      <div className="row-line chips">
        <StatusChip status={tk.status} />
        <PriorityChip priority={tk.priority} />
        <VipBadge tier={tk.tier} />
        {tk.language && <span className="chip lang">{tk.language.toUpperCase()}</span>}
        <span className="grow" />
        {assignee && <span className="assignee muted" title={assignee}>{assignee}</span>}
      </div>
    </button>
  );
}
