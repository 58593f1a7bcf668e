package auth

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"custos/internal/desk"
	"custos/internal/store"
)

func forbidden(msg string) error { return desk.Errorf(desk.EForbidden, "%s", msg) }

// BeginTOTP starts authenticator enrolment for p's own account: a fresh
// secret and its otpauth:// URL. Nothing is stored until EnableTOTP proves
// the app was set up with it.
func (s *Service) BeginTOTP(ctx context.Context, p Principal) (secret, url string, err error) {
	if p.Agent == nil || p.Token != nil {
		return "", "", forbidden("only an agent can enrol an authenticator")
	}
	if p.Agent.TOTPEnabled {
		return "", "", desk.Errorf(desk.EConflict, "an authenticator is already enabled; disable it first")
	}
	secret = NewTOTPSecret()
	return secret, TOTPURL(s.opt.Issuer, p.Agent.Login, secret), nil
}

// EnableTOTP stores secret as p's authenticator once code proves it works,
// lifts the MFA-pending flag of p's session, and returns p's new recovery
// codes: shown this once, stored only as hashes.
func (s *Service) EnableTOTP(ctx context.Context, p Principal, secret, code string) (recoveryCodes []string, err error) {
	if p.Agent == nil || p.Token != nil {
		return nil, forbidden("only an agent can enrol an authenticator")
	}
	key, err := decodeTOTPSecret(secret)
	if err != nil || len(key) < 16 {
		return nil, desk.Problems{"secret": "must be the base32 secret from BeginTOTP"}.Err()
	}
	step, ok := MatchTOTP(secret, code, s.now())
	if !ok {
		return nil, desk.Problems{"code": "wrong authenticator code; check the device clock"}.Err()
	}
	codes, hashes := newRecoveryCodes(p.Agent.ID)
	err = s.st.Write(ctx, func(tx store.Tx) error {
		a, err := tx.GetAgent(ctx, p.Agent.ID)
		if err != nil {
			return err
		}
		sec, err := tx.GetAgentSecrets(ctx, a.ID)
		if err != nil {
			return err
		}
		if sec.TOTPSecret != "" {
			return desk.Errorf(desk.EConflict, "an authenticator is already enabled; disable it first")
		}
		sec.TOTPSecret = b32.EncodeToString(key)
		// The enrolment code is spent: it cannot also open a session.
		sec.TOTPLastStep = max(sec.TOTPLastStep, step)
		if err := tx.SetAgentSecrets(ctx, sec); err != nil {
			return err
		}
		a.TOTPEnabled = true
		if err := tx.UpdateAgent(ctx, &a); err != nil {
			return err
		}
		if err := tx.ReplaceRecoveryCodes(ctx, a.ID, hashes); err != nil {
			return err
		}
		if p.Session != nil && p.Session.MFAPending {
			sess, err := tx.GetSession(ctx, p.Session.ID)
			if err != nil {
				return err
			}
			sess.MFAPending = false
			if err := tx.UpdateSession(ctx, sess); err != nil {
				return err
			}
		}
		return s.audit(ctx, tx, p, "auth.totp_enabled", AgentTarget(a.ID), map[string]int{"recovery_codes": len(codes)})
	})
	if err != nil {
		return nil, fmt.Errorf("enable authenticator: %w", err)
	}
	return codes, nil
}

// DisableTOTP removes agentID's authenticator and its recovery codes: an
// admin for anyone (a lost phone), an agent for itself.
func (s *Service) DisableTOTP(ctx context.Context, actor Principal, agentID int64) error {
	self := actor.Agent != nil && actor.Token == nil && actor.Agent.ID == agentID && !actor.MFAPending()
	if !self && !actor.Can(PermAgentManage) && !actor.IsSystem() {
		return forbidden("only an admin can remove another agent's authenticator")
	}
	err := s.st.Write(ctx, func(tx store.Tx) error {
		a, err := tx.GetAgent(ctx, agentID)
		if err != nil {
			return err
		}
		sec, err := tx.GetAgentSecrets(ctx, agentID)
		if err != nil {
			return err
		}
		sec.TOTPSecret = ""
		if err := tx.SetAgentSecrets(ctx, sec); err != nil {
			return err
		}
		a.TOTPEnabled = false
		if err := tx.UpdateAgent(ctx, &a); err != nil {
			return err
		}
		if err := tx.ReplaceRecoveryCodes(ctx, agentID, nil); err != nil {
			return err
		}
		return s.audit(ctx, tx, actor, "auth.totp_disabled", AgentTarget(agentID), nil)
	})
	if err != nil {
		return fmt.Errorf("disable authenticator: %w", err)
	}
	return nil
}

