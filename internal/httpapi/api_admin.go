package httpapi

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strconv"

	"custos/internal/audit"
	"custos/internal/auth"
	"custos/internal/desk"
	"custos/internal/realtime"
	"custos/internal/store"
)

func teamTarget(id int64) string { return "team:" + strconv.FormatInt(id, 10) }

// listOf writes {"items": [...]} with an empty array rather than null.
func listOf[T any](w http.ResponseWriter, items []T) {
	if items == nil {
		items = []T{}
	}
	writeJSON(w, http.StatusOK, struct {
		Items []T `json:"items"`
	}{items})
}

func (s *Server) listAgents(w http.ResponseWriter, r *http.Request, p auth.Principal) error {
	var items []desk.Agent
	err := s.st.Read(r.Context(), func(tx store.Tx) error {
		var err error
		items, err = tx.ListAgents(r.Context())
		return err
	})
	if err != nil {
		return err
	}
	listOf(w, items)
	return nil
}

func (s *Server) getAgent(w http.ResponseWriter, r *http.Request, p auth.Principal) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	a, err := s.loadAgent(r.Context(), id)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, a)
	return nil
}

func (s *Server) loadAgent(ctx context.Context, id int64) (desk.Agent, error) {
	var a desk.Agent
	err := s.st.Read(ctx, func(tx store.Tx) error {
		var err error
		a, err = tx.GetAgent(ctx, id)
		return err
	})
	return a, err
}

type createAgentInput struct {
	Login     string    `json:"login"`
	Name      string    `json:"name"`
	Email     string    `json:"email"`
	Role      desk.Role `json:"role"`
	TeamIDs   []int64   `json:"team_ids"`
	Languages []string  `json:"languages"`
	Skills    []string  `json:"skills"`
	ChatLimit int       `json:"chat_limit"`
	Password  string    `json:"password"`
}

func (s *Server) createAgent(w http.ResponseWriter, r *http.Request, p auth.Principal) error {
	var in createAgentInput
	if _, err := s.decodeJSON(w, r, &in); err != nil {
		return err
	}
	a := desk.Agent{Login: in.Login, Name: in.Name, Email: in.Email, Role: in.Role, TeamIDs: in.TeamIDs,
		Languages: in.Languages, Skills: in.Skills, ChatLimit: in.ChatLimit}
	if err := a.Validate(); err != nil {
		return err
	}
	if err := auth.CheckPassword(in.Password); err != nil {
		return err
	}
	if err := s.checkTeams(r.Context(), a.TeamIDs); err != nil {
		return err
	}
	if err := s.auth.CreateAgent(r.Context(), p, &a, in.Password); err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, a)
	return nil
}

// checkTeams refuses team ids that do not exist, naming the first bad one.
func (s *Server) checkTeams(ctx context.Context, ids []int64) error {
	if len(ids) == 0 {
		return nil
	}
	return s.st.Read(ctx, func(tx store.Tx) error { return teamsExist(ctx, tx, ids) })
}

func teamsExist(ctx context.Context, tx store.Tx, ids []int64) error {
	for i, id := range ids {
		if _, err := tx.GetTeam(ctx, id); err != nil {
			if desk.ErrorCode(err) == desk.ENotFound {
				return fieldError(fmt.Sprintf("team_ids[%d]", i), "no such team")
			}
			return err
		}
	}
	return nil
}

type agentPatch struct {
	Name      *string    `json:"name"`
	Email     *string    `json:"email"`
	Role      *desk.Role `json:"role"`
	TeamIDs   *[]int64   `json:"team_ids"`
	Languages *[]string  `json:"languages"`
	Skills    *[]string  `json:"skills"`
	ChatLimit *int       `json:"chat_limit"`
	Disabled  *bool      `json:"disabled"`
	Password  *string    `json:"password"`
}

