export type Channel = 'chat' | 'email' | 'api' | 'web' | 'telegram' | 'social' | 'phone';
export type Status = 'new' | 'open' | 'pending' | 'on-hold' | 'solved' | 'closed';
export type Priority = 'low' | 'normal' | 'high' | 'urgent';
export type Presence = 'online' | 'away' | 'offline';
export type View = 'mine' | 'unassigned' | 'teams' | 'all';

export const STATUSES: Status[] = ['new', 'open', 'pending', 'on-hold', 'solved', 'closed'];
export const PRIORITIES: Priority[] = ['low', 'normal', 'high', 'urgent'];
export const CHANNELS: Channel[] = ['chat', 'email', 'api', 'web', 'telegram', 'social', 'phone'];
export const PRESENCES: Presence[] = ['online', 'away', 'offline'];
export const VIEWS: View[] = ['mine', 'unassigned', 'teams', 'all'];

export interface Ticket {
  id: number;
  ref: string;
  channel: Channel | string;
  subject: string;
  status: Status | string;
  priority: Priority | string;
  category?: string;
  team_id?: number;
  assignee_id?: number;
  contact_id: number;
  tier?: number;
  tags?: string[] | null;
  custom?: Record<string, unknown> | null;
  language?: string;
  last_seq?: number;
  created_at: string;
  updated_at: string;
  first_response_at?: string | null;
  last_customer_message_at?: string | null;
  solved_at?: string | null;
}

export interface AttachmentRef {
  id: string;
  name: string;
  content_type: string;
  size: number;
  url?: string;
}

export type AuthorKind = 'contact' | 'agent' | 'bot' | 'system' | 'token';

export interface Message {
  id: number;
  ticket_id: number;
  seq: number;
  author_kind: AuthorKind | string;
  author_id?: number;
  author_name?: string;
  internal: boolean;
  text: string;
  html?: string;
  attachments?: AttachmentRef[] | null;
  client_id?: string;
  created_at: string;
}

export interface TicketEvent {
  id: number;
  ticket_id: number;
  actor_kind: string;
  actor_id?: number;
  field: string;
  old?: unknown;
  new?: unknown;
  created_at: string;
}

export interface Contact {
  id: number;
  external_uid?: string;
  name?: string;
  emails?: string[] | null;
  phone?: string;
  telegram_id?: string | number;
  language?: string;
  vip_tier?: number;
  kyc_level?: number | string;
  tags?: string[] | null;
  created_at?: string;
}

export interface Agent {
  id: number;
  login: string;
  name: string;
  email?: string;
  role: string;
  team_ids?: number[] | null;
  languages?: string[] | null;
  skills?: string[] | null;
  chat_limit?: number;
  presence?: Presence | string;
  disabled?: boolean;
  totp_enabled?: boolean;
}

export interface Team {
  id: number;
  name: string;
  kind: string;
  business_hours?: unknown;
}

export interface TicketDetail {
  ticket: Ticket;
  contact: Contact | null;
  messages: Message[] | null;
  events: TicketEvent[] | null;
}

export interface Me {
  agent: Agent;
  csrf_token: string;
  /** session must enrol an authenticator before anything else is allowed */
  mfa_pending?: boolean;
  permissions: string[];
  /** unused recovery codes; sent to an agent with an authenticator */
  recovery_codes_left?: number;
}

export interface ListFilter {
  view: View;
  statuses: string[];
  channel: string;
  tag: string;
  q: string;
}

/** A message the agent has sent that the server has not acknowledged yet. */
export interface PendingMessage {
  client_id: string;
  ticket_id: number;
  internal: boolean;
  text: string;
  attachments: AttachmentRef[];
  created_at: string;
  failed?: string;
}

export type ServerFrame =
  | { type: 'ticket'; ticket: Ticket }
  | { type: 'message'; ticket_id: number; message: Message }
  | { type: 'typing'; ticket_id: number; author: { kind: string; name?: string }; on: boolean }
  | { type: 'read'; ticket_id: number; seq: number }
  | { type: 'presence'; agent_id: number; presence: string }
  | { type: 'pong' };