// CreateToken makes an API token and returns it with its secret, which is
// shown once and never stored. A creator can only grant what it holds.
func (s *Service) CreateToken(ctx context.Context, creator Principal, name string, scopes []string) (desk.APIToken, string, error) {
	if !creator.Can(PermTokenManage) && !creator.IsSystem() {
		return desk.APIToken{}, "", forbidden("not allowed to manage API tokens")
	}
	name = strings.TrimSpace(name)
	p := desk.Problems{}
	desk.CheckText(p, "name", name, desk.MaxName, true)
	clean := make([]string, 0, len(scopes))
	for i, sc := range scopes {
		perms, ok := ScopePermissions(sc)
		if !ok {
			p.Add(fmt.Sprintf("scopes[%d]", i), "must be one of: "+strings.Join(ValidScopes(), ", "))
			continue
		}
		if !creator.IsSystem() {
			for _, perm := range perms {
				if !creator.Can(perm) {
					p.Add(fmt.Sprintf("scopes[%d]", i), "grants more than you hold")
				}
			}
		}
		if !slices.Contains(clean, sc) {
			clean = append(clean, sc)
		}
	}
	if len(scopes) == 0 {
		p.Add("scopes", "at least one scope is required")
	}
	if err := p.Err(); err != nil {
		return desk.APIToken{}, "", err
	}
	slices.Sort(clean)
	secret, hash := NewSecret(PrefixAPIToken)
	t := desk.APIToken{
		Name:      name,
		Prefix:    secret[:len(PrefixAPIToken)+6],
		Hash:      hash,
		Scopes:    clean,
		CreatedBy: creator.ActorID(),
		CreatedAt: s.now(),
	}
	err := s.st.Write(ctx, func(tx store.Tx) error {
		if err := tx.CreateToken(ctx, &t); err != nil {
			return err
		}
		return s.audit(ctx, tx, creator, "token.create", TokenTarget(t.ID),
			map[string]any{"name": t.Name, "scopes": t.Scopes, "prefix": t.Prefix})
	})
	if err != nil {
		return desk.APIToken{}, "", fmt.Errorf("create API token: %w", err)
	}
	return t, secret, nil
}

// RevokeToken stops token id from authenticating; the row stays for the record.
func (s *Service) RevokeToken(ctx context.Context, actor Principal, id int64) error {
	if !actor.Can(PermTokenManage) && !actor.IsSystem() {
		return forbidden("not allowed to manage API tokens")
	}
	err := s.st.Write(ctx, func(tx store.Tx) error {
		if err := tx.RevokeToken(ctx, id, s.now()); err != nil {
			return err
		}
		return s.audit(ctx, tx, actor, "token.revoke", TokenTarget(id), nil)
	})
	if err != nil {
		return fmt.Errorf("revoke API token %d: %w", id, err)
	}
	return nil
}

// CreateAgent validates a, hashes password and stores both. The zero
// Principal (the CLI creating the first admin) acts as the system.
func (s *Service) CreateAgent(ctx context.Context, actor Principal, a *desk.Agent, password string) error {
	if !actor.Can(PermAgentManage) && !actor.IsSystem() {
		return forbidden("not allowed to manage agents")
	}
	a.Login = strings.ToLower(strings.TrimSpace(a.Login))
	verr := a.Validate()
	if perr := CheckPassword(password); perr != nil {
		verr = mergeProblems(verr, perr)
	}
	if verr != nil {
		return verr
	}
	hash, err := HashPassword(password)
	if err != nil {
		return err
	}
	now := s.now()
	a.CreatedAt, a.UpdatedAt = now, now
	a.TOTPEnabled = false
	err = s.st.Write(ctx, func(tx store.Tx) error {
		if err := tx.CreateAgent(ctx, a, hash); err != nil {
			return err
		}
		return s.audit(ctx, tx, actor, "agent.create", AgentTarget(a.ID),
			map[string]any{"login": a.Login, "role": a.Role, "team_ids": a.TeamIDs})
	})
	if err != nil {
		return fmt.Errorf("create agent %q: %w", a.Login, err)
	}
	return nil
}

// mergeProblems joins the field errors of two EInvalid errors.
func mergeProblems(a, b error) error {
	var ea, eb *desk.Error
	if a == nil || !errors.As(a, &ea) || !errors.As(b, &eb) {
		if a == nil {
			return b
		}
		return a
	}
	p := desk.Problems{}
	for k, v := range ea.Fields {
		p.Add(k, v)
	}
	for k, v := range eb.Fields {
		p.Add(k, v)
	}
	return p.Err()
}

