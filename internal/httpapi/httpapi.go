// Package httpapi is Custos's HTTP layer: the REST API under /api/v1, the
// health, readiness and metrics endpoints, and the one middleware chain
// (request id, panic recovery, access log, metrics, security headers) every
// other handler main mounts on the same mux runs behind.
//
// Every /api/v1 route is declared once in the route table (routes.go) with
// the permission it needs; authentication, the MFA-pending restriction, CSRF
// and the permission check happen in one wrapper, and errors become an HTTP
// status in one function (writeError). This package must never hold business
// rules that belong to a service (ticket scoping, login policy): it decodes,
// authorises, calls the service and encodes.
package httpapi

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/netip"
	"strings"
	"sync"

	"github.com/prometheus/client_golang/prometheus"

	"custos/internal/attach"
	"custos/internal/auth"
	"custos/internal/desk"
	"custos/internal/ratelimit"
	"custos/internal/realtime"
	"custos/internal/store"
	"custos/internal/tickets"
)

// DefaultCSP is the Content-Security-Policy of the console and every API
// response. Inline styles are allowed because the console's components set
// them; scripts only from our origin.
const DefaultCSP = "default-src 'self'; connect-src 'self' ws: wss:; img-src 'self' data: blob:; " +
	"style-src 'self' 'unsafe-inline'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"

// Limits.
const (
	defaultMaxBody = 1 << 20 // JSON bodies
	// maxUpload bounds a multipart upload: the attachment limit (10 MiB,
	// enforced by attach) plus room for the multipart framing.
	maxUpload = 10<<20 + 64<<10
)

// Config is what the HTTP layer is told by main.
type Config struct {
	// TLS means the site is served over HTTPS (directly or behind a proxy):
	// HSTS is sent and cookies are marked Secure.
	TLS bool
	// MaxBodyBytes bounds JSON request bodies; 0 = 1 MiB.
	MaxBodyBytes int64
	// CSP is the Content-Security-Policy; "" = DefaultCSP.
	CSP string
	// EmbedPaths are path prefixes served to other origins (the widget
	// script, the chat protocol, the demo page): they get no frame-ancestors
	// or X-Frame-Options restriction. nil = /widget.js, /chat/v1/, /demo/.
	EmbedPaths []string
	// AgentRate and TokenRate bound API requests per second for each agent
	// session and each API token (bursts of twice that); 0 = unlimited.
	AgentRate, TokenRate float64
	// TrustedProxies are the load balancers and reverse proxies whose
	// X-Forwarded-For is believed (see clientAddr); nil = none.
	TrustedProxies []netip.Prefix
}

// Attachments is what the API needs from the attachment store.
type Attachments interface {
	Save(ctx context.Context, name string, r io.Reader, uploaderKind desk.AuthorKind, uploaderID int64, also ...attach.InTx) (desk.Attachment, error)
	Open(ctx context.Context, id string) (desk.Attachment, io.ReadSeekCloser, error)
	Serve(w http.ResponseWriter, r *http.Request, att desk.Attachment, rc io.ReadSeeker)
}

// AgentStream serves the agent console's WebSocket.
type AgentStream interface {
	// ServeAgent runs the socket; recheck authenticates its session again
	// (periodically, so a revoked session or a changed role takes effect).
	ServeAgent(w http.ResponseWriter, r *http.Request, p auth.Principal, recheck func(context.Context) (auth.Principal, error))
}

// Deps are the services the API calls. Store, Auth and Tickets are
// required; Attach, AgentStream and Publisher may be nil (their routes then
// answer 503).
type Deps struct {
	Store       store.Store
	Auth        *auth.Service
	Tickets     *tickets.Service
	Attach      Attachments
	AgentStream AgentStream
	// Publisher receives presence changes; nil = not published.
	Publisher realtime.Publisher
	Logger    *slog.Logger
	// Registry receives the HTTP metrics and serves /metrics; nil = a
	// private registry.
	Registry *prometheus.Registry
	Version  string
}

