import { useEffect, useRef, useState, type FormEvent } from 'react';
import { ApiError, api, errorText, type LoginResponse } from './api';
import { t } from './i18n';

export function FieldErrors({ fields }: { fields: Record<string, string> }) {
  const entries = Object.entries(fields);
  if (!entries.length) return null;
  return (
    <ul className="field-errors">
      {entries.map(([k, v]) => (
        <li key={k}><b>{k}</b> {v}</li>
      ))}
    </ul>
  );
}

export function Login({ onDone, expired }: { onDone: (r: LoginResponse) => void; expired?: boolean }) {
  const [login, setLogin] = useState('');
  const [password, setPassword] = useState('');
  const [totp, setTotp] = useState('');
  const [needTotp, setNeedTotp] = useState(false);
  const [busy, setBusy] = useState(false);
  const [err, setErr] = useState<{ msg: string; fields: Record<string, string> } | null>(
    expired ? { msg: 'Your session has expired. Please sign in again.', fields: {} } : null,
  );
  const totpRef = useRef<HTMLInputElement>(null);

  useEffect(() => {
    if (needTotp) totpRef.current?.focus();
  }, [needTotp]);

  async function submit(e: FormEvent) {
    e.preventDefault();
    if (busy) return;
    setBusy(true);
    setErr(null);
    try {
      const r = await api.login(login.trim(), password, needTotp ? totp.trim() : undefined);
      onDone(r);
    } catch (ex) {
      let msg = errorText(ex);
      let fields: Record<string, string> = {};
      if (ex instanceof ApiError) {
        fields = ex.fields;
        if (ex.code === 'mfa_required') {
          if (needTotp && totp) msg = t('login.badTotp');
          else msg = '';
          setNeedTotp(true);
        } else if (ex.code === 'unauthorized') msg = needTotp ? t('login.badTotp') + ' / ' + t('login.unauthorized') : t('login.unauthorized');
        else if (ex.code === 'locked' || ex.status === 423) msg = t('login.locked');
        else if (ex.code === 'rate_limited' || ex.status === 429) msg = t('login.rateLimited');
      }
      setErr(msg || Object.keys(fields).length ? { msg, fields } : null);
    } finally {
      setBusy(false);
    }
  }

  return (
    <div className="center-screen login-bg">
      <form className="card login-card" onSubmit={submit} noValidate>
        <div className="brand-lg"><span className="brand-mark" />{t('app.name')}</div>
        <h1>{t('login.title')}</h1>
        {err && (
          <div className="alert error" role="alert" data-testid="login-error">
            {err.msg}
            <FieldErrors fields={err.fields} />
          </div>
        )}
        <label className="field">
          <span>{t('login.login')}</span>
          <input data-testid="login-login" name="login" autoComplete="username" value={login} onChange={(e) => setLogin(e.target.value)} autoFocus required />
        </label>
        <label className="field">
          <span>{t('login.password')}</span>
          <input data-testid="login-password" name="password" type="password" autoComplete="current-password" value={password} onChange={(e) => setPassword(e.target.value)} required />
        </label>
        {needTotp && (
          <label className="field">
            <span>{t('login.totp')}</span>
            {/* Not numeric-only: a recovery code has letters. */}
            <input
              ref={totpRef}
              data-testid="login-totp"
              name="totp"
              autoComplete="one-time-code"
              autoCapitalize="off"
              autoCorrect="off"
              spellCheck={false}
              placeholder={t('login.totpPlaceholder')}
              maxLength={32}
              value={totp}
              onChange={(e) => setTotp(e.target.value)}
            />
            <small className="muted">{t('login.totpHint')}</small>
          </label>
        )}
        <button className="btn primary block" data-testid="login-submit" type="submit" disabled={busy}>
          {busy ? t('login.submitting') : t('login.submit')}
        </button>
      </form>
    </div>
  );
}

