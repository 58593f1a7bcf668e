package storetest

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"custos/internal/desk"
	"custos/internal/store"
)

var refPattern = regexp.MustCompile(`^[0-9A-HJKMNP-TV-Z]{6}$`)

func testTickets(t *testing.T, h Harness) {
	s := h.Open(t)
	c := ctx(t)
	for i, text := range messy {
		in := desk.Ticket{
			Channel: desk.ChannelEmail, Subject: text, Status: desk.StatusOpen, Priority: desk.PriorityHigh,
			Category: "withdrawal", TeamID: 2, AssigneeID: 5, ContactID: 9, Tier: 3,
			Tags: []string{text, "vip"}, Custom: map[string]string{"txid": "0xabc", "note": text}, Language: "th",
			CreatedAt: ts(i), SolvedAt: ptr(ts(100)),
		}
		write(t, s, func(tx store.Tx) error { return tx.CreateTicket(c, &in) })
		if in.ID == 0 || !refPattern.MatchString(in.Ref) || in.LastSeq != 0 || !in.CreatedAt.Equal(ts(i)) || !in.UpdatedAt.Equal(ts(i)) {
			t.Fatalf("generated fields: %+v", in)
		}
		read(t, s, func(tx store.Tx) error {
			got, err := tx.GetTicket(c, in.ID)
			if err != nil {
				return err
			}
			same(t, "ticket round trip", got, in)
			got, err = tx.GetTicketByRef(c, in.Ref)
			if err != nil {
				return err
			}
			same(t, "ticket by ref", got, in)
			return nil
		})
	}

	// Defaults: CreatedAt now (microseconds, UTC), empty lists and map.
	before := time.Now().Add(-time.Second)
	k := desk.Ticket{Channel: desk.ChannelChat, Status: desk.StatusNew, Priority: desk.PriorityNormal}
	write(t, s, func(tx store.Tx) error { return tx.CreateTicket(c, &k) })
	if k.CreatedAt.Before(before) || k.CreatedAt.Location() != time.UTC || k.CreatedAt.Nanosecond()%1000 != 0 {
		t.Fatalf("CreatedAt %v", k.CreatedAt)
	}
	read(t, s, func(tx store.Tx) error {
		got, err := tx.GetTicket(c, k.ID)
		if err != nil {
			return err
		}
		same(t, "defaults", got, k)
		if got.Tags == nil || got.Custom == nil {
			t.Fatalf("nil tags/custom: %#v", got)
		}
		return nil
	})

	// UpdateTicket writes every mutable field but never LastSeq.
	write(t, s, func(tx store.Tx) error {
		_, err := tx.AppendMessage(c, &desk.Message{TicketID: k.ID, AuthorKind: desk.AuthorContact, Text: "hi"})
		return err
	})
	k.Subject, k.Status, k.Priority, k.TeamID, k.AssigneeID, k.Tags = "updated 업데이트", desk.StatusSolved, desk.PriorityUrgent, 4, 6, []string{"x"}
	k.Custom = map[string]string{"k": "v"}
	k.SolvedAt = ptr(ts(5))
	k.FirstResponseAt = ptr(ts(3))
	k.LastCustomerMsgAt = nil
	k.LastSeq = 99
	write(t, s, func(tx store.Tx) error { return tx.UpdateTicket(c, &k) })
	if k.LastSeq != 1 {
		t.Fatalf("UpdateTicket LastSeq %d, want the stored 1", k.LastSeq)
	}
	read(t, s, func(tx store.Tx) error {
		got, err := tx.GetTicket(c, k.ID)
		if err != nil {
			return err
		}
		same(t, "updated ticket", got, k)
		_, err = tx.GetTicket(c, 123456)
		wantIs(t, "missing ticket", err, desk.ErrNotFound)
		_, err = tx.GetTicketByRef(c, "ZZZZZZZ")
		wantIs(t, "missing ref", err, desk.ErrNotFound)
		return nil
	})
	err := s.Write(c, func(tx store.Tx) error { return tx.UpdateTicket(c, &desk.Ticket{ID: 123456}) })
	wantIs(t, "update missing ticket", err, desk.ErrNotFound)
}

