package httpapi

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"custos/internal/auth"
	"custos/internal/desk"
)

// login posts credentials and returns the session cookie and CSRF token.
func (e *env) login(t *testing.T, login, password, totp string) (resp, cred) {
	t.Helper()
	body := map[string]string{"login": login, "password": password}
	if totp != "" {
		body["totp"] = totp
	}
	r := e.request(t, cred{}, "POST", "/api/v1/auth/login", body)
	var c cred
	for _, ck := range (&http.Response{Header: r.header}).Cookies() {
		if ck.Name == auth.CookieName {
			c.cookie = ck.Value
		}
	}
	var lr struct {
		CSRFToken string `json:"csrf_token"`
	}
	if r.status == 200 {
		r.json(t, &lr)
		c.csrf = lr.CSRFToken
	}
	return r, c
}

func TestLoginFlow(t *testing.T) { testLoginFlow(t, newEnv(t)) }

func testLoginFlow(t *testing.T, e *env) {
	r, c := e.login(t, "agent", "wrong password!!", "")
	if r.status != 401 || r.errCode() != "unauthorized" || c.cookie != "" {
		t.Fatalf("bad password: %d %s", r.status, r.body)
	}
	r, c = e.login(t, "agent", testPassword, "")
	if r.status != 200 || c.cookie == "" || c.csrf == "" {
		t.Fatalf("login: %d %s", r.status, r.body)
	}
	var ck *http.Cookie
	for _, x := range (&http.Response{Header: r.header}).Cookies() {
		if x.Name == auth.CookieName {
			ck = x
		}
	}
	if !ck.HttpOnly || ck.SameSite != http.SameSiteLaxMode && ck.SameSite != http.SameSiteStrictMode || ck.Path != "/" {
		t.Errorf("cookie flags: %+v", ck)
	}
	if strings.Contains(string(r.body), testPassword) || strings.Contains(string(r.body), c.cookie) {
		t.Error("login response leaks a secret")
	}
	r = e.request(t, c, "GET", "/api/v1/auth/me", nil)
	var me meResponse
	r.json(t, &me)
	if r.status != 200 || me.Agent == nil || me.Agent.Login != "agent" || me.CSRFToken != c.csrf || len(me.Permissions) == 0 {
		t.Fatalf("me: %d %s", r.status, r.body)
	}

	// TOTP: set up, enable, then logins need a code.
	r = e.request(t, c, "POST", "/api/v1/auth/totp/setup", nil)
	var setup struct {
		Secret string `json:"secret"`
		URL    string `json:"otpauth_url"`
	}
	r.json(t, &setup)
	if r.status != 200 || setup.Secret == "" || !strings.HasPrefix(setup.URL, "otpauth://") {
		t.Fatalf("totp setup: %d %s", r.status, r.body)
	}
	r = e.request(t, c, "POST", "/api/v1/auth/totp/enable", map[string]string{"secret": setup.Secret, "code": "000000x"})
	if r.status < 400 || r.status >= 500 {
		t.Fatalf("totp enable with a bad code: %d %s", r.status, r.body)
	}
	code, _ := auth.TOTPCode(setup.Secret, time.Now())
	r = e.request(t, c, "POST", "/api/v1/auth/totp/enable", map[string]string{"secret": setup.Secret, "code": code})
	if r.status != 200 {
		t.Fatalf("totp enable: %d %s", r.status, r.body)
	}

	// Logout needs CSRF like every cookie write, then the session is dead.
	r = e.request(t, cred{cookie: c.cookie}, "POST", "/api/v1/auth/logout", nil)
	if r.status != 403 {
		t.Fatalf("logout without CSRF: %d %s", r.status, r.body)
	}
	r = e.request(t, c, "POST", "/api/v1/auth/logout", nil)
	if r.status != 204 {
		t.Fatalf("logout: %d %s", r.status, r.body)
	}
	if cl := r.header.Get("Set-Cookie"); !strings.Contains(cl, auth.CookieName+"=;") && !strings.Contains(cl, "Max-Age=0") {
		t.Errorf("logout does not clear the cookie: %q", cl)
	}
	if r = e.request(t, c, "GET", "/api/v1/auth/me", nil); r.status != 401 {
		t.Fatalf("me after logout: %d %s", r.status, r.body)
	}

	r, _ = e.login(t, "agent", testPassword, "")
	if r.status != 401 || r.errCode() != desk.EMFARequired {
		t.Fatalf("login without code after enabling TOTP: %d %s", r.status, r.body)
	}
	// The next step's code: the enable code may count as used.
	code, _ = auth.TOTPCode(setup.Secret, time.Now().Add(30*time.Second))
	r, c = e.login(t, "agent", testPassword, code)
	if r.status != 200 || c.cookie == "" {
		t.Fatalf("login with code: %d %s", r.status, r.body)
	}
}

