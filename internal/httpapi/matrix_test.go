package httpapi

import (
	"sort"
	"strings"
	"testing"
)

// allowed is the access matrix written out by hand from the product's
// permission table (auth/perm.go), independently of the route table: which
// callers may reach each route. "token" is an API token with the scopes
// tickets:read and contacts:read. A route missing here fails the test.
var allowed = map[string]string{
	"GET /healthz":                          "admin lead agent qa auditor token anon",
	"GET /readyz":                           "admin lead agent qa auditor token anon",
	"GET /metrics":                          "admin lead agent qa auditor token anon",
	"GET /api/v1/openapi.json":              "admin lead agent qa auditor token anon",
	"POST /api/v1/auth/login":               "admin lead agent qa auditor token anon",
	"POST /api/v1/auth/logout":              "admin lead agent qa auditor token",
	"GET /api/v1/auth/me":                   "admin lead agent qa auditor token",
	"POST /api/v1/auth/totp/setup":          "admin lead agent qa auditor",
	"POST /api/v1/auth/totp/enable":         "admin lead agent qa auditor",
	"POST /api/v1/auth/totp/recovery-codes": "admin lead agent qa auditor",
	"GET /api/v1/tickets":                   "admin lead agent qa auditor token",
	"POST /api/v1/tickets":                  "admin lead agent",
	"GET /api/v1/tickets/{id}":              "admin lead agent qa auditor token",
	"PATCH /api/v1/tickets/{id}":            "admin lead agent",
	"POST /api/v1/tickets/{id}/messages":    "admin lead agent",
	"GET /api/v1/contacts":                  "admin lead agent qa auditor token",
	"POST /api/v1/contacts":                 "admin lead agent",
	"GET /api/v1/contacts/{id}":             "admin lead agent qa auditor token",
	"PATCH /api/v1/contacts/{id}":           "admin lead agent",
	"POST /api/v1/contacts/{id}/reveal":     "admin lead",
	"GET /api/v1/agents":                    "admin lead agent qa auditor",
	"POST /api/v1/agents":                   "admin",
	"GET /api/v1/agents/{id}":               "admin lead agent qa auditor",
	"PATCH /api/v1/agents/{id}":             "admin",
	"DELETE /api/v1/agents/{id}/totp":       "admin",
	"PUT /api/v1/agents/me/presence":        "admin lead agent qa auditor",
	"GET /api/v1/teams":                     "admin lead agent qa auditor",
	"POST /api/v1/teams":                    "admin",
	"PATCH /api/v1/teams/{id}":              "admin",
	"GET /api/v1/tokens":                    "admin",
	"POST /api/v1/tokens":                   "admin",
	"DELETE /api/v1/tokens/{id}":            "admin",
	"GET /api/v1/audit":                     "admin auditor",
	"GET /api/v1/audit/verify":              "admin auditor",
	"POST /api/v1/attachments":              "admin lead agent",
	"GET /api/v1/attachments/{id}":          "admin lead agent qa auditor token",
	"GET /api/v1/ws":                        "admin lead agent qa auditor",
}

// matrixBody is a body that cannot do harm when the call is allowed (it
// mostly fails validation); "" means no body.
var matrixBody = map[string]string{
	"POST /api/v1/auth/login":  `{"login":1}`,
	"POST /api/v1/attachments": "",
}

func TestRoleMatrix(t *testing.T) { testRoleMatrix(t, newEnv(t)) }

func testRoleMatrix(t *testing.T, e *env) {
	keys := map[string]bool{}
	for _, rt := range e.srv.routes {
		keys[rt.Method+" "+rt.Path] = true
	}
	for k := range allowed {
		if !keys[k] {
			t.Errorf("matrix row %q has no route", k)
		}
	}
	routes := append([]route(nil), e.srv.routes...)
	// Logout ends the caller's session, so it runs last.
	sort.SliceStable(routes, func(i, j int) bool {
		return !strings.HasSuffix(routes[i].Path, "/logout") && strings.HasSuffix(routes[j].Path, "/logout")
	})
	callers := []string{"admin", "lead", "agent", "qa", "auditor", "token", "anon"}
	for _, who := range callers {
		c := e.creds[who] // anon: zero cred
		for _, rt := range routes {
			key := rt.Method + " " + rt.Path
			want, ok := allowed[key]
			if !ok {
				t.Errorf("route %s has no row in the access matrix", key)
				continue
			}
			path := strings.NewReplacer("{id}", e.matrixID(rt.Path)).Replace(rt.Path)
			var body any = "{}"
			if b, ok := matrixBody[key]; ok {
				body = b
				if b == "" {
					body = nil
				}
			}
			if rt.Method == "GET" || rt.Method == "DELETE" {
				body = nil
			}
			r := e.request(t, c, rt.Method, path, body)
			denied := r.status == 401 || r.status == 403
			allow := strings.Contains(" "+want+" ", " "+who+" ")
			if allow == denied {
				t.Errorf("%s as %s: status %d %s, want allowed=%v", key, who, r.status, r.body, allow)
			}
		}
	}
}

func (e *env) matrixID(path string) string {
	switch {
	case strings.Contains(path, "/tickets/"):
		return id(e.ticketA.ID)
	case strings.Contains(path, "/contacts/"):
		return id(e.contact.ID)
	case strings.Contains(path, "/agents/"):
		return id(e.agents["qa"].ID)
	case strings.Contains(path, "/teams/"):
		return id(e.teamA.ID)
	case strings.Contains(path, "/tokens/"):
		return "999999"
	case strings.Contains(path, "/attachments/"):
		return e.attachID
	}
	return "1"
}
