package auth

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"custos/internal/desk"
	"custos/internal/store"
)

// Recovery codes let an agent who lost their authenticator log in without
// an admin: each opens one session in place of an authenticator code.
const (
	RecoveryCodeCount = 10
	recoveryCodeLen   = 10 // characters of Crockford base32: 50 random bits
	// recoveryAlphabet is Crockford's base32: no I, L, O or U, so a code
	// read off paper cannot be mistyped into another one.
	recoveryAlphabet = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
)

// newRecoveryCodes returns RecoveryCodeCount fresh codes as shown to the
// agent ("7k2mq-x9d4a") and the hashes to store for them.
func newRecoveryCodes(agentID int64) (codes, hashes []string) {
	for range RecoveryCodeCount {
		b := randomBytes(recoveryCodeLen)
		for i := range b {
			b[i] = recoveryAlphabet[int(b[i])%len(recoveryAlphabet)] // 256 is a multiple of 32: unbiased
		}
		canon := string(b)
		codes = append(codes, strings.ToLower(canon[:5]+"-"+canon[5:]))
		hashes = append(hashes, hashRecoveryCode(agentID, canon))
	}
	return codes, hashes
}

// parseRecoveryCode turns what someone typed into a code's canonical form:
// case, spaces and dashes ignored, and the letters Crockford reads as
// digits (O as 0, I and L as 1) mapped. ok is false for anything that is
// not a recovery code, such as a 6-digit authenticator code.
func parseRecoveryCode(s string) (canon string, ok bool) {
	var b strings.Builder
	for _, r := range s {
		switch {
		case r == ' ' || r == '-' || r == '\t':
			continue
		case r == 'o' || r == 'O':
			r = '0'
		case r == 'i' || r == 'I' || r == 'l' || r == 'L':
			r = '1'
		case r >= 'a' && r <= 'z':
			r -= 'a' - 'A'
		}
		if !strings.ContainsRune(recoveryAlphabet, r) || b.Len() >= recoveryCodeLen {
			return "", false
		}
		b.WriteRune(r)
	}
	if b.Len() != recoveryCodeLen {
		return "", false
	}
	return b.String(), true
}

// hashRecoveryCode is what is stored for a code: SHA-256 over the agent id
// and the canonical code. A fast hash suffices for 50 random bits next to
// an authenticator secret that is stored in the clear (decision 36); the
// agent id keeps one guess from testing every agent's codes at once.
func hashRecoveryCode(agentID int64, canon string) string {
	sum := sha256.Sum256([]byte("custos-recovery-code:" + strconv.FormatInt(agentID, 10) + ":" + canon))
	return hex.EncodeToString(sum[:])
}

// errRecoveryCodeBad rolls back a login whose recovery code is not (or no
// longer) one of the agent's.
var errRecoveryCodeBad = errors.New("recovery code not found")

// RegenerateRecoveryCodes replaces p's recovery codes with fresh ones and
// returns them; they are shown once. The current authenticator code is
// required, so a stolen session alone cannot mint codes; it is spent like
// a login's, and a wrong one counts towards the lockout.
func (s *Service) RegenerateRecoveryCodes(ctx context.Context, p Principal, code string) ([]string, error) {
	if p.Agent == nil || p.Token != nil || p.MFAPending() {
		return nil, forbidden("only a logged-in agent can generate its recovery codes")
	}
	if strings.TrimSpace(code) == "" {
		return nil, desk.Problems{"code": "is required"}.Err()
	}
	sec, err := s.secrets(ctx, p.Agent.ID)
	if err != nil {
		return nil, fmt.Errorf("regenerate recovery codes: %w", err)
	}
	if sec.TOTPSecret == "" {
		return nil, desk.Errorf(desk.EConflict, "no authenticator is enabled; recovery codes come with one")
	}
	now := s.now()
	if now.Before(sec.LockedUntil) {
		return nil, lockedErr(sec.LockedUntil)
	}
	step, ok := MatchTOTP(sec.TOTPSecret, code, now)
	if !ok {
		return nil, s.loginFailed(ctx, p, "recovery_codes_bad_totp", desk.Problems{"code": "wrong authenticator code"}.Err())
	}
	reused := desk.Problems{"code": msgTOTPReused}.Err()
	if step <= sec.TOTPLastStep {
		return nil, s.loginFailed(ctx, p, "totp_reused", reused)
	}
	codes, hashes := newRecoveryCodes(p.Agent.ID)
	err = s.st.Write(ctx, func(tx store.Tx) error {
		cur, err := tx.GetAgentSecrets(ctx, p.Agent.ID)
		if err != nil {
			return err
		}
		if cur.TOTPSecret != sec.TOTPSecret || step <= cur.TOTPLastStep {
			// The authenticator changed, or a login spent the code first.
			return errTOTPRaced
		}
		cur.TOTPLastStep = step
		if err := tx.SetAgentSecrets(ctx, cur); err != nil {
			return err
		}
		if err := tx.ReplaceRecoveryCodes(ctx, p.Agent.ID, hashes); err != nil {
			return err
		}
		return s.audit(ctx, tx, p, "auth.recovery_codes_generated", AgentTarget(p.Agent.ID), map[string]int{"count": len(codes)})
	})
	if errors.Is(err, errTOTPRaced) {
		return nil, s.loginFailed(ctx, p, "totp_reused", reused)
	}
	if err != nil {
		return nil, fmt.Errorf("regenerate recovery codes: %w", err)
	}
	return codes, nil
}

// RecoveryCodesLeft is how many unused recovery codes p has; ok is false
// when p is not an agent with an authenticator, for whom the number means
// nothing.
func (s *Service) RecoveryCodesLeft(ctx context.Context, p Principal) (n int, ok bool, err error) {
	if p.Agent == nil || p.Token != nil || !p.Agent.TOTPEnabled {
		return 0, false, nil
	}
	err = s.st.Read(ctx, func(tx store.Tx) error {
		var err error
		n, err = tx.CountRecoveryCodes(ctx, p.Agent.ID)
		return err
	})
	if err != nil {
		return 0, false, fmt.Errorf("count recovery codes: %w", err)
	}
	return n, true, nil
}