// updateAgent changes an agent's profile and permissions in one audited
// transaction; disabling and password resets go through the auth service,
// which also ends the agent's sessions.
func (s *Server) updateAgent(w http.ResponseWriter, r *http.Request, p auth.Principal) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	var in agentPatch
	if _, err := s.decodeJSON(w, r, &in); err != nil {
		return err
	}
	pr := desk.Problems{}
	if in.Role != nil {
		desk.OneOf(pr, "role", *in.Role, desk.Roles)
	}
	if p.Agent != nil && p.Agent.ID == id {
		// An admin locking themselves out could leave nobody to undo it.
		if in.Role != nil && *in.Role != p.Agent.Role {
			pr.Add("role", "you cannot change your own role")
		}
		if in.Disabled != nil && *in.Disabled {
			pr.Add("disabled", "you cannot disable yourself")
		}
	}
	if in.Password != nil {
		if err := auth.CheckPassword(*in.Password); err != nil {
			pr.Add("password", fmt.Sprintf("must be %d-%d bytes", auth.MinPassword, auth.MaxPassword))
		}
	}
	if err := pr.Err(); err != nil {
		return err
	}
	ctx := r.Context()
	var hash string
	if in.Password != nil {
		// Hashing is slow (argon2id): before the transaction, not in it.
		if hash, err = auth.PreparePassword(*in.Password); err != nil {
			return err
		}
	}
	var a desk.Agent
	// One transaction: the profile, the password and the disabled flag are
	// written together or not at all.
	err = s.st.Write(ctx, func(tx store.Tx) error {
		var err error
		if a, err = tx.GetAgent(ctx, id); err != nil {
			return err
		}
		if err := s.agentSecurityTx(ctx, tx, p, &a, in, hash); err != nil {
			return err
		}
		old := a
		var changed []string
		if in.Name != nil {
			a.Name, changed = *in.Name, append(changed, "name")
		}
		if in.Email != nil {
			a.Email, changed = *in.Email, append(changed, "email")
		}
		if in.Role != nil {
			a.Role, changed = *in.Role, append(changed, "role")
		}
		if in.TeamIDs != nil {
			a.TeamIDs, changed = *in.TeamIDs, append(changed, "team_ids")
		}
		if in.Languages != nil {
			a.Languages, changed = *in.Languages, append(changed, "languages")
		}
		if in.Skills != nil {
			a.Skills, changed = *in.Skills, append(changed, "skills")
		}
		if in.ChatLimit != nil {
			a.ChatLimit, changed = *in.ChatLimit, append(changed, "chat_limit")
		}
		if err := a.Validate(); err != nil {
			return err
		}
		if len(changed) == 0 {
			return nil
		}
		if in.TeamIDs != nil {
			if err := teamsExist(ctx, tx, a.TeamIDs); err != nil {
				return err
			}
		}
		if err := tx.UpdateAgent(ctx, &a); err != nil {
			return err
		}
		detail := map[string]any{"fields": changed}
		if old.Role != a.Role {
			detail["old_role"], detail["new_role"] = old.Role, a.Role
		}
		if !slices.Equal(old.TeamIDs, a.TeamIDs) {
			detail["old_team_ids"], detail["new_team_ids"] = old.TeamIDs, a.TeamIDs
		}
		e := auth.AuditEntry(p, "agent.update", auth.AgentTarget(a.ID), detail)
		return tx.AppendAudit(ctx, &e)
	})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, a)
	return nil
}

// agentSecurityTx applies a patch's password and disabled flag inside the
// update's transaction, and leaves a as stored after them.
func (s *Server) agentSecurityTx(ctx context.Context, tx store.Tx, p auth.Principal, a *desk.Agent, in agentPatch, hash string) error {
	if hash != "" {
		if err := s.auth.SetPasswordTx(ctx, tx, p, a.ID, hash); err != nil {
			return err
		}
	}
	if in.Disabled != nil && *in.Disabled != a.Disabled {
		stored, err := s.auth.SetDisabledTx(ctx, tx, p, a.ID, *in.Disabled)
		if err != nil {
			return err
		}
		*a = stored
	}
	return nil
}

