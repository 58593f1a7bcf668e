// Package storetest is the contract test suite every store.Store
// implementation must pass (SQLite and PostgreSQL). A backend's own test
// calls Run with a Harness that hands out a fresh, migrated database per
// subtest, so subtests never see each other's rows.
//
// The suite tests behaviour through the store.Store interface only; raw SQL
// (Harness.Exec) is used solely to tamper with the audit table the way an
// attacker with database access would.
package storetest

import (
	"bytes"
	"context"
	"errors"
	"reflect"
	"testing"
	"time"

	"custos/internal/desk"
	"custos/internal/store"
)

// Harness connects the suite to one backend.
type Harness struct {
	// Open returns a fresh, migrated, empty store; the harness closes it
	// at test cleanup.
	Open func(t *testing.T) store.Store
	// Exec runs raw SQL against the database behind s.
	Exec func(t *testing.T, s store.Store, sql string)
}

// Run runs every contract test against the backend.
func Run(t *testing.T, h Harness) {
	tests := []struct {
		name string
		fn   func(*testing.T, Harness)
	}{
		{"Transactions", testTransactions},
		{"Savepoint", testSavepoint},
		{"Contacts", testContacts},
		{"ListContacts", testListContacts},
		{"Blobs", testBlobs},
		{"Teams", testTeams},
		{"Agents", testAgents},
		{"RecoveryCodes", testRecoveryCodes},
		{"Sessions", testSessions},
		{"Tokens", testTokens},
		{"Tickets", testTickets},
		{"TicketRefs", testTicketRefs},
		{"ListTicketsFilters", testListTicketsFilters},
		{"ListTicketsPagination", testListTicketsPagination},
		{"ChatCounts", testChatCounts},
		{"Messages", testMessages},
		{"MessageDedup", testMessageDedup},
		{"MessageConcurrency", testMessageConcurrency},
		{"Events", testEvents},
		{"Attachments", testAttachments},
		{"Idempotency", testIdempotency},
		{"Devices", testDevices},
		{"Audit", testAudit},
		{"AuditConcurrency", testAuditConcurrency},
		{"AuditTamper", testAuditTamper},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, h) })
	}
}

// Texts that must survive storage verbatim: scripts the desk serves, emoji,
// and strings that would hurt if anything concatenated them into SQL/HTML.
var messy = []string{
	"提现一直没有到账，请帮忙查看",
	"입금이 반영되지 않았어요",
	"ถอนเงินไม่ได้ ช่วยด้วยครับ",
	"出金が反映されません",
	"🚀💸 USDT → TRC20 ✅",
	"'; DROP TABLE tickets;--",
	`<script>alert("x")</script> & <b>bold</b>`,
	`back\slash 100% _under_ "quoted" 'single'`,
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return c
}

func write(t *testing.T, s store.Store, fn func(store.Tx) error) {
	t.Helper()
	if err := s.Write(ctx(t), fn); err != nil {
		t.Fatalf("write: %v", err)
	}
}

func read(t *testing.T, s store.Store, fn func(store.Tx) error) {
	t.Helper()
	if err := s.Read(ctx(t), fn); err != nil {
		t.Fatalf("read: %v", err)
	}
}

// wantIs fails unless err matches target (desk.ErrNotFound, desk.ErrConflict).
func wantIs(t *testing.T, what string, err, target error) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Fatalf("%s: got error %v, want %v", what, err, target)
	}
	var de *desk.Error
	if !errors.As(err, &de) {
		t.Fatalf("%s: error %v is not a *desk.Error", what, err)
	}
}

func same(t *testing.T, what string, got, want any) {
	t.Helper()
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("%s:\n got  %+v\n want %+v", what, got, want)
	}
}

// ts is a fixed, microsecond-exact UTC time; off shifts it by seconds.
func ts(off int) time.Time {
	return time.Date(2025, 3, 14, 9, 26, 53, 589793000, time.UTC).Add(time.Duration(off) * time.Second)
}

func ptr(t time.Time) *time.Time { return &t }