func testTicketRefs(t *testing.T, h Harness) {
	s := h.Open(t)
	c := ctx(t)
	const n = 100
	refs := map[string]bool{}
	write(t, s, func(tx store.Tx) error {
		for range n {
			k := desk.Ticket{Channel: desk.ChannelAPI, Status: desk.StatusNew, Priority: desk.PriorityLow}
			if err := tx.CreateTicket(c, &k); err != nil {
				return err
			}
			if !refPattern.MatchString(k.Ref) || refs[k.Ref] {
				t.Fatalf("bad or repeated ref %q", k.Ref)
			}
			refs[k.Ref] = true
		}
		return nil
	})
}

func testListTicketsFilters(t *testing.T, h Harness) {
	s := h.Open(t)
	c := ctx(t)
	const a1, a2 = 11, 12
	in := []desk.Ticket{
		{Channel: desk.ChannelChat, Status: desk.StatusNew, TeamID: 1, ContactID: 101, Tags: []string{"vip", "withdrawal"}, Subject: "Withdrawal stuck 提现"},
		{Channel: desk.ChannelEmail, Status: desk.StatusOpen, TeamID: 2, AssigneeID: a1, ContactID: 102, Tags: []string{"kyc"}, Subject: "KYC 100% done_now"},
		{Channel: desk.ChannelChat, Status: desk.StatusPending, TeamID: 1, AssigneeID: a2, ContactID: 101, Subject: "입금 문제"},
		{Channel: desk.ChannelWeb, Status: desk.StatusSolved, TeamID: 3, AssigneeID: a1, ContactID: 102, Tags: []string{"vip"}, Subject: "'; DROP TABLE tickets;--"},
		{Channel: desk.ChannelChat, Status: desk.StatusClosed, ContactID: 103, Subject: "<script>alert(1)</script>"},
		{Channel: desk.ChannelChat, Status: desk.StatusNew, TeamID: 2, ContactID: 103, Tags: []string{"withdrawal"}, Subject: "ถอนเงินไม่ได้ 😀"},
	}
	write(t, s, func(tx store.Tx) error {
		for i := range in {
			in[i].Priority = desk.PriorityNormal
			if err := tx.CreateTicket(c, &in[i]); err != nil {
				return err
			}
		}
		return nil
	})
	// want lists positions in `in` (1-based), newest first.
	tests := []struct {
		name string
		f    store.TicketFilter
		want []int
	}{
		{"all", store.TicketFilter{}, []int{6, 5, 4, 3, 2, 1}},
		{"statuses", store.TicketFilter{Statuses: []desk.Status{desk.StatusNew, desk.StatusPending}}, []int{6, 3, 1}},
		{"teams", store.TicketFilter{TeamIDs: []int64{2, 3}}, []int{6, 4, 2}},
		{"assignee", store.TicketFilter{AssigneeID: a1}, []int{4, 2}},
		{"unassigned", store.TicketFilter{AssigneeID: -1}, []int{6, 5, 1}},
		{"contact", store.TicketFilter{ContactID: 103}, []int{6, 5}},
		{"channel", store.TicketFilter{Channel: desk.ChannelChat}, []int{6, 5, 3, 1}},
		{"tag", store.TicketFilter{Tag: "vip"}, []int{4, 1}},
		{"tag is exact", store.TicketFilter{Tag: "vi"}, []int{}},
		{"text case-insensitive", store.TicketFilter{Text: "WITHDRAWAL"}, []int{1}},
		{"text chinese", store.TicketFilter{Text: "提现"}, []int{1}},
		{"text korean", store.TicketFilter{Text: "입금"}, []int{3}},
		{"text thai emoji", store.TicketFilter{Text: "ไม่ได้ 😀"}, []int{6}},
		{"text percent is literal", store.TicketFilter{Text: "%"}, []int{2}},
		{"text underscore is literal", store.TicketFilter{Text: "_"}, []int{2}},
		{"text sql", store.TicketFilter{Text: "'; DROP TABLE"}, []int{4}},
		{"text html", store.TicketFilter{Text: "<script>"}, []int{5}},
		{"text injection", store.TicketFilter{Text: "' OR '1'='1"}, []int{}},
		{"text ref", store.TicketFilter{Text: strings.ToLower(in[2].Ref)}, []int{3}},
		{"visible teams or mine", store.TicketFilter{VisibleTeams: []int64{1}, VisibleTo: a1}, []int{4, 3, 2, 1}},
		{"visible no teams", store.TicketFilter{VisibleTeams: []int64{}, VisibleTo: a2}, []int{3}},
		{"visible to nobody", store.TicketFilter{VisibleTeams: []int64{}}, []int{}},
		{"combined", store.TicketFilter{Channel: desk.ChannelChat, Statuses: []desk.Status{desk.StatusNew}, VisibleTeams: []int64{2}}, []int{6}},
		{"cursor", store.TicketFilter{Cursor: in[3].ID}, []int{3, 2, 1}},
		{"limit", store.TicketFilter{Limit: 2}, []int{6, 5}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			read(t, s, func(tx store.Tx) error {
				got, err := tx.ListTickets(c, tc.f)
				if err != nil {
					return err
				}
				gotIDs, wantIDs := []int64{}, []int64{}
				for _, k := range got {
					gotIDs = append(gotIDs, k.ID)
				}
				for _, i := range tc.want {
					wantIDs = append(wantIDs, in[i-1].ID)
				}
				same(t, "ids", gotIDs, wantIDs)
				return nil
			})
		})
	}
	// Ticket rows must still all be there after the injection attempts.
	read(t, s, func(tx store.Tx) error {
		got, err := tx.ListTickets(c, store.TicketFilter{})
		if err != nil {
			return err
		}
		same(t, "full row", got[2], in[3])
		return nil
	})
}

