package auth

import (
	"context"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"custos/internal/desk"
	"custos/internal/store"
)

var recoveryCodeShape = regexp.MustCompile(`^[0-9a-hjkmnp-tv-z]{5}-[0-9a-hjkmnp-tv-z]{5}$`)

func TestParseRecoveryCode(t *testing.T) {
	for _, tc := range []struct {
		in, want string
	}{
		{"7k2mq-x9d4a", "7K2MQX9D4A"},
		{" 7K2MQ X9D4A ", "7K2MQX9D4A"},
		{"7k2mqx9d4a", "7K2MQX9D4A"},
		{"7k2-mq-x9d-4a", "7K2MQX9D4A"},
		{"oOiIl-L0000", "0011110000"}, // read as the digits they look like
		{"123456", ""},                // an authenticator code
		{"", ""},
		{"7k2mq-x9d4", ""},     // too short
		{"7k2mq-x9d4ab", ""},   // too long
		{"7k2mq-x9d4u", ""},    // U is not in the alphabet
		{"7k2mq-x9d4ä", ""},    // nor anything outside ASCII
		{"7k2mq_x9d4a", ""},    // nor other separators
		{"7k2mq\x00x9d4a", ""}, // nor control characters
	} {
		got, ok := parseRecoveryCode(tc.in)
		if got != tc.want || ok != (tc.want != "") {
			t.Errorf("parseRecoveryCode(%q) = %q, %v; want %q", tc.in, got, ok, tc.want)
		}
	}
}

func TestNewRecoveryCodes(t *testing.T) {
	codes, hashes := newRecoveryCodes(7)
	if len(codes) != RecoveryCodeCount || len(hashes) != RecoveryCodeCount {
		t.Fatalf("%d codes, %d hashes", len(codes), len(hashes))
	}
	seen := map[string]bool{}
	for i, c := range codes {
		if !recoveryCodeShape.MatchString(c) || seen[c] {
			t.Errorf("code %q: bad shape or repeated", c)
		}
		seen[c] = true
		canon, ok := parseRecoveryCode(c)
		if !ok || hashRecoveryCode(7, canon) != hashes[i] {
			t.Errorf("code %q does not parse back to its hash", c)
		}
		if hashRecoveryCode(8, canon) == hashes[i] {
			t.Errorf("code %q hashes the same for another agent", c)
		}
	}
}

// enrol gives ann an authenticator at the fixture's current step and
// returns the principal of her session, the secret and the recovery codes.
func (f *fixture) enrol(t *testing.T) (Principal, string, []string) {
	t.Helper()
	ctx := context.Background()
	res, err := f.login(LoginInput{Login: "ann", Password: pw})
	if err != nil {
		t.Fatal(err)
	}
	p, err := f.svc.Authenticate(ctx, cookieRequest("GET", res.Token))
	if err != nil {
		t.Fatal(err)
	}
	secret, _, _ := f.svc.BeginTOTP(ctx, p)
	c, _ := TOTPCode(secret, f.now)
	codes, err := f.svc.EnableTOTP(ctx, p, secret, c)
	if err != nil {
		t.Fatal(err)
	}
	p, err = f.svc.Authenticate(ctx, cookieRequest("GET", res.Token))
	if err != nil {
		t.Fatal(err)
	}
	return p, secret, codes
}