type presenceInput struct {
	Presence desk.Presence `json:"presence"`
}

func (s *Server) setPresence(w http.ResponseWriter, r *http.Request, p auth.Principal) error {
	var in presenceInput
	if _, err := s.decodeJSON(w, r, &in); err != nil {
		return err
	}
	pr := desk.Problems{}
	desk.OneOf(pr, "presence", in.Presence, desk.Presences)
	if err := pr.Err(); err != nil {
		return err
	}
	ctx := r.Context()
	var a desk.Agent
	err := s.st.Write(ctx, func(tx store.Tx) error {
		var err error
		if a, err = tx.GetAgent(ctx, p.Agent.ID); err != nil {
			return err
		}
		old := a.Presence
		if old == in.Presence {
			return nil
		}
		a.Presence = in.Presence
		if err := tx.UpdateAgent(ctx, &a); err != nil {
			return err
		}
		e := auth.AuditEntry(p, "agent.presence", auth.AgentTarget(a.ID), map[string]any{"old": old, "new": a.Presence})
		return tx.AppendAudit(ctx, &e)
	})
	if err != nil {
		return err
	}
	if s.pub != nil {
		s.pub.Publish(realtime.Event{Type: realtime.Presence, Actor: desk.AuthorAgent, ActorID: a.ID, Name: a.Name,
			AgentID: a.ID, Presence: a.Presence})
	}
	writeJSON(w, http.StatusOK, a)
	return nil
}

func (s *Server) listTeams(w http.ResponseWriter, r *http.Request, p auth.Principal) error {
	var items []desk.Team
	err := s.st.Read(r.Context(), func(tx store.Tx) error {
		var err error
		items, err = tx.ListTeams(r.Context())
		return err
	})
	if err != nil {
		return err
	}
	listOf(w, items)
	return nil
}

type teamInput struct {
	Name          string        `json:"name"`
	Kind          desk.TeamKind `json:"kind"`
	BusinessHours string        `json:"business_hours"`
}

func (s *Server) createTeam(w http.ResponseWriter, r *http.Request, p auth.Principal) error {
	var in teamInput
	body, err := s.decodeJSON(w, r, &in)
	if err != nil {
		return err
	}
	t := desk.Team{Name: in.Name, Kind: in.Kind, BusinessHours: in.BusinessHours}
	if err := t.Validate(); err != nil {
		return err
	}
	ctx := r.Context()
	return s.idempotent(w, r, p, "teams", body, func(save saveFunc) (int, any, error) {
		err := s.st.Write(ctx, func(tx store.Tx) error {
			if err := tx.CreateTeam(ctx, &t); err != nil {
				return err
			}
			e := auth.AuditEntry(p, "team.create", teamTarget(t.ID), map[string]any{"name": t.Name, "kind": t.Kind})
			if err := tx.AppendAudit(ctx, &e); err != nil {
				return err
			}
			return save(ctx, tx, http.StatusCreated, t)
		})
		if err != nil {
			return 0, nil, err
		}
		return http.StatusCreated, t, nil
	})
}

type teamPatch struct {
	Name          *string        `json:"name"`
	Kind          *desk.TeamKind `json:"kind"`
	BusinessHours *string        `json:"business_hours"`
}

func (s *Server) updateTeam(w http.ResponseWriter, r *http.Request, p auth.Principal) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	var in teamPatch
	if _, err := s.decodeJSON(w, r, &in); err != nil {
		return err
	}
	ctx := r.Context()
	var t desk.Team
	err = s.st.Write(ctx, func(tx store.Tx) error {
		var err error
		if t, err = tx.GetTeam(ctx, id); err != nil {
			return err
		}
		old := t
		if in.Name != nil {
			t.Name = *in.Name
		}
		if in.Kind != nil {
			t.Kind = *in.Kind
		}
		if in.BusinessHours != nil {
			t.BusinessHours = *in.BusinessHours
		}
		if err := t.Validate(); err != nil {
			return err
		}
		if t == old {
			return nil
		}
		if err := tx.UpdateTeam(ctx, &t); err != nil {
			return err
		}
		e := auth.AuditEntry(p, "team.update", teamTarget(t.ID), map[string]any{
			"old": map[string]any{"name": old.Name, "kind": old.Kind, "business_hours": old.BusinessHours},
			"new": map[string]any{"name": t.Name, "kind": t.Kind, "business_hours": t.BusinessHours},
		})
		return tx.AppendAudit(ctx, &e)
	})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, t)
	return nil
}