func testListTicketsPagination(t *testing.T, h Harness) {
	s := h.Open(t)
	c := ctx(t)
	const n = desk.MaxPageSize + 5
	write(t, s, func(tx store.Tx) error {
		for range n {
			k := desk.Ticket{Channel: desk.ChannelChat, Status: desk.StatusNew, Priority: desk.PriorityNormal}
			if err := tx.CreateTicket(c, &k); err != nil {
				return err
			}
		}
		return nil
	})
	read(t, s, func(tx store.Tx) error {
		got, err := tx.ListTickets(c, store.TicketFilter{})
		if err != nil {
			return err
		}
		if len(got) != desk.DefaultPage {
			t.Fatalf("default page %d, want %d", len(got), desk.DefaultPage)
		}
		got, err = tx.ListTickets(c, store.TicketFilter{Limit: 10000})
		if err != nil {
			return err
		}
		if len(got) != desk.MaxPageSize {
			t.Fatalf("capped page %d, want %d", len(got), desk.MaxPageSize)
		}
		seen := map[int64]bool{}
		var cursor int64
		for pages := 0; pages < n; pages++ {
			page, err := tx.ListTickets(c, store.TicketFilter{Cursor: cursor, Limit: 37})
			if err != nil {
				return err
			}
			if len(page) == 0 {
				break
			}
			for _, k := range page {
				if seen[k.ID] || (cursor != 0 && k.ID >= cursor) {
					t.Fatalf("ticket %d out of order or repeated (cursor %d)", k.ID, cursor)
				}
				seen[k.ID] = true
				cursor = k.ID
			}
		}
		if len(seen) != n {
			t.Fatalf("walk saw %d tickets, want %d", len(seen), n)
		}
		return nil
	})
}

func testChatCounts(t *testing.T, h Harness) {
	s := h.Open(t)
	c := ctx(t)
	const agent = 7
	mk := func(ch desk.Channel, st desk.Status, assignee int64, created time.Time) desk.Ticket {
		return desk.Ticket{Channel: ch, Status: st, Priority: desk.PriorityNormal, AssigneeID: assignee, CreatedAt: created}
	}
	in := []desk.Ticket{
		mk(desk.ChannelChat, desk.StatusOpen, agent, ts(0)),    // counts
		mk(desk.ChannelChat, desk.StatusPending, agent, ts(1)), // counts
		mk(desk.ChannelChat, desk.StatusSolved, agent, ts(2)),
		mk(desk.ChannelEmail, desk.StatusOpen, agent, ts(3)),
		mk(desk.ChannelChat, desk.StatusNew, 0, ts(10)), // queue 0
		mk(desk.ChannelChat, desk.StatusNew, 8, ts(11)), // assigned: not queued
		mk(desk.ChannelEmail, desk.StatusNew, 0, ts(12)),
		mk(desk.ChannelChat, desk.StatusNew, 0, ts(13)), // queue 1
		mk(desk.ChannelChat, desk.StatusNew, 0, ts(5)),  // imported earlier: queue 0, pushes others
	}
	write(t, s, func(tx store.Tx) error {
		for i := range in {
			if err := tx.CreateTicket(c, &in[i]); err != nil {
				return err
			}
		}
		return nil
	})
	read(t, s, func(tx store.Tx) error {
		n, err := tx.CountOpenChats(c, agent)
		if err != nil {
			return err
		}
		if n != 2 {
			t.Fatalf("open chats %d, want 2", n)
		}
		for i, want := range map[int]int{4: 1, 7: 2, 8: 0} {
			got, err := tx.QueuePosition(c, in[i].ID)
			if err != nil {
				return err
			}
			if got != want {
				t.Fatalf("queue position of #%d = %d, want %d", i, got, want)
			}
		}
		_, err = tx.QueuePosition(c, 99999)
		wantIs(t, "queue of missing ticket", err, desk.ErrNotFound)
		return nil
	})
}

