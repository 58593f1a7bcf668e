package httpapi

import (
	"bytes"
	"context"
	"mime/multipart"
	"net/http"
	"strings"
	"testing"

	"custos/internal/auth"
	"custos/internal/desk"
)

func TestAgentsTeamsTokensAudit(t *testing.T) { testAgentsTeamsTokensAudit(t, newEnv(t)) }

func testAgentsTeamsTokensAudit(t *testing.T, e *env) {
	adm := e.creds["admin"]

	r := e.request(t, adm, "POST", "/api/v1/agents", map[string]any{"login": "newbie", "name": "New Bie", "role": "agent",
		"team_ids": []int64{e.teamA.ID}, "password": testPassword})
	var a desk.Agent
	r.json(t, &a)
	if r.status != 201 || a.ID == 0 || strings.Contains(string(r.body), testPassword) {
		t.Fatalf("create agent: %d %s", r.status, r.body)
	}
	if r = e.request(t, adm, "POST", "/api/v1/agents", map[string]any{"login": "newbie", "name": "Again", "role": "agent", "password": testPassword}); r.status != 409 {
		t.Errorf("duplicate login: %d %s", r.status, r.body)
	}
	r = e.request(t, adm, "PATCH", "/api/v1/agents/"+id(a.ID), map[string]any{"role": "lead", "chat_limit": 5})
	r.json(t, &a)
	if r.status != 200 || a.Role != desk.RoleLead || a.ChatLimit != 5 {
		t.Fatalf("patch agent: %d %s", r.status, r.body)
	}
	r = e.request(t, adm, "GET", "/api/v1/audit?limit=1000", nil)
	var ap auditPage
	r.json(t, &ap)
	found := false
	for _, en := range ap.Items {
		if en.Action == "agent.update" && strings.Contains(en.Detail, `"old_role":"agent"`) && strings.Contains(en.Detail, `"new_role":"lead"`) {
			found = true
		}
		if strings.Contains(en.Detail, testPassword) {
			t.Errorf("audit entry carries a password: %+v", en)
		}
	}
	if !found {
		t.Errorf("role change not audited: %s", r.body)
	}
	if ap.NextAfter != nil {
		t.Errorf("next_after at the end: %d", *ap.NextAfter)
	}
	r = e.request(t, adm, "GET", "/api/v1/audit?limit=1", nil)
	r.json(t, &ap)
	if len(ap.Items) != 1 || ap.NextAfter == nil || *ap.NextAfter != ap.Items[0].ID {
		t.Errorf("audit paging: %s", r.body)
	}

	// A patch that fails anywhere writes nothing: not the password, not the
	// disabled flag, not the name (one transaction).
	qa := e.agents["qa"]
	if r = e.request(t, adm, "PATCH", "/api/v1/agents/"+id(qa.ID), map[string]any{
		"name": "Renamed", "password": "a-brand-new-password", "disabled": true, "team_ids": []int64{987654},
	}); r.status != 400 {
		t.Fatalf("patch with a missing team: %d %s", r.status, r.body)
	}
	if r = e.request(t, e.creds["qa"], "GET", "/api/v1/auth/me", nil); r.status != 200 {
		t.Errorf("a failed patch still logged the agent out: %d", r.status)
	}
	if r, _ := e.login(t, qa.Login, testPassword, ""); r.status != 200 {
		t.Errorf("a failed patch still changed the password: %d", r.status)
	}
	var got desk.Agent
	e.request(t, adm, "GET", "/api/v1/agents/"+id(qa.ID), nil).json(t, &got)
	if got.Name != qa.Name || got.Disabled {
		t.Errorf("a failed patch left %+v", got)
	}
	// Password and disable in one patch: both apply, both audited.
	if r = e.request(t, adm, "PATCH", "/api/v1/agents/"+id(qa.ID), map[string]any{"password": "a-brand-new-password", "disabled": true}); r.status != 200 {
		t.Fatalf("patch password+disabled: %d %s", r.status, r.body)
	}
	e.request(t, adm, "GET", "/api/v1/agents/"+id(qa.ID), nil).json(t, &got)
	if !got.Disabled {
		t.Errorf("not disabled: %+v", got)
	}
	if r = e.request(t, adm, "GET", "/api/v1/audit?limit=50", nil); !strings.Contains(string(r.body), "agent.password_reset") || !strings.Contains(string(r.body), "agent.disable") {
		t.Errorf("not audited: %s", r.body)
	}
	if r = e.request(t, adm, "PATCH", "/api/v1/agents/"+id(qa.ID), map[string]any{"disabled": false}); r.status != 200 {
		t.Fatalf("re-enable: %d", r.status)
	}

	// Disable through PATCH ends the agent's sessions.
	agentB := e.creds["agentB"]
	if r = e.request(t, adm, "PATCH", "/api/v1/agents/"+id(e.agents["agentB"].ID), map[string]any{"disabled": true}); r.status != 200 {
		t.Fatalf("disable: %d %s", r.status, r.body)
	}
	if r = e.request(t, agentB, "GET", "/api/v1/auth/me", nil); r.status != 401 {
		t.Errorf("disabled agent still in: %d", r.status)
	}

	// Presence.
	r = e.request(t, e.creds["agent"], "PUT", "/api/v1/agents/me/presence", map[string]any{"presence": "online"})
	r.json(t, &a)
	if r.status != 200 || a.Presence != desk.PresenceOnline {
		t.Errorf("presence: %d %s", r.status, r.body)
	}
	if r = e.request(t, e.creds["writer"], "PUT", "/api/v1/agents/me/presence", map[string]any{"presence": "online"}); r.status != 403 {
		t.Errorf("token presence: %d", r.status)
	}

	// Teams.
	r = e.request(t, adm, "POST", "/api/v1/teams", map[string]any{"name": "Compliance", "kind": "expert"})
	var tm desk.Team
	r.json(t, &tm)
	if r.status != 201 || tm.BusinessHours != "24/7" {
		t.Fatalf("create team: %d %s", r.status, r.body)
	}
	r = e.request(t, adm, "PATCH", "/api/v1/teams/"+id(tm.ID), map[string]any{"business_hours": "Mon-Fri 09:00-18:00 Asia/Seoul"})
	if r.status != 200 {
		t.Errorf("patch team: %d %s", r.status, r.body)
	}
	if r = e.request(t, adm, "PATCH", "/api/v1/teams/99999", map[string]any{"name": "x"}); r.status != 404 {
		t.Errorf("patch missing team: %d", r.status)
	}

	// Tokens: the secret is shown once and works; revoking kills it.
	r = e.request(t, adm, "POST", "/api/v1/tokens", map[string]any{"name": "crm", "scopes": []string{"tickets:read"}})
	var tc tokenCreated
	r.json(t, &tc)
	if r.status != 201 || !strings.HasPrefix(tc.Secret, auth.PrefixAPIToken) {
		t.Fatalf("create token: %d %s", r.status, r.body)
	}
	crm := cred{bearer: tc.Secret}
	if r = e.request(t, crm, "GET", "/api/v1/tickets", nil); r.status != 200 {
		t.Errorf("new token: %d %s", r.status, r.body)
	}
	r = e.request(t, adm, "GET", "/api/v1/tokens", nil)
	if strings.Contains(string(r.body), tc.Secret) || !strings.Contains(string(r.body), `"crm"`) {
		t.Errorf("token list: %s", r.body)
	}
	if r = e.request(t, adm, "DELETE", "/api/v1/tokens/"+id(tc.Token.ID), nil); r.status != 204 {
		t.Errorf("revoke: %d %s", r.status, r.body)
	}
	if r = e.request(t, crm, "GET", "/api/v1/tickets", nil); r.status != 401 {
		t.Errorf("revoked token: %d", r.status)
	}

	r = e.request(t, e.creds["auditor"], "GET", "/api/v1/audit/verify", nil)
	if r.status != 200 || !strings.Contains(string(r.body), `"ok":true`) {
		t.Errorf("verify: %d %s", r.status, r.body)
	}
}

