package auth

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"time"
	"unicode/utf8"

	"custos/internal/desk"
	"custos/internal/store"
)

// Login protection.
const (
	maxFailedLogins  = 5
	lockDuration     = 15 * time.Minute
	loginsPerMinute  = 20    // per IP
	maxThrottledIPs  = 10000 // bound on the throttle map
	touchEvery       = time.Minute
	CookieName       = "custos_session"
	csrfHeader       = "X-CSRF-Token"
	msgBadLogin      = "invalid login or password"
	msgMFARequired   = "authenticator code required"
	msgTOTPReused    = "this authenticator code was already used: wait for the next one"
	msgUnauthorized  = "authentication required"
	msgBadCSRF       = "missing or bad CSRF token"
	defaultIssuer    = "Custos"
	defaultIdle      = 12 * time.Hour
	defaultMaxLength = 7 * 24 * time.Hour
)

// errTOTPRaced rolls back a login whose authenticator code another login
// spent between the check and the commit.
var errTOTPRaced = errors.New("authenticator code already used")

// Options configure the Service. Zero values take the defaults.
type Options struct {
	SessionIdle time.Duration // a session unused this long expires (default 12h)
	SessionMax  time.Duration // absolute session lifetime (default 7 days)
	RequireTOTP bool          // agents without an authenticator must enrol at login
	Issuer      string        // shown in authenticator apps (default "Custos")
	Now         func() time.Time
	Secure      bool // cookies get Secure (set when served over TLS)
}

// Service authenticates agents and API tokens and manages credentials.
type Service struct {
	st       store.Store
	opt      Options
	throttle *throttle
}

// NewService returns a Service over st.
func NewService(st store.Store, opt Options) *Service {
	if opt.SessionIdle <= 0 {
		opt.SessionIdle = defaultIdle
	}
	if opt.SessionMax <= 0 {
		opt.SessionMax = defaultMaxLength
	}
	if opt.Issuer == "" {
		opt.Issuer = defaultIssuer
	}
	if opt.Now == nil {
		opt.Now = time.Now
	}
	return &Service{st: st, opt: opt, throttle: newThrottle(loginsPerMinute, maxThrottledIPs)}
}

func (s *Service) now() time.Time { return s.opt.Now().UTC() }

// audit writes an entry stamped with the service clock.
func (s *Service) audit(ctx context.Context, tx store.Tx, p Principal, action, target string, detail any) error {
	e := AuditEntry(p, action, target, detail)
	e.At = s.now().Truncate(time.Microsecond)
	if err := tx.AppendAudit(ctx, &e); err != nil {
		return fmt.Errorf("append audit %s: %w", action, err)
	}
	return nil
}

// LoginInput is what the login form sends, plus where it came from.
type LoginInput struct {
	Login     string
	Password  string
	TOTP      string
	IP        string
	UserAgent string
}

// LoginResult is a successful login. Token is the cookie value, shown once.
type LoginResult struct {
	Agent      desk.Agent
	Session    desk.Session
	Token      string
	EnrollTOTP bool // the session is MFA-pending until an authenticator is enrolled
	// RecoveryCodesLeft is set when a recovery code opened the session:
	// how many unused codes the agent has left.
	RecoveryCodesLeft *int
}