func TestSecureCookieUnderTLS(t *testing.T) {
	s := New(Config{TLS: true}, Deps{})
	c := s.cookie(&http.Cookie{Name: "x", Value: "y"})
	if !c.Secure || !c.HttpOnly || c.SameSite != http.SameSiteLaxMode {
		t.Errorf("cookie: %+v", c)
	}
}

func TestCSRF(t *testing.T) { testCSRF(t, newEnv(t)) }

func testCSRF(t *testing.T, e *env) {
	c := e.creds["agent"]
	body := map[string]any{"name": "CSRF test"}
	r := e.request(t, cred{cookie: c.cookie}, "POST", "/api/v1/contacts", body)
	if r.status != 403 || r.errCode() != "forbidden" {
		t.Fatalf("cookie POST without CSRF: %d %s", r.status, r.body)
	}
	r = e.request(t, cred{cookie: c.cookie, csrf: "wrong"}, "POST", "/api/v1/contacts", body)
	if r.status != 403 {
		t.Fatalf("cookie POST with a wrong CSRF token: %d %s", r.status, r.body)
	}
	if r = e.request(t, c, "POST", "/api/v1/contacts", body); r.status != 201 {
		t.Fatalf("cookie POST with CSRF: %d %s", r.status, r.body)
	}
	// GETs need no token; bearer tokens are exempt.
	if r = e.request(t, cred{cookie: c.cookie}, "GET", "/api/v1/contacts", nil); r.status != 200 {
		t.Fatalf("cookie GET: %d %s", r.status, r.body)
	}
	if r = e.request(t, e.creds["writer"], "POST", "/api/v1/contacts", body); r.status != 201 {
		t.Fatalf("bearer POST: %d %s", r.status, r.body)
	}
}

func TestTeamScoping(t *testing.T) { testTeamScoping(t, newEnv(t)) }

func testTeamScoping(t *testing.T, e *env) {
	a := e.creds["agent"] // team A
	tb := "/api/v1/tickets/" + id(e.ticketB.ID)
	if r := e.request(t, a, "GET", tb, nil); r.status != 404 {
		t.Errorf("get team B ticket: %d %s", r.status, r.body)
	}
	if r := e.request(t, a, "PATCH", tb, map[string]any{"priority": "high"}); r.status != 404 {
		t.Errorf("patch team B ticket: %d %s", r.status, r.body)
	}
	if r := e.request(t, a, "POST", tb+"/messages", map[string]any{"text": "hi"}); r.status != 404 {
		t.Errorf("reply to team B ticket: %d %s", r.status, r.body)
	}
	for _, q := range []string{"", "?view=all", "?team_id=" + id(e.teamB.ID), "?view=unassigned", "?q=vip"} {
		r := e.request(t, a, "GET", "/api/v1/tickets"+q, nil)
		var p page[desk.Ticket]
		r.json(t, &p)
		for _, tk := range p.Items {
			if tk.ID == e.ticketB.ID {
				t.Errorf("list%s shows team B's ticket", q)
			}
		}
		if q == "" && (len(p.Items) != 1 || p.Items[0].ID != e.ticketA.ID) {
			t.Errorf("list: %s", r.body)
		}
	}
	// The ticket's own team still sees and changes it.
	if r := e.request(t, e.creds["agentB"], "PATCH", tb, map[string]any{"priority": "high"}); r.status != 200 {
		t.Errorf("team B agent patch: %d %s", r.status, r.body)
	}
	// A lead sees everything.
	if r := e.request(t, e.creds["lead"], "GET", tb, nil); r.status != 200 {
		t.Errorf("lead get: %d %s", r.status, r.body)
	}
}

func TestContactMaskingAndReveal(t *testing.T) { testContactMaskingAndReveal(t, newEnv(t)) }

func testContactMaskingAndReveal(t *testing.T, e *env) {
	path := "/api/v1/contacts/" + id(e.contact.ID)
	r := e.request(t, e.creds["agent"], "GET", path, nil)
	var c desk.Contact
	r.json(t, &c)
	if c.Emails[0] != "m***@example.com" || c.Phone != "+82********34" || strings.Contains(c.TelegramID, "4567") {
		t.Errorf("masked contact: %s", r.body)
	}
	r = e.request(t, e.creds["admin"], "GET", "/api/v1/tickets/"+id(e.ticketA.ID), nil)
	if strings.Contains(string(r.body), "mina@example.com") || strings.Contains(string(r.body), "12345634") {
		t.Errorf("ticket view leaks contact data: %s", r.body)
	}
	before := e.auditCount(t)
	r = e.request(t, e.creds["lead"], "POST", path+"/reveal", nil)
	r.json(t, &c)
	if r.status != 200 || c.Emails[0] != "mina@example.com" || c.Phone != "+821012345634" {
		t.Fatalf("reveal: %d %s", r.status, r.body)
	}
	r = e.request(t, e.creds["admin"], "GET", "/api/v1/audit?after="+id(int64(before)), nil)
	if !strings.Contains(string(r.body), `"contact.reveal"`) || e.auditCount(t) != before+1 {
		t.Errorf("reveal not audited: %s", r.body)
	}
	if strings.Contains(string(r.body), "mina@") {
		t.Error("audit detail carries personal data")
	}
}