func testMessages(t *testing.T, h Harness) {
	s := h.Open(t)
	c := ctx(t)
	k := desk.Ticket{Channel: desk.ChannelChat, Status: desk.StatusNew, Priority: desk.PriorityNormal, CreatedAt: ts(0)}
	write(t, s, func(tx store.Tx) error { return tx.CreateTicket(c, &k) })

	att := desk.Attachment{ID: "att1", TicketID: k.ID, Name: "入金.png", ContentType: "image/png", Size: 10, SHA256: "ab",
		UploaderKind: desk.AuthorContact, UploaderID: 3, CreatedAt: ts(1)}
	msgs := []desk.Message{
		{AuthorKind: desk.AuthorContact, AuthorID: 3, AuthorName: "王", Text: messy[0], Attachments: []desk.Attachment{att}, CreatedAt: ts(10)},
		{AuthorKind: desk.AuthorAgent, AuthorID: 5, AuthorName: "Mina", Internal: true, Text: "note: " + messy[5], CreatedAt: ts(20)},
		{AuthorKind: desk.AuthorBot, Text: messy[4], HTML: "<p>" + messy[6] + "</p>", CreatedAt: ts(30)},
		{AuthorKind: desk.AuthorAgent, AuthorID: 5, Text: messy[1], ClientID: "c-1", CreatedAt: ts(40)},
		{AuthorKind: desk.AuthorAgent, AuthorID: 5, Text: messy[2], CreatedAt: ts(50)},
		{AuthorKind: desk.AuthorContact, AuthorID: 3, Text: messy[3], CreatedAt: ts(60)},
	}
	for i := range msgs {
		msgs[i].TicketID = k.ID
		write(t, s, func(tx store.Tx) error {
			dup, err := tx.AppendMessage(c, &msgs[i])
			if dup {
				t.Fatalf("message %d reported as duplicate", i)
			}
			return err
		})
		if msgs[i].Seq != int64(i+1) || msgs[i].ID == 0 {
			t.Fatalf("message %d: seq %d id %d", i, msgs[i].Seq, msgs[i].ID)
		}
		// The ticket follows the conversation.
		want := map[int]func(desk.Ticket){
			0: func(got desk.Ticket) {
				if got.LastCustomerMsgAt == nil || !got.LastCustomerMsgAt.Equal(ts(10)) || got.FirstResponseAt != nil {
					t.Fatalf("after contact message: %+v", got)
				}
			},
			1: func(got desk.Ticket) {
				if got.FirstResponseAt != nil {
					t.Fatal("an internal note counted as first response")
				}
			},
			2: func(got desk.Ticket) {
				if got.FirstResponseAt != nil {
					t.Fatal("a bot message counted as first response")
				}
			},
			3: func(got desk.Ticket) {
				if got.FirstResponseAt == nil || !got.FirstResponseAt.Equal(ts(40)) {
					t.Fatalf("first response %v, want %v", got.FirstResponseAt, ts(40))
				}
			},
			4: func(got desk.Ticket) {
				if !got.FirstResponseAt.Equal(ts(40)) {
					t.Fatal("first response moved on a later agent reply")
				}
			},
			5: func(got desk.Ticket) {
				if !got.LastCustomerMsgAt.Equal(ts(60)) {
					t.Fatalf("last customer message %v", got.LastCustomerMsgAt)
				}
			},
		}[i]
		read(t, s, func(tx store.Tx) error {
			got, err := tx.GetTicket(c, k.ID)
			if err != nil {
				return err
			}
			if got.LastSeq != int64(i+1) || !got.UpdatedAt.Equal(msgs[i].CreatedAt) {
				t.Fatalf("ticket after message %d: last_seq %d updated %v", i, got.LastSeq, got.UpdatedAt)
			}
			want(got)
			return nil
		})
	}
	for i := range msgs {
		if msgs[i].Attachments == nil {
			msgs[i].Attachments = []desk.Attachment{}
		}
	}
	read(t, s, func(tx store.Tx) error {
		all, err := tx.ListMessages(c, k.ID, 0, 0, true)
		if err != nil {
			return err
		}
		same(t, "all messages", all, msgs)
		public, err := tx.ListMessages(c, k.ID, 0, 0, false)
		if err != nil {
			return err
		}
		same(t, "public messages", public, []desk.Message{msgs[0], msgs[2], msgs[3], msgs[4], msgs[5]})
		page, err := tx.ListMessages(c, k.ID, 2, 2, true)
		if err != nil {
			return err
		}
		same(t, "after seq 2, limit 2", page, msgs[2:4])
		none, err := tx.ListMessages(c, 99999, 0, 0, true)
		if err != nil {
			return err
		}
		if len(none) != 0 || none == nil {
			t.Fatalf("messages of missing ticket: %#v", none)
		}
		return nil
	})
	err := s.Write(c, func(tx store.Tx) error {
		_, err := tx.AppendMessage(c, &desk.Message{TicketID: 99999, AuthorKind: desk.AuthorContact, Text: "x"})
		return err
	})
	wantIs(t, "append to missing ticket", err, desk.ErrNotFound)
}

