// Entry point: <script src="https://desk.example.com/widget.js" data-site-key="demo" async></script>
import { ChatClient } from './client';
import { readConfig } from './config';
import { Emitter } from './emitter';
import { pickLang, strings } from './i18n';
import { SafeKV } from './store';
import { WidgetUI } from './ui';

declare global {
  interface Window {
    Custos?: any;
    CustosSettings?: { siteKey?: string; identity?: string; language?: string; server?: string };
  }
}

function findScript(): HTMLScriptElement | null {
  const cs = document.currentScript as HTMLScriptElement | null;
  if (cs && cs.src) return cs;
  const all = document.querySelectorAll<HTMLScriptElement>('script[data-site-key],script[src*="widget.js"]');
  return all.length ? all[all.length - 1] : null;
}

function log(...a: unknown[]): void {
  try {
    console.warn('[custos]', ...a);
  } catch {
    /* ignore */
  }
}

function boot(script: HTMLScriptElement | null): void {
  const w = window;
  if (w.Custos && w.Custos.__custos) return; // loaded twice
  const cfg = readConfig({
    script,
    settings: w.CustosSettings,
    htmlLang: document.documentElement.getAttribute('lang'),
    navigatorLanguage: navigator.language,
    pageOrigin: location.origin,
  });
  if (!cfg) {
    log('missing data-site-key');
    return;
  }
  let ls: Storage | null = null;
  try {
    ls = w.localStorage;
  } catch {
    /* storage blocked */
  }
  const lang = pickLang(cfg.language);
  const events = new Emitter();
  const client = new ChatClient({
    url: cfg.wsUrl,
    siteKey: cfg.siteKey,
    identity: cfg.identity,
    language: cfg.language,
    storage: ls,
  });
  const ui = new WidgetUI(client, {
    origin: cfg.origin,
    lang,
    t: strings(lang),
    events,
    storage: new SafeKV(ls, 'custos:' + cfg.siteKey + ':ui:'),
  });

  client.on('status', (s: string) => events.emit('status', s));
  client.on('welcome', (f: any) => events.emit('ready', { contact: f.contact, conversation: f.conversation }));
  client.on('auth_error', (r: string) => events.emit('auth_error', r));
  client.on('message', (m: any) => {
    if (m.author && m.author.kind !== 'contact') events.emit('message', m);
  });

  const start = () => {
    try {
      ui.mount();
      // Connect at once only if there is something to show; else on first open.
      if (client.hasHistory() || ui.isOpen) client.start();
    } catch (e) {
      log(e);
    }
  };
  if (document.body) start();
  else document.addEventListener('DOMContentLoaded', start);

  w.addEventListener('online', () => client.reconnectNow());
  document.addEventListener('visibilitychange', () => {
    if (document.visibilityState === 'visible') {
      client.reconnectNow();
      ui.render();
    }
  });

  w.Custos = {
    __custos: true,
    version: '1',
    open: () => ui.open(),
    close: () => ui.close(),
    toggle: () => ui.toggle(),
    identify: (token: string) => client.identify(token),
    on: (ev: string, fn: (...a: any[]) => void) => events.on(ev, fn),
    get status() {
      return client.status;
    },
    get unread() {
      return client.unreadCount();
    },
  };
  events.emit('load');
  try {
    w.dispatchEvent(new CustomEvent('custos:ready'));
  } catch {
    /* old browsers */
  }
}

try {
  boot(findScript());
} catch (e) {
  log(e);
}
