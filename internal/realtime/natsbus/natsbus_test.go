package natsbus_test

import (
	"context"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"custos/internal/desk"
	"custos/internal/realtime"
	"custos/internal/realtime/natsbus"
	"custos/internal/realtime/natsbus/natstest"
)

// node is one process's hub wired to the bus, as app.Start does it.
func node(t *testing.T, url, id string) (*realtime.Hub, *natsbus.Bus) {
	t.Helper()
	bus, err := natsbus.Connect(natsbus.Options{URL: url, NodeID: id, Registerer: prometheus.NewRegistry()})
	if err != nil {
		t.Fatal(err)
	}
	hub := realtime.NewHub(realtime.HubOptions{Forward: bus.Forward})
	if err := bus.Subscribe(hub); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := bus.Close(ctx); err != nil {
			t.Errorf("close %s: %v", id, err)
		}
		hub.Close()
	})
	return hub, bus
}

func next(t *testing.T, sub *realtime.Subscription) *realtime.Event {
	t.Helper()
	select {
	case ev, ok := <-sub.C:
		if !ok {
			t.Fatal("subscription closed")
		}
		return ev
	case <-time.After(5 * time.Second):
		t.Fatal("no event within 5s")
	}
	return nil
}

func none(t *testing.T, sub *realtime.Subscription, wait time.Duration) {
	t.Helper()
	select {
	case ev := <-sub.C:
		t.Fatalf("unexpected event %+v", ev)
	case <-time.After(wait):
	}
}

func TestRoundTrip(t *testing.T) {
	url := natstest.Start(t)
	hubA, _ := node(t, url, "a")
	hubB, busB := node(t, url, "b")

	subA := hubA.SubscribeContact(7, 0, nil)
	subB := hubB.SubscribeContact(7, 0, nil)
	agentsB := hubB.SubscribeAgents(0, nil)

	created := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	msg := &desk.Message{ID: 11, TicketID: 5, Seq: 3, AuthorKind: desk.AuthorContact, AuthorID: 7, Text: "hello 世界", CreatedAt: created,
		Attachments: []desk.Attachment{{ID: "att1", Name: "a.png", ContentType: "image/png", Size: 9}}}
	hubA.Publish(realtime.Event{Type: realtime.MessageCreated, Ticket: desk.Ticket{ID: 5, ContactID: 7, Channel: desk.ChannelChat,
		LastSeq: 3, Tags: []string{"vip"}, CreatedAt: created}, Message: msg, Actor: desk.AuthorContact, ActorID: 7})

	// Local delivery on A, exactly once (no echo from the bus).
	if ev := next(t, subA); ev.Message == nil || ev.Message.Text != "hello 世界" {
		t.Fatalf("local: %+v", ev)
	}
	// Remote delivery on B, with every field that matters intact.
	ev := next(t, subB)
	if ev.Type != realtime.MessageCreated || ev.Ticket.ID != 5 || ev.Ticket.ContactID != 7 || ev.Ticket.LastSeq != 3 ||
		!ev.Ticket.CreatedAt.Equal(created) || len(ev.Ticket.Tags) != 1 || ev.Actor != desk.AuthorContact || ev.ActorID != 7 ||
		ev.Message == nil || ev.Message.Seq != 3 || ev.Message.Text != "hello 世界" || len(ev.Message.Attachments) != 1 {
		t.Fatalf("remote: %+v %+v", ev, ev.Message)
	}
	// The agent frame cache works on delivered remote events: one encoding.
	calls := 0
	enc := func(*realtime.Event) ([]byte, error) { calls++; return []byte("x"), nil }
	ag := next(t, agentsB)
	ag.Frame(enc)
	ag.Frame(enc)
	if calls != 1 {
		t.Fatalf("frame encoded %d times", calls)
	}

	// B's own events reach A, and are not echoed back into B.
	hubB.Publish(realtime.Event{Type: realtime.Typing, Ticket: desk.Ticket{ID: 5, ContactID: 7}, Actor: desk.AuthorAgent, ActorID: 2, Name: "Ana", On: true})
	if ev := next(t, subB); ev.Type != realtime.Typing {
		t.Fatalf("local B: %+v", ev)
	}
	if ev := next(t, subA); ev.Type != realtime.Typing || ev.Name != "Ana" || !ev.On || ev.ActorID != 2 {
		t.Fatalf("remote A: %+v", ev)
	}
	// Queue events stay local: every node derives its own.
	hubA.Publish(realtime.Event{Type: realtime.Queue, Ticket: desk.Ticket{ID: 5, ContactID: 7}, Seq: 2})
	if ev := next(t, subA); ev.Type != realtime.Queue {
		t.Fatalf("queue local: %+v", ev)
	}
	none(t, subB, 300*time.Millisecond) // also: nothing echoed from B's typing
	if busB.Dropped() != 0 {
		t.Fatalf("dropped %d", busB.Dropped())
	}
}

// With NATS unreachable, publishing still returns at once and the node
// keeps serving its own subscribers.
func TestServerDownNeverBlocks(t *testing.T) {
	bus, err := natsbus.Connect(natsbus.Options{URL: "nats://127.0.0.1:1", Queue: 4})
	if err != nil {
		t.Fatal(err)
	}
	hub := realtime.NewHub(realtime.HubOptions{Forward: bus.Forward})
	if err := bus.Subscribe(hub); err != nil {
		t.Fatal(err)
	}
	sub := hub.SubscribeTicket(1, 2000, nil)
	start := time.Now()
	for i := 0; i < 1000; i++ {
		hub.Publish(realtime.Event{Type: realtime.TicketUpdated, Ticket: desk.Ticket{ID: 1}})
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("1000 publishes took %v", d)
	}
	if n := len(sub.C); n != 1000 {
		t.Fatalf("local delivery: %d", n)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	bus.Close(ctx)
	hub.Close()
}
