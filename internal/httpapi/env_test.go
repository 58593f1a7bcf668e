package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"custos/internal/attach"
	"custos/internal/auth"
	"custos/internal/desk"
	"custos/internal/store"
	"custos/internal/store/pgtest"
	"custos/internal/store/postgres"
	"custos/internal/store/sqlite"
	"custos/internal/tickets"
)

// testPassword is every seeded agent's password.
const testPassword = "correct horse battery"

// cred is how a test request authenticates: a session cookie (with its
// CSRF token) or a bearer token; the zero cred is anonymous.
type cred struct {
	cookie string
	csrf   string
	bearer string
}

type env struct {
	st     store.Store
	srv    *Server
	ts     *httptest.Server
	reg    *prometheus.Registry
	client *http.Client

	teamA, teamB desk.Team
	agents       map[string]desk.Agent // by role name, plus "agentB" (team B)
	creds        map[string]cred       // same keys, plus "token" (tickets:read, contacts:read), "writer" (tickets:write, contacts:write)
	contact      desk.Contact
	ticketA      desk.Ticket // team A
	ticketB      desk.Ticket // team B
	attachID     string
}

// newEnv is a server over a fresh SQLite database.
func newEnv(t testing.TB) *env {
	t.Helper()
	db, dir := openSQLite(t)
	return newEnvOn(t, db, dir)
}