func (f *fixture) codesLeft(t *testing.T, agentID int64) int {
	t.Helper()
	var n int
	err := f.svc.st.Read(context.Background(), func(tx store.Tx) error {
		var err error
		n, err = tx.CountRecoveryCodes(context.Background(), agentID)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func (f *fixture) failedLogins(t *testing.T, agentID int64) int {
	t.Helper()
	var sec desk.AgentSecrets
	err := f.svc.st.Read(context.Background(), func(tx store.Tx) error {
		var err error
		sec, err = tx.GetAgentSecrets(context.Background(), agentID)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return sec.FailedLogins
}

// noCodesInAudit fails if any audit entry holds any form of any code.
func (f *fixture) noCodesInAudit(t *testing.T, codes ...string) {
	t.Helper()
	for _, e := range f.auditLog(t) {
		text := strings.ToUpper(e.Detail + e.Target)
		for _, c := range codes {
			canon, _ := parseRecoveryCode(c)
			if strings.Contains(text, strings.ToUpper(c)) || strings.Contains(text, canon) {
				t.Fatalf("audit entry %d %s holds recovery code %s: %s", e.ID, e.Action, c, e.Detail)
			}
		}
	}
}

// TestRecoveryCodes: enrolment returns codes once; each opens one session;
// a spent or wrong one counts as a failed login; regenerating needs the
// authenticator; removing the authenticator removes the codes.
func TestRecoveryCodes(t *testing.T) {
	f := newFixture(t, Options{})
	ctx := context.Background()
	p, secret, codes := f.enrol(t)
	if len(codes) != RecoveryCodeCount {
		t.Fatalf("%d recovery codes", len(codes))
	}
	if n, ok, err := f.svc.RecoveryCodesLeft(ctx, p); n != 10 || !ok || err != nil {
		t.Fatalf("RecoveryCodesLeft = %d, %v, %v", n, ok, err)
	}
	if _, ok, _ := f.svc.RecoveryCodesLeft(ctx, Principal{Agent: &f.admin}); ok {
		t.Error("an agent without an authenticator has a recovery-code count")
	}
	// Enrolling again is refused and mints nothing.
	if got, err := f.svc.EnableTOTP(ctx, p, secret, "000000"); err == nil || got != nil {
		t.Fatalf("second enrolment: %v, %v", got, err)
	}

	// A code typed loosely opens a session, once.
	f.advance(time.Minute)
	before := f.sessions(t)
	messy := " " + strings.ToUpper(strings.ReplaceAll(codes[0], "-", " ")) + " "
	res, err := f.login(LoginInput{Login: "ann", Password: pw, TOTP: messy})
	if err != nil {
		t.Fatalf("login with a recovery code: %v", err)
	}
	if res.RecoveryCodesLeft == nil || *res.RecoveryCodesLeft != 9 || f.sessions(t) != before+1 {
		t.Fatalf("result %+v, %d new sessions", res, f.sessions(t)-before)
	}
	log := f.auditLog(t)
	used, last := log[len(log)-2], log[len(log)-1]
	if used.Action != "auth.recovery_code_used" || used.Detail != `{"left":9}` || used.Target != "agent:2" || last.Action != "auth.login" {
		t.Fatalf("audit %+v then %+v", used, last)
	}
	for _, tc := range []struct{ name, code string }{
		{"spent code", codes[0]},
		{"unknown code", "00000-00000"},
	} {
		_, err := f.login(LoginInput{Login: "ann", Password: pw, TOTP: tc.code})
		if code(err) != desk.EMFARequired || f.sessions(t) != before+1 {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if e := f.lastAudit(t); e.Action != "auth.login_failed" || !strings.Contains(e.Detail, "bad_recovery_code") {
			t.Fatalf("%s: audit %+v", tc.name, e)
		}
	}
	if n := f.failedLogins(t, f.ann.ID); n != 2 {
		t.Fatalf("%d failed logins counted, want 2", n)
	}
	if n := f.codesLeft(t, f.ann.ID); n != 9 {
		t.Fatalf("%d codes left after failures, want 9", n)
	}
	// Another code still works and resets the count.
	if _, err := f.login(LoginInput{Login: "ann", Password: pw, TOTP: codes[1]}); err != nil {
		t.Fatalf("second code: %v", err)
	}
	if n := f.failedLogins(t, f.ann.ID); n != 0 {
		t.Fatalf("%d failed logins after success", n)
	}

	// Regenerating needs a logged-in agent and its current authenticator code.
	for _, tc := range []struct {
		name string
		p    Principal
		code string
		want string
	}{
		{"no code", p, "", desk.EInvalid},
		{"wrong code", p, "000000", desk.EInvalid},
		{"API token", Principal{Agent: p.Agent, Token: &desk.APIToken{ID: 1}}, "000000", desk.EForbidden},
		{"MFA pending", Principal{Agent: p.Agent, Session: &desk.Session{MFAPending: true}}, "000000", desk.EForbidden},
		{"no authenticator", Principal{Agent: &f.admin}, "123456", desk.EConflict},
	} {
		if got, err := f.svc.RegenerateRecoveryCodes(ctx, tc.p, tc.code); code(err) != tc.want || got != nil {
			t.Errorf("%s: %v, %v; want %s", tc.name, got, err, tc.want)
		}
	}
	if n := f.failedLogins(t, f.ann.ID); n != 1 {
		t.Fatalf("wrong regeneration code: %d failed logins, want 1", n)
	}
	if e := f.lastAudit(t); e.Action != "auth.login_failed" || !strings.Contains(e.Detail, "recovery_codes_bad_totp") {
		t.Fatalf("wrong regeneration code audited as %+v", e)
	}
	f.advance(30 * time.Second)
	now, _ := TOTPCode(secret, f.now)
	fresh, err := f.svc.RegenerateRecoveryCodes(ctx, p, now)
	if err != nil || len(fresh) != RecoveryCodeCount {
		t.Fatalf("regenerate: %v, %v", fresh, err)
	}
	if e := f.lastAudit(t); e.Action != "auth.recovery_codes_generated" || e.Detail != `{"count":10}` {
		t.Fatalf("regeneration audited as %+v", e)
	}
	// The authenticator code is spent, for regenerating and for logging in.
	if _, err := f.svc.RegenerateRecoveryCodes(ctx, p, now); code(err) != desk.EInvalid || !strings.Contains(err.Error(), "already used") {
		t.Fatalf("same code twice: %v", err)
	}
	if _, err := f.login(LoginInput{Login: "ann", Password: pw, TOTP: now}); code(err) != desk.EMFARequired {
		t.Fatalf("login with the code spent on regenerating: %v", err)
	}
	// The old codes are gone, the new ones work.
	if _, err := f.login(LoginInput{Login: "ann", Password: pw, TOTP: codes[2]}); code(err) != desk.EMFARequired {
		t.Fatalf("old code after regenerating: %v", err)
	}
	if res, err := f.login(LoginInput{Login: "ann", Password: pw, TOTP: fresh[9]}); err != nil || *res.RecoveryCodesLeft != 9 {
		t.Fatalf("new code: %+v, %v", res, err)
	}

	// Removing the authenticator removes the codes.
	if err := f.svc.DisableTOTP(ctx, Principal{Agent: &f.admin}, f.ann.ID); err != nil {
		t.Fatal(err)
	}
	if n := f.codesLeft(t, f.ann.ID); n != 0 {
		t.Fatalf("%d codes left after disabling", n)
	}
	f.noCodesInAudit(t, append(codes, fresh...)...)
}

// TestRecoveryCodeLockout: wrong recovery codes lock the account like wrong
// authenticator codes, and a right one does not open a locked account.
func TestRecoveryCodeLockout(t *testing.T) {
	f := newFixture(t, Options{})
	_, _, codes := f.enrol(t)
	for i := 1; i <= 5; i++ {
		_, err := f.login(LoginInput{Login: "ann", Password: pw, TOTP: "zzzzz-zzzzz"})
		want := desk.EMFARequired
		if i == 5 {
			want = desk.ELocked
		}
		if code(err) != want {
			t.Fatalf("wrong code %d: %v; want %s", i, err, want)
		}
	}
	if _, err := f.login(LoginInput{Login: "ann", Password: pw, TOTP: codes[0]}); code(err) != desk.ELocked {
		t.Fatalf("right code while locked: %v", err)
	}
	if n := f.codesLeft(t, f.ann.ID); n != 10 {
		t.Fatalf("a refused login spent a code: %d left", n)
	}
	f.advance(16 * time.Minute)
	if _, err := f.login(LoginInput{Login: "ann", Password: pw, TOTP: codes[0]}); err != nil {
		t.Fatalf("after the lock: %v", err)
	}
}

// TestRecoveryCodeRace: logins racing with one code open one session.
func TestRecoveryCodeRace(t *testing.T) {
	f := newFixture(t, Options{})
	_, _, codes := f.enrol(t)
	before := f.sessions(t)
	const n = 4 // fewer than the lockout limit: the losers' failures count
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		errs []error
	)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := f.login(LoginInput{Login: "ann", Password: pw, TOTP: codes[3], IP: "192.0.2." + string(rune('1'+i))})
			mu.Lock()
			errs = append(errs, err)
			mu.Unlock()
		}()
	}
	wg.Wait()
	won := 0
	for _, err := range errs {
		switch code(err) {
		case "":
			won++
		case desk.EMFARequired:
		default:
			t.Errorf("racing login: %v", err)
		}
	}
	if won != 1 || f.sessions(t) != before+1 {
		t.Fatalf("%d logins won, %d sessions opened; want 1", won, f.sessions(t)-before)
	}
	if left := f.codesLeft(t, f.ann.ID); left != 9 {
		t.Fatalf("%d codes left, want 9", left)
	}
}
