package httpapi

import (
	"bytes"
	"log/slog"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"custos/internal/auth"
)

// TestMFAPendingRestricted: with RequireTOTP, a password-only login gets a
// session that may only reach me, logout and TOTP enrolment.
func TestMFAPendingRestricted(t *testing.T) {
	e := newEnv(t)
	strict := New(Config{}, Deps{Store: e.st, Auth: auth.NewService(e.st, auth.Options{RequireTOTP: true}), Tickets: e.srv.tickets})
	hs := httptest.NewServer(strict.Handler())
	defer hs.Close()
	e.ts = hs

	r, c := e.login(t, "lead", testPassword, "")
	var lr loginResponse
	r.json(t, &lr)
	if r.status != 200 || !lr.EnrollTOTP || c.cookie == "" {
		t.Fatalf("login: %d %s", r.status, r.body)
	}
	for _, p := range []string{"/api/v1/tickets", "/api/v1/contacts", "/api/v1/agents", "/api/v1/ws"} {
		if r := e.request(t, c, "GET", p, nil); r.status != 401 || r.errCode() != "mfa_required" {
			t.Errorf("%s while MFA pending: %d %s", p, r.status, r.body)
		}
	}
	if r := e.request(t, c, "PUT", "/api/v1/agents/me/presence", map[string]string{"presence": "online"}); r.status != 401 {
		t.Errorf("presence while MFA pending: %d", r.status)
	}
	r = e.request(t, c, "GET", "/api/v1/auth/me", nil)
	var me meResponse
	r.json(t, &me)
	if r.status != 200 || !me.MFAPending || len(me.Permissions) != 0 {
		t.Fatalf("me while pending: %d %s", r.status, r.body)
	}
	r = e.request(t, c, "POST", "/api/v1/auth/totp/setup", nil)
	var setup struct{ Secret string }
	r.json(t, &setup)
	code, _ := auth.TOTPCode(setup.Secret, time.Now())
	if r = e.request(t, c, "POST", "/api/v1/auth/totp/enable", map[string]string{"secret": setup.Secret, "code": code}); r.status != 200 {
		t.Fatalf("enable: %d %s", r.status, r.body)
	}
	if r = e.request(t, c, "GET", "/api/v1/tickets", nil); r.status != 200 {
		t.Errorf("tickets after enrolling: %d %s", r.status, r.body)
	}
}

// syncBuffer is a log sink safe for the server's goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestAccessLogHasNoSecrets(t *testing.T) {
	e := newEnv(t)
	var buf syncBuffer
	logged := New(Config{}, Deps{Store: e.st, Auth: e.srv.auth, Tickets: e.srv.tickets, Logger: slog.New(slog.NewJSONHandler(&buf, nil))})
	hs := httptest.NewServer(logged.Handler())
	defer hs.Close()
	e.ts = hs
	c := e.creds["admin"]
	e.request(t, c, "POST", "/api/v1/contacts?secretq=1", map[string]string{"name": "Log Test", "phone": "+821099998888"}, "X-Request-Id", "req-log-1")
	e.request(t, e.creds["writer"], "GET", "/api/v1/tickets/"+id(e.ticketA.ID), nil)
	e.login(t, "agent", testPassword, "")
	time.Sleep(10 * time.Millisecond) // the access log line is written after the response
	out := buf.String()
	for _, secret := range []string{c.cookie, c.csrf, e.creds["writer"].bearer, testPassword, "+821099998888", "secretq", "/api/v1/tickets/" + id(e.ticketA.ID)} {
		if strings.Contains(out, secret) {
			t.Errorf("log contains %q:\n%s", secret, out)
		}
	}
	for _, want := range []string{`"request_id":"req-log-1"`, `"route":"POST /api/v1/contacts"`, `"status":201`, `"route":"GET /api/v1/tickets/{id}"`, `"duration"`, `"bytes"`} {
		if !strings.Contains(out, want) {
			t.Errorf("log lacks %s:\n%s", want, out)
		}
	}
}

// TestAdminRemovesTOTP: an agent who lost their phone is let back in by an
// admin, on the record; the same call from the agent is refused.
func TestAdminRemovesTOTP(t *testing.T) {
	e := newEnv(t)
	_, c := e.login(t, "agent", testPassword, "")
	r := e.request(t, c, "POST", "/api/v1/auth/totp/setup", nil)
	var setup struct{ Secret string }
	r.json(t, &setup)
	code, _ := auth.TOTPCode(setup.Secret, time.Now().Add(-30*time.Second))
	if r = e.request(t, c, "POST", "/api/v1/auth/totp/enable", map[string]string{"secret": setup.Secret, "code": code}); r.status != 200 {
		t.Fatalf("enable: %d %s", r.status, r.body)
	}
	if r, _ := e.login(t, "agent", testPassword, ""); r.errCode() != "mfa_required" {
		t.Fatalf("login without code after enrolment: %d %s", r.status, r.body)
	}
	path := "/api/v1/agents/" + id(e.agents["agent"].ID) + "/totp"
	if r := e.request(t, c, "DELETE", path, nil); r.status != 403 {
		t.Errorf("agent removing own authenticator through the admin route: %d", r.status)
	}
	if r := e.request(t, e.creds["admin"], "DELETE", "/api/v1/agents/999999/totp", nil); r.status != 404 {
		t.Errorf("missing agent: %d %s", r.status, r.body)
	}
	if r := e.request(t, e.creds["admin"], "DELETE", path, nil); r.status != 204 {
		t.Fatalf("admin remove: %d %s", r.status, r.body)
	}
	if r, _ := e.login(t, "agent", testPassword, ""); r.status != 200 {
		t.Fatalf("login after removal: %d %s", r.status, r.body)
	}
	r = e.request(t, e.creds["admin"], "GET", "/api/v1/audit?limit=20", nil)
	if !strings.Contains(string(r.body), "auth.totp_disabled") {
		t.Errorf("removal not audited: %s", r.body)
	}
}

