package httpapi

import (
	"context"
	"strings"
	"testing"

	"custos/internal/auth"
	"custos/internal/desk"
	"custos/internal/store"
)

// counts is how many rows a failed request must not have added to.
type counts struct{ tickets, contacts, teams, agents, audit int }

func (e *env) counts(t *testing.T) counts {
	t.Helper()
	var c counts
	ctx := context.Background()
	err := e.st.Read(ctx, func(tx store.Tx) error {
		ts, err := tx.ListTickets(ctx, store.TicketFilter{Limit: 10000})
		if err != nil {
			return err
		}
		cs, err := tx.ListContacts(ctx, store.ContactFilter{Limit: 10000})
		if err != nil {
			return err
		}
		tm, err := tx.ListTeams(ctx)
		if err != nil {
			return err
		}
		ag, err := tx.ListAgents(ctx)
		if err != nil {
			return err
		}
		c = counts{len(ts), len(cs), len(tm), len(ag), 0}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	c.audit = e.auditCount(t)
	return c
}

// writeEndpoint is a create/update body endpoint with one string field
// (for the wrong-type case) and the caller allowed to use it.
type writeEndpoint struct {
	method, path, strField, who string
}

func (e *env) writeEndpoints() []writeEndpoint {
	tk := "/api/v1/tickets/" + id(e.ticketA.ID)
	return []writeEndpoint{
		{"POST", "/api/v1/tickets", "subject", "admin"},
		{"PATCH", tk, "subject", "admin"},
		{"POST", tk + "/messages", "text", "admin"},
		{"POST", "/api/v1/contacts", "name", "admin"},
		{"PATCH", "/api/v1/contacts/" + id(e.contact.ID), "name", "admin"},
		{"POST", "/api/v1/agents", "login", "admin"},
		{"PATCH", "/api/v1/agents/" + id(e.agents["qa"].ID), "name", "admin"},
		{"PUT", "/api/v1/agents/me/presence", "presence", "admin"},
		{"POST", "/api/v1/teams", "name", "admin"},
		{"PATCH", "/api/v1/teams/" + id(e.teamA.ID), "name", "admin"},
		{"POST", "/api/v1/tokens", "name", "admin"},
		{"POST", "/api/v1/auth/login", "login", "anon"},
		{"POST", "/api/v1/auth/totp/enable", "secret", "admin"},
	}
}

func TestBadBodies(t *testing.T) { testBadBodies(t, newEnv(t)) }

func testBadBodies(t *testing.T, e *env) {
	big := `{"x":"` + strings.Repeat("a", 2<<20) + `"}`
	cases := []struct {
		name   string
		body   func(ep writeEndpoint) string
		ctype  string
		status int
		want   string // in message or fields
	}{
		{"truncated", func(writeEndpoint) string { return `{"a": ` }, "", 400, "malformed JSON"},
		{"syntax", func(writeEndpoint) string { return `{"a" 1}` }, "", 400, "byte offset 6"},
		{"wrong type", func(ep writeEndpoint) string { return `{"` + ep.strField + `": 12}` }, "", 400, "must be a string"},
		{"unknown field", func(writeEndpoint) string { return `{"bogus_field": 1}` }, "", 400, "unknown field"},
		{"oversize", func(writeEndpoint) string { return big }, "", 413, "over 1048576 bytes"},
		{"invalid utf-8", func(ep writeEndpoint) string { return `{"` + ep.strField + "\": \"a\xff\xfeb\"}" }, "", 400, "not valid UTF-8"},
		{"empty", func(writeEndpoint) string { return "" }, "", 400, "body is required"},
		{"whitespace", func(writeEndpoint) string { return "  \n" }, "", 400, "body is required"},
		{"trailing", func(writeEndpoint) string { return `{} {}` }, "", 400, "unexpected data after"},
		{"trailing garbage", func(writeEndpoint) string { return `{}x` }, "", 400, "unexpected data after"},
		{"array", func(writeEndpoint) string { return `[]` }, "", 400, "must be a JSON object"},
		{"null", func(writeEndpoint) string { return `null` }, "", 400, "must be a JSON object"},
		{"text/plain", func(writeEndpoint) string { return `{}` }, "text/plain", 415, "application/json"},
		{"form", func(writeEndpoint) string { return `a=b` }, "application/x-www-form-urlencoded", 415, "application/json"},
		{"latin1", func(writeEndpoint) string { return `{}` }, "application/json; charset=latin1", 415, "utf-8"},
	}
	before := e.counts(t)
	for _, ep := range e.writeEndpoints() {
		for _, tc := range cases {
			ct := tc.ctype
			if ct == "" {
				ct = "application/json"
			}
			r := e.request(t, e.creds[ep.who], ep.method, ep.path, tc.body(ep), "Content-Type", ct)
			b := r.errBody()
			text := b.Message
			for k, v := range b.Fields {
				text += " " + k + ": " + v
			}
			if r.status != tc.status || !strings.Contains(text, tc.want) || b.RequestID == "" {
				t.Errorf("%s %s %s: %d %s, want %d with %q", ep.method, ep.path, tc.name, r.status, r.body, tc.status, tc.want)
			}
			if tc.name == "wrong type" && b.Fields[ep.strField] == "" {
				t.Errorf("%s %s wrong type: field not named: %s", ep.method, ep.path, r.body)
			}
			if tc.name == "unknown field" && b.Fields["bogus_field"] != "unknown field" {
				t.Errorf("%s %s unknown field not named: %s", ep.method, ep.path, r.body)
			}
		}
	}
	// Bad agent credentials must not be throttled into other codes above;
	// and nothing was written, not even an audit entry, except the failed
	// logins the auth service audits by design (none here: all refused
	// before the service ran).
	if after := e.counts(t); after != before {
		t.Errorf("failed requests wrote something: before %+v after %+v", before, after)
	}
}

func TestBadValues(t *testing.T) { testBadValues(t, newEnv(t)) }

func testBadValues(t *testing.T, e *env) {
	tk := "/api/v1/tickets/" + id(e.ticketA.ID)
	cases := []struct {
		method, path string
		body         any
		field, want  string
	}{
		{"POST", "/api/v1/tickets", map[string]any{"subject": "x", "contact_id": e.contact.ID, "status": "bogus"}, "status", "must be one of"},
		{"POST", "/api/v1/tickets", map[string]any{"subject": "x", "contact_id": e.contact.ID, "priority": "bogus"}, "priority", "must be one of"},
		{"POST", "/api/v1/tickets", map[string]any{"subject": "x", "contact_id": e.contact.ID, "channel": "pigeon"}, "channel", "must be one of"},
		{"POST", "/api/v1/tickets", map[string]any{"subject": "", "contact_id": e.contact.ID}, "subject", "required"},
		{"POST", "/api/v1/tickets", map[string]any{"subject": "x"}, "contact_id", "required"},
		{"POST", "/api/v1/tickets", map[string]any{"subject": "x", "contact_id": e.contact.ID, "contact_id2": 1}, "contact_id2", "unknown field"},
		{"POST", "/api/v1/tickets", map[string]any{"subject": strings.Repeat("s", 301), "contact_id": e.contact.ID}, "subject", "at most"},
		{"POST", "/api/v1/tickets", map[string]any{"subject": "nul\x00byte", "contact_id": e.contact.ID}, "subject", "control"},
		{"POST", "/api/v1/tickets", map[string]any{"subject": "x", "contact_id": 1e30}, "contact_id", "integer"},
		{"POST", "/api/v1/tickets", map[string]any{"subject": "x", "contact_id": e.contact.ID, "tags": "notalist"}, "tags", "array"},
		// NUL bytes reach every text of a ticket create through \u0000;
		// PostgreSQL would refuse each with an error (a 500) if unchecked.
		{"POST", "/api/v1/tickets", map[string]any{"subject": "x", "contact_id": e.contact.ID, "category": "kyc\x00"}, "category", "control"},
		{"POST", "/api/v1/tickets", map[string]any{"subject": "x", "contact_id": e.contact.ID, "tags": []string{"vip\x00"}}, "tags[0]", "letters"},
		{"POST", "/api/v1/tickets", map[string]any{"subject": "x", "contact_id": e.contact.ID, "custom": map[string]string{"k\x00": "v"}}, "custom.k\x00", "key"},
		{"POST", "/api/v1/tickets", map[string]any{"subject": "x", "contact_id": e.contact.ID, "custom": map[string]string{"k": "v\x00"}}, "custom.k", "control"},
		{"POST", "/api/v1/tickets", map[string]any{"subject": "x", "contact_id": e.contact.ID, "language": "ko\x00"}, "language", "language tag"},
		{"POST", "/api/v1/tickets", map[string]any{"subject": "x", "contact": map[string]any{"name": "n\x00"}}, "contact.name", "control"},
		{"POST", "/api/v1/tickets", map[string]any{"subject": "x", "contact": map[string]any{"external_uid": "u\x00"}}, "contact.external_uid", "control"},
		{"POST", "/api/v1/tickets", map[string]any{"subject": "x", "contact": map[string]any{"phone": "1\x00"}}, "contact.phone", "control"},
		{"POST", "/api/v1/tickets", map[string]any{"subject": "x", "contact": map[string]any{"telegram_id": "1\x00"}}, "contact.telegram_id", "control"},
		{"POST", "/api/v1/tickets", map[string]any{"subject": "x", "contact": map[string]any{"emails": []string{"a\x00@example.com"}}}, "contact.emails[0]", "email"},
		{"POST", "/api/v1/tickets", map[string]any{"subject": "x", "contact": map[string]any{"tags": []string{"t\x00"}}}, "contact.tags[0]", "letters"},
		{"POST", "/api/v1/tickets", map[string]any{"subject": "x", "contact_id": e.contact.ID, "message": map[string]any{"text": "t\x00"}}, "message.text", "control"},
		{"POST", "/api/v1/tickets", map[string]any{"subject": "x", "contact_id": e.contact.ID, "message": map[string]any{"text": "t", "html": "<p>\x00</p>"}}, "message.html", "control"},
		{"POST", "/api/v1/tickets", map[string]any{"subject": "x", "contact_id": e.contact.ID, "message": map[string]any{"text": "t", "client_id": "c\x00"}}, "message.client_id", "characters"},
		{"POST", "/api/v1/tickets", map[string]any{"subject": "x", "contact_id": e.contact.ID, "message": map[string]any{"text": "t", "attachment_ids": []string{"at_\x00"}}}, "message.attachment_ids[0]", "attachment id"},
		{"PATCH", tk, map[string]any{"subject": "s\x00"}, "subject", "control"},
		{"PATCH", tk, map[string]any{"category": "c\x00"}, "category", "control"},
		{"PATCH", tk, map[string]any{"language": "ko\x00"}, "language", "language tag"},
		{"PATCH", tk, map[string]any{"tags": []string{"t\x00"}}, "tags[0]", "letters"},
		{"PATCH", tk, map[string]any{"custom": map[string]string{"k": "v\x00"}}, "custom.k", "control"},
		{"PATCH", tk, map[string]any{"custom": map[string]string{"k\x00": "v"}}, "custom.k\x00", "key"},
		{"POST", tk + "/messages", map[string]any{"text": "t\x00"}, "text", "control"},
		{"POST", tk + "/messages", map[string]any{"html": "<p>a\x00</p>"}, "html", "control"},
		{"POST", tk + "/messages", map[string]any{"text": "x", "html": strings.Repeat("a", desk.MaxHTML+1)}, "html", "at most"},
		{"POST", tk + "/messages", map[string]any{"html": "<script>alert(1)</script>"}, "text", "required"},
		{"POST", tk + "/messages", map[string]any{"text": "x", "attachment_ids": []string{"at_\x00"}}, "attachment_ids[0]", "attachment id"},
		{"POST", tk + "/messages", map[string]any{"text": "x", "attachment_ids": []string{"../../etc/passwd"}}, "attachment_ids[0]", "attachment id"},
		{"PATCH", tk, map[string]any{"status": "bogus"}, "status", "must be one of"},
		{"PATCH", tk, map[string]any{"priority": 3}, "priority", "string"},
		{"PATCH", tk, map[string]any{"team_id": -1}, "team_id", "team id"},
		{"PATCH", "/api/v1/tickets/abc", map[string]any{"status": "open"}, "id", "positive integer"},
		{"PATCH", "/api/v1/tickets/-5", map[string]any{"status": "open"}, "id", "positive integer"},
		{"POST", tk + "/messages", map[string]any{"text": ""}, "text", "required"},
		{"POST", tk + "/messages", map[string]any{"text": "x", "client_id": "bad id!"}, "client_id", "characters"},
		{"POST", "/api/v1/contacts", map[string]any{"emails": []string{"not-an-email"}}, "emails[0]", "email"},
		{"POST", "/api/v1/contacts", map[string]any{"vip_tier": 99}, "vip_tier", "0-9"},
		{"PATCH", "/api/v1/contacts/" + id(e.contact.ID), map[string]any{"language": "<script>"}, "language", "language tag"},
		{"POST", "/api/v1/agents", map[string]any{"login": "new1", "name": "N", "role": "god", "password": testPassword}, "role", "must be one of"},
		{"POST", "/api/v1/agents", map[string]any{"login": "new1", "name": "N", "role": "agent", "password": "short"}, "password", "bytes"},
		{"POST", "/api/v1/agents", map[string]any{"login": "new1", "name": "N", "role": "agent", "password": testPassword, "team_ids": []int{9999}}, "team_ids[0]", "no such team"},
		{"PATCH", "/api/v1/agents/" + id(e.agents["qa"].ID), map[string]any{"role": "root"}, "role", "must be one of"},
		{"PATCH", "/api/v1/agents/" + id(e.agents["admin"].ID), map[string]any{"role": "agent"}, "role", "own role"},
		{"PATCH", "/api/v1/agents/" + id(e.agents["qa"].ID), map[string]any{"chat_limit": 1000}, "chat_limit", "0-100"},
		{"PUT", "/api/v1/agents/me/presence", map[string]any{"presence": "asleep"}, "presence", "must be one of"},
		{"POST", "/api/v1/teams", map[string]any{"name": "T", "kind": "l9"}, "kind", "must be one of"},
		{"PATCH", "/api/v1/teams/" + id(e.teamA.ID), map[string]any{"name": ""}, "name", "required"},
		{"POST", "/api/v1/tokens", map[string]any{"name": "t", "scopes": []string{"root:all"}}, "scopes[0]", "unknown scope"},
		{"POST", "/api/v1/tokens", map[string]any{"name": "t"}, "scopes", "required"},
	}
	before := e.counts(t)
	for _, tc := range cases {
		r := e.request(t, e.creds["admin"], tc.method, tc.path, tc.body)
		b := r.errBody()
		if r.status != 400 || b.Code != "invalid" || !strings.Contains(b.Fields[tc.field], tc.want) {
			t.Errorf("%s %s %v: %d %s, want 400 with %s: %q", tc.method, tc.path, tc.body, r.status, r.body, tc.field, tc.want)
		}
	}
	if after := e.counts(t); after != before {
		t.Errorf("refused requests wrote something: before %+v after %+v", before, after)
	}
}

func TestBadQueries(t *testing.T) { testBadQueries(t, newEnv(t)) }

func testBadQueries(t *testing.T, e *env) {
	cases := []struct{ path, field string }{
		{"/api/v1/tickets?limit=100000", "limit"},
		{"/api/v1/tickets?limit=0", "limit"},
		{"/api/v1/tickets?limit=-1", "limit"},
		{"/api/v1/tickets?cursor=-5", "cursor"},
		{"/api/v1/tickets?cursor=abc", "cursor"},
		{"/api/v1/tickets?cursor=99999999999999999999999", "cursor"},
		{"/api/v1/tickets?status=open,bogus", "status"},
		{"/api/v1/tickets?view=everything", "view"},
		{"/api/v1/tickets?channel=fax", "channel"},
		{"/api/v1/tickets?team_id=x", "team_id"},
		{"/api/v1/tickets?assignee_id=1.5", "assignee_id"},
		{"/api/v1/tickets?q=%FF", "q"},
		{"/api/v1/tickets?q=%00", "q"},
		{"/api/v1/tickets?tag=%00", "tag"},
		{"/api/v1/tickets?tag=%FF", "tag"},
		{"/api/v1/contacts?limit=100000", "limit"},
		{"/api/v1/contacts?cursor=-5", "cursor"},
		{"/api/v1/contacts?cursor=abc", "cursor"},
		{"/api/v1/audit?limit=100000", "limit"},
		{"/api/v1/audit?after=-1", "after"},
		{"/api/v1/audit?after=abc", "after"},
	}
	for _, tc := range cases {
		r := e.request(t, e.creds["admin"], "GET", tc.path, nil)
		if r.status != 400 || r.errBody().Fields[tc.field] == "" {
			t.Errorf("%s: %d %s, want 400 naming %s", tc.path, r.status, r.body, tc.field)
		}
	}
	// Sane paging works and ends with a null cursor.
	seen := map[int64]bool{}
	cursor := ""
	for i := 0; i < 10; i++ {
		r := e.request(t, e.creds["admin"], "GET", "/api/v1/tickets?limit=1"+cursor, nil)
		var p page[desk.Ticket]
		r.json(t, &p)
		for _, tk := range p.Items {
			seen[tk.ID] = true
		}
		if p.NextCursor == nil {
			break
		}
		cursor = "&cursor=" + id(*p.NextCursor)
	}
	if !seen[e.ticketA.ID] || !seen[e.ticketB.ID] {
		t.Errorf("paging missed tickets: %v", seen)
	}
	r := e.request(t, e.creds["admin"], "GET", "/api/v1/tickets?view=mine", nil)
	if !strings.Contains(string(r.body), `"next_cursor":null`) {
		t.Errorf("end of list: %s", r.body)
	}
	r = e.request(t, e.creds["token"], "GET", "/api/v1/tickets?view=mine", nil)
	if r.status != 400 {
		t.Errorf("view=mine for a token: %d", r.status)
	}
}

// hostile holds SQL, HTML and template metacharacters; it must be stored
// and returned byte for byte, and escaped in JSON.
const hostile = `Robert'); DROP TABLE tickets;-- <script>alert("x")</script> & ' OR 1=1 -- %s %d ${x} {{.}} \ " ` + "\u202e\u2028 한국어"

func TestHostileTextVerbatim(t *testing.T) { testHostileTextVerbatim(t, newEnv(t)) }

func testHostileTextVerbatim(t *testing.T, e *env) {
	adm := e.creds["admin"]
	r := e.request(t, adm, "POST", "/api/v1/tickets", map[string]any{
		"subject": hostile, "category": "x<y>", "custom": map[string]string{"note": hostile},
		"contact": map[string]any{"name": hostile, "external_uid": hostile},
		"message": map[string]any{"text": hostile},
	})
	if r.status != 201 {
		t.Fatalf("create: %d %s", r.status, r.body)
	}
	if strings.Contains(string(r.body), "<script>") || !strings.Contains(string(r.body), `\u003cscript\u003e`) {
		t.Errorf("HTML not escaped in JSON: %s", r.body)
	}
	var tk desk.Ticket
	r.json(t, &tk)
	r = e.request(t, adm, "GET", "/api/v1/tickets/"+id(tk.ID), nil)
	var v struct {
		Ticket   desk.Ticket    `json:"ticket"`
		Contact  desk.Contact   `json:"contact"`
		Messages []desk.Message `json:"messages"`
	}
	r.json(t, &v)
	if v.Ticket.Subject != hostile || v.Ticket.Custom["note"] != hostile || v.Contact.Name != hostile ||
		v.Contact.ExternalUID != hostile || len(v.Messages) == 0 || v.Messages[0].Text != hostile || v.Ticket.Category != "x<y>" {
		t.Errorf("not verbatim: %s", r.body)
	}
	for _, c := range []struct{ method, path string }{
		{"PATCH", "/api/v1/contacts/" + id(e.contact.ID)},
		{"PATCH", "/api/v1/teams/" + id(e.teamA.ID)},
	} {
		r := e.request(t, adm, c.method, c.path, map[string]any{"name": hostile})
		var got struct{ Name string }
		r.json(t, &got)
		if r.status != 200 || got.Name != hostile {
			t.Errorf("%s %s: %d %s", c.method, c.path, r.status, r.body)
		}
	}
	// Search with metacharacters is data, not SQL.
	for _, q := range []string{"%27%20OR%201%3D1%20--", "%25", "_", "%5C"} {
		r := e.request(t, adm, "GET", "/api/v1/tickets?q="+q, nil)
		if r.status != 200 {
			t.Errorf("search %s: %d %s", q, r.status, r.body)
		}
	}
	r = e.request(t, adm, "GET", "/api/v1/tickets", nil)
	var p page[desk.Ticket]
	r.json(t, &p)
	if len(p.Items) != 3 {
		t.Errorf("tickets after hostile input: %d", len(p.Items))
	}
}

// bothEnvs runs fn against a server on SQLite and one on PostgreSQL (the
// latter skipped without CUSTOS_TEST_PG, failed with CUSTOS_TEST_REQUIRE_PG=1).
func bothEnvs(t *testing.T, fn func(*testing.T, *env)) {
	t.Run("sqlite", func(t *testing.T) { fn(t, newEnv(t)) })
	t.Run("postgres", func(t *testing.T) { fn(t, newPGEnv(t)) })
}

// token adds an API token with scopes and returns its credential.
func (e *env) token(t *testing.T, scopes ...string) cred {
	t.Helper()
	sec, h := auth.NewSecret(auth.PrefixAPIToken)
	err := e.st.Write(context.Background(), func(tx store.Tx) error {
		return tx.CreateToken(context.Background(), &desk.APIToken{Name: "t", Prefix: sec[:10], Hash: h, Scopes: scopes, CreatedBy: e.agents["admin"].ID})
	})
	if err != nil {
		t.Fatal(err)
	}
	return cred{bearer: sec}
}

func (e *env) audit(t *testing.T) []desk.AuditEntry {
	t.Helper()
	var es []desk.AuditEntry
	err := e.st.Read(context.Background(), func(tx store.Tx) error {
		var err error
		es, err = tx.ListAudit(context.Background(), 0, 100000)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return es
}

// TestBadLogin: a login no agent can have is the ordinary bad-credentials
// 401, audited; on PostgreSQL a NUL byte in it used to be a 500.
func TestBadLogin(t *testing.T) { bothEnvs(t, testBadLogin) }

func testBadLogin(t *testing.T, e *env) {
	for _, login := range []string{"admin\x00", "\x00", "ad\x1bmin", strings.Repeat("a", 65), strings.Repeat("한", 5000)} {
		n := len(e.audit(t))
		r := e.request(t, cred{}, "POST", "/api/v1/auth/login", map[string]string{"login": login, "password": testPassword})
		if r.status != 401 || r.errCode() != desk.EUnauthorized || r.errBody().Message != "invalid login or password" {
			t.Errorf("login %q: %d %s; want the bad-credentials 401", login[:min(len(login), 10)], r.status, r.body)
		}
		es := e.audit(t)
		if len(es) != n+1 || es[n].Action != "auth.login_failed" || !strings.HasPrefix(es[n].Target, "login:") || strings.ContainsAny(es[n].Target, "\x00\x1b") {
			t.Errorf("login %q: audit %+v", login[:min(len(login), 10)], es[n:])
		}
	}
	// The real login still works.
	r := e.request(t, cred{}, "POST", "/api/v1/auth/login", map[string]string{"login": "admin", "password": testPassword})
	if r.status != 200 {
		t.Errorf("good login: %d %s", r.status, r.body)
	}
}

// TestMessageHTMLSanitised: message HTML is stored sanitised, and an
// HTML-only message gets the text of it.
func TestMessageHTMLSanitised(t *testing.T) { bothEnvs(t, testMessageHTMLSanitised) }

func testMessageHTMLSanitised(t *testing.T, e *env) {
	path := "/api/v1/tickets/" + id(e.ticketA.ID) + "/messages"
	r := e.request(t, e.creds["admin"], "POST", path, map[string]any{
		"html": `<p style="position:fixed" onmouseover="steal()">Refund <b>sent</b><script>fetch('/api/v1/tokens')</script></p>` +
			`<a href="javascript:alert(1)">x</a><a href="https://bank.example/status">status</a><img src="https://t.example/p.gif">`,
	})
	var m desk.Message
	r.json(t, &m)
	wantHTML := `<p>Refund <b>sent</b></p>x<a href="https://bank.example/status" rel="nofollow noreferrer noopener" target="_blank">status</a>`
	if r.status != 201 || m.HTML != wantHTML || m.Text != "Refund sent\nxstatus" {
		t.Fatalf("%d:\nhtml %s\ntext %q", r.status, m.HTML, m.Text)
	}
	// What the console fetches is the sanitised form.
	r = e.request(t, e.creds["admin"], "GET", "/api/v1/tickets/"+id(e.ticketA.ID), nil)
	var v struct {
		Messages []desk.Message `json:"messages"`
	}
	r.json(t, &v)
	if got := v.Messages[len(v.Messages)-1]; got.HTML != wantHTML {
		t.Errorf("fetched html %s", got.HTML)
	}
}

// TestTagFilterCaseInsensitive: ?tag= is normalised like stored tags.
func TestTagFilterCaseInsensitive(t *testing.T) { bothEnvs(t, testTagFilterCaseInsensitive) }

func testTagFilterCaseInsensitive(t *testing.T, e *env) {
	r := e.request(t, e.creds["admin"], "PATCH", "/api/v1/tickets/"+id(e.ticketA.ID), map[string]any{"tags": []string{"Security"}})
	if r.status != 200 {
		t.Fatalf("tag: %d %s", r.status, r.body)
	}
	for _, tag := range []string{"security", "SECURITY", "Security", "%20SeCuRiTy%20"} {
		r := e.request(t, e.creds["admin"], "GET", "/api/v1/tickets?tag="+tag, nil)
		var p page[desk.Ticket]
		r.json(t, &p)
		if r.status != 200 || len(p.Items) != 1 || p.Items[0].ID != e.ticketA.ID {
			t.Errorf("tag=%s: %d %s", tag, r.status, r.body)
		}
	}
}

// TestInlineContactPermission: a ticket's inline contact that does not
// exist yet is a contact create: it needs contact.write and is audited.
func TestInlineContactPermission(t *testing.T) { bothEnvs(t, testInlineContactPermission) }

func testInlineContactPermission(t *testing.T, e *env) {
	ticketsOnly := e.token(t, "tickets:write")
	newContact := map[string]any{"subject": "x", "contact": map[string]any{"name": "Jun", "emails": []string{"jun@example.com"}}}
	before := e.counts(t)
	r := e.request(t, ticketsOnly, "POST", "/api/v1/tickets", newContact)
	if r.status != 403 || r.errCode() != desk.EForbidden || !strings.Contains(r.errBody().Message, "contact.write") {
		t.Fatalf("new contact without contact.write: %d %s", r.status, r.body)
	}
	if after := e.counts(t); after != before {
		t.Fatalf("refused create wrote something: %+v -> %+v", before, after)
	}
	// An existing contact (matched by email) needs no contact permission.
	r = e.request(t, ticketsOnly, "POST", "/api/v1/tickets", map[string]any{"subject": "x", "contact": map[string]any{"emails": []string{"mina@example.com"}}})
	var tk desk.Ticket
	r.json(t, &tk)
	if r.status != 201 || tk.ContactID != e.contact.ID {
		t.Fatalf("existing contact: %d %s", r.status, r.body)
	}
	for _, who := range []cred{e.creds["writer"], e.creds["agent"]} {
		n := len(e.audit(t))
		r = e.request(t, who, "POST", "/api/v1/tickets", newContact)
		r.json(t, &tk)
		if r.status != 201 {
			t.Fatalf("with contact.write: %d %s", r.status, r.body)
		}
		newContact["contact"] = map[string]any{"name": "Jun", "emails": []string{"jun" + id(tk.ID) + "@example.com"}}
		es := e.audit(t)[n:]
		if len(es) != 2 || es[0].Action != "contact.create" || es[0].Target != "contact:"+id(tk.ContactID) ||
			strings.Contains(es[0].Detail, "Jun") || strings.Contains(es[0].Detail, "example.com") || es[1].Action != "ticket.create" {
			t.Errorf("audit: %+v", es)
		}
	}
}