// Login checks credentials and opens a session. Every outcome but a
// throttled attempt is audited in the same transaction as its effect.
func (s *Service) Login(ctx context.Context, in LoginInput) (LoginResult, error) {
	now := s.now()
	if !s.throttle.allow(in.IP, now) {
		return LoginResult{}, desk.Errorf(desk.ERateLimited, "too many login attempts; retry in a minute")
	}
	login := strings.ToLower(strings.TrimSpace(in.Login))
	var (
		agent desk.Agent
		sec   desk.AgentSecrets
		err   error
	)
	if lookupLogin(login) {
		err = s.st.Read(ctx, func(tx store.Tx) error {
			var err error
			if agent, err = tx.GetAgentByLogin(ctx, login); err != nil {
				return err
			}
			sec, err = tx.GetAgentSecrets(ctx, agent.ID)
			return err
		})
	} else {
		// No agent can have this login (empty, too long, not UTF-8,
		// control characters); PostgreSQL would refuse a NUL byte with
		// an error. It gets the answer an unknown login gets.
		err = desk.NotFound("agent")
	}
	if errors.Is(err, desk.ErrNotFound) || (err == nil && agent.Disabled) {
		// Same work and same answer as a wrong password, so neither an
		// unknown login nor a disabled account can be told apart.
		hash, reason, target := dummyHash, "unknown_login", "login:"+auditLogin(login)
		if err == nil {
			hash, reason, target = sec.PasswordHash, "disabled", AgentTarget(agent.ID)
		}
		_, _ = VerifyPassword(hash, in.Password)
		werr := s.st.Write(ctx, func(tx store.Tx) error {
			return s.audit(ctx, tx, Principal{IP: in.IP}, "auth.login_failed", target, map[string]string{"reason": reason})
		})
		if werr != nil {
			return LoginResult{}, werr
		}
		return LoginResult{}, desk.Errorf(desk.EUnauthorized, msgBadLogin)
	}
	if err != nil {
		return LoginResult{}, fmt.Errorf("login lookup: %w", err)
	}
	actor := Principal{Agent: &agent, IP: in.IP}
	if now.Before(sec.LockedUntil) {
		werr := s.st.Write(ctx, func(tx store.Tx) error {
			return s.audit(ctx, tx, actor, "auth.login_failed", AgentTarget(agent.ID), map[string]string{"reason": "locked"})
		})
		if werr != nil {
			return LoginResult{}, werr
		}
		return LoginResult{}, lockedErr(sec.LockedUntil)
	}
	ok, err := VerifyPassword(sec.PasswordHash, in.Password)
	if err != nil {
		return LoginResult{}, err
	}
	if !ok {
		return LoginResult{}, s.loginFailed(ctx, actor, "bad_password", desk.Errorf(desk.EUnauthorized, msgBadLogin))
	}
	var (
		totpStep     int64  // the step of the code used; 0 = none
		recoveryHash string // the recovery code used instead; "" = none
	)
	if sec.TOTPSecret != "" {
		code := strings.TrimSpace(in.TOTP)
		if code == "" {
			// The first step of a normal two-step login: not a failure,
			// but still on the record.
			werr := s.st.Write(ctx, func(tx store.Tx) error {
				return s.audit(ctx, tx, actor, "auth.login_failed", AgentTarget(agent.ID), map[string]string{"reason": "totp_required"})
			})
			if werr != nil {
				return LoginResult{}, werr
			}
			return LoginResult{}, desk.Errorf(desk.EMFARequired, msgMFARequired)
		}
		if canon, ok := parseRecoveryCode(code); ok {
			// Checked and spent only inside the transaction that opens
			// the session, so two logins cannot both spend one code.
			recoveryHash = hashRecoveryCode(agent.ID, canon)
		} else {
			step, ok := MatchTOTP(sec.TOTPSecret, code, now)
			if !ok {
				// A wrong code counts towards the lock: with the password
				// known, only the lock stops guessing a million codes.
				return LoginResult{}, s.loginFailed(ctx, actor, "bad_totp", desk.Errorf(desk.EMFARequired, msgMFARequired))
			}
			if step <= sec.TOTPLastStep {
				// Right code, already used: whoever saw it go by must not
				// log in with it. Counted like a wrong code.
				return LoginResult{}, s.loginFailed(ctx, actor, "totp_reused", desk.Errorf(desk.EMFARequired, msgTOTPReused))
			}
			totpStep = step
		}
	}

	token, hash := NewSecret(PrefixSession)
	csrf, _ := NewSecret("")
	sess := desk.Session{
		ID:         hash,
		AgentID:    agent.ID,
		CSRF:       csrf,
		MFAPending: s.opt.RequireTOTP && sec.TOTPSecret == "",
		CreatedAt:  now,
		ExpiresAt:  s.expiry(now, now),
		LastSeenAt: now,
		IP:         in.IP,
		UserAgent:  truncate(in.UserAgent, 512),
	}
	var codesLeft *int
	err = s.st.Write(ctx, func(tx store.Tx) error {
		cur, err := tx.GetAgentSecrets(ctx, agent.ID)
		if err != nil {
			return err
		}
		if totpStep != 0 && totpStep <= cur.TOTPLastStep {
			// A concurrent login spent the same code first.
			return errTOTPRaced
		}
		if recoveryHash != "" {
			if cur.TOTPSecret == "" {
				// The authenticator was removed meanwhile, and its codes
				// with it.
				return errRecoveryCodeBad
			}
			left, err := tx.UseRecoveryCode(ctx, agent.ID, recoveryHash)
			if errors.Is(err, desk.ErrNotFound) {
				// Wrong, spent already, or spent by a concurrent login.
				return errRecoveryCodeBad
			}
			if err != nil {
				return err
			}
			codesLeft = &left
			if err := s.audit(ctx, tx, actor, "auth.recovery_code_used", AgentTarget(agent.ID), map[string]int{"left": left}); err != nil {
				return err
			}
		}
		if cur.FailedLogins != 0 || !cur.LockedUntil.IsZero() || totpStep != 0 {
			cur.FailedLogins, cur.LockedUntil = 0, time.Time{}
			if totpStep != 0 {
				cur.TOTPLastStep = totpStep
			}
			if err := tx.SetAgentSecrets(ctx, cur); err != nil {
				return err
			}
		}
		if err := tx.CreateSession(ctx, sess); err != nil {
			return err
		}
		return s.audit(ctx, tx, actor, "auth.login", AgentTarget(agent.ID), map[string]any{"mfa_pending": sess.MFAPending})
	})
	if errors.Is(err, errTOTPRaced) {
		return LoginResult{}, s.loginFailed(ctx, actor, "totp_reused", desk.Errorf(desk.EMFARequired, msgTOTPReused))
	}
	if errors.Is(err, errRecoveryCodeBad) {
		// Counted like a wrong authenticator code.
		return LoginResult{}, s.loginFailed(ctx, actor, "bad_recovery_code", desk.Errorf(desk.EMFARequired, msgMFARequired))
	}
	if err != nil {
		return LoginResult{}, fmt.Errorf("open session: %w", err)
	}
	return LoginResult{Agent: agent, Session: sess, Token: token, EnrollTOTP: sess.MFAPending, RecoveryCodesLeft: codesLeft}, nil
}