func testTransactions(t *testing.T, h Harness) {
	s := h.Open(t)
	c := ctx(t)
	if err := s.Ping(c); err != nil {
		t.Fatalf("ping: %v", err)
	}
	if d := s.Dialect(); d != "sqlite" && d != "postgres" {
		t.Fatalf("dialect %q", d)
	}

	boom := errors.New("boom")
	err := s.Write(c, func(tx store.Tx) error {
		if err := tx.CreateTeam(c, &desk.Team{Name: "rolled back", Kind: desk.TeamL1}); err != nil {
			return err
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("write returned %v, want the callback's error", err)
	}
	// A conflict inside a write rolls back the writes before it too.
	write(t, s, func(tx store.Tx) error {
		return tx.CreateAgent(c, &desk.Agent{Login: "taken", Role: desk.RoleAgent}, "h")
	})
	err = s.Write(c, func(tx store.Tx) error {
		if err := tx.CreateTeam(c, &desk.Team{Name: "also rolled back", Kind: desk.TeamL1}); err != nil {
			return err
		}
		return tx.CreateAgent(c, &desk.Agent{Login: "taken", Role: desk.RoleAgent}, "h")
	})
	wantIs(t, "duplicate login", err, desk.ErrConflict)

	err = s.Read(c, func(tx store.Tx) error {
		return tx.CreateTeam(c, &desk.Team{Name: "in a read", Kind: desk.TeamL1})
	})
	if err == nil {
		t.Fatal("a write inside Read succeeded")
	}
	read(t, s, func(tx store.Tx) error {
		teams, err := tx.ListTeams(c)
		if err != nil {
			return err
		}
		if len(teams) != 0 {
			t.Fatalf("teams after rollbacks: %+v", teams)
		}
		return nil
	})
}

func testSavepoint(t *testing.T, h Harness) {
	s := h.Open(t)
	c := ctx(t)
	boom := errors.New("boom")
	write(t, s, func(tx store.Tx) error {
		if err := tx.CreateTeam(c, &desk.Team{Name: "outer", Kind: desk.TeamL1}); err != nil {
			return err
		}
		err := tx.Savepoint(c, func(tx store.Tx) error {
			if err := tx.CreateTeam(c, &desk.Team{Name: "inner undone", Kind: desk.TeamL2}); err != nil {
				return err
			}
			return boom
		})
		if !errors.Is(err, boom) {
			t.Fatalf("savepoint returned %v", err)
		}
		// A constraint violation inside a savepoint must leave the
		// transaction usable (PostgreSQL aborts it unless rolled back).
		err = tx.Savepoint(c, func(tx store.Tx) error {
			if err := tx.CreateAgent(c, &desk.Agent{Login: "dup", Role: desk.RoleAgent}, "h"); err != nil {
				return err
			}
			if err := tx.CreateAgent(c, &desk.Agent{Login: "dup", Role: desk.RoleAgent}, "h"); err != nil {
				return err
			}
			return tx.UpdateAgent(c, &desk.Agent{ID: 999999, Login: "x", Role: desk.RoleAgent})
		})
		wantIs(t, "duplicate in savepoint", err, desk.ErrConflict)
		if err := tx.Savepoint(c, func(tx store.Tx) error {
			return tx.CreateTeam(c, &desk.Team{Name: "inner kept", Kind: desk.TeamVIP})
		}); err != nil {
			t.Fatalf("savepoint: %v", err)
		}
		return tx.CreateTeam(c, &desk.Team{Name: "outer after", Kind: desk.TeamExpert})
	})
	read(t, s, func(tx store.Tx) error {
		teams, err := tx.ListTeams(c)
		if err != nil {
			return err
		}
		var names []string
		for _, tm := range teams {
			names = append(names, tm.Name)
		}
		same(t, "teams", names, []string{"outer", "inner kept", "outer after"})
		if _, err := tx.GetAgentByLogin(c, "dup"); !errors.Is(err, desk.ErrNotFound) {
			t.Fatalf("agent from rolled-back savepoint: %v", err)
		}
		return nil
	})
}

func testContacts(t *testing.T, h Harness) {
	s := h.Open(t)
	c := ctx(t)
	for i, text := range messy {
		in := desk.Contact{
			ExternalUID: "uid-" + text,
			Name:        text,
			Emails:      []string{"a@example.com", text + "@例子.测试"},
			Phone:       "+82 10-1234-5678",
			TelegramID:  "tg" + text,
			Language:    "zh-CN",
			VIPTier:     i,
			KYCLevel:    2,
			Tags:        []string{text, "vip"},
			CreatedAt:   ts(i),
		}
		write(t, s, func(tx store.Tx) error { return tx.CreateContact(c, &in) })
		if in.ID == 0 || !in.UpdatedAt.Equal(in.CreatedAt) {
			t.Fatalf("create did not fill ID/UpdatedAt: %+v", in)
		}
		read(t, s, func(tx store.Tx) error {
			got, err := tx.GetContact(c, in.ID)
			if err != nil {
				return err
			}
			same(t, "contact round trip", got, in)
			got, err = tx.GetContactByUID(c, in.ExternalUID)
			if err != nil {
				return err
			}
			same(t, "contact by uid", got, in)
			return nil
		})
	}

	// Empty lists come back as empty, not null; several contacts may have
	// no external uid; a taken uid is a conflict.
	var anon1, anon2 desk.Contact
	write(t, s, func(tx store.Tx) error {
		if err := tx.CreateContact(c, &anon1); err != nil {
			return err
		}
		return tx.CreateContact(c, &anon2)
	})
	err := s.Write(c, func(tx store.Tx) error {
		return tx.CreateContact(c, &desk.Contact{ExternalUID: "uid-" + messy[0]})
	})
	wantIs(t, "duplicate uid", err, desk.ErrConflict)

	read(t, s, func(tx store.Tx) error {
		got, err := tx.GetContact(c, anon1.ID)
		if err != nil {
			return err
		}
		if got.Emails == nil || got.Tags == nil || len(got.Emails) != 0 {
			t.Fatalf("empty lists: %#v %#v", got.Emails, got.Tags)
		}
		_, err = tx.GetContact(c, 987654)
		wantIs(t, "missing contact", err, desk.ErrNotFound)
		_, err = tx.GetContactByUID(c, "nobody")
		wantIs(t, "missing uid", err, desk.ErrNotFound)
		_, err = tx.GetContactByUID(c, "")
		wantIs(t, "empty uid", err, desk.ErrNotFound)
		return nil
	})

	anon2.Name = "Somchai"
	anon2.ExternalUID = "u-2"
	anon2.Emails = []string{"s@example.com"}
	anon2.VIPTier = 3
	write(t, s, func(tx store.Tx) error { return tx.UpdateContact(c, &anon2) })
	read(t, s, func(tx store.Tx) error {
		got, err := tx.GetContactByUID(c, "u-2")
		if err != nil {
			return err
		}
		same(t, "updated contact", got, anon2)
		return nil
	})
	anon1.ExternalUID = "u-2"
	err = s.Write(c, func(tx store.Tx) error { return tx.UpdateContact(c, &anon1) })
	wantIs(t, "update to taken uid", err, desk.ErrConflict)
	err = s.Write(c, func(tx store.Tx) error { return tx.UpdateContact(c, &desk.Contact{ID: 987654}) })
	wantIs(t, "update missing contact", err, desk.ErrNotFound)
}

func testListContacts(t *testing.T, h Harness) {
	s := h.Open(t)
	c := ctx(t)
	in := []desk.Contact{
		{Name: "Alice Kim", Emails: []string{"alice@example.com"}, ExternalUID: "EX-100"},
		{Name: "王小明", Emails: []string{"wang@example.cn"}, ExternalUID: "EX-200"},
		{Name: "Bob", Emails: []string{"BOB@Example.org"}, ExternalUID: "ex-300", Phone: "+821012345678"},
		{Name: "100% legit_user", Emails: nil, ExternalUID: ""},
	}
	write(t, s, func(tx store.Tx) error {
		for i := range in {
			if err := tx.CreateContact(c, &in[i]); err != nil {
				return err
			}
		}
		return nil
	})
	ids := func(cs []desk.Contact) []int64 {
		out := []int64{}
		for _, x := range cs {
			out = append(out, x.ID)
		}
		return out
	}
	tests := []struct {
		name string
		f    store.ContactFilter
		want []int64
	}{
		{"all", store.ContactFilter{}, []int64{in[3].ID, in[2].ID, in[1].ID, in[0].ID}},
		{"name case", store.ContactFilter{Text: "alice"}, []int64{in[0].ID}},
		{"chinese name", store.ContactFilter{Text: "小明"}, []int64{in[1].ID}},
		{"whole email, any case", store.ContactFilter{Text: "bob@EXAMPLE.org"}, []int64{in[2].ID}},
		// Part of an email finds nothing: readers see emails masked, and
		// prefix searches would reveal them a character at a time.
		{"partial email", store.ContactFilter{Text: "bob@example"}, []int64{}},
		{"email domain", store.ContactFilter{Text: "@example.com"}, []int64{}},
		{"email local part", store.ContactFilter{Text: "alic"}, []int64{in[0].ID}}, // the name matches, not the email
		{"email prefix", store.ContactFilter{Text: "wan"}, []int64{}},
		{"whole phone", store.ContactFilter{Text: "+821012345678"}, []int64{in[2].ID}},
		{"partial phone", store.ContactFilter{Text: "+8210"}, []int64{}},
		{"uid", store.ContactFilter{Text: "ex-"}, []int64{in[2].ID, in[1].ID, in[0].ID}},
		{"percent literal", store.ContactFilter{Text: "%"}, []int64{in[3].ID}},
		{"underscore literal", store.ContactFilter{Text: "_"}, []int64{in[3].ID}},
		{"sql", store.ContactFilter{Text: "' OR 1=1 --"}, []int64{}},
		{"cursor", store.ContactFilter{Cursor: in[2].ID}, []int64{in[1].ID, in[0].ID}},
		{"limit", store.ContactFilter{Limit: 1}, []int64{in[3].ID}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			read(t, s, func(tx store.Tx) error {
				got, err := tx.ListContacts(c, tc.f)
				if err != nil {
					return err
				}
				same(t, "ids", ids(got), tc.want)
				return nil
			})
		})
	}
}

func testTeams(t *testing.T, h Harness) {
	s := h.Open(t)
	c := ctx(t)
	a := desk.Team{Name: "L1 中文", Kind: desk.TeamL1, BusinessHours: "24/7", CreatedAt: ts(0)}
	b := desk.Team{Name: "VIP 한국", Kind: desk.TeamVIP, BusinessHours: "Mon-Fri 09:00-18:00 Asia/Seoul"}
	write(t, s, func(tx store.Tx) error {
		if err := tx.CreateTeam(c, &a); err != nil {
			return err
		}
		return tx.CreateTeam(c, &b)
	})
	a.Name, a.Kind = "L2 '; DROP TABLE teams;--", desk.TeamL2
	write(t, s, func(tx store.Tx) error { return tx.UpdateTeam(c, &a) })
	read(t, s, func(tx store.Tx) error {
		got, err := tx.GetTeam(c, a.ID)
		if err != nil {
			return err
		}
		same(t, "team", got, a)
		all, err := tx.ListTeams(c)
		if err != nil {
			return err
		}
		same(t, "teams", all, []desk.Team{a, b})
		_, err = tx.GetTeam(c, 424242)
		wantIs(t, "missing team", err, desk.ErrNotFound)
		return nil
	})
	err := s.Write(c, func(tx store.Tx) error { return tx.UpdateTeam(c, &desk.Team{ID: 424242, Name: "x", Kind: desk.TeamL1}) })
	wantIs(t, "update missing team", err, desk.ErrNotFound)
}

func testAgents(t *testing.T, h Harness) {
	s := h.Open(t)
	c := ctx(t)
	a := desk.Agent{
		Login: "mina", Name: "민아 🌸", Email: "mina@example.com", Role: desk.RoleLead,
		TeamIDs: []int64{1, 3}, Languages: []string{"ko", "en"}, Skills: []string{"kyc", "funding"},
		ChatLimit: 4, Presence: desk.PresenceOnline, CreatedAt: ts(0),
	}
	b := desk.Agent{Login: "somchai", Role: desk.RoleAgent}
	write(t, s, func(tx store.Tx) error {
		if err := tx.CreateAgent(c, &a, "$argon2id$v=19$a"); err != nil {
			return err
		}
		return tx.CreateAgent(c, &b, "$argon2id$v=19$b")
	})
	err := s.Write(c, func(tx store.Tx) error {
		return tx.CreateAgent(c, &desk.Agent{Login: "mina", Role: desk.RoleAgent}, "x")
	})
	wantIs(t, "duplicate login", err, desk.ErrConflict)

	read(t, s, func(tx store.Tx) error {
		got, err := tx.GetAgent(c, a.ID)
		if err != nil {
			return err
		}
		same(t, "agent", got, a)
		got, err = tx.GetAgentByLogin(c, "somchai")
		if err != nil {
			return err
		}
		same(t, "agent by login", got, b)
		if got.TeamIDs == nil || got.Languages == nil || got.Skills == nil {
			t.Fatalf("nil lists: %+v", got)
		}
		sec, err := tx.GetAgentSecrets(c, a.ID)
		if err != nil {
			return err
		}
		same(t, "secrets", sec, desk.AgentSecrets{AgentID: a.ID, PasswordHash: "$argon2id$v=19$a"})
		_, err = tx.GetAgent(c, 5555)
		wantIs(t, "missing agent", err, desk.ErrNotFound)
		_, err = tx.GetAgentByLogin(c, "nobody")
		wantIs(t, "missing login", err, desk.ErrNotFound)
		_, err = tx.GetAgentSecrets(c, 5555)
		wantIs(t, "missing secrets", err, desk.ErrNotFound)
		return nil
	})

	sec := desk.AgentSecrets{AgentID: a.ID, PasswordHash: "new", TOTPSecret: "JBSWY3DPEHPK3PXP", TOTPLastStep: 59_000_123_456, FailedLogins: 3, LockedUntil: ts(600)}
	write(t, s, func(tx store.Tx) error { return tx.SetAgentSecrets(c, sec) })
	a.Name, a.Presence, a.Disabled, a.TeamIDs = "Mina", desk.PresenceAway, true, []int64{2}
	write(t, s, func(tx store.Tx) error { return tx.UpdateAgent(c, &a) })
	if !a.TOTPEnabled {
		t.Fatal("UpdateAgent did not report TOTPEnabled from the stored secret")
	}
	read(t, s, func(tx store.Tx) error {
		got, err := tx.GetAgentSecrets(c, a.ID)
		if err != nil {
			return err
		}
		same(t, "secrets after set", got, sec)
		ag, err := tx.GetAgent(c, a.ID)
		if err != nil {
			return err
		}
		same(t, "agent after update", ag, a)
		all, err := tx.ListAgents(c)
		if err != nil {
			return err
		}
		same(t, "agents", all, []desk.Agent{a, b})
		return nil
	})
	sec.TOTPSecret, sec.LockedUntil, sec.FailedLogins = "", time.Time{}, 0
	write(t, s, func(tx store.Tx) error { return tx.SetAgentSecrets(c, sec) })
	read(t, s, func(tx store.Tx) error {
		got, err := tx.GetAgentSecrets(c, a.ID)
		if err != nil {
			return err
		}
		same(t, "secrets cleared", got, sec)
		ag, err := tx.GetAgent(c, a.ID)
		if err != nil {
			return err
		}
		if ag.TOTPEnabled {
			t.Fatal("TOTPEnabled after clearing the secret")
		}
		return nil
	})
	b.Login = "mina"
	err = s.Write(c, func(tx store.Tx) error { return tx.UpdateAgent(c, &b) })
	wantIs(t, "rename to taken login", err, desk.ErrConflict)
	err = s.Write(c, func(tx store.Tx) error { return tx.SetAgentSecrets(c, desk.AgentSecrets{AgentID: 5555}) })
	wantIs(t, "secrets of missing agent", err, desk.ErrNotFound)
}

func testSessions(t *testing.T, h Harness) {
	s := h.Open(t)
	c := ctx(t)
	a := desk.Agent{Login: "a", Role: desk.RoleAgent}
	b := desk.Agent{Login: "b", Role: desk.RoleAgent}
	write(t, s, func(tx store.Tx) error {
		if err := tx.CreateAgent(c, &a, "h"); err != nil {
			return err
		}
		return tx.CreateAgent(c, &b, "h")
	})
	mk := func(id string, agent int64, expires int) desk.Session {
		return desk.Session{ID: id, AgentID: agent, CSRF: "csrf-" + id, MFAPending: true, CreatedAt: ts(0),
			ExpiresAt: ts(expires), LastSeenAt: ts(1), IP: "203.0.113.7", UserAgent: "Mozilla/5.0 <script>"}
	}
	s1, s2, s3 := mk("s1", a.ID, 3600), mk("s2", a.ID, 10), mk("s3", b.ID, 20)
	write(t, s, func(tx store.Tx) error {
		for _, x := range []desk.Session{s1, s2, s3} {
			if err := tx.CreateSession(c, x); err != nil {
				return err
			}
		}
		return nil
	})
	err := s.Write(c, func(tx store.Tx) error { return tx.CreateSession(c, s1) })
	wantIs(t, "duplicate session", err, desk.ErrConflict)

	// Presence: a and b online, c away with no session, d offline. All
	// sessions were last seen at ts(1): with a cutoff after that, a, b and
	// c are stale; with a cutoff at ts(1), only c (no session at all).
	cAgent := desk.Agent{Login: "c", Role: desk.RoleAgent, Presence: desk.PresenceAway}
	dAgent := desk.Agent{Login: "d", Role: desk.RoleAgent}
	a.Presence, b.Presence = desk.PresenceOnline, desk.PresenceOnline
	write(t, s, func(tx store.Tx) error {
		for _, x := range []*desk.Agent{&cAgent, &dAgent} {
			if err := tx.CreateAgent(c, x, "h"); err != nil {
				return err
			}
		}
		for _, x := range []*desk.Agent{&a, &b, &cAgent} {
			if err := tx.UpdateAgent(c, x); err != nil {
				return err
			}
		}
		return nil
	})
	read(t, s, func(tx store.Tx) error {
		stale := func(cut time.Time) []string {
			got, err := tx.ListStalePresence(c, cut)
			if err != nil {
				t.Fatal(err)
			}
			var out []string
			for _, x := range got {
				out = append(out, x.Login)
			}
			return out
		}
		same(t, "stale after last seen", stale(ts(2)), []string{"a", "b", "c"})
		same(t, "stale at last seen", stale(ts(1)), []string{"c"})
		return nil
	})

	s1.MFAPending, s1.LastSeenAt, s1.ExpiresAt, s1.CSRF = false, ts(100), ts(7200), "rotated"
	write(t, s, func(tx store.Tx) error { return tx.UpdateSession(c, s1) })
	read(t, s, func(tx store.Tx) error {
		got, err := tx.GetSession(c, "s1")
		if err != nil {
			return err
		}
		same(t, "session", got, s1)
		return nil
	})

	var n int64
	write(t, s, func(tx store.Tx) error {
		var err error
		n, err = tx.DeleteExpiredSessions(c, ts(15))
		return err
	})
	if n != 1 {
		t.Fatalf("expired sessions deleted: %d, want 1", n)
	}
	write(t, s, func(tx store.Tx) error { return tx.DeleteAgentSessions(c, a.ID) })
	read(t, s, func(tx store.Tx) error {
		for _, id := range []string{"s1", "s2"} {
			_, err := tx.GetSession(c, id)
			wantIs(t, "deleted session "+id, err, desk.ErrNotFound)
		}
		_, err := tx.GetSession(c, "s3")
		return err
	})
	write(t, s, func(tx store.Tx) error { return tx.DeleteSession(c, "s3") })
	err = s.Write(c, func(tx store.Tx) error { return tx.DeleteSession(c, "s3") })
	wantIs(t, "delete missing session", err, desk.ErrNotFound)
	err = s.Write(c, func(tx store.Tx) error { return tx.UpdateSession(c, s3) })
	wantIs(t, "update missing session", err, desk.ErrNotFound)
}

func testTokens(t *testing.T, h Harness) {
	s := h.Open(t)
	c := ctx(t)
	k1 := desk.APIToken{Name: "ledger 連携", Prefix: "cst_ab", Hash: "h1", Scopes: []string{"tickets:read", "tickets:write"}, CreatedBy: 1, CreatedAt: ts(0)}
	k2 := desk.APIToken{Name: "bot", Prefix: "cst_cd", Hash: "h2"}
	write(t, s, func(tx store.Tx) error {
		if err := tx.CreateToken(c, &k1); err != nil {
			return err
		}
		return tx.CreateToken(c, &k2)
	})
	err := s.Write(c, func(tx store.Tx) error { return tx.CreateToken(c, &desk.APIToken{Name: "x", Prefix: "p", Hash: "h1"}) })
	wantIs(t, "duplicate hash", err, desk.ErrConflict)

	write(t, s, func(tx store.Tx) error {
		if err := tx.TouchToken(c, k1.ID, ts(60)); err != nil {
			return err
		}
		return tx.RevokeToken(c, k2.ID, ts(120))
	})
	k1.LastUsedAt = ptr(ts(60))
	k2.RevokedAt = ptr(ts(120))
	k2.Scopes = []string{}
	read(t, s, func(tx store.Tx) error {
		got, err := tx.GetTokenByHash(c, "h1")
		if err != nil {
			return err
		}
		same(t, "token", got, k1)
		all, err := tx.ListTokens(c)
		if err != nil {
			return err
		}
		same(t, "tokens", all, []desk.APIToken{k1, k2})
		_, err = tx.GetTokenByHash(c, "nope")
		wantIs(t, "missing token", err, desk.ErrNotFound)
		return nil
	})
	err = s.Write(c, func(tx store.Tx) error { return tx.TouchToken(c, 999, ts(0)) })
	wantIs(t, "touch missing", err, desk.ErrNotFound)
	err = s.Write(c, func(tx store.Tx) error { return tx.RevokeToken(c, 999, ts(0)) })
	wantIs(t, "revoke missing", err, desk.ErrNotFound)
}

func testDevices(t *testing.T, h Harness) {
	s := h.Open(t)
	c := ctx(t)
	write(t, s, func(tx store.Tx) error {
		if err := tx.PutDevice(c, "d1", 7); err != nil {
			return err
		}
		return tx.PutDevice(c, "d1", 8) // re-binding a device moves it
	})
	read(t, s, func(tx store.Tx) error {
		id, err := tx.GetDevice(c, "d1")
		if err != nil {
			return err
		}
		if id != 8 {
			t.Fatalf("device contact %d, want 8", id)
		}
		_, err = tx.GetDevice(c, "d2")
		wantIs(t, "missing device", err, desk.ErrNotFound)
		return nil
	})
}

func testIdempotency(t *testing.T, h Harness) {
	s := h.Open(t)
	c := ctx(t)
	r := desk.IdempotencyRecord{Key: "ticket:abc", Status: 201, Body: []byte(`{"id":1,"subject":"提现"}`), CreatedAt: ts(0)}
	write(t, s, func(tx store.Tx) error { return tx.PutIdempotency(c, r) })
	err := s.Write(c, func(tx store.Tx) error {
		return tx.PutIdempotency(c, desk.IdempotencyRecord{Key: "ticket:abc", Status: 500})
	})
	wantIs(t, "reused key", err, desk.ErrConflict)
	read(t, s, func(tx store.Tx) error {
		got, err := tx.GetIdempotency(c, "ticket:abc")
		if err != nil {
			return err
		}
		same(t, "record", got, r)
		_, err = tx.GetIdempotency(c, "ticket:zzz")
		wantIs(t, "missing key", err, desk.ErrNotFound)
		return nil
	})
}

func testAttachments(t *testing.T, h Harness) {
	s := h.Open(t)
	c := ctx(t)
	k := desk.Ticket{Channel: desk.ChannelChat, Status: desk.StatusNew, Priority: desk.PriorityNormal}
	a := desk.Attachment{ID: "att_Q1w2", Name: "截图 screenshot.png", ContentType: "image/png", Size: 12345,
		SHA256: "e3b0c442", UploaderKind: desk.AuthorContact, UploaderID: 9, CreatedAt: ts(0)}
	write(t, s, func(tx store.Tx) error {
		if err := tx.CreateTicket(c, &k); err != nil {
			return err
		}
		return tx.CreateAttachment(c, &a)
	})
	err := s.Write(c, func(tx store.Tx) error { return tx.CreateAttachment(c, &desk.Attachment{ID: "att_Q1w2", Name: "x"}) })
	wantIs(t, "duplicate attachment", err, desk.ErrConflict)
	write(t, s, func(tx store.Tx) error { return tx.LinkAttachment(c, a.ID, k.ID) })
	a.TicketID = k.ID
	read(t, s, func(tx store.Tx) error {
		got, err := tx.GetAttachment(c, a.ID)
		if err != nil {
			return err
		}
		same(t, "attachment", got, a)
		_, err = tx.GetAttachment(c, "nope")
		wantIs(t, "missing attachment", err, desk.ErrNotFound)
		return nil
	})
	err = s.Write(c, func(tx store.Tx) error { return tx.LinkAttachment(c, "nope", k.ID) })
	wantIs(t, "link missing", err, desk.ErrNotFound)
}

func testBlobs(t *testing.T, h Harness) {
	s := h.Open(t)
	c := ctx(t)
	// Every byte value, NULs included, and a larger blob.
	small := make([]byte, 256)
	for i := range small {
		small[i] = byte(i)
	}
	big := bytes.Repeat([]byte("0123456789abcdef"), 64<<10) // 1 MiB
	write(t, s, func(tx store.Tx) error {
		if err := tx.PutBlob(c, "at_small", small); err != nil {
			return err
		}
		if err := tx.PutBlob(c, "at_empty", nil); err != nil {
			return err
		}
		return tx.PutBlob(c, "at_big", big)
	})
	err := s.Write(c, func(tx store.Tx) error { return tx.PutBlob(c, "at_small", []byte("x")) })
	wantIs(t, "blob put twice", err, desk.ErrConflict)
	read(t, s, func(tx store.Tx) error {
		for id, want := range map[string][]byte{"at_small": small, "at_empty": {}, "at_big": big} {
			got, err := tx.GetBlob(c, id)
			if err != nil {
				return err
			}
			if !bytes.Equal(got, want) {
				t.Errorf("blob %s: %d bytes back, want %d", id, len(got), len(want))
			}
		}
		_, err := tx.GetBlob(c, "at_missing")
		wantIs(t, "missing blob", err, desk.ErrNotFound)
		return nil
	})
	write(t, s, func(tx store.Tx) error {
		if err := tx.DeleteBlob(c, "at_big"); err != nil {
			return err
		}
		return tx.DeleteBlob(c, "at_missing")
	})
	read(t, s, func(tx store.Tx) error {
		_, err := tx.GetBlob(c, "at_big")
		wantIs(t, "deleted blob", err, desk.ErrNotFound)
		return nil
	})
}