func (e *env) upload(t *testing.T, c cred, name string, content []byte) resp {
	t.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	fw, _ := mw.CreateFormFile("file", name)
	fw.Write(content)
	mw.Close()
	return e.request(t, c, "POST", "/api/v1/attachments", buf.Bytes(), "Content-Type", mw.FormDataContentType())
}

func TestAttachments(t *testing.T) { testAttachments(t, newEnv(t)) }

func testAttachments(t *testing.T, e *env) {
	a := e.creds["agent"]
	before := e.auditCount(t)
	r := e.upload(t, a, "receipt.txt", []byte("tx 0xabc confirmed"))
	var up uploaded
	r.json(t, &up)
	if r.status != 201 || up.ID == "" || up.URL != "/api/v1/attachments/"+up.ID {
		t.Fatalf("upload: %d %s", r.status, r.body)
	}
	if got := e.auditCount(t); got != before+1 {
		t.Fatalf("an upload must add one audit entry: %d -> %d", before, got)
	}
	// The uploader gets it back; another agent does not while unlinked.
	r = e.request(t, a, "GET", up.URL, nil)
	if r.status != 200 || string(r.body) != "tx 0xabc confirmed" || r.header.Get("X-Content-Type-Options") != "nosniff" {
		t.Errorf("download: %d %q", r.status, r.body)
	}
	if r = e.request(t, e.creds["agentB"], "GET", up.URL, nil); r.status != 404 {
		t.Errorf("other agent, unlinked: %d", r.status)
	}
	// Linked to a team A ticket: team B's agent still cannot see it.
	r = e.request(t, a, "POST", "/api/v1/tickets/"+id(e.ticketA.ID)+"/messages", map[string]any{"text": "see file", "attachment_ids": []string{up.ID}})
	if r.status != 201 {
		t.Fatalf("attach to message: %d %s", r.status, r.body)
	}
	if r = e.request(t, e.creds["agentB"], "GET", up.URL, nil); r.status != 404 {
		t.Errorf("team B agent, linked to team A: %d", r.status)
	}
	if r = e.request(t, e.creds["qa"], "GET", up.URL, nil); r.status != 200 {
		t.Errorf("qa (read_all): %d", r.status)
	}
	// Refusals: not multipart, no file, too large.
	if r = e.request(t, a, "POST", "/api/v1/attachments", `{}`); r.status != 415 {
		t.Errorf("json upload: %d %s", r.status, r.body)
	}
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	mw.WriteField("other", "x")
	mw.Close()
	if r = e.request(t, a, "POST", "/api/v1/attachments", buf.Bytes(), "Content-Type", mw.FormDataContentType()); r.status != 400 {
		t.Errorf("no file: %d %s", r.status, r.body)
	}
	before = e.auditCount(t)
	big := bytes.Repeat([]byte("a"), 11<<20)
	if r = e.upload(t, a, "big.txt", big); r.status != 413 {
		t.Errorf("big upload: %d %s", r.status, r.body)
	}
	if r = e.upload(t, a, "evil.exe", append([]byte("MZ\x90\x00"), bytes.Repeat([]byte{0}, 600)...)); r.status != 415 && r.status != 400 {
		t.Errorf("executable: %d %s", r.status, r.body)
	}
	if got := e.auditCount(t); got != before {
		t.Errorf("refused uploads were audited: %d -> %d", before, got)
	}
}

