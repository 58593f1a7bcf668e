// DOM of the widget: launcher, chat window, message list, composer. Everything
// lives in an open shadow root (so host CSS cannot leak in, ours cannot leak out,
// and Playwright selectors can pierce it).
import type { ChatClient } from './client';
import { fmtSize, fmtTime, h, icon, ICON_CHAT, ICON_CLIP, ICON_SEND, linkify } from './dom';
import type { Emitter } from './emitter';
import type { Key } from './i18n';
import { CSS } from './styles';
import type { Attachment, ChatMessage, OutboxItem } from './types';

export const MAX_FILE = 10 * 1024 * 1024;

interface Staged {
  key: number;
  name: string;
  state: 'uploading' | 'done' | 'error';
  att?: Attachment;
  error?: string;
}

interface Row {
  el: HTMLElement;
  meta: HTMLElement;
  state: string;
}

export interface UIOptions {
  origin: string;
  lang: string;
  t: (k: Key, vars?: Record<string, string | number>) => string;
  events: Emitter; // host-facing events
  storage: { get(k: string): string | null; set(k: string, v: string): void };
}

export class WidgetUI {
  readonly host: HTMLElement;
  readonly root: ShadowRoot;
  isOpen = false;
  private c: ChatClient;
  private o: UIOptions;
  private r!: HTMLElement;
  private win!: HTMLElement;
  private badge!: HTMLElement;
  private status!: HTMLElement;
  private queue!: HTMLElement;
  private notice!: HTMLElement;
  private solved!: HTMLElement;
  private list!: HTMLElement;
  private greet!: HTMLElement;
  private typing!: HTMLElement;
  private staged!: HTMLElement;
  private ta!: HTMLTextAreaElement;
  private sendBtn!: HTMLButtonElement;
  private file!: HTMLInputElement;
  private rows = new Map<string, Row>();
  private files: Staged[] = [];
  private fileSeq = 0;
  private noticeTimer: any = null;
  private lastUnread = -1;

  constructor(client: ChatClient, opts: UIOptions) {
    this.c = client;
    this.o = opts;
    this.host = document.createElement('div');
    this.host.id = 'custos-widget';
    this.host.setAttribute('data-testid', 'custos-host');
    // Inline style only on our own host element: nothing global.
    this.host.style.cssText = 'all:initial;position:fixed;z-index:2147483000;right:0;bottom:0;width:0;height:0';
    this.root = this.host.attachShadow({ mode: 'open' });
    this.build();
    client.on('change', () => this.render());
    client.on('error', (e: any) => {
      if (!e || !e.client_id) this.flash(e && e.code === 'rate_limited' ? e.message || e.code : '');
    });
  }

  mount(): void {
    (document.body || document.documentElement).appendChild(this.host);
    if (this.o.storage.get('open') === '1') this.open(false);
    this.render();
  }