// loginFailed counts a failure and locks the account at the limit, reading
// the counter inside the write so concurrent failures are all counted.
func (s *Service) loginFailed(ctx context.Context, actor Principal, reason string, fail error) error {
	now := s.now()
	var lockedUntil time.Time
	err := s.st.Write(ctx, func(tx store.Tx) error {
		sec, err := tx.GetAgentSecrets(ctx, actor.Agent.ID)
		if err != nil {
			return err
		}
		sec.FailedLogins++
		locked := sec.FailedLogins >= maxFailedLogins
		if locked {
			// The counter restarts so the account gets a fresh five tries
			// when the lock runs out.
			sec.FailedLogins = 0
			sec.LockedUntil = now.Add(lockDuration)
			lockedUntil = sec.LockedUntil
		}
		if err := tx.SetAgentSecrets(ctx, sec); err != nil {
			return err
		}
		target := AgentTarget(actor.Agent.ID)
		if err := s.audit(ctx, tx, actor, "auth.login_failed", target, map[string]any{"reason": reason, "failures": sec.FailedLogins}); err != nil {
			return err
		}
		if locked {
			return s.audit(ctx, tx, actor, "auth.locked", target, map[string]any{"until": lockedUntil, "minutes": int(lockDuration.Minutes())})
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("record failed login: %w", err)
	}
	if !lockedUntil.IsZero() {
		return lockedErr(lockedUntil)
	}
	return fail
}

func lockedErr(until time.Time) error {
	return desk.Errorf(desk.ELocked, "account locked after too many failed logins; try again after %s", until.UTC().Format(time.RFC3339))
}

// secrets reads an agent's password hash, authenticator and lock state.
func (s *Service) secrets(ctx context.Context, agentID int64) (sec desk.AgentSecrets, err error) {
	err = s.st.Read(ctx, func(tx store.Tx) error {
		sec, err = tx.GetAgentSecrets(ctx, agentID)
		return err
	})
	return sec, err
}

// lookupLogin reports whether login is worth looking up: text an agent's
// login could be (desk.Agent.Validate is stricter still).
func lookupLogin(login string) bool {
	p := desk.Problems{}
	desk.CheckText(p, "login", login, desk.MaxLogin, true)
	return p.Err() == nil
}

// auditLogin makes an attempted login safe to record: bounded, valid UTF-8,
// no control characters (PostgreSQL refuses NUL). People sometimes type
// their password into the login field; bounding it to the login length
// keeps most of such a slip out of the record.
func auditLogin(login string) string {
	s := truncate(strings.ToValidUTF8(login, "?"), desk.MaxLogin)
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return '?'
		}
		return r
	}, s)
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	s = s[:n]
	for !utf8.ValidString(s) && len(s) > 0 {
		s = s[:len(s)-1]
	}
	return s
}

