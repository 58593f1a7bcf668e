package httpapi

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"custos/internal/auth"
	"custos/internal/desk"
	"custos/internal/tickets"
)

// Access levels a route may declare besides a permission.
const (
	accessPublic        = "public"        // no credentials
	accessAuthenticated = "authenticated" // any valid session or token
)

// handlerFunc is what a route runs once the wrapper has authorised the
// caller. A returned error is written by writeError.
type handlerFunc func(w http.ResponseWriter, r *http.Request, p auth.Principal) error

// route is one row of the route table.
type route struct {
	Method string
	Path   string
	// Access is accessPublic, accessAuthenticated or a permission name.
	Access string
	// AgentOnly refuses API tokens (console-only endpoints).
	AgentOnly bool
	// MFAOK lets a session that still has to set up its authenticator in
	// (me, logout, TOTP setup); every other route refuses it.
	MFAOK   bool
	Handler handlerFunc
}

const api = "/api/v1"

// routeTable is every route of the API, each with the access it needs. It
// is the one place to read who may call what.
func (s *Server) routeTable() []route {
	perm := func(p auth.Permission) string { return string(p) }
	return []route{
		{Method: "GET", Path: "/healthz", Access: accessPublic, Handler: s.healthz},
		{Method: "GET", Path: "/readyz", Access: accessPublic, Handler: s.readyz},
		{Method: "GET", Path: "/metrics", Access: accessPublic, Handler: s.metricsHandler},
		{Method: "GET", Path: api + "/openapi.json", Access: accessPublic, Handler: s.openAPI},

		{Method: "POST", Path: api + "/auth/login", Access: accessPublic, Handler: s.login},
		{Method: "POST", Path: api + "/auth/logout", Access: accessAuthenticated, MFAOK: true, Handler: s.logout},
		{Method: "GET", Path: api + "/auth/me", Access: accessAuthenticated, MFAOK: true, Handler: s.me},
		{Method: "POST", Path: api + "/auth/totp/setup", Access: accessAuthenticated, AgentOnly: true, MFAOK: true, Handler: s.totpSetup},
		{Method: "POST", Path: api + "/auth/totp/enable", Access: accessAuthenticated, AgentOnly: true, MFAOK: true, Handler: s.totpEnable},
		{Method: "POST", Path: api + "/auth/totp/recovery-codes", Access: accessAuthenticated, AgentOnly: true, Handler: s.recoveryCodes},

		{Method: "GET", Path: api + "/tickets", Access: perm(auth.PermTicketRead), Handler: s.listTickets},
		{Method: "POST", Path: api + "/tickets", Access: perm(auth.PermTicketWrite), Handler: s.createTicket},
		{Method: "GET", Path: api + "/tickets/{id}", Access: perm(auth.PermTicketRead), Handler: s.getTicket},
		{Method: "PATCH", Path: api + "/tickets/{id}", Access: perm(auth.PermTicketWrite), Handler: s.updateTicket},
		{Method: "POST", Path: api + "/tickets/{id}/messages", Access: perm(auth.PermTicketWrite), Handler: s.addMessage},

		{Method: "GET", Path: api + "/contacts", Access: perm(auth.PermContactRead), Handler: s.listContacts},
		{Method: "POST", Path: api + "/contacts", Access: perm(auth.PermContactWrite), Handler: s.createContact},
		{Method: "GET", Path: api + "/contacts/{id}", Access: perm(auth.PermContactRead), Handler: s.getContact},
		{Method: "PATCH", Path: api + "/contacts/{id}", Access: perm(auth.PermContactWrite), Handler: s.updateContact},
		{Method: "POST", Path: api + "/contacts/{id}/reveal", Access: perm(auth.PermContactReveal), Handler: s.revealContact},

		{Method: "GET", Path: api + "/agents", Access: perm(auth.PermAgentRead), Handler: s.listAgents},
		{Method: "POST", Path: api + "/agents", Access: perm(auth.PermAgentManage), Handler: s.createAgent},
		{Method: "GET", Path: api + "/agents/{id}", Access: perm(auth.PermAgentRead), Handler: s.getAgent},
		{Method: "PATCH", Path: api + "/agents/{id}", Access: perm(auth.PermAgentManage), Handler: s.updateAgent},
		{Method: "DELETE", Path: api + "/agents/{id}/totp", Access: perm(auth.PermAgentManage), Handler: s.removeTOTP},
		{Method: "PUT", Path: api + "/agents/me/presence", Access: accessAuthenticated, AgentOnly: true, Handler: s.setPresence},

		{Method: "GET", Path: api + "/teams", Access: perm(auth.PermTeamRead), Handler: s.listTeams},
		{Method: "POST", Path: api + "/teams", Access: perm(auth.PermTeamManage), Handler: s.createTeam},
		{Method: "PATCH", Path: api + "/teams/{id}", Access: perm(auth.PermTeamManage), Handler: s.updateTeam},

		{Method: "GET", Path: api + "/tokens", Access: perm(auth.PermTokenManage), Handler: s.listTokens},
		{Method: "POST", Path: api + "/tokens", Access: perm(auth.PermTokenManage), Handler: s.createToken},
		{Method: "DELETE", Path: api + "/tokens/{id}", Access: perm(auth.PermTokenManage), Handler: s.revokeToken},

		{Method: "GET", Path: api + "/audit", Access: perm(auth.PermAuditRead), Handler: s.listAudit},
		{Method: "GET", Path: api + "/audit/verify", Access: perm(auth.PermAuditRead), Handler: s.verifyAudit},

		{Method: "POST", Path: api + "/attachments", Access: perm(auth.PermTicketWrite), Handler: s.uploadAttachment},
		{Method: "GET", Path: api + "/attachments/{id}", Access: perm(auth.PermAttachmentRead), Handler: s.getAttachment},

		{Method: "GET", Path: api + "/ws", Access: accessAuthenticated, AgentOnly: true, Handler: s.agentStream},
	}
}

