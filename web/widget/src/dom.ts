type Attrs = Record<string, string | number | boolean | null | undefined | ((e: any) => void)>;
type Child = Node | string | null | undefined | false;

/** Tiny element factory. Text is always set as text (never innerHTML). */
export function h(tag: string, attrs?: Attrs | null, ...children: (Child | Child[])[]): HTMLElement {
  const el = document.createElement(tag);
  if (attrs) {
    for (const k in attrs) {
      const v = attrs[k];
      if (v == null || v === false) continue;
      if (typeof v === 'function') el.addEventListener(k.slice(2), v as any);
      else if (k === 'class') el.className = String(v);
      else if (k === 'text') el.textContent = String(v);
      else el.setAttribute(k, v === true ? '' : String(v));
    }
  }
  for (const c of children) append(el, c);
  return el;
}

function append(el: Node, c: Child | Child[]): void {
  if (Array.isArray(c)) c.forEach((x) => append(el, x));
  else if (c != null && c !== false) el.appendChild(typeof c === 'string' ? document.createTextNode(c) : c);
}

const SVGNS = 'http://www.w3.org/2000/svg';
export function icon(path: string): SVGElement {
  const s = document.createElementNS(SVGNS, 'svg');
  s.setAttribute('viewBox', '0 0 24 24');
  s.setAttribute('aria-hidden', 'true');
  const p = document.createElementNS(SVGNS, 'path');
  p.setAttribute('d', path);
  s.appendChild(p);
  return s;
}

export const ICON_CHAT =
  'M4 4h16a2 2 0 0 1 2 2v10a2 2 0 0 1-2 2H8l-4 4V6a2 2 0 0 1 2-2zm3 6v2h10v-2H7zm0-3v2h10V7H7zm0 6v2h7v-2H7z';
export const ICON_CLIP =
  'M16.5 6.5v10a4.5 4.5 0 0 1-9 0V5a3 3 0 0 1 6 0v10.5a1.5 1.5 0 0 1-3 0V6.5H9v9a3 3 0 0 0 6 0V5a4.5 4.5 0 0 0-9 0v11.5a6 6 0 0 0 12 0v-10h-1.5z';
export const ICON_SEND = 'M2 21l21-9L2 3v7l15 2-15 2z';

const URL_RE = /\bhttps?:\/\/[^\s<>"']+[^\s<>"'.,;:!?)\]]/g;

/** Appends text to el, turning http(s) URLs into safe links. */
export function linkify(el: HTMLElement, text: string): void {
  let last = 0;
  text.replace(URL_RE, (m, i: number) => {
    if (i > last) el.appendChild(document.createTextNode(text.slice(last, i)));
    el.appendChild(h('a', { href: m, target: '_blank', rel: 'noopener noreferrer nofollow', text: m }));
    last = i + m.length;
    return m;
  });
  if (last < text.length) el.appendChild(document.createTextNode(text.slice(last)));
}

export function fmtSize(n: number): string {
  if (n < 1024) return n + ' B';
  if (n < 1024 * 1024) return Math.round(n / 1024) + ' KB';
  return (n / 1024 / 1024).toFixed(1) + ' MB';
}

export function fmtTime(iso: string | number, lang: string): string {
  const d = new Date(iso);
  if (isNaN(d.getTime())) return '';
  const today = d.toDateString() === new Date().toDateString();
  try {
    const o: Intl.DateTimeFormatOptions = { hour: '2-digit', minute: '2-digit' };
    if (!today) {
      o.month = 'short';
      o.day = 'numeric';
    }
    return new Intl.DateTimeFormat(lang, o).format(d);
  } catch {
    return d.toISOString().slice(11, 16);
  }
}