// expiry is when a session created at created and seen at seen expires.
func (s *Service) expiry(created, seen time.Time) time.Time {
	idle, max := seen.Add(s.opt.SessionIdle), created.Add(s.opt.SessionMax)
	if idle.Before(max) {
		return idle
	}
	return max
}

// Logout ends p's session.
func (s *Service) Logout(ctx context.Context, p Principal) error {
	if p.Session == nil || p.Agent == nil {
		return desk.Errorf(desk.EInvalid, "not logged in with a session")
	}
	return s.st.Write(ctx, func(tx store.Tx) error {
		if err := tx.DeleteSession(ctx, p.Session.ID); err != nil && !errors.Is(err, desk.ErrNotFound) {
			return err
		}
		return s.audit(ctx, tx, p, "auth.logout", AgentTarget(p.Agent.ID), nil)
	})
}

// Cookie is the session cookie carrying token until expires.
func (s *Service) Cookie(token string, expires time.Time) *http.Cookie {
	return &http.Cookie{
		Name:     CookieName,
		Value:    token,
		Path:     "/",
		Expires:  expires,
		HttpOnly: true,
		Secure:   s.opt.Secure,
		SameSite: http.SameSiteLaxMode,
	}
}

// ClearCookie deletes the session cookie in the browser.
func (s *Service) ClearCookie() *http.Cookie {
	c := s.Cookie("", time.Unix(0, 0))
	c.MaxAge = -1
	return c
}

// Authenticate identifies the caller of r: an API token in
// "Authorization: Bearer cst_...", else the session cookie. Principal.IP is
// the peer address; the HTTP layer replaces it when it trusts a proxy.
func (s *Service) Authenticate(ctx context.Context, r *http.Request) (Principal, error) {
	ip := r.RemoteAddr
	if host, _, err := net.SplitHostPort(ip); err == nil {
		ip = host
	}
	if h := r.Header.Get("Authorization"); h != "" {
		// An Authorization header that is not ours is an error, not a
		// reason to fall back to the cookie: a misconfigured integration
		// should hear so.
		scheme, tok, ok := strings.Cut(h, " ")
		if !ok || !strings.EqualFold(scheme, "Bearer") {
			return Principal{}, desk.Errorf(desk.EUnauthorized, "authorization must be a Bearer API token")
		}
		return s.authToken(ctx, strings.TrimSpace(tok), ip)
	}
	c, err := r.Cookie(CookieName)
	if err != nil || c.Value == "" {
		return Principal{}, desk.Errorf(desk.EUnauthorized, msgUnauthorized)
	}
	return s.authSession(ctx, c.Value, ip)
}

