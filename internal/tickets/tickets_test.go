package tickets_test

import (
	"context"
	"errors"
	"path/filepath"
	"strconv"
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

func TestMessageHTML(t *testing.T) { bothEngines(t, testMessageHTML) }

func testMessageHTML(t *testing.T) {
	f := setup(t)
	ctx := context.Background()
	all := tickets.Actor{Kind: desk.AuthorAgent, ID: f.alice.ID, Name: "Alice", All: true, CanAssign: true}
	// An HTML-only first message: sanitised, and its text derived.
	tk, err := f.svc.Create(ctx, all, tickets.CreateInput{Subject: "html", ContactID: f.contact.ID, TeamID: f.teamA,
		Message: &tickets.MessageInput{HTML: `<p onclick="steal()">Hello <b>there</b><script>alert(1)</script></p>` +
			`<p><a href="https://example.com/help">guide</a> <a href="javascript:alert(1)">click</a><img src="https://t.example/p.gif"></p>`}})
	if err != nil {
		t.Fatal(err)
	}
	v, err := f.svc.Get(ctx, all, tk.ID)
	if err != nil || len(v.Messages) != 1 {
		t.Fatalf("get: %+v %v", v, err)
	}
	m := v.Messages[0]
	wantHTML := `<p>Hello <b>there</b></p><p><a href="https://example.com/help" rel="nofollow noreferrer noopener" target="_blank">guide</a> click</p>`
	if m.HTML != wantHTML || m.Text != "Hello there\n\nguide click" {
		t.Fatalf("stored message:\nhtml %s\ntext %q", m.HTML, m.Text)
	}
	// Text given with HTML is kept as the plain alternative.
	r, _, err := f.svc.AddMessage(ctx, all, tk.ID, tickets.MessageInput{Text: "plain", HTML: `<i style="x">rich</i>`})
	if err != nil || r.Text != "plain" || r.HTML != "<i>rich</i>" {
		t.Fatalf("text+html: %+v %v", r, err)
	}
	// A customer's HTML-only chat message names the chat by its text.
	cm, ctk, _, err := f.svc.CustomerSend(ctx, f.contact, tickets.MessageInput{HTML: "<div>Deposit <u>missing</u></div>", ClientID: "h1"}, "ko")
	if err != nil || cm.Text != "Deposit missing" || ctk.Subject != "Deposit missing" || cm.HTML != "<div>Deposit <u>missing</u></div>" {
		t.Fatalf("customer html: %+v %+v %v", cm, ctk, err)
	}

	before := auditActions(t, f.st)
	bad := []struct {
		name  string
		in    tickets.MessageInput
		field string
	}{
		{"html too big", tickets.MessageInput{Text: "x", HTML: strings.Repeat("a", desk.MaxHTML+1)}, "html"},
		{"text of html too big", tickets.MessageInput{HTML: "<p>" + strings.Repeat("a", desk.MaxText+1) + "</p>"}, "html"},
		{"html grows too big", tickets.MessageInput{Text: "x", HTML: strings.Repeat("<", desk.MaxHTML/2)}, "html"},
		{"nul in html", tickets.MessageInput{Text: "x", HTML: "<p>a\x00b</p>"}, "html"},
		{"control in html", tickets.MessageInput{Text: "x", HTML: "<p>a\x1bb</p>"}, "html"},
		{"bad utf-8 in html", tickets.MessageInput{Text: "x", HTML: "<p>a\xffb</p>"}, "html"},
		{"nothing left", tickets.MessageInput{HTML: "<script>alert(1)</script><img src=x>"}, "text"},
	}
	for _, tc := range bad {
		_, _, err := f.svc.AddMessage(ctx, all, tk.ID, tc.in)
		var de *desk.Error
		if !errors.As(err, &de) || de.Code != desk.EInvalid || de.Fields[tc.field] == "" {
			t.Errorf("%s: %v; want invalid on %s", tc.name, err, tc.field)
		}
		_, err = f.svc.Create(ctx, all, tickets.CreateInput{Subject: "x", ContactID: f.contact.ID, TeamID: f.teamA, Message: &tc.in})
		if !errors.As(err, &de) || de.Code != desk.EInvalid || de.Fields["message."+tc.field] == "" {
			t.Errorf("%s (create): %v; want invalid on message.%s", tc.name, err, tc.field)
		}
	}
	if after := auditActions(t, f.st); len(after) != len(before) {
		t.Errorf("refused messages were audited: %v", after[len(before):])
	}
}

// TestBadTextBothEngines sends NUL bytes and invalid UTF-8 in every text a
// ticket create, update or reply carries. PostgreSQL refuses both in text
// columns, so anything unchecked would be a 500 there instead of a field
// error; nothing may be written.
func TestBadTextBothEngines(t *testing.T) { bothEngines(t, testBadText) }

func testBadText(t *testing.T) {
	f := setup(t)
	ctx := context.Background()
	all := tickets.Actor{Kind: desk.AuthorAgent, ID: f.alice.ID, Name: "Alice", All: true, CanAssign: true, CanWriteContacts: true}
	tk, err := f.svc.Create(ctx, all, tickets.CreateInput{Subject: "ok", ContactID: f.contact.ID, TeamID: f.teamA})
	if err != nil {
		t.Fatal(err)
	}
	base := func() tickets.CreateInput {
		return tickets.CreateInput{Subject: "x", ContactID: f.contact.ID, TeamID: f.teamA}
	}
	inline := func(c desk.Contact) tickets.CreateInput {
		in := base()
		in.ContactID = 0
		in.Contact = &c
		return in
	}
	msg := func(m tickets.MessageInput) tickets.CreateInput {
		in := base()
		in.Message = &m
		return in
	}
	with := func(mod func(*tickets.CreateInput)) tickets.CreateInput {
		in := base()
		mod(&in)
		return in
	}
	type createCase struct {
		in    tickets.CreateInput
		field string
	}
	var creates []createCase
	for _, bad := range []string{"\x00", "\xff\xfe"} {
		creates = append(creates,
			createCase{with(func(in *tickets.CreateInput) { in.Subject = "a" + bad }), "subject"},
			createCase{with(func(in *tickets.CreateInput) { in.Category = "kyc" + bad }), "category"},
			createCase{with(func(in *tickets.CreateInput) { in.Tags = []string{"vip" + bad} }), "tags[0]"},
			createCase{with(func(in *tickets.CreateInput) { in.Custom = map[string]string{"k" + bad: "v"} }), "custom.k" + bad},
			createCase{with(func(in *tickets.CreateInput) { in.Custom = map[string]string{"k": "v" + bad} }), "custom.k"},
			createCase{with(func(in *tickets.CreateInput) { in.Language = "ko" + bad }), "language"},
			createCase{inline(desk.Contact{Name: "n" + bad}), "contact.name"},
			createCase{inline(desk.Contact{ExternalUID: "u" + bad}), "contact.external_uid"},
			createCase{inline(desk.Contact{Phone: "+82" + bad}), "contact.phone"},
			createCase{inline(desk.Contact{TelegramID: "1" + bad}), "contact.telegram_id"},
			createCase{inline(desk.Contact{Emails: []string{"a" + bad + "@example.com"}}), "contact.emails[0]"},
			createCase{inline(desk.Contact{Tags: []string{"t" + bad}}), "contact.tags[0]"},
			createCase{inline(desk.Contact{Language: "en" + bad}), "contact.language"},
			createCase{msg(tickets.MessageInput{Text: "t" + bad}), "message.text"},
			createCase{msg(tickets.MessageInput{Text: "t", HTML: "<p>h" + bad + "</p>"}), "message.html"},
			createCase{msg(tickets.MessageInput{Text: "t", ClientID: "c" + bad}), "message.client_id"},
			createCase{msg(tickets.MessageInput{Text: "t", AttachmentIDs: []string{"at_" + bad}}), "message.attachment_ids[0]"},
		)
	}
	for _, tc := range creates {
		_, err := f.svc.Create(ctx, all, tc.in)
		var de *desk.Error
		if !errors.As(err, &de) || de.Code != desk.EInvalid || de.Fields[tc.field] == "" {
			t.Errorf("create, %q bad: %v; want invalid on %q", tc.field, err, tc.field)
		}
	}
	s := func(v string) *string { return &v }
	for _, bad := range []string{"\x00", "\xff\xfe"} {
		for _, tc := range []struct {
			p     tickets.Patch
			field string
		}{
			{tickets.Patch{Subject: s("a" + bad)}, "subject"},
			{tickets.Patch{Category: s("c" + bad)}, "category"},
			{tickets.Patch{Language: s("ko" + bad)}, "language"},
			{tickets.Patch{Tags: &[]string{"t" + bad}}, "tags[0]"},
			{tickets.Patch{Custom: &map[string]string{"k": "v" + bad}}, "custom.k"},
			{tickets.Patch{Custom: &map[string]string{"k" + bad: "v"}}, "custom.k" + bad},
		} {
			_, err := f.svc.Update(ctx, all, tk.ID, tc.p)
			var de *desk.Error
			if !errors.As(err, &de) || de.Code != desk.EInvalid || de.Fields[tc.field] == "" {
				t.Errorf("update, %q bad: %v; want invalid on %q", tc.field, err, tc.field)
			}
		}
		for _, tc := range []struct {
			in    tickets.MessageInput
			field string
		}{
			{tickets.MessageInput{Text: "t" + bad}, "text"},
			{tickets.MessageInput{HTML: "<p>" + bad + "</p>"}, "html"},
			{tickets.MessageInput{Text: "t", ClientID: "c" + bad}, "client_id"},
			{tickets.MessageInput{Text: "t", AttachmentIDs: []string{"at_aaaaaaaaaaaaaaaaaaaaaaaaa" + bad}}, "attachment_ids[0]"},
		} {
			_, _, err := f.svc.AddMessage(ctx, all, tk.ID, tc.in)
			var de *desk.Error
			if !errors.As(err, &de) || de.Code != desk.EInvalid || de.Fields[tc.field] == "" {
				t.Errorf("reply, %q bad: %v; want invalid on %q", tc.field, err, tc.field)
			}
			_, _, _, err = f.svc.CustomerSend(ctx, f.contact, tc.in, "ko")
			if !errors.As(err, &de) || de.Code != desk.EInvalid || de.Fields[tc.field] == "" {
				t.Errorf("customer send, %q bad: %v; want invalid on %q", tc.field, err, tc.field)
			}
		}
	}
	// Filters are free text in queries too.
	for _, bad := range []string{"\x00", "a\xff"} {
		for field, flt := range map[string]store.TicketFilter{"tag": {Tag: bad}, "q": {Text: bad}} {
			_, _, err := f.svc.List(ctx, all, flt)
			var de *desk.Error
			if !errors.As(err, &de) || de.Code != desk.EInvalid || de.Fields[field] == "" {
				t.Errorf("list by %s %q: %v; want invalid on %s", field, bad, err, field)
			}
		}
	}
	items, _, _ := f.svc.List(ctx, all, store.TicketFilter{})
	if len(items) != 1 || len(auditActions(t, f.st)) != 1 {
		t.Fatalf("refused input left traces: %d tickets, audit %v", len(items), auditActions(t, f.st))
	}
}

func TestTagFilterCase(t *testing.T) { bothEngines(t, testTagFilterCase) }

func testTagFilterCase(t *testing.T) {
	f := setup(t)
	ctx := context.Background()
	all := tickets.Actor{Kind: desk.AuthorAgent, ID: f.alice.ID, Name: "Alice", All: true, CanAssign: true}
	tk, err := f.svc.Create(ctx, all, tickets.CreateInput{Subject: "x", ContactID: f.contact.ID, TeamID: f.teamA, Tags: []string{"Security", "KYC"}})
	if err != nil {
		t.Fatal(err)
	}
	for _, tag := range []string{"security", "SECURITY", " Security ", "kyc"} {
		items, _, err := f.svc.List(ctx, all, store.TicketFilter{Tag: tag})
		if err != nil || len(items) != 1 || items[0].ID != tk.ID {
			t.Errorf("tag %q: %v %v", tag, items, err)
		}
	}
}

func TestInlineContact(t *testing.T) { bothEngines(t, testInlineContact) }

func testInlineContact(t *testing.T) {
	f := setup(t)
	ctx := context.Background()
	noContacts := tickets.Actor{Kind: desk.AuthorToken, ID: 7, Name: "ci", All: true}
	newContact := func() *desk.Contact {
		return &desk.Contact{Name: "New Person", ExternalUID: "UID-NEW", Emails: []string{"new@example.com"}}
	}
	// Without contact.write a new contact is refused, and nothing is left.
	_, err := f.svc.Create(ctx, noContacts, tickets.CreateInput{Subject: "x", Contact: newContact()})
	if desk.ErrorCode(err) != desk.EForbidden {
		t.Fatalf("new contact without contact.write: %v", err)
	}
	items, _, _ := f.svc.List(ctx, tickets.System, store.TicketFilter{})
	if len(items) != 0 || len(auditActions(t, f.st)) != 0 {
		t.Fatalf("refused create left traces: %d tickets, audit %v", len(items), auditActions(t, f.st))
	}
	// An existing contact, found by its uid, needs no contact permission.
	tk, err := f.svc.Create(ctx, noContacts, tickets.CreateInput{Subject: "x", Contact: &desk.Contact{ExternalUID: "UID-1"}})
	if err != nil || tk.ContactID != f.contact.ID {
		t.Fatalf("existing contact: %+v %v", tk, err)
	}
	if got := auditActions(t, f.st); strings.Join(got, ",") != "ticket.create" {
		t.Fatalf("audit for an existing contact: %v", got)
	}
	// With it, the contact is created and audited in the same transaction,
	// before the ticket it came with, without personal data.
	writer := noContacts
	writer.CanWriteContacts = true
	tk, err = f.svc.Create(ctx, writer, tickets.CreateInput{Subject: "x", Contact: newContact()})
	if err != nil {
		t.Fatal(err)
	}
	var es []desk.AuditEntry
	f.st.Read(ctx, func(tx store.Tx) error {
		es, err = tx.ListAudit(ctx, 0, 1000)
		return err
	})
	if len(es) != 3 {
		t.Fatalf("audit: %+v", es)
	}
	c := es[1]
	if c.Action != "contact.create" || c.Target != "contact:"+strconv.FormatInt(tk.ContactID, 10) ||
		c.Detail != `{"ticket_id":`+strconv.FormatInt(tk.ID, 10)+`}` || c.ActorKind != desk.AuthorToken || es[2].Action != "ticket.create" {
		t.Fatalf("contact audit: %+v then %s", c, es[2].Action)
	}
}

func TestUpdateAuditHasNoValues(t *testing.T) { bothEngines(t, testUpdateAuditHasNoValues) }

func testUpdateAuditHasNoValues(t *testing.T) {
	f := setup(t)
	ctx := context.Background()
	all := tickets.Actor{Kind: desk.AuthorAgent, ID: f.alice.ID, Name: "Alice", All: true, CanAssign: true}
	tk, err := f.svc.Create(ctx, all, tickets.CreateInput{Subject: "Card 4111 declined", ContactID: f.contact.ID, TeamID: f.teamA,
		Category: "cards", Tags: []string{"kim-minsu"}, Custom: map[string]string{"iban": "DE89370400440532013000", "order": "A1"}})
	if err != nil {
		t.Fatal(err)
	}
	subject, category, status, pri := "Mr Kim's card", "payments", desk.StatusPending, desk.PriorityHigh
	tags := []string{"kim-minsu", "vip"}
	custom := map[string]string{"iban": "GB33BUKB20201555555555", "order": "A1", "phone": "+821012345678"}
	if _, err := f.svc.Update(ctx, all, tk.ID, tickets.Patch{Subject: &subject, Category: &category, Status: &status,
		Priority: &pri, Tags: &tags, Custom: &custom}); err != nil {
		t.Fatal(err)
	}
	var (
		es  []desk.AuditEntry
		evs []desk.Event
	)
	f.st.Read(ctx, func(tx store.Tx) error {
		if es, err = tx.ListAudit(ctx, 0, 1000); err != nil {
			return err
		}
		evs, err = tx.ListEvents(ctx, tk.ID)
		return err
	})
	last := es[len(es)-1]
	want := `{"category":{"new_len":8,"old_len":5},"custom":{"keys":["iban","phone"]},"priority":{"new":"high","old":"normal"},` +
		`"status":{"new":"pending","old":"new"},"subject":{"new_len":13,"old_len":18},"tags":{"new_count":2,"old_count":1}}`
	if last.Action != "ticket.update" || last.Detail != want {
		t.Fatalf("audit detail\n got %s\nwant %s", last.Detail, want)
	}
	for _, secret := range []string{"Kim", "4111", "payments", "cards", "DE89", "GB33", "+8210", "kim-minsu", "vip"} {
		if strings.Contains(last.Detail, secret) {
			t.Errorf("audit detail holds %q: %s", secret, last.Detail)
		}
	}
	// The timeline (editable, erasable) still shows what changed.
	var sawSubject bool
	for _, e := range evs {
		if e.Field == "subject" && e.Old == "Card 4111 declined" && e.New == subject {
			sawSubject = true
		}
	}
	if !sawSubject {
		t.Errorf("events lost the subject change: %+v", evs)
	}
}
