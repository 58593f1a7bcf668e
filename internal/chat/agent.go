package chat

import (
	"encoding/json"
	"net/http"
	"time"

	"github.com/coder/websocket"

	"custos/internal/auth"
	"custos/internal/desk"
	"custos/internal/realtime"
)

// agentQueue is an agent console's event queue: a console follows every
// ticket it may see, so it gets a deeper queue than a customer.
const agentQueue = 256

// ServeAgent serves the agent console's WebSocket. The HTTP layer has
// authenticated p; the socket only accepts the console's own origin (the
// library default), since a cookie-authenticated WebSocket is otherwise
// open to cross-site hijacking.
func (s *Server) ServeAgent(w http.ResponseWriter, r *http.Request, p auth.Principal) {
	ws, err := websocket.Accept(w, r, nil)
	if err != nil {
		return
	}
	ws.SetReadLimit(s.cfg.MaxFrame)
	c := newConn(ws, s.cfg.WriteTimeout)
	if !s.add(c) {
		ws.Close(websocket.StatusGoingAway, "server shutting down")
		return
	}
	defer s.remove(c)
	defer c.close(websocket.StatusNormalClosure, "")

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
		typ, data, err := c.ws.Read(s.ctx)
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
			t, err := s.lookupTicket(s.ctx, f.TicketID)
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
	hb := time.NewTicker(s.cfg.HeartbeatInterval)
	defer hb.Stop()
	for {
		var err error
		select {
		case <-c.done:
			return
		case it := <-c.out:
			err = c.write(it.b)
		case ev, ok := <-sub.C:
			if !ok {
				if sub.Dropped() {
					c.close(CloseTooSlow, "too slow")
				} else {
					c.close(websocket.StatusGoingAway, "server shutting down")
				}
				return
			}
			err = s.agentDeliver(c, ev)
		case <-hb.C:
			if c.ping(2*s.cfg.HeartbeatInterval) != nil {
				c.close(websocket.StatusGoingAway, "heartbeat timeout")
				return
			}
		}
		if err != nil {
			c.close(websocket.StatusGoingAway, "write failed")
			return
		}
	}
}

func (s *Server) agentDeliver(c *conn, ev *realtime.Event) error {
	switch ev.Type {
	case realtime.TicketCreated, realtime.TicketUpdated:
		return c.writeJSON(agentTicketFrame{Type: "ticket", Ticket: ev.Ticket})
	case realtime.MessageCreated:
		if ev.Message == nil {
			return nil
		}
		return c.writeJSON(agentMessageFrame{Type: "message", TicketID: ev.Ticket.ID, Message: ev.Message})
	case realtime.Typing:
		return c.writeJSON(typingFrame{Type: "typing", TicketID: ev.Ticket.ID, Author: author{Kind: ev.Actor, Name: ev.Name}, On: ev.On})
	case realtime.Read:
		return c.writeJSON(struct {
			readFrame
			Author author `json:"author"`
		}{readFrame{Type: "read", TicketID: ev.Ticket.ID, Seq: ev.Seq}, author{Kind: ev.Actor, Name: ev.Name}})
	case realtime.Presence:
		return c.writeJSON(presenceFrame{Type: "presence", AgentID: ev.AgentID, Presence: ev.Presence})
	}
	return nil
}