// ChangePassword is an agent changing its own password: the current one is
// checked first, so a stolen session alone cannot take over the account.
// A wrong current password counts towards the lock like a failed login.
func (s *Service) ChangePassword(ctx context.Context, p Principal, current, next string) error {
	if p.Agent == nil || p.Token != nil || p.MFAPending() {
		return forbidden("only a logged-in agent can change its password")
	}
	if err := CheckPassword(next); err != nil {
		return err
	}
	sec, err := s.secrets(ctx, p.Agent.ID)
	if err != nil {
		return fmt.Errorf("change password: %w", err)
	}
	if s.now().Before(sec.LockedUntil) {
		return lockedErr(sec.LockedUntil)
	}
	ok, err := VerifyPassword(sec.PasswordHash, current)
	if err != nil {
		return err
	}
	if !ok {
		return s.loginFailed(ctx, p, "bad_current_password",
			desk.Problems{"current_password": "is wrong"}.Err())
	}
	return s.SetPassword(ctx, p, p.Agent.ID, next)
}

// SetPassword replaces agentID's password (admin, self or system), clears
// any lock and logs the agent out everywhere.
func (s *Service) SetPassword(ctx context.Context, actor Principal, agentID int64, pw string) error {
	hash, err := PreparePassword(pw)
	if err != nil {
		return err
	}
	err = s.st.Write(ctx, func(tx store.Tx) error { return s.SetPasswordTx(ctx, tx, actor, agentID, hash) })
	if err != nil {
		return fmt.Errorf("set password of agent %d: %w", agentID, err)
	}
	return nil
}

// PreparePassword checks a new password and hashes it: the slow part of
// setting one, done before a transaction opens.
func PreparePassword(pw string) (string, error) {
	if err := CheckPassword(pw); err != nil {
		return "", err
	}
	return HashPassword(pw)
}

// SetPasswordTx is SetPassword inside the caller's transaction, with the
// hash from PreparePassword.
func (s *Service) SetPasswordTx(ctx context.Context, tx store.Tx, actor Principal, agentID int64, hash string) error {
	self := actor.Agent != nil && actor.Token == nil && actor.Agent.ID == agentID && !actor.MFAPending()
	if !self && !actor.Can(PermAgentManage) && !actor.IsSystem() {
		return forbidden("not allowed to set this agent's password")
	}
	sec, err := tx.GetAgentSecrets(ctx, agentID)
	if err != nil {
		return err
	}
	sec.PasswordHash = hash
	sec.FailedLogins = 0
	sec.LockedUntil = time.Time{}
	if err := tx.SetAgentSecrets(ctx, sec); err != nil {
		return err
	}
	if err := tx.DeleteAgentSessions(ctx, agentID); err != nil {
		return err
	}
	return s.audit(ctx, tx, actor, "agent.password_reset", AgentTarget(agentID), map[string]bool{"self": self})
}

// SetDisabled disables or re-enables agentID. Disabling logs it out
// everywhere; an agent cannot disable itself (so the last admin cannot lock
// everyone out by accident).
func (s *Service) SetDisabled(ctx context.Context, actor Principal, agentID int64, disabled bool) error {
	err := s.st.Write(ctx, func(tx store.Tx) error {
		_, err := s.SetDisabledTx(ctx, tx, actor, agentID, disabled)
		return err
	})
	if err != nil {
		return fmt.Errorf("set disabled=%v on agent %d: %w", disabled, agentID, err)
	}
	return nil
}

// SetDisabledTx is SetDisabled inside the caller's transaction; it returns
// the agent as stored.
func (s *Service) SetDisabledTx(ctx context.Context, tx store.Tx, actor Principal, agentID int64, disabled bool) (desk.Agent, error) {
	if !actor.Can(PermAgentManage) && !actor.IsSystem() {
		return desk.Agent{}, forbidden("not allowed to manage agents")
	}
	if disabled && actor.Agent != nil && actor.Token == nil && actor.Agent.ID == agentID {
		return desk.Agent{}, desk.Problems{"disabled": "you cannot disable yourself"}.Err()
	}
	action := "agent.enable"
	if disabled {
		action = "agent.disable"
	}
	a, err := tx.GetAgent(ctx, agentID)
	if err != nil {
		return desk.Agent{}, err
	}
	a.Disabled = disabled
	a.UpdatedAt = s.now()
	if err := tx.UpdateAgent(ctx, &a); err != nil {
		return desk.Agent{}, err
	}
	if disabled {
		if err := tx.DeleteAgentSessions(ctx, agentID); err != nil {
			return desk.Agent{}, err
		}
	}
	return a, s.audit(ctx, tx, actor, action, AgentTarget(agentID), nil)
}