export function TotpEnroll({ onDone, onCancel }: { onDone: () => void; onCancel: () => void }) {
  const [setup, setSetup] = useState<{ secret: string; otpauth_url: string } | null>(null);
  const [code, setCode] = useState('');
  const [busy, setBusy] = useState(false);
  const [err, setErr] = useState<{ msg: string; fields: Record<string, string> } | null>(null);
  const [codes, setCodes] = useState<string[] | null>(null);
  const started = useRef(false);

  async function load() {
    setErr(null);
    try {
      setSetup(await api.totpSetup());
    } catch (e) {
      setErr({ msg: errorText(e), fields: e instanceof ApiError ? e.fields : {} });
    }
  }

  useEffect(() => {
    if (started.current) return;
    started.current = true;
    void load();
  }, []);

  async function submit(e: FormEvent) {
    e.preventDefault();
    if (!setup || busy) return;
    setBusy(true);
    setErr(null);
    try {
      const r = await api.totpEnable(setup.secret, code.trim());
      // The recovery codes exist only in this response: show them before
      // moving on.
      if (r.recovery_codes?.length) setCodes(r.recovery_codes);
      else onDone();
    } catch (ex) {
      setErr({ msg: errorText(ex), fields: ex instanceof ApiError ? ex.fields : {} });
    } finally {
      setBusy(false);
    }
  }

  if (codes) return <RecoveryCodes codes={codes} onDone={onDone} />;

  return (
    <div className="center-screen login-bg">
      <form className="card login-card wide" onSubmit={submit} data-testid="totp-enroll">
        <h1>{t('totp.title')}</h1>
        <p className="muted">{t('totp.intro')}</p>
        {err && (
          <div className="alert error" role="alert">
            {err.msg}
            <FieldErrors fields={err.fields} />
            {!setup && <button type="button" className="btn sm" onClick={() => void load()}>{t('common.retry')}</button>}
          </div>
        )}
        {!setup && !err && <p className="muted">{t('totp.loading')}</p>}
        {setup && (
          <>
            <div className="field">
              <span>{t('totp.secret')}</span>
              <code className="secret" data-testid="totp-secret">{setup.secret}</code>
            </div>
            <div className="field">
              <span>{t('totp.url')}</span>
              <a className="secret small" data-testid="totp-url" href={setup.otpauth_url}>{setup.otpauth_url}</a>
            </div>
            <label className="field">
              <span>{t('totp.code')}</span>
              <input data-testid="totp-code" inputMode="numeric" autoComplete="one-time-code" value={code} onChange={(e) => setCode(e.target.value)} autoFocus />
            </label>
            <button className="btn primary block" data-testid="totp-enable" type="submit" disabled={busy || !code.trim()}>
              {t('totp.enable')}
            </button>
          </>
        )}
        <button type="button" className="btn ghost sm" data-testid="totp-cancel" onClick={onCancel}>
          {t('header.logout')}
        </button>
      </form>
    </div>
  );
}

/** Shows freshly issued recovery codes once, until the agent confirms saving them. */
export function RecoveryCodes({ codes, onDone }: { codes: string[]; onDone: () => void }) {
  const [copied, setCopied] = useState(false);

  async function copy() {
    try {
      await navigator.clipboard.writeText(codes.join('\n') + '\n');
      setCopied(true);
    } catch {
      /* no clipboard (insecure context, denied): the list stays selectable */
    }
  }

  return (
    <div className="center-screen login-bg">
      <div className="card login-card wide" data-testid="recovery-codes">
        <h1>{t('recovery.title')}</h1>
        <p className="muted">{t('recovery.intro')}</p>
        <ul className="recovery-codes">
          {codes.map((c) => (
            <li key={c} data-testid="recovery-code">{c}</li>
          ))}
        </ul>
        <button type="button" className="btn sm" data-testid="recovery-codes-copy" onClick={() => void copy()}>
          {copied ? t('recovery.copied') : t('recovery.copy')}
        </button>
        <button type="button" className="btn primary block" data-testid="recovery-codes-done" onClick={onDone} autoFocus>
          {t('recovery.done')}
        </button>
      </div>
    </div>
  );
}