func TestIdempotency(t *testing.T) { testIdempotency(t, newEnv(t)) }

func testIdempotency(t *testing.T, e *env) {
	for _, tc := range []struct {
		path  string
		body  map[string]any
		other map[string]any
	}{
		{"/api/v1/tickets", map[string]any{"subject": "retry me", "contact_id": e.contact.ID}, map[string]any{"subject": "other", "contact_id": e.contact.ID}},
		{"/api/v1/contacts", map[string]any{"name": "Retry Kim"}, map[string]any{"name": "Other Kim"}},
	} {
		w := e.creds["writer"]
		r1 := e.request(t, w, "POST", tc.path, tc.body, "Idempotency-Key", "key-1")
		r2 := e.request(t, w, "POST", tc.path, tc.body, "Idempotency-Key", "key-1")
		var a, b struct{ ID int64 }
		r1.json(t, &a)
		r2.json(t, &b)
		if r1.status != 201 || r2.status != 201 || a.ID == 0 || a.ID != b.ID {
			t.Fatalf("%s replay: %d %d %s %s", tc.path, r1.status, r2.status, r1.body, r2.body)
		}
		if r2.header.Get("Idempotent-Replayed") != "true" || r1.header.Get("Idempotent-Replayed") != "" {
			t.Errorf("%s: Idempotent-Replayed header wrong", tc.path)
		}
		if r := e.request(t, w, "POST", tc.path, tc.other, "Idempotency-Key", "key-1"); r.status != 409 {
			t.Errorf("%s: same key, other body: %d %s", tc.path, r.status, r.body)
		}
		// Keys are per principal: another caller's key-1 is a new request.
		r3 := e.request(t, e.creds["agent"], "POST", tc.path, tc.body, "Idempotency-Key", "key-1")
		var c struct{ ID int64 }
		r3.json(t, &c)
		if r3.status != 201 || c.ID == a.ID {
			t.Errorf("%s: key shared across principals: %d %s", tc.path, r3.status, r3.body)
		}
		if r := e.request(t, w, "POST", tc.path, tc.body, "Idempotency-Key", strings.Repeat("k", 300)); r.status != 400 {
			t.Errorf("%s: bad key: %d", tc.path, r.status)
		}
	}

	// Teams: a retried create is one team.
	adm := e.creds["admin"]
	team := map[string]any{"name": "Retry Desk", "kind": "l2"}
	r1 := e.request(t, adm, "POST", "/api/v1/teams", team, "Idempotency-Key", "team-1")
	r2 := e.request(t, adm, "POST", "/api/v1/teams", team, "Idempotency-Key", "team-1")
	var a, b struct{ ID int64 }
	r1.json(t, &a)
	r2.json(t, &b)
	if r1.status != 201 || r2.status != 201 || a.ID == 0 || a.ID != b.ID || r2.header.Get("Idempotent-Replayed") != "true" {
		t.Fatalf("team replay: %d %d %s %s", r1.status, r2.status, r1.body, r2.body)
	}
	// A reply retried with the same key is one message; another caller's
	// same key is theirs.
	tk := e.ticketA.ID
	path := "/api/v1/tickets/" + id(tk) + "/messages"
	m1 := e.request(t, adm, "POST", path, map[string]any{"text": "retried reply"}, "Idempotency-Key", "reply-1")
	m2 := e.request(t, adm, "POST", path, map[string]any{"text": "retried reply"}, "Idempotency-Key", "reply-1")
	var x, y struct{ ID, Seq int64 }
	m1.json(t, &x)
	m2.json(t, &y)
	if m1.status != 201 || m2.status != 200 || x.ID == 0 || x.ID != y.ID || m2.header.Get("Idempotent-Replayed") != "true" {
		t.Fatalf("reply replay: %d %d %s %s", m1.status, m2.status, m1.body, m2.body)
	}
	m3 := e.request(t, e.creds["lead"], "POST", path, map[string]any{"text": "retried reply"}, "Idempotency-Key", "reply-1")
	var z struct{ ID int64 }
	m3.json(t, &z)
	if m3.status != 201 || z.ID == x.ID {
		t.Errorf("reply key shared across callers: %d %s", m3.status, m3.body)
	}

	// Tokens refuse the header: a replay would need the secret stored.
	r := e.request(t, adm, "POST", "/api/v1/tokens", map[string]any{"name": "retry", "scopes": []string{"tickets:read"}}, "Idempotency-Key", "tok-1")
	if r.status != 400 || strings.Contains(string(r.body), "cst_") {
		t.Errorf("token with Idempotency-Key: %d %s", r.status, r.body)
	}
}
