package httpapi

import (
	"context"
	_ "embed"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"

	"custos/internal/auth"
	"custos/internal/desk"
)

//go:embed openapi.json
var openAPIDoc []byte

func (s *Server) healthz(w http.ResponseWriter, r *http.Request, _ auth.Principal) error {
	// Liveness only: the process answers. It must not touch the database,
	// or a database outage would get healthy processes restarted.
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	_, _ = w.Write([]byte("ok\n"))
	return nil
}

func (s *Server) readyz(w http.ResponseWriter, r *http.Request, _ auth.Principal) error {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	if err := s.st.Ping(ctx); err != nil {
		// The cause may name hosts or files: log it, answer generically.
		s.logger(r).WarnContext(ctx, "readiness check failed", "error", err.Error())
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "unavailable", "reason": "database did not answer"})
		return nil
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok", "version": s.version})
	return nil
}

func (s *Server) metricsHandler(w http.ResponseWriter, r *http.Request, _ auth.Principal) error {
	promhttp.HandlerFor(s.reg, promhttp.HandlerOpts{}).ServeHTTP(w, r)
	return nil
}

func (s *Server) openAPI(w http.ResponseWriter, r *http.Request, _ auth.Principal) error {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	_, _ = w.Write(openAPIDoc)
	return nil
}

// clientIP is the peer address. Proxy headers are not trusted: a client
// could forge them to dodge the per-IP login throttle.
func clientIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

type loginRequest struct {
	Login    string `json:"login"`
	Password string `json:"password"`
	TOTP     string `json:"totp"`
}

type loginResponse struct {
	Agent      desk.Agent `json:"agent"`
	CSRFToken  string     `json:"csrf_token"`
	EnrollTOTP bool       `json:"enroll_totp"`
	// RecoveryCodesLeft is sent when a recovery code opened the session.
	RecoveryCodesLeft *int `json:"recovery_codes_left,omitempty"`
}

func (s *Server) login(w http.ResponseWriter, r *http.Request, _ auth.Principal) error {
	var in loginRequest
	if _, err := s.decodeJSON(w, r, &in); err != nil {
		return err
	}
	res, err := s.auth.Login(r.Context(), auth.LoginInput{
		Login: in.Login, Password: in.Password, TOTP: in.TOTP,
		IP: clientIP(r), UserAgent: r.UserAgent(),
	})
	if err != nil {
		return err
	}
	http.SetCookie(w, s.cookie(s.auth.Cookie(res.Token, res.Session.ExpiresAt)))
	writeJSON(w, http.StatusOK, loginResponse{Agent: res.Agent, CSRFToken: res.Session.CSRF, EnrollTOTP: res.EnrollTOTP, RecoveryCodesLeft: res.RecoveryCodesLeft})
	return nil
}

// cookie applies the transport policy to a session cookie: Secure under
// TLS, never readable by scripts, not sent on cross-site requests.
func (s *Server) cookie(c *http.Cookie) *http.Cookie {
	c.Secure = c.Secure || s.cfg.TLS
	c.HttpOnly = true
	if c.SameSite == 0 || c.SameSite == http.SameSiteDefaultMode || c.SameSite == http.SameSiteNoneMode {
		c.SameSite = http.SameSiteLaxMode
	}
	if c.Path == "" {
		c.Path = "/"
	}
	return c
}

func (s *Server) logout(w http.ResponseWriter, r *http.Request, p auth.Principal) error {
	if err := s.auth.Logout(r.Context(), p); err != nil {
		return err
	}
	http.SetCookie(w, s.cookie(s.auth.ClearCookie()))
	w.WriteHeader(http.StatusNoContent)
	return nil
}

type meResponse struct {
	Agent       *desk.Agent       `json:"agent"`
	Token       *desk.APIToken    `json:"token,omitempty"`
	CSRFToken   string            `json:"csrf_token,omitempty"`
	MFAPending  bool              `json:"mfa_pending"`
	Permissions []auth.Permission `json:"permissions"`
	// RecoveryCodesLeft is sent to an agent with an authenticator.
	RecoveryCodesLeft *int `json:"recovery_codes_left,omitempty"`
}

func (s *Server) me(w http.ResponseWriter, r *http.Request, p auth.Principal) error {
	out := meResponse{Agent: p.Agent, Token: p.Token, MFAPending: p.MFAPending(), Permissions: p.Permissions()}
	if p.Session != nil {
		out.CSRFToken = p.Session.CSRF
	}
	if n, ok, err := s.auth.RecoveryCodesLeft(r.Context(), p); err != nil {
		return err
	} else if ok {
		out.RecoveryCodesLeft = &n
	}
	if out.Permissions == nil {
		out.Permissions = []auth.Permission{}
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (s *Server) totpSetup(w http.ResponseWriter, r *http.Request, p auth.Principal) error {
	secret, url, err := s.auth.BeginTOTP(r.Context(), p)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]string{"secret": secret, "otpauth_url": url})
	return nil
}

type totpEnableRequest struct {
	Secret string `json:"secret"`
	Code   string `json:"code"`
}

func (s *Server) totpEnable(w http.ResponseWriter, r *http.Request, p auth.Principal) error {
	var in totpEnableRequest
	if _, err := s.decodeJSON(w, r, &in); err != nil {
		return err
	}
	pr := desk.Problems{}
	if in.Secret == "" {
		pr.Add("secret", "is required")
	}
	if in.Code == "" {
		pr.Add("code", "is required")
	}
	if err := pr.Err(); err != nil {
		return err
	}
	codes, err := s.auth.EnableTOTP(r.Context(), p, in.Secret, in.Code)
	if err != nil {
		return err
	}
	// The recovery codes are shown this once (writeJSON sends no-store);
	// the server keeps only their hashes.
	writeJSON(w, http.StatusOK, totpEnableResponse{TOTPEnabled: true, RecoveryCodes: codes})
	return nil
}

type totpEnableResponse struct {
	TOTPEnabled   bool     `json:"totp_enabled"`
	RecoveryCodes []string `json:"recovery_codes"`
}

type recoveryCodesRequest struct {
	Code string `json:"code"`
}

// recoveryCodes replaces the caller's recovery codes; the current
// authenticator code in the body proves the phone is at hand.
func (s *Server) recoveryCodes(w http.ResponseWriter, r *http.Request, p auth.Principal) error {
	var in recoveryCodesRequest
	if _, err := s.decodeJSON(w, r, &in); err != nil {
		return err
	}
	codes, err := s.auth.RegenerateRecoveryCodes(r.Context(), p, in.Code)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string][]string{"recovery_codes": codes})
	return nil
}