// openSQLite opens and migrates a fresh SQLite database in a temp dir.
func openSQLite(t testing.TB) (store.Store, string) {
	t.Helper()
	dir := t.TempDir()
	db, err := sqlite.Open(context.Background(), filepath.Join(dir, "custos.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if _, err := db.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	return db, dir
}

// newPGEnv is a server over a fresh PostgreSQL database (skipped without
// CUSTOS_TEST_PG).
func newPGEnv(t testing.TB) *env {
	t.Helper()
	dsn := pgtest.DSN(t)
	db, err := postgres.Open(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if _, err := db.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	return newEnvOn(t, db, t.TempDir())
}

func newEnvOn(t testing.TB, db store.Store, dir string) *env {
	t.Helper()
	return newEnvOnConfig(t, db, dir, Config{})
}

func newEnvOnConfig(t testing.TB, db store.Store, dir string, cfg Config) *env {
	t.Helper()
	reg := prometheus.NewRegistry()
	st := InstrumentStore(db, reg)
	as := auth.NewService(st, auth.Options{})
	ts := tickets.New(st, nil)
	att, err := attach.New(dir, st, attach.Options{})
	if err != nil {
		t.Fatal(err)
	}
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	srv := New(cfg, Deps{Store: st, Auth: as, Tickets: ts, Attach: att, Logger: logger, Registry: reg, Version: "test"})
	hs := httptest.NewServer(srv.Handler())
	t.Cleanup(hs.Close)
	e := &env{st: st, srv: srv, ts: hs, reg: reg, client: hs.Client(),
		agents: map[string]desk.Agent{}, creds: map[string]cred{}}
	e.seed(t, att)
	return e
}

func (e *env) seed(t testing.TB, att *attach.Service) {
	t.Helper()
	ctx := context.Background()
	hash, err := auth.HashPassword(testPassword)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC()
	err = e.st.Write(ctx, func(tx store.Tx) error {
		e.teamA = desk.Team{Name: "L1 Seoul", Kind: desk.TeamL1}
		e.teamB = desk.Team{Name: "VIP", Kind: desk.TeamVIP}
		for _, tm := range []*desk.Team{&e.teamA, &e.teamB} {
			if err := tm.Validate(); err != nil {
				return err
			}
			if err := tx.CreateTeam(ctx, tm); err != nil {
				return err
			}
		}
		mk := func(key string, role desk.Role, teams ...int64) error {
			a := desk.Agent{Login: strings.ToLower(key), Name: key + " person", Role: role, TeamIDs: teams, ChatLimit: 3}
			if err := a.Validate(); err != nil {
				return err
			}
			if err := tx.CreateAgent(ctx, &a, hash); err != nil {
				return err
			}
			e.agents[key] = a
			tok, th := auth.NewSecret(auth.PrefixSession)
			csrf, _ := auth.NewSecret("csrf_")
			if err := tx.CreateSession(ctx, desk.Session{ID: th, AgentID: a.ID, CSRF: csrf, CreatedAt: now,
				ExpiresAt: now.Add(time.Hour), LastSeenAt: now, IP: "127.0.0.1"}); err != nil {
				return err
			}
			e.creds[key] = cred{cookie: tok, csrf: csrf}
			return nil
		}
		for _, r := range desk.Roles {
			var teams []int64
			if r == desk.RoleAgent {
				teams = []int64{e.teamA.ID}
			}
			if err := mk(string(r), r, teams...); err != nil {
				return err
			}
		}
		if err := mk("agentB", desk.RoleAgent, e.teamB.ID); err != nil {
			return err
		}
		tokens := map[string][]string{"token": {"tickets:read", "contacts:read"}, "writer": {"tickets:write", "contacts:write"}}
		for name, scopes := range tokens {
			sec, h := auth.NewSecret(auth.PrefixAPIToken)
			tk := desk.APIToken{Name: name, Prefix: sec[:10], Hash: h, Scopes: scopes, CreatedBy: e.agents["admin"].ID}
			if err := tx.CreateToken(ctx, &tk); err != nil {
				return err
			}
			e.creds[name] = cred{bearer: sec}
		}
		e.contact = desk.Contact{Name: "Mina Park", Emails: []string{"mina@example.com"}, Phone: "+821012345634", TelegramID: "123456789"}
		if err := e.contact.Validate(); err != nil {
			return err
		}
		return tx.CreateContact(ctx, &e.contact)
	})
	if err != nil {
		t.Fatal(err)
	}
	admin := tickets.Actor{Kind: desk.AuthorAgent, ID: e.agents["admin"].ID, Name: "admin", All: true, CanAssign: true}
	mkTicket := func(team int64, subject string) desk.Ticket {
		tk, err := e.srv.tickets.Create(ctx, admin, tickets.CreateInput{Channel: desk.ChannelWeb, Subject: subject,
			ContactID: e.contact.ID, TeamID: team, Message: &tickets.MessageInput{Text: "help"}})
		if err != nil {
			t.Fatal(err)
		}
		return tk
	}
	e.ticketA = mkTicket(e.teamA.ID, "withdrawal stuck")
	e.ticketB = mkTicket(e.teamB.ID, "vip deposit")
	a, err := att.Save(ctx, "note.txt", strings.NewReader("hello attachment"), desk.AuthorAgent, e.agents["admin"].ID)
	if err != nil {
		t.Fatal(err)
	}
	e.attachID = a.ID
}

type resp struct {
	status int
	header http.Header
	body   []byte
}

func (r resp) json(t testing.TB, v any) {
	t.Helper()
	if err := json.Unmarshal(r.body, v); err != nil {
		t.Fatalf("decode %s: %v", r.body, err)
	}
}

// errCode returns the error code of an error response ("" if none).
func (r resp) errCode() string {
	var b errorBody
	_ = json.Unmarshal(r.body, &b)
	return b.Error.Code
}

func (r resp) errBody() errorDetail {
	var b errorBody
	_ = json.Unmarshal(r.body, &b)
	return b.Error
}

// request sends body (a string or []byte as is, anything else as JSON) with
// Content-Type application/json unless hdr says otherwise.
func (e *env) request(t testing.TB, c cred, method, path string, body any, hdr ...string) resp {
	t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	case []byte:
		rd = bytes.NewReader(b)
	default:
		j, err := json.Marshal(b)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(j)
	}
	req, err := http.NewRequest(method, e.ts.URL+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.cookie != "" {
		req.AddCookie(&http.Cookie{Name: auth.CookieName, Value: c.cookie})
		if c.csrf != "" {
			req.Header.Set("X-CSRF-Token", c.csrf)
		}
	}
	if c.bearer != "" {
		req.Header.Set("Authorization", "Bearer "+c.bearer)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		if hdr[i+1] == "" {
			req.Header.Del(hdr[i])
		} else {
			req.Header.Set(hdr[i], hdr[i+1])
		}
	}
	res, err := e.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp{status: res.StatusCode, header: res.Header, body: b}
}

func (e *env) auditCount(t testing.TB) int {
	t.Helper()
	n := 0
	err := e.st.Read(context.Background(), func(tx store.Tx) error {
		es, err := tx.ListAudit(context.Background(), 0, 100000)
		n = len(es)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func id(n int64) string { return strconv.FormatInt(n, 10) }

func newRecorder() *httptest.ResponseRecorder { return httptest.NewRecorder() }

func mustReq(method, path string) *http.Request { return httptest.NewRequest(method, path, nil) }

// pgtestSkip skips before any database work when PostgreSQL is not
// configured (pgtest.DSN would skip too, but only per subtest).
func pgtestSkip(t *testing.T) {
	if os.Getenv("CUSTOS_TEST_PG") == "" && os.Getenv("CUSTOS_TEST_REQUIRE_PG") != "1" {
		t.Skip("CUSTOS_TEST_PG not set")
	}
}
