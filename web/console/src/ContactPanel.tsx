import { useEffect, useState, type ReactNode } from 'react';
import { api, errorText } from './api';
import { t } from './i18n';
import { relativeTime } from './logic';
import { StatusChip } from './TicketList';
import type { Contact, Ticket } from './types';

interface Props {
  contact: Contact | null;
  contactId: number;
  currentTicketId: number;
  canReveal: boolean;
  onSelect: (id: number) => void;
}

function Row({ label, children, testid }: { label: string; children: ReactNode; testid?: string }) {
  return (
    <div className="kv" data-testid={testid}>
      <dt>{label}</dt>
      <dd>{children ?? t('common.none')}</dd>
    </div>
  );
}

export function ContactPanel({ contact: initial, contactId, currentTicketId, canReveal, onSelect }: Props) {
  const [contact, setContact] = useState<Contact | null>(initial);
  const [loadErr, setLoadErr] = useState<string | null>(null);
  const [revealed, setRevealed] = useState(false);
  const [revealing, setRevealing] = useState(false);
  const [revealErr, setRevealErr] = useState<string | null>(null);
  const [others, setOthers] = useState<Ticket[] | null>(null);
  const [othersHidden, setOthersHidden] = useState(false);

  useEffect(() => {
    if (!revealed) setContact(initial);
  }, [initial, revealed]);

  useEffect(() => {
    if (initial || !contactId) return;
    api.contact(contactId).then(setContact).catch((e) => setLoadErr(errorText(e)));
  }, [initial, contactId]);

  useEffect(() => {
    if (!contactId) return;
    let cancelled = false;
    api
      .tickets({ contact_id: contactId, view: 'all', limit: 20 })
      .then((r) => !cancelled && setOthers(r.items ?? []))
      .catch(() => !cancelled && setOthersHidden(true));
    return () => {
      cancelled = true;
    };
  }, [contactId]);

  const reveal = async () => {
    setRevealing(true);
    setRevealErr(null);
    try {
      setContact(await api.reveal(contactId));
      setRevealed(true);
    } catch (e) {
      setRevealErr(errorText(e));
    } finally {
      setRevealing(false);
    }
  };

  if (!contact) {
    return (
      <div className="contact-panel" data-testid="contact-panel">
        {loadErr ? <div className="alert error">{loadErr}</div> : <div className="muted">{t('common.loading')}</div>}
      </div>
    );
  }

  const otherTickets = (others ?? []).filter((x) => x.id !== currentTicketId);
  const emails = contact.emails ?? [];

  return (
    <div className="contact-panel" data-testid="contact-panel" data-revealed={revealed ? 'true' : 'false'}>
      <div className="panel-title">{t('contact.title')}</div>
      <div className="contact-name">
        <span className="avatar">{(contact.name || '?').trim().charAt(0).toUpperCase()}</span>
        <div>
          <div className="name" data-testid="contact-name">{contact.name || t('common.none')}</div>
          {!!contact.vip_tier && <span className="chip vip">VIP {contact.vip_tier}</span>}
        </div>
      </div>
      <dl className="kvs">
        <Row label={t('contact.uid')} testid="contact-uid"><code>{contact.external_uid || t('common.none')}</code></Row>
        <Row label={t('contact.email')} testid="contact-email">
          {emails.length ? emails.map((e) => <div key={e}>{e}</div>) : t('common.none')}
        </Row>
        <Row label={t('contact.phone')} testid="contact-phone">{contact.phone || t('common.none')}</Row>
        {contact.telegram_id ? <Row label={t('contact.telegram')}>{String(contact.telegram_id)}</Row> : null}
        <Row label={t('contact.vip')} testid="contact-vip">{String(contact.vip_tier ?? 0)}</Row>
        <Row label={t('contact.kyc')} testid="contact-kyc">{contact.kyc_level !== undefined && contact.kyc_level !== null ? String(contact.kyc_level) : t('common.none')}</Row>
        <Row label={t('contact.language')}>{contact.language ? contact.language.toUpperCase() : t('common.none')}</Row>
        <Row label={t('contact.tags')}>
          {(contact.tags ?? []).length ? (contact.tags ?? []).map((tg) => <span key={tg} className="chip tag">{tg}</span>) : t('common.none')}
        </Row>
      </dl>
      {canReveal && !revealed && (
        <button className="btn sm" data-testid="contact-reveal" onClick={() => void reveal()} disabled={revealing}>
          {revealing ? t('common.loading') : t('contact.reveal')}
        </button>
      )}
      {revealed && <div className="muted small" data-testid="contact-revealed">{t('contact.revealed')}</div>}
      {revealErr && <div className="alert error small" role="alert">{revealErr}</div>}

      {!othersHidden && (
        <div className="other-tickets" data-testid="contact-other-tickets">
          <div className="panel-title">{t('contact.otherTickets')}</div>
          {others === null && <div className="muted small">{t('common.loading')}</div>}
          {others !== null && otherTickets.length === 0 && <div className="muted small">{t('contact.noOther')}</div>}
          {otherTickets.map((x) => (
            <button key={x.id} className="other-ticket" onClick={() => onSelect(x.id)} data-testid="contact-other-ticket" data-ticket-id={x.id}>
              <span className="ref">{x.ref}</span>
              <span className="subj">{x.subject}</span>
              <span className="meta">
                <StatusChip status={x.status} />
                <span className="muted small">{relativeTime(x.updated_at)}</span>
              </span>
            </button>
          ))}
        </div>
      )}
    </div>
  );
}