func (s *Service) authToken(ctx context.Context, token, ip string) (Principal, error) {
	bad := desk.Errorf(desk.EUnauthorized, "invalid or revoked API token")
	if !strings.HasPrefix(token, PrefixAPIToken) || len(token) > maxTokenLen {
		return Principal{}, bad
	}
	var t desk.APIToken
	err := s.st.Read(ctx, func(tx store.Tx) error {
		var err error
		t, err = tx.GetTokenByHash(ctx, HashSecret(token))
		return err
	})
	if errors.Is(err, desk.ErrNotFound) {
		return Principal{}, bad
	}
	if err != nil {
		return Principal{}, fmt.Errorf("look up API token: %w", err)
	}
	if t.RevokedAt != nil {
		return Principal{}, bad
	}
	now := s.now()
	if t.LastUsedAt == nil || now.Sub(*t.LastUsedAt) >= touchEvery {
		// At most one write a minute per token, so a busy integration
		// does not turn every read into a write.
		err := s.st.Write(ctx, func(tx store.Tx) error { return tx.TouchToken(ctx, t.ID, now) })
		if err != nil {
			return Principal{}, fmt.Errorf("touch API token: %w", err)
		}
		t.LastUsedAt = &now
	}
	return Principal{Token: &t, IP: ip}, nil
}

func (s *Service) authSession(ctx context.Context, token, ip string) (Principal, error) {
	bad := desk.Errorf(desk.EUnauthorized, "session expired or invalid; log in again")
	if !strings.HasPrefix(token, PrefixSession) || len(token) > maxTokenLen {
		return Principal{}, bad
	}
	var (
		sess  desk.Session
		agent desk.Agent
	)
	err := s.st.Read(ctx, func(tx store.Tx) error {
		var err error
		if sess, err = tx.GetSession(ctx, HashSecret(token)); err != nil {
			return err
		}
		agent, err = tx.GetAgent(ctx, sess.AgentID)
		return err
	})
	if errors.Is(err, desk.ErrNotFound) {
		return Principal{}, bad
	}
	if err != nil {
		return Principal{}, fmt.Errorf("look up session: %w", err)
	}
	now := s.now()
	if agent.Disabled || !now.Before(sess.ExpiresAt) || !now.Before(sess.CreatedAt.Add(s.opt.SessionMax)) {
		return Principal{}, bad
	}
	if now.Sub(sess.LastSeenAt) >= touchEvery {
		// Slide the idle expiry, at most once a minute per session.
		sess.LastSeenAt = now
		sess.ExpiresAt = s.expiry(sess.CreatedAt, now)
		err := s.st.Write(ctx, func(tx store.Tx) error { return tx.UpdateSession(ctx, sess) })
		if err != nil && !errors.Is(err, desk.ErrNotFound) {
			return Principal{}, fmt.Errorf("refresh session: %w", err)
		}
	}
	return Principal{Agent: &agent, Session: &sess, IP: ip}, nil
}

// CheckCSRF guards cookie sessions against cross-site requests: unsafe
// methods must echo the session's CSRF token in X-CSRF-Token. Bearer tokens
// are exempt because a browser never attaches them on its own.
func (s *Service) CheckCSRF(r *http.Request, p Principal) error {
	if p.Session == nil {
		return nil
	}
	switch r.Method {
	case http.MethodGet, http.MethodHead, http.MethodOptions:
		return nil
	}
	got := r.Header.Get(csrfHeader)
	if p.Session.CSRF == "" || got == "" || subtle.ConstantTimeCompare([]byte(got), []byte(p.Session.CSRF)) != 1 {
		return desk.Errorf(desk.EForbidden, msgBadCSRF)
	}
	return nil
}
