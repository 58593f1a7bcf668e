package auth

import (
	"context"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"custos/internal/desk"
	"custos/internal/store"
	"custos/internal/store/pgtest"
	"custos/internal/store/postgres"
	"custos/internal/store/sqlite"
)

const pw = "s3cret-passw0rd"

type fixture struct {
	svc   *Service
	db    *sqlite.DB
	now   time.Time
	admin desk.Agent
	ann   desk.Agent // RoleAgent in team 1
}

func (f *fixture) advance(d time.Duration) { f.now = f.now.Add(d) }

func newFixture(t *testing.T, opt Options) *fixture {
	t.Helper()
	ctx := context.Background()
	db, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "custos.db"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Migrate(ctx); err != nil {
		db.Close()
		t.Fatal(err)
	}
	// As in production: writes through the group-commit batcher, reads
	// straight from the store. A broken read path must fail these tests.
	b := store.NewBatcher(db, store.BatchOptions{})
	t.Cleanup(func() { b.Close(); db.Close() })
	f := &fixture{db: db, now: time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)}
	opt.Now = func() time.Time { return f.now }
	f.svc = NewService(b, opt)
	f.admin = desk.Agent{Login: "root", Name: "Root", Role: desk.RoleAdmin}
	if err := f.svc.CreateAgent(ctx, Principal{}, &f.admin, pw); err != nil {
		t.Fatal(err)
	}
	f.ann = desk.Agent{Login: "Ann", Name: "Ann", Role: desk.RoleAgent, TeamIDs: []int64{1}}
	if err := f.svc.CreateAgent(ctx, Principal{Agent: &f.admin}, &f.ann, pw); err != nil {
		t.Fatal(err)
	}
	return f
}