  private build(): void {
    const t = this.o.t;
    const style = document.createElement('style');
    style.textContent = CSS;
    this.badge = h('span', { class: 'b', 'data-testid': 'custos-unread-badge', hidden: true });
    const launcher = h(
      'button',
      { class: 'l', type: 'button', 'data-testid': 'custos-launcher', 'aria-label': t('open'), onclick: () => this.toggle() },
      icon(ICON_CHAT),
      this.badge,
    );
    this.status = h('div', { class: 's', 'data-testid': 'custos-status', role: 'status' });
    this.queue = h('div', { class: 'q', 'data-testid': 'custos-queue', hidden: true });
    this.notice = h('div', { class: 'e', 'data-testid': 'custos-error', role: 'alert', hidden: true });
    this.solved = h('div', { class: 'v', 'data-testid': 'custos-solved', hidden: true, text: t('solved') });
    this.greet = h('div', { class: 'g', 'data-testid': 'custos-greeting', text: t('greeting') });
    this.list = h('div', { class: 'm', 'data-testid': 'custos-messages', role: 'log', 'aria-live': 'polite' }, this.greet);
    this.typing = h('div', { class: 'y', 'data-testid': 'custos-typing', hidden: true });
    this.staged = h('div', { class: 'p', 'data-testid': 'custos-staged', hidden: true });
    this.ta = h('textarea', {
      rows: 1,
      'data-testid': 'custos-input',
      placeholder: t('placeholder'),
      'aria-label': t('placeholder'),
      maxlength: 32768,
    }) as HTMLTextAreaElement;
    this.ta.addEventListener('keydown', (e) => {
      // Enter sends; Shift+Enter is a newline; never while an IME is composing (zh/ja/ko).
      if (e.key === 'Enter' && !e.shiftKey && !e.isComposing && e.keyCode !== 229) {
        e.preventDefault();
        this.submit();
      }
    });
    this.ta.addEventListener('input', () => {
      this.autosize();
      if (this.ta.value) this.c.userTyping();
      this.updateSend();
    });
    this.file = h('input', {
      type: 'file',
      'data-testid': 'custos-file-input',
      accept: 'image/png,image/jpeg,image/gif,image/webp,application/pdf,text/plain,video/mp4,video/webm,audio/ogg,audio/mp4,audio/x-m4a,audio/aac,.m4a,.aac',
      multiple: true,
      hidden: true,
      tabindex: -1,
    }) as HTMLInputElement;
    this.file.addEventListener('change', () => {
      const fs = Array.from(this.file.files || []);
      this.file.value = '';
      fs.forEach((f) => this.upload(f));
    });
    const clip = h(
      'button',
      { class: 'ic', type: 'button', 'data-testid': 'custos-attach', 'aria-label': t('attach'), title: t('attach'), onclick: () => this.file.click() },
      icon(ICON_CLIP),
    );
    this.sendBtn = h(
      'button',
      { class: 'ic sd', type: 'submit', 'data-testid': 'custos-send', 'aria-label': t('send'), title: t('send'), disabled: true },
      icon(ICON_SEND),
    ) as HTMLButtonElement;
    const form = h(
      'form',
      {
        onsubmit: (e: Event) => {
          e.preventDefault();
          this.submit();
        },
      },
      clip,
      this.file,
      this.ta,
      this.sendBtn,
    );
    this.win = h(
      'div',
      { class: 'w', 'data-testid': 'custos-window', role: 'dialog', 'aria-label': t('title'), hidden: true },
      h(
        'div',
        { class: 'h' },
        h('div', { class: 't' }, h('div', { class: 'n', 'data-testid': 'custos-title', text: t('title') }), this.status),
        h('button', { class: 'x', type: 'button', 'data-testid': 'custos-close', 'aria-label': t('close'), onclick: () => this.close() }, '×'),
      ),
      this.queue,
      this.notice,
      this.list,
      this.solved,
      this.typing,
      this.staged,
      form,
    );
    this.r = h('div', { class: 'r', lang: this.o.lang }, this.win, launcher);
    this.root.append(style, this.r);
  }

  open(focus = true): void {
    if (this.isOpen) return;
    this.isOpen = true;
    this.o.storage.set('open', '1');
    this.win.hidden = false;
    this.r.classList.add('open');
    if (this.c.status === 'idle') this.c.start();
    this.render();
    this.scrollBottom();
    if (focus) {
      try {
        this.ta.focus({ preventScroll: true });
      } catch {
        /* ignore */
      }
    }
    this.o.events.emit('open');
  }

  close(): void {
    if (!this.isOpen) return;
    this.isOpen = false;
    this.o.storage.set('open', '0');
    this.win.hidden = true;
    this.r.classList.remove('open');
    this.render();
    this.o.events.emit('close');
  }

  toggle(): void {
    if (this.isOpen) this.close();
    else this.open();
  }

  private visible(): boolean {
    return this.isOpen && (typeof document.visibilityState !== 'string' || document.visibilityState !== 'hidden');
  }

  render(): void {
    const c = this.c;
    const t = this.o.t;
    // header status
    const st = c.status;
    this.status.setAttribute('data-status', st);
    this.status.textContent =
      st === 'online'
        ? t('online')
        : st === 'connecting'
          ? t('connecting')
          : st === 'reconnecting'
            ? t('reconnecting')
            : st === 'auth_error'
              ? t('authError')
              : st === 'replaced'
                ? t('replaced')
                : t('idle');
    // queue
    const conv = c.conversation;
    const q = c.queuePosition;
    const showQ = q >= 0 && !!conv && conv.status === 'open';
    this.queue.hidden = !showQ;
    this.queue.setAttribute('data-position', String(q));
    if (showQ) this.queue.textContent = t('queue', { n: q + 1 });
    this.solved.hidden = !conv || conv.status === 'open' || st === 'auth_error';
    // typing
    const ty = c.typing;
    this.typing.hidden = !ty;
    if (ty) this.typing.textContent = t('typing', { name: ty.name || t(ty.kind === 'bot' ? 'bot' : 'agent') });
    this.ta.disabled = st === 'auth_error';
    this.renderList();
    this.renderStaged();
    this.updateSend();
    // read + unread
    if (this.visible()) c.markRead();
    const unread = this.isOpen ? 0 : c.unreadCount();
    this.badge.hidden = unread === 0;
    this.badge.textContent = unread > 99 ? '99+' : String(unread);
    if (unread !== this.lastUnread) {
      this.lastUnread = unread;
      this.o.events.emit('unread', unread);
    }
  }

