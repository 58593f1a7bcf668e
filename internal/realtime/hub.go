package realtime

import (
	"sync"
	"sync/atomic"
)

// DefaultQueueSize is a subscriber's queue length when HubOptions leaves it
// zero: enough for a burst on a busy ticket. Queues hold pointers (one shared
// *Event per publish), so 256 slots cost 2 KB per subscriber.
const DefaultQueueSize = 256

// HubOptions configures a Hub.
type HubOptions struct {
	// QueueSize is the default per-subscriber queue length.
	QueueSize int
	// Forward, when set, receives every event published locally after the
	// local fan-out. It is the seam for multi-node fan-out (a NATS bridge
	// publishes there and feeds remote events in with Deliver); it must not
	// block.
	Forward func(Event)
}

// Hub fans events out to subscribers in this process. It implements
// Publisher. Publish never blocks: a subscriber whose queue is full is
// dropped (its channel closed) and must reconnect and resume from the store.
//
// Customer connections subscribe by contact (one map lookup per event, so
// 10,000+ connections cost nothing for events of other contacts) or by
// ticket; agent consoles subscribe to everything and filter. Queue events
// (one per waiting chat whose position changed, so thousands when the line
// is long) are for the waiting customers only and never reach agent
// subscriptions.
type Hub struct {
	opts HubOptions

	mu        sync.RWMutex
	byContact map[int64]map[*Subscription]struct{}
	byTicket  map[int64]map[*Subscription]struct{}
	agents    map[*Subscription]struct{}
	closed    bool

	dropped atomic.Int64
}

// NewHub returns an empty hub.
func NewHub(opts HubOptions) *Hub {
	if opts.QueueSize <= 0 {
		opts.QueueSize = DefaultQueueSize
	}
	return &Hub{
		opts:      opts,
		byContact: make(map[int64]map[*Subscription]struct{}),
		byTicket:  make(map[int64]map[*Subscription]struct{}),
		agents:    make(map[*Subscription]struct{}),
	}
}

type subKind uint8

const (
	kindContact subKind = iota + 1
	kindTicket
	kindAgents
)

// Subscription is one subscriber's bounded queue. Read events from C until
// it is closed; then Dropped tells whether the hub cut it off for being too
// slow (as opposed to Close or hub shutdown).
type Subscription struct {
	// C delivers events in publish order. It is closed when the
	// subscription ends for any reason.
	// Events are shared between subscribers: never modify one.
	C <-chan *Event

	ch     chan *Event
	hub    *Hub
	kind   subKind
	key    int64
	filter func(Event) bool

	// mu makes "send unless closed" and "close" exclusive, so a concurrent
	// Publish never sends on a closed channel.
	mu      sync.Mutex
	done    bool
	dropped bool
}

// Dropped reports whether the hub closed the subscription because its queue
// was full.
func (s *Subscription) Dropped() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.dropped
}

// Close unsubscribes. It is idempotent and safe to call concurrently with
// Publish.
func (s *Subscription) Close() {
	s.hub.remove(s)
	s.end(false)
}

// end closes the channel once.
func (s *Subscription) end(dropped bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.done {
		return
	}
	s.done = true
	s.dropped = dropped
	close(s.ch)
}

// offer queues ev without blocking; it reports false when the queue was
// full (and the subscription is now ended as dropped).
func (s *Subscription) offer(ev *Event) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.done {
		return true
	}
	select {
	case s.ch <- ev:
		return true
	default:
		s.done = true
		s.dropped = true
		close(s.ch)
		return false
	}
}

// SubscribeContact subscribes to every event of the tickets of one contact
// (a customer's connections). queue <= 0 takes the hub default. filter may be
// nil.
func (h *Hub) SubscribeContact(contactID int64, queue int, filter func(Event) bool) *Subscription {
	return h.subscribe(kindContact, contactID, queue, filter)
}

// SubscribeTicket subscribes to the events of one ticket.
func (h *Hub) SubscribeTicket(ticketID int64, queue int, filter func(Event) bool) *Subscription {
	return h.subscribe(kindTicket, ticketID, queue, filter)
}

// SubscribeAgents subscribes to every event; filter (may be nil) decides
// visibility, e.g. auth.Principal.CanSeeTicket. It runs in the publisher's
// goroutine, so it must be fast and must not block.
func (h *Hub) SubscribeAgents(queue int, filter func(Event) bool) *Subscription {
	return h.subscribe(kindAgents, 0, queue, filter)
}