func (f *fixture) auditLog(t *testing.T) []desk.AuditEntry {
	t.Helper()
	var out []desk.AuditEntry
	err := f.svc.st.Read(context.Background(), func(tx store.Tx) error {
		var err error
		out, err = tx.ListAudit(context.Background(), 0, 1000)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// lastAudit returns the newest entry and checks no entry leaks a password.
func (f *fixture) lastAudit(t *testing.T) desk.AuditEntry {
	t.Helper()
	log := f.auditLog(t)
	for _, e := range log {
		if strings.Contains(e.Detail+e.Target, pw) || strings.Contains(e.Detail+e.Target, "wrong-password") {
			t.Fatalf("audit entry %d leaks a password: %+v", e.ID, e)
		}
	}
	if len(log) == 0 {
		t.Fatal("no audit entries")
	}
	return log[len(log)-1]
}

func (f *fixture) sessions(t *testing.T) int {
	t.Helper()
	var n int
	if err := f.db.SQL().QueryRow(`SELECT count(*) FROM sessions`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func (f *fixture) login(in LoginInput) (LoginResult, error) {
	if in.IP == "" {
		in.IP = "192.0.2.1"
	}
	return f.svc.Login(context.Background(), in)
}

func cookieRequest(method, token string) *http.Request {
	r := httptest.NewRequest(method, "/api/v1/me", nil)
	r.AddCookie(&http.Cookie{Name: CookieName, Value: token})
	return r
}

func TestLogin(t *testing.T) {
	f := newFixture(t, Options{})
	ctx := context.Background()
	for _, tc := range []struct {
		name       string
		in         LoginInput
		code       string
		action     string
		target     string
		newSession bool
	}{
		{"success, login case-insensitive", LoginInput{Login: " ANN ", Password: pw}, "", "auth.login", "agent:2", true},
		{"wrong password", LoginInput{Login: "ann", Password: "wrong-password"}, desk.EUnauthorized, "auth.login_failed", "agent:2", false},
		{"unknown login", LoginInput{Login: "ghost", Password: "wrong-password"}, desk.EUnauthorized, "auth.login_failed", "login:ghost", false},
		{"empty", LoginInput{}, desk.EUnauthorized, "auth.login_failed", "login:", false},
	} {
		before := f.sessions(t)
		res, err := f.login(tc.in)
		if code(err) != tc.code {
			t.Errorf("%s: err = %v; want code %q", tc.name, err, tc.code)
			continue
		}
		if tc.code == desk.EUnauthorized && err.Error() != "unauthorized: invalid login or password" {
			t.Errorf("%s: message %q differs", tc.name, err)
		}
		e := f.lastAudit(t)
		if e.Action != tc.action || e.Target != tc.target || e.IP != "192.0.2.1" {
			t.Errorf("%s: audit %s %s %s; want %s %s", tc.name, e.Action, e.Target, e.IP, tc.action, tc.target)
		}
		if got := f.sessions(t) - before; got != map[bool]int{true: 1, false: 0}[tc.newSession] {
			t.Errorf("%s: %d new sessions", tc.name, got)
		}
		if tc.newSession {
			if !strings.HasPrefix(res.Token, "css_") || res.Session.ID != HashSecret(res.Token) || len(res.Session.CSRF) < 32 ||
				res.Agent.ID != f.ann.ID || res.EnrollTOTP || res.Session.MFAPending {
				t.Errorf("%s: result %+v", tc.name, res)
			}
			p, err := f.svc.Authenticate(ctx, cookieRequest("GET", res.Token))
			if err != nil || p.Agent.ID != f.ann.ID || p.Session.ID != res.Session.ID {
				t.Errorf("%s: authenticate = %+v, %v", tc.name, p, err)
			}
		}
	}
}

func TestLockout(t *testing.T) {
	f := newFixture(t, Options{})
	for i := 1; i <= 5; i++ {
		_, err := f.login(LoginInput{Login: "ann", Password: "wrong-password"})
		want := desk.EUnauthorized
		if i == 5 {
			want = desk.ELocked
		}
		if code(err) != want {
			t.Fatalf("failure %d: %v; want %s", i, err, want)
		}
	}
	if e := f.lastAudit(t); e.Action != "auth.locked" || e.Target != "agent:2" {
		t.Fatalf("last audit %+v", e)
	}
	// Correct password while locked, and from a restarted service: the
	// lock lives in the database.
	restarted := NewService(f.svc.st, Options{Now: func() time.Time { return f.now }})
	if _, err := restarted.Login(context.Background(), LoginInput{Login: "ann", Password: pw, IP: "198.51.100.7"}); code(err) != desk.ELocked {
		t.Fatalf("locked login: %v", err)
	}
	if e := f.lastAudit(t); e.Action != "auth.login_failed" || !strings.Contains(e.Detail, "locked") {
		t.Fatalf("audit during lock %+v", e)
	}
	f.advance(14 * time.Minute)
	if _, err := f.login(LoginInput{Login: "ann", Password: pw}); code(err) != desk.ELocked {
		t.Fatalf("still locked at 14 min: %v", err)
	}
	f.advance(2 * time.Minute)
	if _, err := f.login(LoginInput{Login: "ann", Password: pw}); err != nil {
		t.Fatalf("after lock: %v", err)
	}
	var sec desk.AgentSecrets
	_ = f.svc.st.Read(context.Background(), func(tx store.Tx) error {
		var err error
		sec, err = tx.GetAgentSecrets(context.Background(), f.ann.ID)
		return err
	})
	if sec.FailedLogins != 0 || !sec.LockedUntil.IsZero() {
		t.Fatalf("secrets not reset after success: %+v", sec)
	}
	// Success resets the count: four failures do not lock.
	for range 4 {
		f.login(LoginInput{Login: "ann", Password: "wrong-password"})
	}
	if _, err := f.login(LoginInput{Login: "ann", Password: pw}); err != nil {
		t.Fatalf("after 4 failures: %v", err)
	}
}

func TestLoginTOTP(t *testing.T) {
	f := newFixture(t, Options{})
	ctx := context.Background()
	res, err := f.login(LoginInput{Login: "ann", Password: pw})
	if err != nil {
		t.Fatal(err)
	}
	p, _ := f.svc.Authenticate(ctx, cookieRequest("GET", res.Token))
	secret, u, err := f.svc.BeginTOTP(ctx, p)
	if err != nil || !strings.HasPrefix(u, "otpauth://totp/Custos:ann?") {
		t.Fatalf("BeginTOTP = %q, %v", u, err)
	}
	if _, err := f.svc.EnableTOTP(ctx, p, secret, "000000"); code(err) != desk.EInvalid {
		t.Fatalf("wrong enrolment code: %v", err)
	}
	c, _ := TOTPCode(secret, f.now)
	if _, err := f.svc.EnableTOTP(ctx, p, secret, c); err != nil {
		t.Fatal(err)
	}
	if e := f.lastAudit(t); e.Action != "auth.totp_enabled" || strings.Contains(e.Detail, secret) {
		t.Fatalf("audit %+v", e)
	}
	p, _ = f.svc.Authenticate(ctx, cookieRequest("GET", res.Token))
	if !p.Agent.TOTPEnabled {
		t.Fatal("TOTPEnabled not set")
	}
	f.advance(time.Minute)
	before := f.sessions(t)
	for _, tc := range []struct {
		name, code, want string
	}{
		{"no code", "", desk.EMFARequired},
		{"wrong code", "123456", desk.EMFARequired},
		{"good code", func() string { c, _ := TOTPCode(secret, f.now); return c }(), ""},
	} {
		_, err := f.login(LoginInput{Login: "ann", Password: pw, TOTP: tc.code})
		if code(err) != tc.want {
			t.Errorf("%s: %v", tc.name, err)
		}
		if tc.want != "" && f.sessions(t) != before {
			t.Errorf("%s: session created", tc.name)
		}
		if tc.want != "" && f.lastAudit(t).Action != "auth.login_failed" {
			t.Errorf("%s: not audited", tc.name)
		}
	}
	// Wrong password with a right code is still a bad password.
	c, _ = TOTPCode(secret, f.now)
	if _, err := f.login(LoginInput{Login: "ann", Password: "wrong-password", TOTP: c}); code(err) != desk.EUnauthorized {
		t.Errorf("wrong password + code: %v", err)
	}
	// Only self or an admin may remove it.
	bob := desk.Agent{Login: "bob", Name: "Bob", Role: desk.RoleLead}
	if err := f.svc.CreateAgent(ctx, Principal{}, &bob, pw); err != nil {
		t.Fatal(err)
	}
	if err := f.svc.DisableTOTP(ctx, Principal{Agent: &bob}, f.ann.ID); code(err) != desk.EForbidden {
		t.Errorf("lead disabled another's TOTP: %v", err)
	}
	if err := f.svc.DisableTOTP(ctx, Principal{Agent: &f.admin}, f.ann.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := f.login(LoginInput{Login: "ann", Password: pw}); err != nil {
		t.Errorf("login after TOTP removed: %v", err)
	}
}

// TestTOTPSingleUse: a code opens one session only, the enrolment code
// opens none, and a later code still works.
func TestTOTPSingleUse(t *testing.T) {
	f := newFixture(t, Options{})
	ctx := context.Background()
	res, err := f.login(LoginInput{Login: "ann", Password: pw})
	if err != nil {
		t.Fatal(err)
	}
	p, _ := f.svc.Authenticate(ctx, cookieRequest("GET", res.Token))
	secret, _, _ := f.svc.BeginTOTP(ctx, p)
	enrol, _ := TOTPCode(secret, f.now)
	if _, err := f.svc.EnableTOTP(ctx, p, secret, enrol); err != nil {
		t.Fatal(err)
	}
	if _, err := f.login(LoginInput{Login: "ann", Password: pw, TOTP: enrol}); code(err) != desk.EMFARequired {
		t.Fatalf("enrolment code reused for login: %v", err)
	}
	if e := f.lastAudit(t); e.Action != "auth.login_failed" || !strings.Contains(e.Detail, "totp_reused") {
		t.Fatalf("reuse not audited as such: %+v", e)
	}
	f.advance(30 * time.Second)
	next, _ := TOTPCode(secret, f.now)
	if _, err := f.login(LoginInput{Login: "ann", Password: pw, TOTP: next}); err != nil {
		t.Fatalf("fresh code: %v", err)
	}
	before := f.sessions(t)
	if _, err := f.login(LoginInput{Login: "ann", Password: pw, TOTP: next}); code(err) != desk.EMFARequired {
		t.Fatalf("same code twice: %v", err)
	}
	// An older code, still inside the drift window, is refused too: steps
	// only move forward.
	if _, err := f.login(LoginInput{Login: "ann", Password: pw, TOTP: enrol}); code(err) != desk.EMFARequired {
		t.Fatalf("older code after a newer one: %v", err)
	}
	if f.sessions(t) != before {
		t.Fatal("a refused code opened a session")
	}
	f.advance(30 * time.Second)
	later, _ := TOTPCode(secret, f.now)
	if _, err := f.login(LoginInput{Login: "ann", Password: pw, TOTP: later}); err != nil {
		t.Fatalf("next step's code: %v", err)
	}
}

func TestRequireTOTP(t *testing.T) {
	f := newFixture(t, Options{RequireTOTP: true})
	ctx := context.Background()
	res, err := f.login(LoginInput{Login: "ann", Password: pw})
	if err != nil || !res.EnrollTOTP || !res.Session.MFAPending {
		t.Fatalf("login = %+v, %v", res, err)
	}
	p, err := f.svc.Authenticate(ctx, cookieRequest("GET", res.Token))
	if err != nil || !p.MFAPending() || p.Can(PermTicketRead) || p.CanSeeTicket(desk.Ticket{TeamID: 1}) {
		t.Fatalf("pending principal: %v can read=%v", err, p.Can(PermTicketRead))
	}
	secret, _, _ := f.svc.BeginTOTP(ctx, p)
	c, _ := TOTPCode(secret, f.now)
	if _, err := f.svc.EnableTOTP(ctx, p, secret, c); err != nil {
		t.Fatal(err)
	}
	p, err = f.svc.Authenticate(ctx, cookieRequest("GET", res.Token))
	if err != nil || p.MFAPending() || !p.Can(PermTicketRead) {
		t.Fatalf("after enrolment: pending=%v err=%v", p.MFAPending(), err)
	}
}

func TestThrottleLogin(t *testing.T) {
	f := newFixture(t, Options{})
	for i := range 20 {
		if _, err := f.login(LoginInput{Login: "ghost", Password: "x", IP: "203.0.113.9"}); code(err) != desk.EUnauthorized {
			t.Fatalf("attempt %d: %v", i, err)
		}
	}
	if _, err := f.login(LoginInput{Login: "ann", Password: pw, IP: "203.0.113.9"}); code(err) != desk.ERateLimited {
		t.Fatalf("21st attempt: %v", err)
	}
	if _, err := f.login(LoginInput{Login: "ann", Password: pw, IP: "203.0.113.10"}); err != nil {
		t.Fatalf("other IP: %v", err)
	}
	f.advance(time.Minute)
	if _, err := f.login(LoginInput{Login: "ann", Password: pw, IP: "203.0.113.9"}); err != nil {
		t.Fatalf("after a minute: %v", err)
	}
}

func TestDisabledAgent(t *testing.T) {
	f := newFixture(t, Options{})
	ctx := context.Background()
	res, err := f.login(LoginInput{Login: "ann", Password: pw})
	if err != nil {
		t.Fatal(err)
	}
	if err := f.svc.SetDisabled(ctx, Principal{Agent: &f.ann}, f.ann.ID, true); code(err) != desk.EForbidden {
		t.Fatalf("agent disabled itself: %v", err)
	}
	if err := f.svc.SetDisabled(ctx, Principal{Agent: &f.admin}, f.admin.ID, true); code(err) != desk.EInvalid {
		t.Fatalf("admin disabled itself: %v", err)
	}
	if err := f.svc.SetDisabled(ctx, Principal{Agent: &f.admin}, f.ann.ID, true); err != nil {
		t.Fatal(err)
	}
	if e := f.lastAudit(t); e.Action != "agent.disable" || e.Target != "agent:2" || e.ActorID != f.admin.ID {
		t.Fatalf("audit %+v", e)
	}
	if _, err := f.svc.Authenticate(ctx, cookieRequest("GET", res.Token)); code(err) != desk.EUnauthorized {
		t.Fatalf("session of disabled agent: %v", err)
	}
	_, err = f.login(LoginInput{Login: "ann", Password: pw})
	if code(err) != desk.EUnauthorized || !strings.Contains(err.Error(), "invalid login or password") {
		t.Fatalf("disabled login: %v", err)
	}
	if e := f.lastAudit(t); e.Action != "auth.login_failed" || !strings.Contains(e.Detail, "disabled") {
		t.Fatalf("audit %+v", e)
	}
	if err := f.svc.SetDisabled(ctx, Principal{Agent: &f.admin}, f.ann.ID, false); err != nil {
		t.Fatal(err)
	}
	if _, err := f.login(LoginInput{Login: "ann", Password: pw}); err != nil {
		t.Fatalf("re-enabled: %v", err)
	}
}

func TestSessionExpiry(t *testing.T) {
	f := newFixture(t, Options{SessionIdle: 2 * time.Hour, SessionMax: 5 * time.Hour})
	ctx := context.Background()
	res, err := f.login(LoginInput{Login: "ann", Password: pw})
	if err != nil {
		t.Fatal(err)
	}
	auth := func() error { _, err := f.svc.Authenticate(ctx, cookieRequest("GET", res.Token)); return err }
	// Activity slides the idle expiry...
	for i := range 3 {
		f.advance(90 * time.Minute)
		if err := auth(); err != nil {
			t.Fatalf("step %d (%s after login): %v", i, time.Duration(i+1)*90*time.Minute, err)
		}
	}
	// ...but not past the absolute maximum (6h > 5h), though never idle 2h.
	f.advance(90 * time.Minute)
	if err := auth(); code(err) != desk.EUnauthorized {
		t.Fatalf("past max: %v", err)
	}
	// Idle expiry.
	res, _ = f.login(LoginInput{Login: "ann", Password: pw})
	f.advance(2*time.Hour + time.Second)
	if err := auth(); code(err) != desk.EUnauthorized {
		t.Fatalf("idle: %v", err)
	}
	for _, tok := range []string{"", "junk", "css_" + strings.Repeat("a", 43), "cst_abc"} {
		if _, err := f.svc.Authenticate(ctx, cookieRequest("GET", tok)); code(err) != desk.EUnauthorized {
			t.Errorf("cookie %q: %v", tok, err)
		}
	}
	if _, err := f.svc.Authenticate(ctx, httptest.NewRequest("GET", "/", nil)); code(err) != desk.EUnauthorized {
		t.Errorf("no credentials: %v", err)
	}
}

func TestTokens(t *testing.T) {
	f := newFixture(t, Options{})
	ctx := context.Background()
	admin := Principal{Agent: &f.admin, IP: "192.0.2.5"}
	for _, tc := range []struct {
		name   string
		p      Principal
		tname  string
		scopes []string
		code   string
		field  string
	}{
		{"agent may not", Principal{Agent: &f.ann}, "crm", []string{"tickets:read"}, desk.EForbidden, ""},
		{"no name", admin, " ", []string{"tickets:read"}, desk.EInvalid, "name"},
		{"no scopes", admin, "crm", nil, desk.EInvalid, "scopes"},
		{"bad scope", admin, "crm", []string{"tickets:read", "root"}, desk.EInvalid, "scopes[1]"},
	} {
		_, _, err := f.svc.CreateToken(ctx, tc.p, tc.tname, tc.scopes)
		if code(err) != tc.code {
			t.Errorf("%s: %v", tc.name, err)
		}
		if de, ok := err.(*desk.Error); ok && tc.field != "" && de.Fields[tc.field] == "" {
			t.Errorf("%s: fields %v", tc.name, de.Fields)
		}
	}
	tok, secret, err := f.svc.CreateToken(ctx, admin, "crm", []string{"tickets:write", "tickets:read", "tickets:read"})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(secret, "cst_") || tok.ID == 0 || !strings.HasPrefix(secret, tok.Prefix) || len(tok.Scopes) != 2 {
		t.Fatalf("token %+v secret %q", tok, secret)
	}
	e := f.lastAudit(t)
	if e.Action != "token.create" || strings.Contains(e.Detail, secret) || strings.Contains(e.Detail, tok.Hash) || !strings.Contains(e.Detail, "tickets:write") {
		t.Fatalf("audit %+v", e)
	}
	bearer := func(h string) (Principal, error) {
		r := httptest.NewRequest("POST", "/api/v1/tickets", nil)
		r.Header.Set("Authorization", h)
		return f.svc.Authenticate(ctx, r)
	}
	p, err := bearer("Bearer " + secret)
	if err != nil || p.Token == nil || p.Token.ID != tok.ID || !p.Can(PermTicketWrite) || p.Can(PermAgentManage) || p.ActorKind() != desk.AuthorToken {
		t.Fatalf("bearer principal %+v, %v", p, err)
	}
	if p.Token.LastUsedAt == nil {
		t.Fatal("LastUsedAt not set")
	}
	if err := f.svc.CheckCSRF(httptest.NewRequest("POST", "/", nil), p); err != nil {
		t.Fatalf("bearer not exempt from CSRF: %v", err)
	}
	for _, h := range []string{"Bearer cst_nope", "Basic abc", "Bearer", "Bearer css_" + secret[4:], "Bearer " + secret + "x"} {
		if _, err := bearer(h); code(err) != desk.EUnauthorized {
			t.Errorf("%q: %v", h, err)
		}
	}
	if err := f.svc.RevokeToken(ctx, Principal{Agent: &f.ann}, tok.ID); code(err) != desk.EForbidden {
		t.Fatalf("agent revoked: %v", err)
	}
	if err := f.svc.RevokeToken(ctx, admin, tok.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := bearer("Bearer " + secret); code(err) != desk.EUnauthorized {
		t.Fatalf("revoked token: %v", err)
	}
	if err := f.svc.RevokeToken(ctx, admin, 999); !errorsIsNotFound(err) {
		t.Fatalf("revoke missing: %v", err)
	}
}

func TestCSRFAndLogout(t *testing.T) {
	f := newFixture(t, Options{Secure: true})
	ctx := context.Background()
	res, _ := f.login(LoginInput{Login: "ann", Password: pw})
	p, err := f.svc.Authenticate(ctx, cookieRequest("POST", res.Token))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		method, header, want string
	}{
		{"GET", "", ""}, {"HEAD", "", ""}, {"OPTIONS", "", ""},
		{"POST", "", desk.EForbidden}, {"DELETE", "bad", desk.EForbidden}, {"PATCH", res.Session.CSRF[1:], desk.EForbidden},
		{"POST", res.Session.CSRF, ""}, {"PUT", res.Session.CSRF, ""},
	} {
		r := cookieRequest(tc.method, res.Token)
		if tc.header != "" {
			r.Header.Set("X-CSRF-Token", tc.header)
		}
		if err := f.svc.CheckCSRF(r, p); code(err) != tc.want {
			t.Errorf("%s %q: %v", tc.method, tc.header, err)
		}
	}
	c := f.svc.Cookie(res.Token, res.Session.ExpiresAt)
	if c.Name != CookieName || !c.HttpOnly || !c.Secure || c.SameSite != http.SameSiteLaxMode || c.Path != "/" {
		t.Errorf("cookie %+v", c)
	}
	if cc := f.svc.ClearCookie(); cc.MaxAge >= 0 || cc.Value != "" {
		t.Errorf("clear cookie %+v", cc)
	}
	if err := f.svc.Logout(ctx, p); err != nil {
		t.Fatal(err)
	}
	if e := f.lastAudit(t); e.Action != "auth.logout" || e.Target != "agent:2" {
		t.Errorf("audit %+v", e)
	}
	if _, err := f.svc.Authenticate(ctx, cookieRequest("GET", res.Token)); code(err) != desk.EUnauthorized {
		t.Errorf("after logout: %v", err)
	}
}

func TestAgentManagement(t *testing.T) {
	f := newFixture(t, Options{})
	ctx := context.Background()
	lead := desk.Agent{Login: "lee", Name: "Lee", Role: desk.RoleLead}
	if err := f.svc.CreateAgent(ctx, Principal{Agent: &f.ann}, &lead, pw); code(err) != desk.EForbidden {
		t.Fatalf("agent created agent: %v", err)
	}
	bad := desk.Agent{Login: "-x", Role: "pirate"}
	err := f.svc.CreateAgent(ctx, Principal{Agent: &f.admin}, &bad, "short")
	de, _ := err.(*desk.Error)
	if de == nil || de.Code != desk.EInvalid || de.Fields["password"] == "" || de.Fields["login"] == "" || de.Fields["role"] == "" {
		t.Fatalf("validation: %v", err)
	}
	dup := desk.Agent{Login: "ann", Name: "Ann 2", Role: desk.RoleAgent}
	if err := f.svc.CreateAgent(ctx, Principal{Agent: &f.admin}, &dup, pw); code(err) != desk.EConflict {
		t.Fatalf("duplicate login: %v", err)
	}
	if e := f.auditLog(t)[1]; e.Action != "agent.create" || e.Target != "agent:2" || e.ActorID != f.admin.ID {
		t.Fatalf("create audit %+v", e)
	}
	if e := f.auditLog(t)[0]; e.ActorKind != desk.AuthorSystem {
		t.Fatalf("CLI create audit %+v", e)
	}

	// Lock ann, then reset her password: lock cleared, sessions gone.
	res, _ := f.login(LoginInput{Login: "ann", Password: pw})
	for range 5 {
		f.login(LoginInput{Login: "ann", Password: "wrong-password"})
	}
	const newPW = "another-passw0rd"
	if err := f.svc.SetPassword(ctx, Principal{Agent: &lead}, f.ann.ID, newPW); code(err) != desk.EForbidden {
		t.Fatalf("non-admin reset: %v", err)
	}
	if err := f.svc.SetPassword(ctx, Principal{Agent: &f.admin}, f.ann.ID, "short"); code(err) != desk.EInvalid {
		t.Fatalf("short password: %v", err)
	}
	if err := f.svc.SetPassword(ctx, Principal{Agent: &f.admin}, f.ann.ID, newPW); err != nil {
		t.Fatal(err)
	}
	if e := f.lastAudit(t); e.Action != "agent.password_reset" || strings.Contains(e.Detail, newPW) {
		t.Fatalf("audit %+v", e)
	}
	if _, err := f.svc.Authenticate(ctx, cookieRequest("GET", res.Token)); code(err) != desk.EUnauthorized {
		t.Fatalf("old session survived reset: %v", err)
	}
	if _, err := f.login(LoginInput{Login: "ann", Password: newPW}); err != nil {
		t.Fatalf("new password: %v", err)
	}
	if err := f.svc.SetPassword(ctx, Principal{Agent: &f.ann}, f.ann.ID, pw); err != nil {
		t.Fatalf("self reset: %v", err)
	}
}

func errorsIsNotFound(err error) bool { return err != nil && desk.ErrorCode(err) == desk.ENotFound }

func TestChangePassword(t *testing.T) {
	f := newFixture(t, Options{})
	ctx := context.Background()
	res, _ := f.login(LoginInput{Login: "ann", Password: pw})
	p, _ := f.svc.Authenticate(ctx, cookieRequest("GET", res.Token))
	const next = "brand-new-passphrase"
	for _, tc := range []struct {
		name, cur, next, want string
	}{
		{"too short", pw, "short", desk.EInvalid},
		{"wrong current", "wrong-password", next, desk.EInvalid},
		{"ok", pw, next, ""},
	} {
		if err := f.svc.ChangePassword(ctx, p, tc.cur, tc.next); code(err) != tc.want {
			t.Errorf("%s: %v", tc.name, err)
		}
	}
	if _, err := f.login(LoginInput{Login: "ann", Password: next}); err != nil {
		t.Fatalf("login with new password: %v", err)
	}
	if err := f.svc.ChangePassword(ctx, Principal{Token: &desk.APIToken{ID: 1}}, pw, next); code(err) != desk.EForbidden {
		t.Errorf("token changed a password: %v", err)
	}
}

// TestLoginBadInput sends logins no agent can have. PostgreSQL refuses a
// NUL byte or invalid UTF-8 in a query parameter, so before they were
// checked these were 500s there; they must be the plain "invalid login"
// 401 on both engines, audited with a record-safe target.
func TestLoginBadInput(t *testing.T) {
	for _, engine := range []string{"sqlite", "postgres"} {
		t.Run(engine, func(t *testing.T) {
			ctx := context.Background()
			var (
				db interface {
					store.Store
					Migrate(context.Context) (int, error)
					Close() error
				}
				err error
			)
			if engine == "postgres" {
				db, err = postgres.Open(ctx, pgtest.DSN(t))
			} else {
				db, err = sqlite.Open(ctx, filepath.Join(t.TempDir(), "custos.db"))
			}
			if err != nil {
				t.Fatal(err)
			}
			if _, err := db.Migrate(ctx); err != nil {
				db.Close()
				t.Fatal(err)
			}
			b := store.NewBatcher(db, store.BatchOptions{PassThrough: engine == "postgres"})
			t.Cleanup(func() { b.Close(); db.Close() })
			svc := NewService(b, Options{})
			ann := desk.Agent{Login: "ann", Name: "Ann", Role: desk.RoleAgent}
			if err := svc.CreateAgent(ctx, Principal{}, &ann, pw); err != nil {
				t.Fatal(err)
			}
			for _, tc := range []struct{ name, login, target string }{
				{"NUL", "ann\x00", "login:ann?"},
				{"only NUL", "\x00", "login:?"},
				{"control", "an\x1bn", "login:an?n"},
				{"invalid UTF-8", "ann\xff\xfe", "login:ann\ufffd\ufffd"}, // ToLower makes it valid
				{"too long", strings.Repeat("a", 65), "login:" + strings.Repeat("a", 64)},
				{"huge", strings.Repeat("ä", 10000), "login:" + strings.Repeat("ä", 32)},
			} {
				_, err := svc.Login(ctx, LoginInput{Login: tc.login, Password: pw, IP: "192.0.2.9"})
				if code(err) != desk.EUnauthorized || err.Error() != "unauthorized: invalid login or password" {
					t.Errorf("%s: %v; want the invalid-login 401", tc.name, err)
					continue
				}
				var last desk.AuditEntry
				err = b.Read(ctx, func(tx store.Tx) error {
					es, err := tx.ListAudit(ctx, 0, 1000)
					if len(es) > 0 {
						last = es[len(es)-1]
					}
					return err
				})
				if err != nil {
					t.Fatal(err)
				}
				if last.Action != "auth.login_failed" || last.Target != tc.target || !strings.Contains(last.Detail, "unknown_login") {
					t.Errorf("%s: audit %q %q %s; want auth.login_failed %q unknown_login", tc.name, last.Action, last.Target, last.Detail, tc.target)
				}
			}
		})
	}
}
