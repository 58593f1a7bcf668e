package chat

import (
	"context"
	"log/slog"
	"slices"
	"sync"
	"time"

	"custos/internal/desk"
	"custos/internal/realtime"
	"custos/internal/store"
)

// queueTracker keeps the waiting line of unassigned new chats in memory,
// from ticket events, so a position costs a binary search instead of a query
// per connection per event. When a chat joins or leaves the line it
// publishes realtime.Queue events (the position in Event.Seq, -1 once the
// chat left the line) for the chats whose position changed; each customer
// connection forwards those that differ from what it last sent.
type queueTracker struct {
	st  store.Store
	hub *realtime.Hub
	log *slog.Logger

	mu    sync.Mutex
	ids   []int64               // ascending ticket ids
	byID  map[int64]desk.Ticket // the queued tickets
	ready bool
}

func newQueueTracker(st store.Store, hub *realtime.Hub, log *slog.Logger) *queueTracker {
	return &queueTracker{st: st, hub: hub, log: log, byID: make(map[int64]desk.Ticket)}
}

func queued(t desk.Ticket) bool {
	return t.Channel == desk.ChannelChat && t.Status == desk.StatusNew && t.AssigneeID == 0
}

// run follows ticket events until ctx ends. If it falls behind and the hub
// drops it, it resubscribes and reloads the line from the store.
func (q *queueTracker) run(ctx context.Context) {
	for ctx.Err() == nil {
		sub := q.hub.SubscribeAgents(4096, func(ev realtime.Event) bool {
			return (ev.Type == realtime.TicketCreated || ev.Type == realtime.TicketUpdated) && ev.Ticket.Channel == desk.ChannelChat
		})
		if err := q.load(ctx); err != nil {
			sub.Close()
			if ctx.Err() == nil {
				q.log.Warn("chat queue load", slog.Any("err", err))
			}
			select {
			case <-ctx.Done():
			case <-time.After(2 * time.Second):
			}
			continue
		}
		q.follow(ctx, sub)
		sub.Close()
	}
}

func (q *queueTracker) follow(ctx context.Context, sub *realtime.Subscription) {
	for {
		select {
		case <-ctx.Done():
			return
		case ev, ok := <-sub.C:
			if !ok {
				return
			}
			q.apply(ev.Ticket)
		}
	}
}

// load reads the line from the store (after subscribing, so no change is
// missed; applying an event twice is harmless).
func (q *queueTracker) load(ctx context.Context) error {
	var all []desk.Ticket
	err := q.st.Read(ctx, func(tx store.Tx) error {
		f := store.TicketFilter{Statuses: []desk.Status{desk.StatusNew}, AssigneeID: -1, Channel: desk.ChannelChat, Limit: desk.MaxPageSize}
		for range 100 { // at most 20,000 waiting chats
			ts, err := tx.ListTickets(ctx, f)
			if err != nil {
				return err
			}
			all = append(all, ts...)
			if len(ts) < f.Limit {
				return nil
			}
			f.Cursor = ts[len(ts)-1].ID
		}
		return nil
	})
	if err != nil {
		return err
	}
	q.mu.Lock()
	q.ids = q.ids[:0]
	clear(q.byID)
	for _, t := range all {
		if queued(t) {
			q.ids = append(q.ids, t.ID)
			q.byID[t.ID] = t
		}
	}
	slices.Sort(q.ids)
	q.ready = true
	q.mu.Unlock()
	return nil
}

// apply updates the line with a ticket's new state and publishes the
// positions that changed.
func (q *queueTracker) apply(t desk.Ticket) {
	q.mu.Lock()
	i, present := slices.BinarySearch(q.ids, t.ID)
	in := queued(t)
	var changed []desk.Ticket
	var left *desk.Ticket
	switch {
	case in && !present:
		q.ids = slices.Insert(q.ids, i, t.ID)
		q.byID[t.ID] = t
		for _, id := range q.ids[i:] {
			changed = append(changed, q.byID[id])
		}
	case in && present:
		q.byID[t.ID] = t
	case !in && present:
		q.ids = slices.Delete(q.ids, i, i+1)
		delete(q.byID, t.ID)
		left = &t
		for _, id := range q.ids[i:] {
			changed = append(changed, q.byID[id])
		}
	}
	q.mu.Unlock()

	if left != nil {
		q.hub.Publish(realtime.Event{Type: realtime.Queue, Ticket: *left, Seq: -1})
	}
	for k, ct := range changed {
		if pos := i + k; announce(pos) {
			q.hub.Publish(realtime.Event{Type: realtime.Queue, Ticket: ct, Seq: int64(pos)})
		}
	}
}

// announce says whether a chat that moved to pos is told so. Every move is
// announced in the first 50 places; further back the news is the same
// ("still far"), so every 10th place up to 500 and every 100th beyond. One
// chat leaving the head of a 10,000-chat line then publishes about 190
// events instead of 10,000. A far-back position shown to a customer can be
// up to 9 (or 99) places too high until the next mark; a reconnect gets the
// exact place.
func announce(pos int) bool {
	switch {
	case pos < 50:
		return true
	case pos < 500:
		return pos%10 == 0
	default:
		return pos%100 == 0
	}
}

// position returns a chat's 0-based place in the line, -1 when it is not
// waiting, and false while the line is not loaded yet.
func (q *queueTracker) position(id int64) (int, bool) {
	if id == 0 {
		return 0, false
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	if !q.ready {
		return 0, false
	}
	if i, ok := slices.BinarySearch(q.ids, id); ok {
		return i, true
	}
	return -1, true
}

// ticket returns a waiting chat's ticket.
func (q *queueTracker) ticket(id int64) (desk.Ticket, bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	t, ok := q.byID[id]
	return t, ok
}