// TestRecoveryCodesAPI: enrolment answers with the recovery codes, a code
// logs in once, and new codes need the current authenticator code.
func TestRecoveryCodesAPI(t *testing.T) {
	e := newEnv(t)
	_, c := e.login(t, "agent", testPassword, "")
	r := e.request(t, c, "POST", "/api/v1/auth/totp/setup", nil)
	var setup struct{ Secret string }
	r.json(t, &setup)
	prev, _ := auth.TOTPCode(setup.Secret, time.Now().Add(-30*time.Second))
	r = e.request(t, c, "POST", "/api/v1/auth/totp/enable", map[string]string{"secret": setup.Secret, "code": prev})
	var enabled totpEnableResponse
	r.json(t, &enabled)
	if r.status != 200 || !enabled.TOTPEnabled || len(enabled.RecoveryCodes) != auth.RecoveryCodeCount || r.header.Get("Cache-Control") != "no-store" {
		t.Fatalf("enable: %d %v %s", r.status, r.header, r.body)
	}
	left := func(c cred) *int {
		t.Helper()
		var me meResponse
		e.request(t, c, "GET", "/api/v1/auth/me", nil).json(t, &me)
		return me.RecoveryCodesLeft
	}
	if n := left(c); n == nil || *n != 10 {
		t.Fatalf("me: recovery_codes_left %v", n)
	}
	if n := left(e.creds["lead"]); n != nil {
		t.Errorf("me of an agent without an authenticator: recovery_codes_left %d", *n)
	}

	r, c2 := e.login(t, "agent", testPassword, enabled.RecoveryCodes[0])
	var lr loginResponse
	r.json(t, &lr)
	if r.status != 200 || lr.RecoveryCodesLeft == nil || *lr.RecoveryCodesLeft != 9 || c2.cookie == "" {
		t.Fatalf("login with a recovery code: %d %s", r.status, r.body)
	}
	if r, _ := e.login(t, "agent", testPassword, enabled.RecoveryCodes[0]); r.status != 401 || r.errCode() != "mfa_required" {
		t.Fatalf("recovery code reused: %d %s", r.status, r.body)
	}

	path := "/api/v1/auth/totp/recovery-codes"
	for _, tc := range []struct {
		name   string
		c      cred
		body   any
		status int
	}{
		{"no code", c, map[string]string{}, 400},
		{"wrong code", c, map[string]string{"code": "000000"}, 400},
		{"unknown field", c, map[string]string{"code": "000000", "x": "y"}, 400},
		{"API token", e.creds["token"], map[string]string{"code": "000000"}, 403},
		{"no authenticator", e.creds["lead"], map[string]string{"code": "000000"}, 409},
	} {
		if r := e.request(t, tc.c, "POST", path, tc.body); r.status != tc.status {
			t.Errorf("%s: %d %s; want %d", tc.name, r.status, r.body, tc.status)
		}
	}
	now, _ := auth.TOTPCode(setup.Secret, time.Now())
	r = e.request(t, c, "POST", path, map[string]string{"code": now})
	var fresh struct {
		RecoveryCodes []string `json:"recovery_codes"`
	}
	r.json(t, &fresh)
	if r.status != 200 || len(fresh.RecoveryCodes) != auth.RecoveryCodeCount || r.header.Get("Cache-Control") != "no-store" {
		t.Fatalf("regenerate: %d %s", r.status, r.body)
	}
	if n := left(c); n == nil || *n != 10 {
		t.Fatalf("me after regenerating: recovery_codes_left %v", n)
	}
	if r, _ := e.login(t, "agent", testPassword, enabled.RecoveryCodes[1]); r.status != 401 {
		t.Fatalf("old code after regenerating: %d %s", r.status, r.body)
	}
	if r, _ := e.login(t, "agent", testPassword, fresh.RecoveryCodes[0]); r.status != 200 {
		t.Fatalf("new code: %d %s", r.status, r.body)
	}
	r = e.request(t, e.creds["admin"], "GET", "/api/v1/audit?limit=1000", nil)
	for _, want := range []string{"auth.recovery_code_used", "auth.recovery_codes_generated"} {
		if !strings.Contains(string(r.body), want) {
			t.Errorf("audit lacks %s", want)
		}
	}
	for _, code := range append(enabled.RecoveryCodes, fresh.RecoveryCodes...) {
		if strings.Contains(strings.ToLower(string(r.body)), code) {
			t.Errorf("audit holds recovery code %s", code)
		}
	}
}
