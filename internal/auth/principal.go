package auth

import (
	"encoding/json"
	"strconv"
	"time"

	"custos/internal/desk"
)

// Principal is whoever makes a request: an agent through a console session,
// or an integration through an API token. The zero Principal is the system
// itself (the CLI, background jobs): it is never produced by Authenticate,
// and HTTP handlers must never pass one to the Service.
type Principal struct {
	Agent   *desk.Agent
	Token   *desk.APIToken
	Session *desk.Session
	IP      string
}

// IsSystem reports whether p is the zero Principal (CLI or internal job).
func (p Principal) IsSystem() bool { return p.Agent == nil && p.Token == nil }

// MFAPending reports whether the session still has to enrol an
// authenticator. Such a principal may only use the me, logout and TOTP
// endpoints: Can is false for every permission.
func (p Principal) MFAPending() bool { return p.Session != nil && p.Session.MFAPending }

// Permissions lists what p may do.
func (p Principal) Permissions() []Permission {
	switch {
	case p.MFAPending():
		return nil
	case p.Token != nil:
		var out []Permission
		for _, s := range p.Token.Scopes {
			for _, perm := range scopePermissions(s) {
				if !hasPermission(out, perm) {
					out = append(out, perm)
				}
			}
		}
		return out
	case p.Agent != nil:
		if p.Agent.Disabled {
			return nil
		}
		return rolePermissions(p.Agent.Role)
	}
	return nil
}

// Can reports whether p holds permission perm. The system principal holds
// none: system actions are authorised by the code path, not by this check.
func (p Principal) Can(perm Permission) bool {
	return hasPermission(p.Permissions(), perm)
}

// ActorKind is what audit entries and events record as the actor.
func (p Principal) ActorKind() desk.AuthorKind {
	switch {
	case p.Token != nil:
		return desk.AuthorToken
	case p.Agent != nil:
		return desk.AuthorAgent
	}
	return desk.AuthorSystem
}

// ActorID is the token or agent id, 0 for the system.
func (p Principal) ActorID() int64 {
	switch {
	case p.Token != nil:
		return p.Token.ID
	case p.Agent != nil:
		return p.Agent.ID
	}
	return 0
}

// Name is a human label for the actor.
func (p Principal) Name() string {
	switch {
	case p.Token != nil:
		return p.Token.Name
	case p.Agent != nil:
		return p.Agent.Name
	}
	return "system"
}

// SeesAllTickets reports whether p is not limited to its teams' tickets.
func (p Principal) SeesAllTickets() bool { return p.Can(PermTicketReadAll) }

// Teams are the agent's teams (nil for tokens and the system).
func (p Principal) Teams() []int64 {
	if p.Agent == nil || p.Token != nil {
		return nil
	}
	return p.Agent.TeamIDs
}

// CanSeeTicket applies team scoping: all tickets with read_all, otherwise
// tickets of the agent's teams or assigned to the agent.
func (p Principal) CanSeeTicket(t desk.Ticket) bool {
	if p.Can(PermTicketReadAll) {
		return true
	}
	if !p.Can(PermTicketRead) || p.Agent == nil || p.Token != nil {
		return false
	}
	if t.AssigneeID != 0 && t.AssigneeID == p.Agent.ID {
		return true
	}
	return t.TeamID != 0 && p.Agent.InTeam(t.TeamID)
}

// AuditEntry builds an audit entry for an action of p, so every package
// records actors the same way. detail is marshalled to JSON and must never
// contain secrets; nil gives "{}". The store fills ID and hashes; At is set
// to now (the Service overrides it with its clock).
func AuditEntry(p Principal, action, target string, detail any) desk.AuditEntry {
	d := "{}"
	if detail != nil {
		if b, err := json.Marshal(detail); err == nil {
			d = string(b)
		} else {
			d = `{"error":"detail not serialisable"}`
		}
	}
	return desk.AuditEntry{
		At:        time.Now().UTC().Truncate(time.Microsecond),
		ActorKind: p.ActorKind(),
		ActorID:   p.ActorID(),
		ActorName: p.Name(),
		Action:    action,
		Target:    target,
		Detail:    d,
		IP:        p.IP,
	}
}

// AgentTarget is the audit target of an agent.
func AgentTarget(id int64) string { return "agent:" + strconv.FormatInt(id, 10) }

// TokenTarget is the audit target of an API token.
func TokenTarget(id int64) string { return "token:" + strconv.FormatInt(id, 10) }