func (h *Hub) subscribe(kind subKind, key int64, queue int, filter func(Event) bool) *Subscription {
	if queue <= 0 {
		queue = h.opts.QueueSize
	}
	ch := make(chan *Event, queue)
	s := &Subscription{C: ch, ch: ch, hub: h, kind: kind, key: key, filter: filter}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		s.done = true
		close(ch)
		return s
	}
	switch kind {
	case kindContact:
		add(h.byContact, key, s)
	case kindTicket:
		add(h.byTicket, key, s)
	case kindAgents:
		h.agents[s] = struct{}{}
	}
	return s
}

func add(m map[int64]map[*Subscription]struct{}, key int64, s *Subscription) {
	set := m[key]
	if set == nil {
		set = make(map[*Subscription]struct{}, 1)
		m[key] = set
	}
	set[s] = struct{}{}
}

func (h *Hub) remove(s *Subscription) {
	h.mu.Lock()
	defer h.mu.Unlock()
	var m map[int64]map[*Subscription]struct{}
	switch s.kind {
	case kindContact:
		m = h.byContact
	case kindTicket:
		m = h.byTicket
	case kindAgents:
		delete(h.agents, s)
		return
	}
	if set := m[s.key]; set != nil {
		delete(set, s)
		if len(set) == 0 {
			delete(m, s.key)
		}
	}
}

// Publish delivers ev to every matching subscriber without blocking, then
// hands it to Forward. Call it only after the change has committed.
func (h *Hub) Publish(ev Event) {
	h.Deliver(ev)
	if h.opts.Forward != nil {
		h.opts.Forward(ev)
	}
}

// Deliver fans ev out to local subscribers only (for events that arrive from
// other nodes).
func (h *Hub) Deliver(e Event) {
	ev := &e
	ev.frame = new(frameCache)
	var slow []*Subscription
	h.mu.RLock()
	if h.closed {
		h.mu.RUnlock()
		return
	}
	if ev.Ticket.ContactID != 0 {
		for s := range h.byContact[ev.Ticket.ContactID] {
			if !h.send(s, ev) {
				slow = append(slow, s)
			}
		}
	}
	if ev.Ticket.ID != 0 {
		for s := range h.byTicket[ev.Ticket.ID] {
			if !h.send(s, ev) {
				slow = append(slow, s)
			}
		}
	}
	if ev.Type != Queue {
		for s := range h.agents {
			if !h.send(s, ev) {
				slow = append(slow, s)
			}
		}
	}
	h.mu.RUnlock()
	// Remove the dropped outside the read lock; their channels are already
	// closed so nothing more is sent to them meanwhile.
	for _, s := range slow {
		h.remove(s)
	}
}

func (h *Hub) send(s *Subscription, ev *Event) bool {
	if s.filter != nil && !s.filter(*ev) {
		return true
	}
	if !s.offer(ev) {
		h.dropped.Add(1)
		return false
	}
	return true
}

// Stats is a snapshot for metrics.
type Stats struct {
	Contacts    int   // contacts with at least one subscription
	Tickets     int   // tickets with at least one subscription
	Agents      int   // agent subscriptions
	Subscribers int   // all subscriptions
	Dropped     int64 // subscriptions dropped for being slow, since start
}

// Stats counts subscriptions.
func (h *Hub) Stats() Stats {
	h.mu.RLock()
	defer h.mu.RUnlock()
	st := Stats{Contacts: len(h.byContact), Tickets: len(h.byTicket), Agents: len(h.agents), Dropped: h.dropped.Load()}
	st.Subscribers = st.Agents
	for _, set := range h.byContact {
		st.Subscribers += len(set)
	}
	for _, set := range h.byTicket {
		st.Subscribers += len(set)
	}
	return st
}

// Close ends every subscription (not as dropped) and refuses new ones.
func (h *Hub) Close() {
	h.mu.Lock()
	h.closed = true
	var all []*Subscription
	for _, set := range h.byContact {
		for s := range set {
			all = append(all, s)
		}
	}
	for _, set := range h.byTicket {
		for s := range set {
			all = append(all, s)
		}
	}
	for s := range h.agents {
		all = append(all, s)
	}
	h.byContact = map[int64]map[*Subscription]struct{}{}
	h.byTicket = map[int64]map[*Subscription]struct{}{}
	h.agents = map[*Subscription]struct{}{}
	h.mu.Unlock()
	for _, s := range all {
		s.end(false)
	}
}

var _ Publisher = (*Hub)(nil)