  private renderList(): void {
    const c = this.c;
    const nearBottom = this.list.scrollHeight - this.list.scrollTop - this.list.clientHeight < 60;
    const seen = new Set<string>();
    const order: HTMLElement[] = [];
    let grew = false;
    const cur = c.conversation ? c.conversation.id : 0;
    for (const m of c.messages.list) {
      const key = 'm' + m.conversation_id + ':' + m.seq;
      let state = '';
      if (m.author.kind === 'contact') state = m.conversation_id === cur && m.seq <= c.agentReadSeq ? 'read' : 'delivered';
      order.push(this.row(key, state, () => this.msgEl(m), seen, () => (grew = true)));
    }
    for (const it of c.outbox.items) {
      order.push(this.row('o' + it.client_id, it.state, () => this.outEl(it), seen, () => (grew = true)));
    }
    for (const [k, r] of this.rows) {
      if (!seen.has(k)) {
        r.el.remove();
        this.rows.delete(k);
      }
    }
    // Put rows in order, moving only what is out of place.
    let prev: Node = this.greet;
    for (const el of order) {
      if (prev.nextSibling !== el) this.list.insertBefore(el, prev.nextSibling);
      prev = el;
    }
    this.greet.hidden = order.length > 0;
    if (grew && (nearBottom || !this.isOpen)) this.scrollBottom();
  }

  private row(key: string, state: string, make: () => HTMLElement, seen: Set<string>, onNew: () => void): HTMLElement {
    seen.add(key);
    let r = this.rows.get(key);
    if (!r) {
      const el = make();
      r = { el, meta: el.querySelector('.o') as HTMLElement, state: '#' };
      this.rows.set(key, r);
      onNew();
    }
    if (r.state !== state) {
      r.state = state;
      this.setState(r, state);
    }
    return r.el;
  }

  private setState(r: Row, state: string): void {
    const t = this.o.t;
    r.el.classList.remove('pending', 'failed', 'delivered', 'read');
    if (!state) return;
    r.el.classList.add(state);
    r.el.setAttribute('data-state', state);
    const mark = r.meta.querySelector('.st') as HTMLElement;
    const label =
      state === 'read' ? t('read') : state === 'delivered' ? t('delivered') : state === 'failed' ? t('failed') : t('pending');
    mark.className = 'st' + (state === 'read' ? ' ok' : '');
    mark.textContent = state === 'read' ? '✓✓' : state === 'delivered' ? '✓' : state === 'failed' ? '⚠ ' + label : '…';
    mark.title = label;
    mark.setAttribute('aria-label', label);
  }

  private msgEl(m: ChatMessage): HTMLElement {
    const t = this.o.t;
    const k = m.author.kind;
    const me = k === 'contact';
    const name = me ? t('you') : m.author.name || t(k === 'bot' ? 'bot' : 'agent');
    const el = this.bubble(
      me ? 'me' : k === 'system' ? 'sys' : '',
      k,
      k === 'system' ? '' : name,
      m.text,
      m.attachments,
      m.at,
    );
    el.setAttribute('data-seq', String(m.seq));
    el.setAttribute('data-conversation-id', String(m.conversation_id));
    if (m.client_id) el.setAttribute('data-client-id', m.client_id);
    return el;
  }

  private outEl(it: OutboxItem): HTMLElement {
    const el = this.bubble('me', 'contact', this.o.t('you'), it.text, it.attachments, it.created);
    el.setAttribute('data-client-id', it.client_id);
    const meta = el.querySelector('.o') as HTMLElement;
    meta.addEventListener('click', () => {
      if (el.classList.contains('failed')) this.c.retry(it.client_id);
    });
    return el;
  }

  private bubble(cls: string, kind: string, name: string, text: string, atts: Attachment[], at: string | number): HTMLElement {
    const body = h('div', { class: 'u' });
    linkify(body, text);
    const files = atts.length ? h('div', { class: 'f' }, atts.map((a) => this.attEl(a))) : null;
    const time = fmtTime(at, this.o.lang);
    return h(
      'div',
      { class: ('i k-' + kind + ' ' + cls).trim(), 'data-testid': 'custos-message', 'data-author-kind': kind },
      name ? h('div', { class: 'a', text: name }) : null,
      text ? body : null,
      files,
      h('div', { class: 'o' }, time ? h('time', { text: time, title: new Date(at).toLocaleString(this.o.lang) }) : null, h('span', { class: 'st' })),
    );
  }

  /** Absolute URL of an attachment with the session as a query parameter (for <img>/<a>). */
  private attUrl(a: Attachment): string {
    let u = a.url || '/chat/v1/attachments/' + encodeURIComponent(a.id);
    if (u.charAt(0) === '/') u = this.o.origin + u;
    const s = this.c.session;
    return s ? u + (u.indexOf('?') < 0 ? '?' : '&') + 'session=' + encodeURIComponent(s) : u;
  }

