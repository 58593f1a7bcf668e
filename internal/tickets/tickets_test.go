package tickets_test

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"custos/internal/desk"
	"custos/internal/realtime"
	"custos/internal/store"
	"custos/internal/store/pgtest"
	"custos/internal/store/postgres"
	"custos/internal/store/sqlite"
	"custos/internal/tickets"
)

type recorder struct {
	mu  sync.Mutex
	evs []realtime.Event
}

func (r *recorder) Publish(ev realtime.Event) {
	r.mu.Lock()
	r.evs = append(r.evs, ev)
	r.mu.Unlock()
}

func (r *recorder) types() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for _, e := range r.evs {
		out = append(out, e.Type)
	}
	return out
}

type fixture struct {
	st           store.Store
	svc          *tickets.Service
	pub          *recorder
	teamA, teamB int64
	alice, bob   desk.Agent // alice in A, bob in B
	contact      desk.Contact
	aliceA, bobA tickets.Actor
}

type migratable interface {
	store.Store
	Migrate(ctx context.Context) (int, error)
}

// bothEngines runs fn on SQLite and on PostgreSQL (when CUSTOS_TEST_PG is
// set, which the test command requires); setup picks the engine from the
// subtest's name.
func bothEngines(t *testing.T, fn func(t *testing.T)) {
	t.Run("sqlite", fn)
	t.Run("postgres", fn)
}

func setup(t *testing.T) *fixture {
	t.Helper()
	ctx := context.Background()
	var (
		db  migratable
		err error
	)
	pg := strings.HasSuffix(t.Name(), "/postgres")
	if pg {
		db, err = postgres.Open(ctx, pgtest.DSN(t))
	} else {
		db, err = sqlite.Open(ctx, filepath.Join(t.TempDir(), "custos.db"))
	}
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	b := store.NewBatcher(db, store.BatchOptions{PassThrough: pg})
	t.Cleanup(func() { b.Close(); db.Close() })
	f := &fixture{st: b, pub: &recorder{}}
	f.svc = tickets.New(b, f.pub)
	err = b.Write(ctx, func(tx store.Tx) error {
		ta := desk.Team{Name: "A", Kind: desk.TeamL1}
		tb := desk.Team{Name: "B", Kind: desk.TeamL2}
		for _, tm := range []*desk.Team{&ta, &tb} {
			tm.Validate()
			if err := tx.CreateTeam(ctx, tm); err != nil {
				return err
			}
		}
		f.teamA, f.teamB = ta.ID, tb.ID
		f.alice = desk.Agent{Login: "alice", Name: "Alice", Role: desk.RoleAgent, TeamIDs: []int64{ta.ID}, ChatLimit: 3}
		f.bob = desk.Agent{Login: "bob", Name: "Bob", Role: desk.RoleAgent, TeamIDs: []int64{tb.ID}, ChatLimit: 3}
		for _, a := range []*desk.Agent{&f.alice, &f.bob} {
			a.Validate()
			if err := tx.CreateAgent(ctx, a, "x"); err != nil {
				return err
			}
		}
		f.contact = desk.Contact{Name: "김민수", ExternalUID: "UID-1", Language: "ko", VIPTier: 2}
		f.contact.Validate()
		return tx.CreateContact(ctx, &f.contact)
	})
	if err != nil {
		t.Fatal(err)
	}
	f.aliceA = tickets.Actor{Kind: desk.AuthorAgent, ID: f.alice.ID, Name: "Alice", Teams: []int64{f.teamA}}
	f.bobA = tickets.Actor{Kind: desk.AuthorAgent, ID: f.bob.ID, Name: "Bob", Teams: []int64{f.teamB}}
	return f
}

func auditActions(t *testing.T, st store.Store) []string {
	var out []string
	st.Read(context.Background(), func(tx store.Tx) error {
		es, err := tx.ListAudit(context.Background(), 0, 1000)
		for _, e := range es {
			out = append(out, e.Action)
		}
		return err
	})
	return out
}

