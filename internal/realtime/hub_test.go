package realtime

import (
	"sync"
	"testing"
	"time"

	"custos/internal/desk"
)

func msgEvent(ticketID, contactID, seq int64) Event {
	return Event{Type: MessageCreated, Ticket: desk.Ticket{ID: ticketID, ContactID: contactID, LastSeq: seq},
		Message: &desk.Message{TicketID: ticketID, Seq: seq}}
}

func TestHubRouting(t *testing.T) {
	h := NewHub(HubOptions{})
	c1 := h.SubscribeContact(1, 8, nil)
	c2 := h.SubscribeContact(2, 8, nil)
	tk := h.SubscribeTicket(10, 8, nil)
	onlyTicket10 := h.SubscribeAgents(8, func(ev Event) bool { return ev.Ticket.ID == 10 })
	all := h.SubscribeAgents(8, nil)

	h.Publish(msgEvent(10, 1, 1))
	h.Publish(msgEvent(20, 2, 1))

	want := map[*Subscription][]int64{c1: {10}, c2: {20}, tk: {10}, onlyTicket10: {10}, all: {10, 20}}
	for s, ids := range want {
		for _, id := range ids {
			select {
			case ev := <-s.C:
				if ev.Ticket.ID != id {
					t.Fatalf("got ticket %d, want %d", ev.Ticket.ID, id)
				}
			default:
				t.Fatalf("missing event for ticket %d", id)
			}
		}
		select {
		case ev := <-s.C:
			t.Fatalf("unexpected event %+v", ev)
		default:
		}
	}
	c1.Close()
	c1.Close() // idempotent
	if _, ok := <-c1.C; ok {
		t.Fatal("closed subscription still open")
	}
	if c1.Dropped() {
		t.Fatal("Close must not mark dropped")
	}
	if st := h.Stats(); st.Contacts != 1 || st.Subscribers != 4 {
		t.Fatalf("stats after close: %+v", st)
	}
	h.Close()
	if _, ok := <-all.C; ok {
		t.Fatal("hub close left a subscription open")
	}
}

// A subscriber that never reads is dropped once its queue is full, and the
// others keep receiving everything: Publish never waits for it.
func TestHubDropsSlowSubscriber(t *testing.T) {
	h := NewHub(HubOptions{})
	slow := h.SubscribeContact(1, 4, nil)
	fast := h.SubscribeContact(1, 4, nil)

	var got []int64
	done := make(chan struct{})
	go func() {
		defer close(done)
		for ev := range fast.C {
			got = append(got, ev.Message.Seq)
			if len(got) == 100 {
				return
			}
		}
	}()
	for i := int64(1); i <= 100; i++ {
		h.Publish(msgEvent(10, 1, i))
		// Let the fast reader keep up; the slow one never reads.
		deadline := time.Now().Add(time.Second)
		for len(fast.C) > 2 && time.Now().Before(deadline) {
			time.Sleep(50 * time.Microsecond)
		}
	}
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("fast subscriber did not receive all events")
	}
	for i, s := range got {
		if s != int64(i+1) {
			t.Fatalf("fast subscriber got seq %d at %d", s, i)
		}
	}
	n := 0
	for range slow.C {
		n++
	}
	if !slow.Dropped() || n != 4 {
		t.Fatalf("slow: dropped=%v drained=%d, want true 4", slow.Dropped(), n)
	}
	if st := h.Stats(); st.Dropped != 1 || st.Subscribers != 1 {
		t.Fatalf("stats: %+v", st)
	}
}

// Concurrent publishers, subscribers coming and going, and drops must not
// race (run with -race) or send on a closed channel.
func TestHubConcurrent(t *testing.T) {
	h := NewHub(HubOptions{})
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for p := 0; p < 4; p++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := int64(0); i < 2000; i++ {
				h.Publish(msgEvent(i%5, i%3, i))
			}
		}()
	}
	for c := 0; c < 4; c++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 200; i++ {
				s := h.SubscribeContact(int64(i%3), 2, nil)
				a := h.SubscribeAgents(2, nil)
				select {
				case <-s.C:
				case <-stop:
				default:
				}
				s.Close()
				a.Close()
			}
		}()
	}
	wg.Wait()
	close(stop)
	if st := h.Stats(); st.Subscribers != 0 {
		t.Fatalf("leaked subscriptions: %+v", st)
	}
}

// BenchmarkHubFanout publishes one event to a hub with 10,000 customer
// subscriptions (other contacts) and 50 agent consoles: the cost is the
// agents, not the customers.
func BenchmarkHubFanout(b *testing.B) {
	h := NewHub(HubOptions{})
	for i := int64(1); i <= 10000; i++ {
		h.SubscribeContact(i, 16, nil)
	}
	var agents []*Subscription
	for i := 0; i < 50; i++ {
		agents = append(agents, h.SubscribeAgents(1<<14, func(ev Event) bool { return ev.Ticket.TeamID != 99 }))
	}
	own := h.SubscribeContact(5000, 1<<14, nil)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		h.Publish(msgEvent(1, 5000, int64(i)))
		if len(own.C) > 1<<13 {
			b.StopTimer()
			for len(own.C) > 0 {
				<-own.C
			}
			for _, a := range agents {
				for len(a.C) > 0 {
					<-a.C
				}
			}
			b.StartTimer()
		}
	}
}
