package chat

import (
	"context"
	"encoding/json"
	"net/http"

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
func (s *Server) ServeAgent(w http.ResponseWriter, r *http.Request, p auth.Principal) {
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
	go s.runAgent(c, p)
}

func (s *Server) runAgent(c *conn, p auth.Principal) {
	defer s.remove(c)
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
		return p.CanSeeTicket(ev.Ticket)
	})
	defer sub.Close()

	writerDone := make(chan struct{})
	go func() {
		defer close(writerDone)
		s.agentWriter(c, sub)
	}()
	s.agentReader(c, p)
	c.close(websocket.StatusNormalClosure, "")
	<-writerDone
}

func (s *Server) agentReader(c *conn, p auth.Principal) {
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

func (s *Server) agentWriter(c *conn, sub *realtime.Subscription) {
	for {
		var err error
		select {
		case <-c.done:
			return
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