func TestCreateScopingAndAudit(t *testing.T) { bothEngines(t, testCreateScopingAndAudit) }

func testCreateScopingAndAudit(t *testing.T) {
	f := setup(t)
	ctx := context.Background()
	tk, err := f.svc.Create(ctx, f.aliceA, tickets.CreateInput{
		Channel: desk.ChannelAPI, Subject: "Deposit missing", ContactID: f.contact.ID, TeamID: f.teamA,
		Message: &tickets.MessageInput{Text: "first", ClientID: "c1"},
	})
	if err != nil {
		t.Fatal(err)
	}
	if tk.Ref == "" || tk.Tier != 2 || tk.Language != "ko" || tk.Status != desk.StatusOpen || tk.AssigneeID != f.alice.ID {
		t.Fatalf("ticket defaults wrong: %+v", tk)
	}
	if _, err := f.svc.Get(ctx, f.bobA, tk.ID); !errors.Is(err, desk.ErrNotFound) {
		t.Fatalf("bob (team B) must not see team A's ticket: %v", err)
	}
	items, _, err := f.svc.List(ctx, f.bobA, store.TicketFilter{})
	if err != nil || len(items) != 0 {
		t.Fatalf("bob's list: %v %v", items, err)
	}
	if _, err := f.svc.Update(ctx, f.bobA, tk.ID, tickets.Patch{}); !errors.Is(err, desk.ErrNotFound) {
		t.Fatalf("bob update: %v", err)
	}
	v, err := f.svc.Get(ctx, f.aliceA, tk.ID)
	if err != nil || len(v.Messages) != 1 || v.Messages[0].Seq != 1 || len(v.Events) != 3 {
		t.Fatalf("view: %+v %v", v, err)
	}
	if got := auditActions(t, f.st); len(got) != 2 || got[0] != "ticket.create" || got[1] != "message.create" {
		t.Fatalf("audit: %v", got)
	}
	// Assigning to someone else needs CanAssign.
	bobID := f.bob.ID
	if _, err := f.svc.Update(ctx, f.aliceA, tk.ID, tickets.Patch{AssigneeID: &bobID}); desk.ErrorCode(err) != desk.EForbidden {
		t.Fatalf("assign to other without permission: %v", err)
	}
}

func TestCreateValidationWritesNothing(t *testing.T) {
	bothEngines(t, testCreateValidationWritesNothing)
}

func testCreateValidationWritesNothing(t *testing.T) {
	f := setup(t)
	ctx := context.Background()
	cases := []tickets.CreateInput{
		{Subject: "", ContactID: f.contact.ID},
		{Subject: "x", ContactID: 999999},
		{Subject: "x", ContactID: f.contact.ID, TeamID: 999},
		{Subject: "x", ContactID: f.contact.ID, Priority: "bogus"},
		{Subject: "x", ContactID: f.contact.ID, Message: &tickets.MessageInput{Text: ""}},
		{Subject: "x", ContactID: f.contact.ID, Message: &tickets.MessageInput{Text: "ok", AttachmentIDs: []string{"at_nope"}}},
	}
	all := tickets.Actor{Kind: desk.AuthorAgent, ID: f.alice.ID, All: true, CanAssign: true}
	for i, in := range cases {
		_, err := f.svc.Create(ctx, all, in)
		if desk.ErrorCode(err) != desk.EInvalid {
			t.Errorf("case %d: want invalid, got %v", i, err)
		}
		var de *desk.Error
		if errors.As(err, &de) && len(de.Fields) == 0 {
			t.Errorf("case %d: no field details: %v", i, err)
		}
	}
	items, _, _ := f.svc.List(ctx, all, store.TicketFilter{})
	if len(items) != 0 || len(auditActions(t, f.st)) != 0 || len(f.pub.types()) != 0 {
		t.Fatalf("failed creates left traces: %d tickets, audit %v, events %v", len(items), auditActions(t, f.st), f.pub.types())
	}
}

func TestReplySideEffects(t *testing.T) { bothEngines(t, testReplySideEffects) }