  private attEl(a: Attachment): HTMLElement {
    const href = this.attUrl(a);
    if (/^image\//.test(a.content_type || '')) {
      const img = h('img', { src: href, alt: a.name || '', loading: 'lazy', 'data-testid': 'custos-attachment-image' });
      img.addEventListener('load', () => {
        if (this.list.scrollHeight - this.list.scrollTop - this.list.clientHeight < 260) this.scrollBottom();
      });
      return h('a', { href, target: '_blank', rel: 'noopener noreferrer', 'data-testid': 'custos-attachment' }, img);
    }
    return h(
      'a',
      { class: 'c', href, target: '_blank', rel: 'noopener noreferrer', 'data-testid': 'custos-attachment', title: a.name },
      '📎',
      h('span', { text: a.name || a.id }),
      a.size ? ' ' + fmtSize(a.size) : '',
    );
  }

  private renderStaged(): void {
    const t = this.o.t;
    this.staged.hidden = this.files.length === 0;
    this.staged.textContent = '';
    for (const f of this.files) {
      this.staged.appendChild(
        h(
          'span',
          { class: 'c' + (f.state === 'uploading' ? ' busy' : f.state === 'error' ? ' bad' : ''), 'data-testid': 'custos-staged-file', 'data-state': f.state },
          h('span', { text: f.state === 'uploading' ? t('uploading') + ' ' + f.name : f.state === 'error' ? f.name + ': ' + (f.error || '') : '📎 ' + f.name }),
          h('button', { type: 'button', 'aria-label': t('remove'), title: t('remove'), onclick: () => this.unstage(f.key) }, '×'),
        ),
      );
    }
  }

  private unstage(key: number): void {
    this.files = this.files.filter((f) => f.key !== key);
    this.render();
  }

  private updateSend(): void {
    const busy = this.files.some((f) => f.state === 'uploading');
    const has = !!this.ta.value.trim() || this.files.some((f) => f.state === 'done');
    this.sendBtn.disabled = busy || !has || this.c.status === 'auth_error';
  }

  private autosize(): void {
    this.ta.style.height = 'auto';
    this.ta.style.height = Math.min(this.ta.scrollHeight + 2, 120) + 'px';
  }

  private submit(): void {
    if (this.sendBtn.disabled) return;
    const atts = this.files.filter((f) => f.state === 'done' && f.att).map((f) => f.att as Attachment);
    const text = this.ta.value.trim() ? this.ta.value.replace(/^\s*\n|\s+$/g, '') : '';
    try {
      this.c.send(text, atts);
    } catch (e: any) {
      this.flash(this.o.t(e && e.message === 'too_long' ? 'tooLong' : 'failed'));
      return;
    }
    this.ta.value = '';
    this.autosize();
    this.files = this.files.filter((f) => f.state === 'uploading');
    this.render();
    this.scrollBottom();
  }

  private async upload(file: File): Promise<void> {
    const t = this.o.t;
    const s: Staged = { key: ++this.fileSeq, name: file.name, state: 'uploading' };
    this.files.push(s);
    this.render();
    try {
      if (file.size > MAX_FILE) throw new Error(t('fileTooLarge'));
      const session = await this.waitSession();
      const fd = new FormData();
      fd.append('file', file, file.name);
      const res = await fetch(this.o.origin + '/chat/v1/attachments', {
        method: 'POST',
        headers: { Authorization: 'Bearer ' + session },
        body: fd,
        credentials: 'omit',
      });
      if (res.status === 415) throw new Error(t('fileType'));
      if (res.status === 413) throw new Error(t('fileTooLarge'));
      if (!res.ok) throw new Error(t('uploadFailed'));
      const a = (await res.json()) as Attachment;
      if (!a || !a.id) throw new Error(t('uploadFailed'));
      s.att = a;
      s.state = 'done';
    } catch (e: any) {
      s.state = 'error';
      s.error = (e && e.message) || t('uploadFailed');
    }
    this.render();
  }

  /** The current session, connecting first if needed (uploads need one). */
  private waitSession(): Promise<string> {
    const c = this.c;
    if (c.session && c.status === 'online') return Promise.resolve(c.session);
    if (c.status === 'idle' || c.status === 'replaced') c.start();
    return new Promise((resolve, reject) => {
      const off = c.on('welcome', () => {
        clearTimeout(tm);
        off();
        resolve(c.session);
      });
      const tm = setTimeout(() => {
        off();
        if (c.session) resolve(c.session);
        else reject(new Error(this.o.t('reconnecting')));
      }, 15000);
    });
  }

  private flash(msg: string): void {
    if (!msg) return;
    this.notice.textContent = msg;
    this.notice.hidden = false;
    clearTimeout(this.noticeTimer);
    this.noticeTimer = setTimeout(() => (this.notice.hidden = true), 6000);
  }

  scrollBottom(): void {
    this.list.scrollTop = this.list.scrollHeight;
  }
}