type fakeStream struct {
	got     chan int64
	recheck chan func(context.Context) (auth.Principal, error)
}

func (f fakeStream) ServeAgent(w http.ResponseWriter, r *http.Request, p auth.Principal, recheck func(context.Context) (auth.Principal, error)) {
	f.got <- p.Agent.ID
	if f.recheck != nil {
		f.recheck <- recheck
	}
	w.WriteHeader(http.StatusNoContent)
}

func TestAgentStream(t *testing.T) { testAgentStream(t, newEnv(t)) }

func testAgentStream(t *testing.T, e *env) {
	fs := fakeStream{got: make(chan int64, 4)}
	e.srv.stream = fs
	r := e.request(t, e.creds["agent"], "GET", "/api/v1/ws", nil)
	if r.status != 204 || <-fs.got != e.agents["agent"].ID {
		t.Fatalf("ws: %d %s", r.status, r.body)
	}
	if r = e.request(t, e.creds["agent"], "GET", "/api/v1/ws", nil, "Origin", "https://evil.example"); r.status != 403 {
		t.Errorf("cross-origin ws: %d", r.status)
	}
	if r = e.request(t, e.creds["token"], "GET", "/api/v1/ws", nil); r.status != 403 {
		t.Errorf("token ws: %d", r.status)
	}

	// The socket's later checks see the session as it is then: valid
	// while it lasts, unauthorized once the agent logged out.
	_, c := e.login(t, "agent", testPassword, "")
	fs.recheck = make(chan func(context.Context) (auth.Principal, error), 1)
	e.srv.stream = fs
	if r = e.request(t, c, "GET", "/api/v1/ws", nil); r.status != 204 {
		t.Fatalf("ws: %d %s", r.status, r.body)
	}
	<-fs.got
	recheck := <-fs.recheck
	ctx := context.Background()
	if p, err := recheck(ctx); err != nil || p.Agent == nil || p.Agent.ID != e.agents["agent"].ID {
		t.Fatalf("recheck of a live session: %+v %v", p, err)
	}
	if r = e.request(t, c, "POST", "/api/v1/auth/logout", nil); r.status/100 != 2 {
		t.Fatalf("logout: %d %s", r.status, r.body)
	}
	if _, err := recheck(ctx); desk.ErrorCode(err) != desk.EUnauthorized {
		t.Fatalf("recheck after logout: %v, want unauthorized", err)
	}
}