func testReplySideEffects(t *testing.T) {
	f := setup(t)
	ctx := context.Background()
	c := f.contact
	m, tk, dup, err := f.svc.CustomerSend(ctx, c, tickets.MessageInput{Text: "출금이 안 돼요\nhelp", ClientID: "m1"}, "ko")
	if err != nil || dup || m.Seq != 1 || tk.Channel != desk.ChannelChat || tk.Subject != "출금이 안 돼요" || tk.Priority != desk.PriorityHigh || tk.TeamID != f.teamA {
		t.Fatalf("first send: %+v %+v %v %v", m, tk, dup, err)
	}
	m2, tk2, dup, err := f.svc.CustomerSend(ctx, c, tickets.MessageInput{Text: "again", ClientID: "m1"}, "ko")
	if err != nil || !dup || m2.ID != m.ID || tk2.ID != tk.ID {
		t.Fatalf("resend must be a duplicate: %+v %v %v", m2, dup, err)
	}
	all := tickets.Actor{Kind: desk.AuthorAgent, ID: f.alice.ID, Name: "Alice", All: true}
	r, _, err := f.svc.AddMessage(ctx, all, tk.ID, tickets.MessageInput{Text: "On it"})
	if err != nil || r.Seq != 2 {
		t.Fatalf("reply: %+v %v", r, err)
	}
	v, _ := f.svc.Get(ctx, all, tk.ID)
	if v.Ticket.AssigneeID != f.alice.ID || v.Ticket.Status != desk.StatusOpen || v.Ticket.FirstResponseAt == nil {
		t.Fatalf("reply side effects: %+v", v.Ticket)
	}
	// An internal note is hidden from the customer.
	if _, _, err := f.svc.AddMessage(ctx, all, tk.ID, tickets.MessageInput{Text: "note", Internal: true}); err != nil {
		t.Fatal(err)
	}
	cm, err := f.svc.CustomerMessages(ctx, c.ID, tk.ID, 0, 0)
	if err != nil || len(cm) != 2 {
		t.Fatalf("customer sees %d messages, want 2 (no note): %v", len(cm), err)
	}
	// Solve, then the customer writes again: a new conversation.
	solved := desk.StatusSolved
	st, err := f.svc.Update(ctx, all, tk.ID, tickets.Patch{Status: &solved})
	if err != nil || st.SolvedAt == nil {
		t.Fatalf("solve: %+v %v", st, err)
	}
	// A late resend of a message of the solved chat is still a duplicate:
	// it neither opens a new chat nor reopens the old one.
	m4, tk4, dup, err := f.svc.CustomerSend(ctx, c, tickets.MessageInput{Text: "again", ClientID: "m1"}, "ko")
	if err != nil || !dup || m4.ID != m.ID || tk4.ID != tk.ID || tk4.Status != desk.StatusSolved {
		t.Fatalf("resend after solve: %+v %+v dup=%v %v", m4, tk4, dup, err)
	}
	if items, _, _ := f.svc.List(ctx, all, store.TicketFilter{ContactID: c.ID}); len(items) != 1 {
		t.Fatalf("resend after solve opened a ticket: %d tickets", len(items))
	}
	_, tk3, _, err := f.svc.CustomerSend(ctx, c, tickets.MessageInput{Text: "new question", ClientID: "m9"}, "ko")
	if err != nil || tk3.ID == tk.ID {
		t.Fatalf("after solve a new chat must open: %v %v", tk3.ID, err)
	}
	// Customers cannot reach others' conversations.
	if _, err := f.svc.CustomerMessages(ctx, c.ID+100, tk.ID, 0, 0); !errors.Is(err, desk.ErrNotFound) {
		t.Fatalf("other contact: %v", err)
	}
	want := map[string]bool{realtime.TicketCreated: true, realtime.MessageCreated: true, realtime.TicketUpdated: true}
	for _, ty := range f.pub.types() {
		delete(want, ty)
	}
	if len(want) != 0 {
		t.Fatalf("missing published events %v in %v", want, f.pub.types())
	}
}