func testMessageDedup(t *testing.T, h Harness) {
	s := h.Open(t)
	c := ctx(t)
	k1 := desk.Ticket{Channel: desk.ChannelChat, Status: desk.StatusNew, Priority: desk.PriorityNormal}
	k2 := k1
	write(t, s, func(tx store.Tx) error {
		if err := tx.CreateTicket(c, &k1); err != nil {
			return err
		}
		return tx.CreateTicket(c, &k2)
	})
	first := desk.Message{TicketID: k1.ID, AuthorKind: desk.AuthorContact, Text: "hello", ClientID: "cid-1", CreatedAt: ts(0)}
	write(t, s, func(tx store.Tx) error { _, err := tx.AppendMessage(c, &first); return err })

	resend := desk.Message{TicketID: k1.ID, AuthorKind: desk.AuthorContact, Text: "hello (resent)", ClientID: "cid-1", CreatedAt: ts(9)}
	var dup bool
	write(t, s, func(tx store.Tx) error {
		var err error
		dup, err = tx.AppendMessage(c, &resend)
		return err
	})
	if !dup {
		t.Fatal("resend not reported as duplicate")
	}
	same(t, "resend answered with the stored message", resend, first)

	// FindContactMessage finds it by author and client id only, across
	// tickets; another customer's, or no client id, finds nothing.
	read(t, s, func(tx store.Tx) error {
		got, err := tx.FindContactMessage(c, first.AuthorID, "cid-1")
		if err != nil {
			return err
		}
		same(t, "found by client id", got, first)
		for _, q := range []struct {
			contact int64
			cid     string
		}{{first.AuthorID + 1, "cid-1"}, {first.AuthorID, "cid-2"}, {first.AuthorID, ""}} {
			if _, err := tx.FindContactMessage(c, q.contact, q.cid); !errors.Is(err, desk.ErrNotFound) {
				t.Errorf("FindContactMessage(%d, %q) = %v, want not found", q.contact, q.cid, err)
			}
		}
		return nil
	})

	// The same client id on another ticket, and no client id twice, are new.
	other := desk.Message{TicketID: k2.ID, AuthorKind: desk.AuthorContact, Text: "hi", ClientID: "cid-1"}
	noID1 := desk.Message{TicketID: k1.ID, AuthorKind: desk.AuthorContact, Text: "a"}
	noID2 := desk.Message{TicketID: k1.ID, AuthorKind: desk.AuthorContact, Text: "a"}
	write(t, s, func(tx store.Tx) error {
		for _, m := range []*desk.Message{&other, &noID1, &noID2} {
			if dup, err := tx.AppendMessage(c, m); err != nil || dup {
				return fmt.Errorf("append: dup=%v err=%w", dup, err)
			}
		}
		return nil
	})
	if other.Seq != 1 || noID1.Seq != 2 || noID2.Seq != 3 {
		t.Fatalf("seqs %d %d %d", other.Seq, noID1.Seq, noID2.Seq)
	}
	read(t, s, func(tx store.Tx) error {
		got, err := tx.GetTicket(c, k1.ID)
		if err != nil {
			return err
		}
		if got.LastSeq != 3 {
			t.Fatalf("a duplicate bumped last_seq: %d", got.LastSeq)
		}
		return nil
	})
}

