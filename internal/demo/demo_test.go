package demo_test

import (
	"context"
	"path/filepath"
	"slices"
	"testing"
	"time"
	"unicode"

	"custos/internal/audit"
	"custos/internal/auth"
	"custos/internal/demo"
	"custos/internal/desk"
	"custos/internal/store"
	"custos/internal/store/sqlite"
	"custos/internal/tickets"
)

// documentedPassword is the demo password README.md prints.
const documentedPassword = "custos-demo-2026"

// rows is what the demo writes, counted.
type rows struct {
	agents, teams, contacts, tickets, messages int
	auditHead                                  int64
}

// snapshot counts the rows and reads every message text.
func snapshot(ctx context.Context, t *testing.T, st store.Store) (rows, []desk.Agent, []desk.Team, []desk.Message) {
	t.Helper()
	var (
		r      rows
		agents []desk.Agent
		teams  []desk.Team
		msgs   []desk.Message
	)
	err := st.Read(ctx, func(tx store.Tx) error {
		var err error
		if agents, err = tx.ListAgents(ctx); err != nil {
			return err
		}
		if teams, err = tx.ListTeams(ctx); err != nil {
			return err
		}
		contacts, err := tx.ListContacts(ctx, store.ContactFilter{Limit: 1000})
		if err != nil {
			return err
		}
		ts, err := tx.ListTickets(ctx, store.TicketFilter{Limit: 1000})
		if err != nil {
			return err
		}
		for _, tk := range ts {
			m, err := tx.ListMessages(ctx, tk.ID, 0, 0, true)
			if err != nil {
				return err
			}
			if len(m) == 0 {
				t.Errorf("ticket %d %q has no messages", tk.ID, tk.Subject)
			}
			msgs = append(msgs, m...)
		}
		r = rows{agents: len(agents), teams: len(teams), contacts: len(contacts), tickets: len(ts), messages: len(msgs)}
		r.auditHead, _, err = tx.AuditHead(ctx)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return r, agents, teams, msgs
}

// languages names the languages a text is written in, by script: kana
// means Japanese, Han without kana Chinese, Hangul Korean, Thai Thai, and
// Latin letters alone English.
func languages(text string) []string {
	var han, kana, hangul, thai, latin, other bool
	for _, r := range text {
		switch {
		case unicode.Is(unicode.Hiragana, r), unicode.Is(unicode.Katakana, r):
			kana = true
		case unicode.Is(unicode.Han, r):
			han = true
		case unicode.Is(unicode.Hangul, r):
			hangul = true
		case unicode.Is(unicode.Thai, r):
			thai = true
		case unicode.Is(unicode.Latin, r):
			latin = true
		case unicode.IsLetter(r):
			other = true
		}
	}
	var out []string
	switch {
	case kana:
		out = append(out, "ja")
	case han:
		out = append(out, "zh")
	}
	if hangul {
		out = append(out, "ko")
	}
	if thai {
		out = append(out, "th")
	}
	if latin && !kana && !han && !hangul && !thai && !other {
		out = append(out, "en")
	}
	return out
}

func TestLanguages(t *testing.T) {
	for _, tt := range []struct {
		text string
		want []string
	}{
		{"My withdrawal is stuck.", []string{"en"}},
		{"充值到错误的网络", []string{"zh"}},
		{"KYCの書類を提出しました", []string{"ja"}},
		{"ETH 스테이킹 보상", []string{"ko"}},
		{"ถอนเงินบาทไม่ได้", []string{"th"}},
		{"12,000 USDT?", []string{"en"}},
		{"Привет", nil},
	} {
		if got := languages(tt.text); !slices.Equal(got, tt.want) {
			t.Errorf("languages(%q) = %v, want %v", tt.text, got, tt.want)
		}
	}
}

// TestLoad loads the demo into a fresh database the way `custos demo` does
// and checks what the README promises: every role can log in with the
// printed password, the escalation ladder's teams, customers and tickets in
// five languages, a second load that changes nothing, and an intact audit
// chain.
func TestLoad(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	db, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "custos.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if _, err := db.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	au := auth.NewService(db, auth.Options{})
	ts := tickets.New(db, nil)

	n, err := demo.Load(ctx, db, au, ts)
	if err != nil {
		t.Fatalf("first load: %v", err)
	}
	before, agents, teams, msgs := snapshot(ctx, t, db)
	if n == 0 || n != before.tickets {
		t.Errorf("Load reported %d tickets, the database holds %d", n, before.tickets)
	}
	if before.contacts == 0 {
		t.Error("no customers")
	}

	if demo.Password != documentedPassword {
		t.Errorf("demo.Password = %q, README documents %q", demo.Password, documentedPassword)
	}
	byLogin := map[string]desk.Agent{}
	for _, a := range agents {
		byLogin[a.Login] = a
	}
	loginRoles := map[desk.Role]bool{}
	for _, l := range demo.Logins() {
		loginRoles[l.Role] = true
		a, ok := byLogin[l.Login]
		if !ok {
			t.Errorf("demo login %q has no agent", l.Login)
			continue
		}
		if a.Role != l.Role {
			t.Errorf("agent %q has role %s, Logins says %s", l.Login, a.Role, l.Role)
		}
		res, err := au.Login(ctx, auth.LoginInput{Login: l.Login, Password: documentedPassword, IP: "192.0.2.10", UserAgent: "demo_test"})
		if err != nil {
			t.Errorf("login %q with the documented password: %v", l.Login, err)
			continue
		}
		if res.Token == "" || res.Agent.ID != a.ID || res.EnrollTOTP {
			t.Errorf("login %q: token %t, agent %d (want %d), enrol TOTP %t", l.Login, res.Token != "", res.Agent.ID, a.ID, res.EnrollTOTP)
		}
	}
	agentRoles := map[desk.Role]bool{}
	for _, a := range agents {
		agentRoles[a.Role] = true
	}
	for _, r := range desk.Roles {
		if !agentRoles[r] {
			t.Errorf("no demo agent has role %s", r)
		}
		if !loginRoles[r] {
			t.Errorf("demo.Logins lists no %s", r)
		}
	}

	kinds := map[desk.TeamKind]bool{}
	for _, tm := range teams {
		kinds[tm.Kind] = true
	}
	for _, k := range desk.TeamKinds {
		if !kinds[k] {
			t.Errorf("no demo team of kind %s", k)
		}
	}

	langs := map[string]int{}
	for _, m := range msgs {
		for _, l := range languages(m.Text) {
			langs[l]++
		}
	}
	for _, l := range []string{"en", "zh", "ko", "th", "ja"} {
		if langs[l] == 0 {
			t.Errorf("no demo message in %s (messages by language: %v)", l, langs)
		}
	}

	// Logins above appended audit entries: the second load is compared
	// with the state after them.
	before, _, _, _ = snapshot(ctx, t, db)
	n, err = demo.Load(ctx, db, au, ts)
	if err != nil || n != 0 {
		t.Errorf("second load = %d, %v; want 0, nil (already loaded)", n, err)
	}
	if after, _, _, _ := snapshot(ctx, t, db); after != before {
		t.Errorf("second load changed the database: before %+v, after %+v", before, after)
	}

	for _, page := range []int{0, 3} {
		res, err := audit.Verify(ctx, db, page)
		if err != nil {
			t.Fatalf("verify (page %d): %v", page, err)
		}
		if !res.OK || res.Checked != before.auditHead || res.Checked == 0 {
			t.Errorf("audit chain (page %d): %+v; want OK with %d entries", page, res, before.auditHead)
		}
	}
}
