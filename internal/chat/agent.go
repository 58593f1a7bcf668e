package chat

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"

	"custos/internal/auth"
	"custos/internal/desk"
	"custos/internal/realtime"
)

// agentQueue is an agent console's event queue. A console follows every
// ticket it may see: at 2,000 customer messages a second that is 2,000+
// events a second per console, and a console is worth far more than its
// 64 KiB of queue (pointers to shared events). A console that still falls
// 8,192 events behind is cut off (4009) and reloads.
const agentQueue = 8192

// ServeAgent serves the agent console's WebSocket. The HTTP layer has
// authenticated p; the socket only accepts the console's own origin (the
// library default), since a cookie-authenticated WebSocket is otherwise
// open to cross-site hijacking. It returns once the socket is set up; the
// connection lives on in its own goroutines.
//
// recheck authenticates the socket's session again (nil: never). It runs
// every AgentRecheck: a logout elsewhere, a password reset, a disabled
// account or an expired session closes the socket with 4001; a changed role
// or team list takes effect on the next event. A database error keeps the
// socket as it is: a blip must not log every console out.
func (s *Server) ServeAgent(w http.ResponseWriter, r *http.Request, p auth.Principal, recheck func(context.Context) (auth.Principal, error)) {
	ws, err := websocket.Accept(w, r, nil)
	if err != nil {
		return
	}
	ws.SetReadLimit(s.cfg.MaxFrame)
	c := newConn(ws, s.cfg.WriteTimeout, &s.closes)
	if !s.add(c) {
		ws.Close(websocket.StatusGoingAway, "server shutting down")
		return
	}
	ac := &agentConn{conn: c, recheck: recheck}
	ac.p.Store(&p)
	go s.runAgent(ac)
}

// agentConn is a console's socket and who it belongs to, as of the last
// check.
type agentConn struct {
	*conn
	p       atomic.Pointer[auth.Principal]
	recheck func(context.Context) (auth.Principal, error)
}

// reauthorize runs the periodic session check; false means the socket was
// closed.
func (s *Server) reauthorize(ac *agentConn) bool {
	if ac.recheck == nil {
		return true
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	p, err := ac.recheck(ctx)
	if err == nil {
		ac.p.Store(&p)
		return true
	}
	switch desk.ErrorCode(err) {
	case desk.EUnauthorized, desk.EForbidden, desk.EMFARequired, desk.ENotFound:
		ac.close(CloseUnauthorized, "unauthorized: session ended")
		return false
	}
	s.log.Warn("agent session check", slog.Any("err", err))
	return true
}

func (s *Server) runAgent(ac *agentConn) {
	c := ac.conn
	defer s.remove(c)
	p := *ac.p.Load()
	self := p.ActorID()
	sub := s.d.Hub.SubscribeAgents(agentQueue, func(ev realtime.Event) bool {
		switch ev.Type {
		case realtime.Queue:
			return false
		case realtime.Presence:
			return true
		case realtime.Typing, realtime.Read:
			if ev.Actor == desk.AuthorAgent && ev.ActorID == self {
				return false
			}
		}
		return ac.p.Load().CanSeeTicket(ev.Ticket)
	})
	defer sub.Close()

	writerDone := make(chan struct{})
	go func() {
		defer close(writerDone)
		s.agentWriter(ac, sub)
	}()
	s.agentReader(ac)
	c.close(websocket.StatusNormalClosure, "")
	<-writerDone
}

func (s *Server) agentReader(ac *agentConn) {
	c := ac.conn
	frames := newBucket(s.cfg.FrameRate, s.cfg.FrameBurst, s.d.Now())
	for {
		typ, data, err := c.ws.Read(context.Background())
		if err != nil {
			return
		}
		switch frames.take(s.d.Now()) {
		case refuseWarn:
			c.enqueue(errorFrame{Type: "error", Code: desk.ERateLimited, Message: "too many frames; slow down"})
			continue
		case refuseQuiet:
			continue
		case cutOff:
			c.close(CloseRateLimited, "rate limited")
			return
		}
		var f inFrame
		if typ != websocket.MessageText || json.Unmarshal(data, &f) != nil {
			c.close(CloseProtocol, "protocol error: malformed JSON")
			return
		}
		switch f.Type {
		case "ping":
			c.enqueue(typeOnly{Type: "pong"})
		case "typing", "read":
			p := ac.p.Load()
			t, err := s.pooledTicket(f.TicketID)
			if err != nil || !p.CanSeeTicket(t) {
				c.enqueue(errorFrame{Type: "error", Code: desk.ENotFound, Message: "ticket not found"})
				continue
			}
			ev := realtime.Event{Type: realtime.Typing, Ticket: t, Actor: desk.AuthorAgent, ActorID: p.ActorID(), Name: p.Name(), On: f.On}
			if f.Type == "read" {
				ev.Type, ev.Seq, ev.On = realtime.Read, f.Seq, false
			}
			s.d.Hub.Publish(ev)
		default:
			c.close(CloseProtocol, "protocol error: unknown frame type "+quoteType(f.Type))
			return
		}
		if c.closed.Load() {
			return
		}
	}
}

func (s *Server) agentWriter(ac *agentConn, sub *realtime.Subscription) {
	c := ac.conn
	recheck := time.NewTicker(s.cfg.AgentRecheck)
	defer recheck.Stop()
	for {
		var err error
		select {
		case <-c.done:
			return
		case <-recheck.C:
			if !s.reauthorize(ac) {
				return
			}
		case it := <-c.out:
			switch {
			case it.ping:
				c.heartbeat(2 * s.cfg.HeartbeatInterval)
			case it.code != 0:
				c.close(it.code, it.reason)
			default:
				err = c.write(it.b)
			}
		case ev, ok := <-sub.C:
			if !ok {
				if sub.Dropped() {
					c.close(CloseTooSlow, "too slow")
				} else {
					c.close(websocket.StatusGoingAway, "server shutting down")
				}
				return
			}
			// Every console renders an event the same way: encode it once.
			var b []byte
			if b, err = ev.Frame(agentFrame); err == nil && b != nil {
				err = c.write(b)
			}
		}
		if err != nil {
			c.close(websocket.StatusGoingAway, "write failed")
			return
		}
	}
}

// agentFrame encodes an event for agent consoles; nil for events they do
// not get.
func agentFrame(ev *realtime.Event) ([]byte, error) {
	switch ev.Type {
	case realtime.TicketCreated, realtime.TicketUpdated:
		return json.Marshal(agentTicketFrame{Type: "ticket", Ticket: ev.Ticket})
	case realtime.MessageCreated:
		if ev.Message == nil {
			return nil, nil
		}
		return json.Marshal(agentMessageFrame{Type: "message", TicketID: ev.Ticket.ID, Message: ev.Message})
	case realtime.Typing:
		return json.Marshal(typingFrame{Type: "typing", TicketID: ev.Ticket.ID, Author: author{Kind: ev.Actor, Name: ev.Name}, On: ev.On})
	case realtime.Read:
		return json.Marshal(struct {
			readFrame
			Author author `json:"author"`
		}{readFrame{Type: "read", TicketID: ev.Ticket.ID, Seq: ev.Seq}, author{Kind: ev.Actor, Name: ev.Name}})
	case realtime.Presence:
		return json.Marshal(presenceFrame{Type: "presence", AgentID: ev.AgentID, Presence: ev.Presence})
	}
	return nil, nil
}