func testMessageConcurrency(t *testing.T, h Harness) {
	s := h.Open(t)
	c := ctx(t)
	k := desk.Ticket{Channel: desk.ChannelChat, Status: desk.StatusNew, Priority: desk.PriorityNormal}
	write(t, s, func(tx store.Tx) error { return tx.CreateTicket(c, &k) })
	const workers, each = 8, 25
	var wg sync.WaitGroup
	errs := make(chan error, workers*each)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				err := s.Write(c, func(tx store.Tx) error {
					m := desk.Message{TicketID: k.ID, AuthorKind: desk.AuthorContact, Text: "m",
						ClientID: fmt.Sprintf("w%d-%d", w, i)}
					_, err := tx.AppendMessage(c, &m)
					return err
				})
				if err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("concurrent append: %v", err)
	}
	read(t, s, func(tx store.Tx) error {
		all, err := tx.ListMessages(c, k.ID, 0, 0, true)
		if err != nil {
			return err
		}
		if len(all) != workers*each {
			t.Fatalf("%d messages, want %d", len(all), workers*each)
		}
		for i, m := range all {
			if m.Seq != int64(i+1) {
				t.Fatalf("message %d has seq %d", i, m.Seq)
			}
		}
		got, err := tx.GetTicket(c, k.ID)
		if err != nil {
			return err
		}
		if got.LastSeq != workers*each {
			t.Fatalf("last_seq %d", got.LastSeq)
		}
		return nil
	})
}

func testEvents(t *testing.T, h Harness) {
	s := h.Open(t)
	c := ctx(t)
	k := desk.Ticket{Channel: desk.ChannelChat, Status: desk.StatusNew, Priority: desk.PriorityNormal}
	write(t, s, func(tx store.Tx) error { return tx.CreateTicket(c, &k) })
	evs := []desk.Event{
		{TicketID: k.ID, ActorKind: desk.AuthorSystem, Field: "created", New: "new", CreatedAt: ts(0)},
		{TicketID: k.ID, ActorKind: desk.AuthorAgent, ActorID: 5, Field: "status", Old: "new", New: "open", CreatedAt: ts(1)},
		{TicketID: k.ID, ActorKind: desk.AuthorAgent, ActorID: 5, Field: "subject", Old: messy[5], New: messy[0], CreatedAt: ts(2)},
	}
	write(t, s, func(tx store.Tx) error {
		for i := range evs {
			if err := tx.AddEvent(c, &evs[i]); err != nil {
				return err
			}
		}
		return nil
	})
	read(t, s, func(tx store.Tx) error {
		got, err := tx.ListEvents(c, k.ID)
		if err != nil {
			return err
		}
		same(t, "events", got, evs)
		return nil
	})
}

func appendAudit(t *testing.T, s store.Store, n int) []desk.AuditEntry {
	t.Helper()
	c := ctx(t)
	out := make([]desk.AuditEntry, n)
	write(t, s, func(tx store.Tx) error {
		for i := range out {
			out[i] = desk.AuditEntry{ActorKind: desk.AuthorAgent, ActorID: int64(i), ActorName: "민아", Action: "ticket.update",
				Target: fmt.Sprintf("ticket:%d", i), Detail: `{"subject":"` + messy[i%len(messy)] + `"}`, IP: "198.51.100.1"}
			if i%2 == 0 {
				out[i].At = ts(i)
			}
			if err := tx.AppendAudit(c, &out[i]); err != nil {
				return err
			}
		}
		return nil
	})
	return out
}