// wrap is the one place access is decided: authenticate, refuse a session
// that still owes its second factor, check CSRF on cookie-authenticated
// writes, then check the route's permission.
func (s *Server) wrap(rt route) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := s.authorize(w, r, rt); err != nil {
			s.writeError(w, r, err)
		}
	})
}

func (s *Server) authorize(w http.ResponseWriter, r *http.Request, rt route) error {
	if rt.Access == accessPublic {
		return rt.Handler(w, r, auth.Principal{})
	}
	p, err := s.principal(r.Context(), r, rt.MFAOK)
	if err != nil {
		return err
	}
	if !s.allowRate(p) {
		w.Header().Set("Retry-After", "1")
		return desk.Errorf(desk.ERateLimited, "too many requests; slow down and retry")
	}
	if p.Session != nil && !safeMethod(r.Method) {
		if err := s.auth.CheckCSRF(r, p); err != nil {
			return err
		}
	}
	if rt.AgentOnly && (p.Agent == nil || p.Token != nil) {
		return desk.Errorf(desk.EForbidden, "only agents signed in to the console may do this")
	}
	if rt.Access != accessAuthenticated && !can(p, auth.Permission(rt.Access)) {
		return desk.Errorf(desk.EForbidden, "permission %s required", rt.Access)
	}
	return rt.Handler(w, r, p)
}

// principal authenticates r: a session or an API token, never the system,
// and a session that still owes its second factor only where mfaOK. Every
// route and the console socket's periodic re-check use it.
func (s *Server) principal(ctx context.Context, r *http.Request, mfaOK bool) (auth.Principal, error) {
	p, err := s.auth.Authenticate(ctx, r)
	if err != nil {
		return p, err
	}
	if p.IsSystem() {
		// Authenticate never yields the system principal; if it ever did,
		// it must not get through as "authenticated".
		return auth.Principal{}, desk.Errorf(desk.EUnauthorized, "authentication required")
	}
	if p.MFAPending() && !mfaOK {
		return auth.Principal{}, desk.Errorf(desk.EMFARequired, "set up your authenticator first")
	}
	return p, nil
}

// allowRate takes one request from the principal's allowance: per agent
// for console sessions, per token for integrations.
func (s *Server) allowRate(p auth.Principal) bool {
	now := time.Now()
	switch {
	case p.Token != nil && s.tokenLimit != nil:
		return s.tokenLimit.Allow(p.Token.ID, now)
	case p.Agent != nil && p.Token == nil && s.agentLimit != nil:
		return s.agentLimit.Allow(p.Agent.ID, now)
	}
	return true
}

// can is p.Can with one implication the permission table leaves implicit:
// reading every ticket includes reading tickets (API tokens with
// tickets:read hold only ticket.read_all).
func can(p auth.Principal, perm auth.Permission) bool {
	return p.Can(perm) || (perm == auth.PermTicketRead && p.Can(auth.PermTicketReadAll))
}

func safeMethod(m string) bool {
	return m == http.MethodGet || m == http.MethodHead || m == http.MethodOptions
}

// actor is how the tickets service sees p: its scoping rides on these
// fields, so every ticket handler builds it here.
func actor(p auth.Principal) tickets.Actor {
	return tickets.Actor{
		Kind:      p.ActorKind(),
		ID:        p.ActorID(),
		Name:      p.Name(),
		IP:        p.IP,
		All:       p.SeesAllTickets(),
		Teams:     p.Teams(),
		CanAssign: p.Can(auth.PermTicketAssign),
		// An inline contact that does not exist yet is created: that
		// needs contact.write, like POST /contacts.
		CanWriteContacts: p.Can(auth.PermContactWrite),
	}
}

// pathID parses the {id} path value.
func pathID(r *http.Request) (int64, error) {
	v := r.PathValue("id")
	id, err := strconv.ParseInt(v, 10, 64)
	if err != nil || id <= 0 {
		return 0, fieldError("id", "must be a positive integer")
	}
	return id, nil
}

// queryInt parses an optional integer query parameter within [min, max],
// recording a problem instead of failing so every bad parameter is named.
func queryInt(q url.Values, p desk.Problems, name string, min, max, def int64) int64 {
	v := q.Get(name)
	if v == "" {
		return def
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		p.Add(name, "must be an integer")
		return def
	}
	if n < min || n > max {
		p.Add(name, "must be "+strconv.FormatInt(min, 10)+"-"+strconv.FormatInt(max, 10))
		return def
	}
	return n
}

// nextCursor is the JSON form of a page cursor: null at the end.
func nextCursor(c int64) *int64 {
	if c <= 0 {
		return nil
	}
	return &c
}

type page[T any] struct {
	Items      []T    `json:"items"`
	NextCursor *int64 `json:"next_cursor"`
}
