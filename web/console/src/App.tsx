import { useCallback, useEffect, useState } from 'react';
import { api, errorText, setCsrfToken, setUnauthorizedHandler } from './api';
import { t } from './i18n';
import { Login, TotpEnroll } from './Login';
import { Workspace } from './Workspace';
import type { Me } from './types';

type Phase = { k: 'loading' } | { k: 'error'; msg: string } | { k: 'login'; expired?: boolean } | { k: 'enroll' } | { k: 'ready'; me: Me };

export function App() {
  const [phase, setPhase] = useState<Phase>({ k: 'loading' });

  const loadMe = useCallback(async () => {
    setPhase({ k: 'loading' });
    try {
      const me = await api.me();
      setCsrfToken(me.csrf_token);
      if (me.mfa_pending) setPhase({ k: 'enroll' });
      else setPhase({ k: 'ready', me: { ...me, permissions: me.permissions ?? [] } });
    } catch (e) {
      const status = (e as { status?: number }).status;
      if (status === 401 || status === 403) setPhase({ k: 'login' });
      else setPhase({ k: 'error', msg: errorText(e) });
    }
  }, []);

  useEffect(() => {
    void loadMe();
  }, [loadMe]);

  useEffect(() => {
    setUnauthorizedHandler(() => {
      setCsrfToken('');
      setPhase((p) => (p.k === 'ready' ? { k: 'login', expired: true } : p));
    });
    return () => setUnauthorizedHandler(null);
  }, []);

  const logout = useCallback(async () => {
    try {
      await api.logout();
    } catch {
      /* ignore: we drop the local session either way */
    }
    setCsrfToken('');
    setPhase({ k: 'login' });
  }, []);

  switch (phase.k) {
    case 'loading':
      return <div className="center-screen muted" data-testid="app-loading">{t('common.loading')}</div>;
    case 'error':
      return (
        <div className="center-screen">
          <div className="card">
            <div className="alert error" role="alert">{phase.msg}</div>
            <button className="btn primary" onClick={() => void loadMe()}>{t('common.retry')}</button>
          </div>
        </div>
      );
    case 'login':
      return (
        <Login
          expired={phase.expired}
          onDone={(r) => {
            setCsrfToken(r.csrf_token);
            if (r.enroll_totp) setPhase({ k: 'enroll' });
            else void loadMe();
          }}
        />
      );
    case 'enroll':
      return <TotpEnroll onDone={() => void loadMe()} onCancel={() => void logout()} />;
    case 'ready':
      return <Workspace me={phase.me} onLogout={logout} />;
  }
}
