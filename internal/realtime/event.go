// Package realtime fans committed changes out to connected clients (agent
// consoles, customer chat connections). Events are published only after the
// transaction that produced them has committed. Every subscriber has a bounded
// queue; a subscriber that falls behind is cut off, never waited for.
package realtime

import (
	"sync"

	"custos/internal/desk"
)

// Event types.
const (
	TicketCreated  = "ticket.created"
	TicketUpdated  = "ticket.updated"
	MessageCreated = "message.created"
	Typing         = "typing"
	Read           = "read"
	Presence       = "presence"
	Queue          = "queue" // queue positions changed
)

// Event is one committed change. Ticket is the ticket after the change (for
// routing the event to those who may see it); Message is set for
// message.created; Typing/Read carry their small payloads.
type Event struct {
	// The JSON names are the wire format between nodes (natsbus).
	Type     string          `json:"type"`
	Ticket   desk.Ticket     `json:"ticket"`
	Message  *desk.Message   `json:"message,omitempty"`
	Actor    desk.AuthorKind `json:"actor,omitempty"`
	ActorID  int64           `json:"actor_id,omitempty"`
	Name     string          `json:"name,omitempty"`     // display name of the actor (typing, read)
	On       bool            `json:"on,omitempty"`       // typing on/off
	Seq      int64           `json:"seq,omitempty"`      // read receipts: last seq read
	AgentID  int64           `json:"agent_id,omitempty"` // presence
	Presence desk.Presence   `json:"presence,omitempty"`

	// frame caches the encoding shared by the subscribers that render the
	// event the same way (agent consoles); Deliver sets it.
	frame *frameCache
}

type frameCache struct {
	once sync.Once
	b    []byte
	err  error
}

// Frame returns encode(e), computed once per delivered event however many
// subscribers ask: ten agent consoles receiving every message then cost one
// encoding, not ten. Use it only for an encoding that is the same for every
// subscriber that calls Frame (the agent console's frames); the result is
// shared and must not be modified.
func (e *Event) Frame(encode func(*Event) ([]byte, error)) ([]byte, error) {
	if e.frame == nil {
		return encode(e)
	}
	e.frame.once.Do(func() { e.frame.b, e.frame.err = encode(e) })
	return e.frame.b, e.frame.err
}

// Publisher is what services need from the hub.
type Publisher interface {
	Publish(ev Event)
}
