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
  const language = attr('data-language') || st.language || s.htmlLang || s.navigatorLanguage || 'en';
  const identity = attr('data-identity') || st.identity || undefined;
  return { siteKey, origin, wsUrl, language, identity };
}