// Server is the HTTP API. Create it with New.
type Server struct {
	cfg     Config
	st      store.Store
	auth    *auth.Service
	tickets *tickets.Service
	attach  Attachments
	stream  AgentStream
	pub     realtime.Publisher
	log     *slog.Logger
	reg     *prometheus.Registry
	version string
	metrics *httpMetrics
	mux     *http.ServeMux
	routes  []route

	// inflight holds idempotency keys whose first request is still running,
	// so a concurrent retry is refused instead of creating a duplicate.
	inflightMu sync.Mutex
	inflight   map[string]bool

	// Per-principal request rate limits (nil = unlimited).
	agentLimit, tokenLimit *ratelimit.Keyed[int64]
}

// New builds the server and registers every route.
func New(cfg Config, deps Deps) *Server {
	if cfg.MaxBodyBytes <= 0 {
		cfg.MaxBodyBytes = defaultMaxBody
	}
	if cfg.CSP == "" {
		cfg.CSP = DefaultCSP
	}
	if cfg.EmbedPaths == nil {
		cfg.EmbedPaths = []string{"/widget.js", "/chat/v1/", "/demo/"}
	}
	if deps.Logger == nil {
		deps.Logger = slog.New(slog.DiscardHandler)
	}
	if deps.Registry == nil {
		deps.Registry = prometheus.NewRegistry()
	}
	s := &Server{
		cfg:      cfg,
		st:       deps.Store,
		auth:     deps.Auth,
		tickets:  deps.Tickets,
		attach:   deps.Attach,
		stream:   deps.AgentStream,
		pub:      deps.Publisher,
		log:      deps.Logger,
		reg:      deps.Registry,
		version:  deps.Version,
		mux:      http.NewServeMux(),
		inflight: make(map[string]bool),
	}
	if cfg.AgentRate > 0 {
		s.agentLimit = ratelimit.NewKeyed[int64](cfg.AgentRate, 2*cfg.AgentRate, 10000)
	}
	if cfg.TokenRate > 0 {
		s.tokenLimit = ratelimit.NewKeyed[int64](cfg.TokenRate, 2*cfg.TokenRate, 10000)
	}
	s.metrics = newHTTPMetrics(s.reg)
	s.routes = s.routeTable()
	for _, rt := range s.routes {
		s.mux.Handle(rt.Method+" "+rt.Path, s.wrap(rt))
	}
	// Unknown API paths answer in the API's JSON error shape, not the
	// mux's plain text (and never fall through to the console at /).
	s.mux.HandleFunc("/api/v1/", func(w http.ResponseWriter, r *http.Request) {
		if allow := s.allowedMethods(r); len(allow) > 0 {
			w.Header().Set("Allow", strings.Join(allow, ", "))
			s.writeError(w, r, &desk.Error{Code: EMethodNotAllowed, Message: "method " + r.Method + " not allowed here; allowed: " + strings.Join(allow, ", ")})
			return
		}
		s.writeError(w, r, desk.Errorf(desk.ENotFound, "no such endpoint"))
	})
	return s
}

// allowedMethods lists the methods that do have a route for r's path (the
// catch-all aside), so a wrong method gets 405 with Allow, not 404.
func (s *Server) allowedMethods(r *http.Request) []string {
	var out []string
	for _, m := range []string{http.MethodGet, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete} {
		if m == r.Method {
			continue
		}
		probe := r.Clone(r.Context())
		probe.Method = m
		if _, pattern := s.mux.Handler(probe); pattern != "" && pattern != "/api/v1/" {
			out = append(out, m)
		}
	}
	return out
}

// Handle mounts another handler (chat protocol, console, widget) on the
// same mux, behind the same middleware chain.
func (s *Server) Handle(pattern string, h http.Handler) {
	s.mux.Handle(pattern, h)
}

// Handler is the root handler: the middleware chain around the mux.
func (s *Server) Handler() http.Handler {
	return http.HandlerFunc(s.serve)
}