func TestConcurrentSendsKeepOrder(t *testing.T) { bothEngines(t, testConcurrentSendsKeepOrder) }

func testConcurrentSendsKeepOrder(t *testing.T) {
	f := setup(t)
	ctx := context.Background()
	_, tk, _, err := f.svc.CustomerSend(ctx, f.contact, tickets.MessageInput{Text: "hi", ClientID: "c0"}, "")
	if err != nil {
		t.Fatal(err)
	}
	all := tickets.Actor{Kind: desk.AuthorAgent, ID: f.alice.ID, Name: "Alice", All: true}
	var wg sync.WaitGroup
	errs := make(chan error, 100)
	for g := 0; g < 10; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for i := 0; i < 10; i++ {
				var err error
				if g%2 == 0 {
					_, _, _, err = f.svc.CustomerSend(ctx, f.contact, tickets.MessageInput{Text: "x", ClientID: "c" + string(rune('a'+g)) + string(rune('a'+i))}, "")
				} else {
					_, _, err = f.svc.AddMessage(ctx, all, tk.ID, tickets.MessageInput{Text: "y"})
				}
				if err != nil {
					errs <- err
				}
			}
		}(g)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	ms, err := f.svc.CustomerMessages(ctx, f.contact.ID, tk.ID, 0, 0)
	if err != nil || len(ms) != 101 {
		t.Fatalf("got %d messages: %v", len(ms), err)
	}
	for i, m := range ms {
		if m.Seq != int64(i+1) {
			t.Fatalf("message %d has seq %d", i, m.Seq)
		}
	}
}

func TestChatLimit(t *testing.T) { bothEngines(t, testChatLimit) }

func testChatLimit(t *testing.T) {
	f := setup(t) // alice: ChatLimit 3, team A
	ctx := context.Background()
	lead := tickets.Actor{Kind: desk.AuthorAgent, ID: f.bob.ID, Name: "Lead", All: true, CanAssign: true}
	var ids []int64
	for i := 0; i < 4; i++ {
		c := desk.Contact{Name: "c", ExternalUID: "limit-" + string(rune('a'+i))}
		c.Validate()
		if err := f.st.Write(ctx, func(tx store.Tx) error { return tx.CreateContact(ctx, &c) }); err != nil {
			t.Fatal(err)
		}
		_, tk, _, err := f.svc.CustomerSend(ctx, c, tickets.MessageInput{Text: "help", ClientID: "x"}, "en")
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, tk.ID)
	}
	alice := f.alice.ID
	for _, id := range ids[:3] {
		if _, err := f.svc.Update(ctx, lead, id, tickets.Patch{AssigneeID: &alice}); err != nil {
			t.Fatalf("assign within limit: %v", err)
		}
	}
	_, err := f.svc.Update(ctx, lead, ids[3], tickets.Patch{AssigneeID: &alice})
	if desk.ErrorCode(err) != desk.EConflict || !strings.Contains(err.Error(), "limit of 3") {
		t.Fatalf("4th chat must be refused: %v", err)
	}
	// Replying to a 4th chat does not take it either.
	aa := tickets.Actor{Kind: desk.AuthorAgent, ID: alice, Name: "Alice", All: true}
	if _, _, err := f.svc.AddMessage(ctx, aa, ids[3], tickets.MessageInput{Text: "hi"}); err != nil {
		t.Fatal(err)
	}
	v, _ := f.svc.Get(ctx, aa, ids[3])
	if v.Ticket.AssigneeID != 0 {
		t.Fatalf("reply over the limit assigned the chat: %+v", v.Ticket)
	}
	// Solving one frees a slot.
	solved := desk.StatusSolved
	if _, err := f.svc.Update(ctx, aa, ids[0], tickets.Patch{Status: &solved}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.Update(ctx, lead, ids[3], tickets.Patch{AssigneeID: &alice}); err != nil {
		t.Fatalf("after solving one: %v", err)
	}
}