func (s *Server) listTokens(w http.ResponseWriter, r *http.Request, p auth.Principal) error {
	var items []desk.APIToken
	err := s.st.Read(r.Context(), func(tx store.Tx) error {
		var err error
		items, err = tx.ListTokens(r.Context())
		return err
	})
	if err != nil {
		return err
	}
	listOf(w, items)
	return nil
}

type tokenInput struct {
	Name   string   `json:"name"`
	Scopes []string `json:"scopes"`
}

type tokenCreated struct {
	Token  desk.APIToken `json:"token"`
	Secret string        `json:"secret"`
}

func (s *Server) createToken(w http.ResponseWriter, r *http.Request, p auth.Principal) error {
	if r.Header.Get("Idempotency-Key") != "" {
		// A replay would have to store the secret, which is shown once and
		// kept only as a hash. Refused rather than silently ignored.
		return invalid("Idempotency-Key is not supported when creating a token: its secret is shown once and never stored; list tokens to see whether a retry is needed")
	}
	var in tokenInput
	if _, err := s.decodeJSON(w, r, &in); err != nil {
		return err
	}
	pr := desk.Problems{}
	desk.CheckText(pr, "name", in.Name, desk.MaxName, true)
	if len(in.Scopes) == 0 {
		pr.Add("scopes", "at least one scope is required")
	}
	valid := auth.ValidScopes()
	for i, sc := range in.Scopes {
		if !slices.Contains(valid, sc) {
			pr.Add(fmt.Sprintf("scopes[%d]", i), "unknown scope")
		}
	}
	if err := pr.Err(); err != nil {
		return err
	}
	t, secret, err := s.auth.CreateToken(r.Context(), p, in.Name, in.Scopes)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, tokenCreated{Token: t, Secret: secret})
	return nil
}

// removeTOTP takes away an agent's authenticator: the admin's answer to a
// lost phone (there are no recovery codes yet, decision 28).
func (s *Server) removeTOTP(w http.ResponseWriter, r *http.Request, p auth.Principal) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	if err := s.auth.DisableTOTP(r.Context(), p, id); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *Server) revokeToken(w http.ResponseWriter, r *http.Request, p auth.Principal) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	if err := s.auth.RevokeToken(r.Context(), p, id); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

type auditPage struct {
	Items     []desk.AuditEntry `json:"items"`
	NextAfter *int64            `json:"next_after"`
}

const maxAuditPage = 1000

func (s *Server) listAudit(w http.ResponseWriter, r *http.Request, p auth.Principal) error {
	q := r.URL.Query()
	pr := desk.Problems{}
	after := queryInt(q, pr, "after", 0, 1<<62, 0)
	limit := int(queryInt(q, pr, "limit", 1, maxAuditPage, 100))
	if err := pr.Err(); err != nil {
		return err
	}
	var items []desk.AuditEntry
	err := s.st.Read(r.Context(), func(tx store.Tx) error {
		var err error
		items, err = tx.ListAudit(r.Context(), after, limit)
		return err
	})
	if err != nil {
		return err
	}
	out := auditPage{Items: items}
	if out.Items == nil {
		out.Items = []desk.AuditEntry{}
	}
	if len(items) == limit {
		next := items[len(items)-1].ID
		out.NextAfter = &next
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (s *Server) verifyAudit(w http.ResponseWriter, r *http.Request, p auth.Principal) error {
	res, err := audit.Verify(r.Context(), s.st, 500)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, res)
	return nil
}
