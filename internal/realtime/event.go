// Package realtime fans committed changes out to connected clients (agent
// consoles, customer chat connections). Events are published only after the
// transaction that produced them has committed. Every subscriber has a bounded
// queue; a subscriber that falls behind is cut off, never waited for.
package realtime

import "custos/internal/desk"

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
	Type     string
	Ticket   desk.Ticket
	Message  *desk.Message
	Actor    desk.AuthorKind
	ActorID  int64
	Name     string // display name of the actor (typing, read)
	On       bool   // typing on/off
	Seq      int64  // read receipts: last seq read
	AgentID  int64  // presence
	Presence desk.Presence
}

// Publisher is what services need from the hub.
type Publisher interface {
	Publish(ev Event)
}
