// Wire types of the Custos customer chat protocol v1 (docs/protocol.md).

export type AuthorKind = 'contact' | 'agent' | 'bot' | 'system';

export interface Author {
  kind: AuthorKind;
  name: string;
}

export interface Attachment {
  id: string;
  name: string;
  content_type: string;
  size: number;
  url: string;
}

export interface Conversation {
  id: number;
  ref?: string;
  status: string; // "open", "solved", ... (unknown values tolerated)
  last_seq: number;
}

export interface Contact {
  id: number;
  name: string;
}

export interface ChatMessage {
  conversation_id: number;
  id: number;
  seq: number;
  author: Author;
  text: string;
  attachments: Attachment[];
  at: string;
  client_id?: string;
}

export interface WelcomeFrame {
  type: 'welcome';
  v: number;
  session: string;
  device_token?: string;
  heartbeat_sec?: number;
  contact?: Contact | null;
  conversation?: Conversation | null;
}

export interface AckFrame {
  type: 'ack';
  client_id: string;
  conversation_id: number;
  id: number;
  seq: number;
  at: string;
  duplicate?: boolean;
}

export interface ErrorFrame {
  type: 'error';
  code: string;
  message?: string;
  fields?: Record<string, string>;
  client_id?: string;
}

/** A message typed on this device that has no ack yet. */
export interface OutboxItem {
  client_id: string;
  text: string;
  attachments: Attachment[];
  created: number; // ms epoch
  state: 'pending' | 'failed';
  error?: string;
}

/** The subset of the browser WebSocket the client uses (fakeable in tests). */
export interface SocketLike {
  readonly readyState: number;
  send(data: string): void;
  close(code?: number, reason?: string): void;
  onopen: ((ev: any) => void) | null;
  onmessage: ((ev: { data: any }) => void) | null;
  onclose: ((ev: { code: number; reason: string }) => void) | null;
  onerror: ((ev: any) => void) | null;
}

/** The subset of Storage the client uses; all calls may throw (Safari private mode, quota). */
export interface KV {
  getItem(key: string): string | null;
  setItem(key: string, value: string): void;
  removeItem(key: string): void;
}
