package auth

import (
	"slices"
	"sort"

	"custos/internal/desk"
)

// Permission is one thing a principal may do. Handlers ask for permissions,
// never for roles, so the role table below is the one place to change who
// may do what.
type Permission string

const (
	PermTicketRead     Permission = "ticket.read"     // tickets of own teams or assigned to self
	PermTicketReadAll  Permission = "ticket.read_all" // every ticket
	PermTicketWrite    Permission = "ticket.write"    // reply, note, change fields of tickets one may see
	PermTicketAssign   Permission = "ticket.assign"   // assign to someone else
	PermContactRead    Permission = "contact.read"    // masked personal data
	PermContactWrite   Permission = "contact.write"   // edit contacts
	PermContactReveal  Permission = "contact.reveal"  // unmasked personal data; every reveal is audited
	PermAgentRead      Permission = "agent.read"      // list agents
	PermAgentManage    Permission = "agent.manage"    // create, disable, reset agents
	PermTeamRead       Permission = "team.read"       // list teams
	PermTeamManage     Permission = "team.manage"     // create and edit teams
	PermTokenManage    Permission = "token.manage"    // create and revoke API tokens
	PermAuditRead      Permission = "audit.read"      // read and verify the audit chain
	PermAttachmentRead Permission = "attachment.read" // download attachments of visible tickets
)

// AllPermissions lists every permission, for the admin role and for tests.
func AllPermissions() []Permission {
	return []Permission{
		PermTicketRead, PermTicketReadAll, PermTicketWrite, PermTicketAssign,
		PermContactRead, PermContactWrite, PermContactReveal,
		PermAgentRead, PermAgentManage, PermTeamRead, PermTeamManage,
		PermTokenManage, PermAuditRead, PermAttachmentRead,
	}
}

// rolePermissions is the one table of who may do what. Agents are scoped to
// their teams (ticket.read without read_all); qa and auditor are read-only.
func rolePermissions(r desk.Role) []Permission {
	switch r {
	case desk.RoleAdmin:
		return AllPermissions()
	case desk.RoleLead:
		return []Permission{PermTicketRead, PermTicketReadAll, PermTicketWrite, PermTicketAssign,
			PermContactRead, PermContactWrite, PermContactReveal, PermAgentRead, PermTeamRead, PermAttachmentRead}
	case desk.RoleAgent:
		return []Permission{PermTicketRead, PermTicketWrite, PermContactRead, PermContactWrite,
			PermAgentRead, PermTeamRead, PermAttachmentRead}
	case desk.RoleQA:
		return []Permission{PermTicketRead, PermTicketReadAll, PermContactRead, PermAgentRead, PermTeamRead, PermAttachmentRead}
	case desk.RoleAuditor:
		return []Permission{PermTicketRead, PermTicketReadAll, PermContactRead, PermAgentRead, PermTeamRead,
			PermAuditRead, PermAttachmentRead}
	}
	return nil
}

// RolePermissions returns the permissions of role r (nil for an unknown
// role). The slice is the caller's.
func RolePermissions(r desk.Role) []Permission {
	return rolePermissions(r)
}

// scopePermissions maps API token scopes to permissions. Integrations are
// not team members, so reading tickets means reading all of them.
func scopePermissions(scope string) []Permission {
	switch scope {
	case "tickets:read":
		return []Permission{PermTicketReadAll, PermAttachmentRead}
	case "tickets:write":
		return []Permission{PermTicketReadAll, PermTicketWrite, PermTicketAssign}
	case "contacts:read":
		return []Permission{PermContactRead}
	case "contacts:write":
		return []Permission{PermContactRead, PermContactWrite}
	case "agents:read":
		return []Permission{PermAgentRead}
	case "teams:read":
		return []Permission{PermTeamRead}
	case "audit:read":
		return []Permission{PermAuditRead}
	}
	return nil
}

// ScopePermissions returns the permissions an API token scope grants, and
// false for an unknown scope.
func ScopePermissions(scope string) ([]Permission, bool) {
	p := scopePermissions(scope)
	return p, p != nil
}

// ValidScopes lists every API token scope, sorted.
func ValidScopes() []string {
	s := []string{"tickets:read", "tickets:write", "contacts:read", "contacts:write", "agents:read", "teams:read", "audit:read"}
	sort.Strings(s)
	return s
}

func hasPermission(ps []Permission, p Permission) bool {
	return slices.Contains(ps, p)
}
