// Reads the embedding configuration from the script tag and window.CustosSettings.

export interface WidgetConfig {
  siteKey: string;
  origin: string; // https://desk.example.com
  wsUrl: string; // wss://desk.example.com/chat/v1/ws
  language: string; // BCP 47 tag sent in hello
  identity?: string;
}

export interface ConfigSources {
  script: { src: string; getAttribute(name: string): string | null } | null;
  settings?: { siteKey?: string; identity?: string; language?: string; server?: string } | null;
  htmlLang?: string | null;
  navigatorLanguage?: string | null;
  pageOrigin: string;
}

export function readConfig(s: ConfigSources): WidgetConfig | null {
  const attr = (n: string) => (s.script && s.script.getAttribute(n)) || '';
  const st = s.settings || {};
  const siteKey = attr('data-site-key') || st.siteKey || '';
  if (!siteKey) return null;
  let origin = attr('data-server') || st.server || '';
  if (!origin && s.script && s.script.src) {
    try {
      origin = new URL(s.script.src, s.pageOrigin).origin;
    } catch {
      /* fall through */
    }
  }
  if (!origin) origin = s.pageOrigin;
  origin = origin.replace(/\/+$/, '');
  const wsUrl = origin.replace(/^http/, 'ws') + '/chat/v1/ws';
  const identity = attr('data-identity') || st.identity || undefined;
  // An explicit setting wins; then the identified customer's own language
  // from the exchange's token; then the page's; then the browser's.
  const language =
    attr('data-language') || st.language || tokenLanguage(identity) || s.htmlLang || s.navigatorLanguage || 'en';
  return { siteKey, origin, wsUrl, language, identity };
}

/** The `lang` claim of an identity JWT, read without verifying it (the
 * server verifies; this only picks the UI language). */
export function tokenLanguage(token: string | undefined): string {
  if (!token) return '';
  const part = token.split('.')[1];
  if (!part || part.length > 4096) return '';
  try {
    const json = atob(part.replace(/-/g, '+').replace(/_/g, '/'));
    const lang = (JSON.parse(json) as { lang?: unknown }).lang;
    return typeof lang === 'string' && /^[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8})*$/.test(lang) ? lang : '';
  } catch {
    return '';
  }
}