func listAudit(t *testing.T, s store.Store, after int64, limit int) []desk.AuditEntry {
	t.Helper()
	var got []desk.AuditEntry
	read(t, s, func(tx store.Tx) error {
		var err error
		got, err = tx.ListAudit(ctx(t), after, limit)
		return err
	})
	return got
}

func testAudit(t *testing.T, h Harness) {
	s := h.Open(t)
	if got := listAudit(t, s, 0, 0); len(got) != 0 {
		t.Fatalf("fresh audit: %+v", got)
	}
	in := appendAudit(t, s, 5)
	for i, e := range in {
		if e.ID != int64(i+1) || e.Hash != desk.AuditHash(e) || e.At.IsZero() {
			t.Fatalf("entry %d: %+v", i, e)
		}
	}
	if in[0].PrevHash != "" || in[1].PrevHash != in[0].Hash {
		t.Fatal("prev hashes not chained")
	}
	more := appendAudit(t, s, 2) // a second transaction continues the chain
	if more[0].ID != 6 || more[0].PrevHash != in[4].Hash {
		t.Fatalf("chain did not continue: %+v", more[0])
	}
	all := listAudit(t, s, 0, 0)
	same(t, "audit round trip", all, append(in, more...))
	if bad, why := desk.VerifyChain(0, "", all); bad != 0 {
		t.Fatalf("chain does not verify: %d %s", bad, why)
	}
	page := listAudit(t, s, 2, 3)
	same(t, "audit page", page, all[2:5])
	if bad, why := desk.VerifyChain(all[1].ID, all[1].Hash, page); bad != 0 {
		t.Fatalf("page does not verify: %d %s", bad, why)
	}
	// A rolled-back append leaves no trace in the chain.
	c := ctx(t)
	err := s.Write(c, func(tx store.Tx) error {
		if err := tx.AppendAudit(c, &desk.AuditEntry{Action: "x"}); err != nil {
			return err
		}
		return errors.New("abort")
	})
	if err == nil {
		t.Fatal("abort ignored")
	}
	next := appendAudit(t, s, 1)
	if next[0].ID != 8 || next[0].PrevHash != more[1].Hash {
		t.Fatalf("after rollback: %+v", next[0])
	}
}

func testAuditConcurrency(t *testing.T, h Harness) {
	s := h.Open(t)
	c := ctx(t)
	const workers, each = 4, 10
	var wg sync.WaitGroup
	errs := make(chan error, workers*each)
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range each {
				if err := s.Write(c, func(tx store.Tx) error {
					return tx.AppendAudit(c, &desk.AuditEntry{ActorKind: desk.AuthorSystem, Action: "auth.login"})
				}); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("concurrent audit: %v", err)
	}
	all := listAudit(t, s, 0, 0)
	if len(all) != workers*each {
		t.Fatalf("%d entries, want %d", len(all), workers*each)
	}
	if bad, why := desk.VerifyChain(0, "", all); bad != 0 {
		t.Fatalf("chain does not verify: %d %s", bad, why)
	}
}

func testAuditTamper(t *testing.T, h Harness) {
	tests := []struct {
		name  string
		sql   string
		bad   int64
		cause string
	}{
		{"edit detail", `UPDATE audit SET detail = '{"subject":"nothing to see"}' WHERE id = 3`, 3, "edited"},
		{"edit actor", `UPDATE audit SET actor_id = 42 WHERE id = 5`, 5, "edited"},
		{"delete", `DELETE FROM audit WHERE id = 3`, 4, "deleted"},
		{"delete first", `DELETE FROM audit WHERE id = 1`, 2, "deleted"},
		{"swap", `UPDATE audit SET id = -2 WHERE id = 2; UPDATE audit SET id = 2 WHERE id = 3; UPDATE audit SET id = 3 WHERE id = -2`, 2, "reordered"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := h.Open(t)
			appendAudit(t, s, 6)
			if bad, why := desk.VerifyChain(0, "", listAudit(t, s, 0, 0)); bad != 0 {
				t.Fatalf("untampered chain fails: %d %s", bad, why)
			}
			h.Exec(t, s, tc.sql)
			bad, why := desk.VerifyChain(0, "", listAudit(t, s, 0, 0))
			if bad != tc.bad || !strings.Contains(why, tc.cause) {
				t.Fatalf("VerifyChain = %d %q, want %d (%s)", bad, why, tc.bad, tc.cause)
			}
		})
	}
}
