import { backoffDelay } from './logic';
import type { ServerFrame } from './types';

export type WsState = 'connecting' | 'connected' | 'offline';

export interface WsHandlers {
  onFrame: (f: ServerFrame) => void;
  onState: (s: WsState) => void;
  /** called after a successful re-connection (not the first one) */
  onReconnect: () => void;
  /** the server closed the socket because the session ended (4001) */
  onSessionEnded?: () => void;
}

/** Agent WebSocket with heartbeat and reconnect-with-backoff. */
export class AgentSocket {
  private ws: WebSocket | null = null;
  private attempt = 0;
  private everConnected = false;
  private closed = false;
  private retryTimer: number | undefined;
  private pingTimer: number | undefined;
  private lastPong = 0;
  private h: WsHandlers;

  constructor(h: WsHandlers) {
    this.h = h;
  }

  start() {
    this.closed = false;
    this.connect();
    window.addEventListener('online', this.onOnline);
  }

  stop() {
    this.closed = true;
    window.removeEventListener('online', this.onOnline);
    window.clearTimeout(this.retryTimer);
    window.clearInterval(this.pingTimer);
    if (this.ws) {
      this.ws.onclose = null;
      this.ws.close(1000);
      this.ws = null;
    }
  }

  send(frame: object): boolean {
    if (this.ws && this.ws.readyState === WebSocket.OPEN) {
      this.ws.send(JSON.stringify(frame));
      return true;
    }
    return false;
  }

  private onOnline = () => {
    if (!this.ws || this.ws.readyState === WebSocket.CLOSED) {
      window.clearTimeout(this.retryTimer);
      this.attempt = 0;
      this.connect();
    }
  };

  private connect() {
    if (this.closed) return;
    this.h.onState('connecting');
    const proto = location.protocol === 'https:' ? 'wss:' : 'ws:';
    let ws: WebSocket;
    try {
      ws = new WebSocket(`${proto}//${location.host}/api/v1/ws`);
    } catch {
      this.scheduleRetry();
      return;
    }
    this.ws = ws;
    ws.onopen = () => {
      const wasReconnect = this.everConnected;
      this.everConnected = true;
      this.attempt = 0;
      this.lastPong = Date.now();
      this.h.onState('connected');
      window.clearInterval(this.pingTimer);
      this.pingTimer = window.setInterval(() => {
        if (Date.now() - this.lastPong > 65000) {
          ws.close(4000, 'heartbeat timeout');
          return;
        }
        this.send({ type: 'ping' });
      }, 25000);
      if (wasReconnect) this.h.onReconnect();
    };
    ws.onmessage = (ev) => {
      this.lastPong = Date.now();
      if (typeof ev.data !== 'string') return;
      for (const line of ev.data.split('\n')) {
        if (!line.trim()) continue;
        try {
          this.h.onFrame(JSON.parse(line) as ServerFrame);
        } catch {
          /* ignore malformed frame */
        }
      }
    };
    ws.onclose = (ev) => {
      window.clearInterval(this.pingTimer);
      if (this.ws === ws) this.ws = null;
      if (ev.code === 4001 && this.h.onSessionEnded) {
        // Logged out elsewhere, disabled or expired: retrying cannot help.
        this.closed = true;
        this.h.onSessionEnded();
        return;
      }
      if (!this.closed) this.scheduleRetry();
    };
    ws.onerror = () => {
      /* onclose follows */
    };
  }

  private scheduleRetry() {
    this.h.onState('offline');
    const delay = backoffDelay(this.attempt++);
    window.clearTimeout(this.retryTimer);
    this.retryTimer = window.setTimeout(() => this.connect(), delay);
  }
}
