import type { Agent, Contact, Me, Message, Team, Ticket, TicketDetail, AttachmentRef } from './types';

export const API = '/api/v1';

export class ApiError extends Error {
  status: number;
  code: string;
  fields: Record<string, string>;
  constructor(status: number, code: string, message: string, fields?: Record<string, string>) {
    super(message || code || `HTTP ${status}`);
    this.status = status;
    this.code = code;
    this.fields = fields ?? {};
  }
}

let csrfToken = '';
let onUnauthorized: (() => void) | null = null;

export function setCsrfToken(t: string) {
  csrfToken = t || '';
}
export function setUnauthorizedHandler(fn: (() => void) | null) {
  onUnauthorized = fn;
}

interface ReqOpts {
  method?: string;
  body?: unknown;
  /** do not trigger the global "session expired" handler on 401 */
  noAuthRedirect?: boolean;
  signal?: AbortSignal;
}

export async function request<T>(path: string, opts: ReqOpts = {}): Promise<T> {
  const method = opts.method ?? 'GET';
  const headers: Record<string, string> = { Accept: 'application/json' };
  let body: BodyInit | undefined;
  if (opts.body instanceof FormData) {
    body = opts.body;
  } else if (opts.body !== undefined) {
    headers['Content-Type'] = 'application/json';
    body = JSON.stringify(opts.body);
  }
  if (method !== 'GET' && method !== 'HEAD' && csrfToken) headers['X-CSRF-Token'] = csrfToken;
  let res: Response;
  try {
    res = await fetch(API + path, { method, headers, body, credentials: 'same-origin', signal: opts.signal });
  } catch (e) {
    if ((e as Error).name === 'AbortError') throw e;
    throw new ApiError(0, 'network', 'Network error: the server could not be reached');
  }
  const text = await res.text();
  let data: unknown = null;
  if (text) {
    try {
      data = JSON.parse(text);
    } catch {
      data = null;
    }
  }
  if (!res.ok) {
    const err = (data as { error?: { code?: string; message?: string; fields?: Record<string, string> } } | null)?.error;
    const e = new ApiError(res.status, err?.code ?? `http_${res.status}`, err?.message ?? (res.statusText || `HTTP ${res.status}`), err?.fields);
    if (res.status === 401 && !opts.noAuthRedirect && onUnauthorized) onUnauthorized();
    throw e;
  }
  return data as T;
}

export interface LoginResponse {
  agent: Agent;
  csrf_token: string;
  enroll_totp: boolean;
  /** sent when a recovery code opened the session */
  recovery_codes_left?: number;
}

export interface ListResponse {
  items: Ticket[] | null;
  next_cursor: number | string | null;
}

export const api = {
  login: (login: string, password: string, totp?: string) =>
    request<LoginResponse>('/auth/login', { method: 'POST', body: totp ? { login, password, totp } : { login, password }, noAuthRedirect: true }),
  logout: () => request<unknown>('/auth/logout', { method: 'POST', noAuthRedirect: true }),
  me: () => request<Me>('/auth/me', { noAuthRedirect: true }),
  totpSetup: () => request<{ secret: string; otpauth_url: string }>('/auth/totp/setup', { method: 'POST' }),
  totpEnable: (secret: string, code: string) =>
    request<{ totp_enabled: boolean; recovery_codes: string[] }>('/auth/totp/enable', { method: 'POST', body: { secret, code } }),
  tickets: (params: Record<string, string | number | undefined | null>, signal?: AbortSignal) => {
    const q = new URLSearchParams();
    for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null && v !== '') q.set(k, String(v));
    return request<ListResponse>(`/tickets?${q.toString()}`, { signal });
  },
  ticket: (id: number) => request<TicketDetail>(`/tickets/${id}`),
  patchTicket: (id: number, patch: Partial<Ticket>) => request<Ticket>(`/tickets/${id}`, { method: 'PATCH', body: patch }),
  sendMessage: (id: number, body: { text: string; internal: boolean; attachment_ids: string[]; client_id: string }) =>
    request<Message>(`/tickets/${id}/messages`, { method: 'POST', body }),
  upload: (file: File) => {
    const fd = new FormData();
    fd.append('file', file, file.name);
    return request<AttachmentRef>('/attachments', { method: 'POST', body: fd });
  },
  contact: (id: number) => request<Contact>(`/contacts/${id}`),
  reveal: (id: number) => request<Contact>(`/contacts/${id}/reveal`, { method: 'POST' }),
  agents: () => request<{ items: Agent[] | null }>('/agents'),
  setPresence: (presence: string) => request<Agent>('/agents/me/presence', { method: 'PUT', body: { presence } }),
  teams: () => request<{ items: Team[] | null }>('/teams'),
};

export function attachmentUrl(a: AttachmentRef): string {
  return a.url || `${API}/attachments/${encodeURIComponent(a.id)}`;
}

export function errorText(e: unknown): string {
  if (e instanceof ApiError) return e.message;
  if (e instanceof Error) return e.message;
  return String(e);
}
