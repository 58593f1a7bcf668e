package chat

import (
	"io"
	"log/slog"
	"testing"
	"time"

	"custos/internal/desk"
	"custos/internal/realtime"
)

// TestQueueAnnouncesSparsely: when the head of a long line leaves, every
// chat in the first 50 places hears its new place, further back only the
// marks; the line itself stays exact.
func TestQueueAnnouncesSparsely(t *testing.T) {
	hub := realtime.NewHub(realtime.HubOptions{})
	defer hub.Close()
	q := newQueueTracker(nil, hub, slog.New(slog.NewTextHandler(io.Discard, nil)))
	const n = 2000
	for id := int64(1); id <= n; id++ {
		q.ids = append(q.ids, id)
		q.byID[id] = desk.Ticket{ID: id, ContactID: 1, Channel: desk.ChannelChat, Status: desk.StatusNew}
	}
	q.ready = true
	// Queue events go to the waiting customers' subscriptions; one
	// customer owning every chat sees them all.
	sub := hub.SubscribeContact(1, 2*n, func(ev realtime.Event) bool { return ev.Type == realtime.Queue })
	defer sub.Close()

	q.apply(desk.Ticket{ID: 1, ContactID: 1, Channel: desk.ChannelChat, Status: desk.StatusOpen, AssigneeID: 7})

	got := map[int64]int64{} // ticket → announced position
	deadline := time.After(5 * time.Second)
	for done := false; !done; {
		select {
		case ev := <-sub.C:
			got[ev.Ticket.ID] = ev.Seq
		case <-time.After(100 * time.Millisecond):
			done = true
		case <-deadline:
			t.Fatal("timeout")
		}
	}
	// The chat that left, positions 0-49 exactly, then 50..490 by tens,
	// then 500..1900 by hundreds: 1 + 50 + 45 + 15.
	if len(got) != 1+50+45+15 {
		t.Fatalf("%d queue events for one chat leaving a line of %d", len(got), n)
	}
	if got[1] != -1 {
		t.Errorf("the chat that left got %d, want -1", got[1])
	}
	for pos := int64(0); pos < 50; pos++ {
		if got[pos+2] != pos {
			t.Errorf("ticket %d announced %d, want %d", pos+2, got[pos+2], pos)
		}
	}
	if _, ok := got[52+1]; ok { // position 51: not a mark
		t.Error("position 51 announced")
	}
	if got[60+2] != 60 || got[1900+2] != 1900 {
		t.Errorf("marks: %d %d", got[62], got[1902])
	}
	if _, ok := got[1950+2]; ok {
		t.Error("position 1950 announced")
	}
	// The line itself is exact for everyone.
	if p, ok := q.position(1952); !ok || p != 1950 {
		t.Errorf("position of 1952 = %d %v", p, ok)
	}
}
