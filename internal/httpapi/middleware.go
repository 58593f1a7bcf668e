package httpapi

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"log/slog"
	"net/http"
	"runtime/debug"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"custos/internal/desk"
)

type ctxKey int

const requestIDKey ctxKey = iota

// RequestID returns the id of the request ctx belongs to ("" outside one).
func RequestID(ctx context.Context) string {
	id, _ := ctx.Value(requestIDKey).(string)
	return id
}

// maxRequestID bounds a client-supplied X-Request-Id; longer or odd ones are
// replaced so they cannot pollute the logs.
const maxRequestID = 128

func validRequestID(id string) bool {
	if id == "" || len(id) > maxRequestID {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.' || c == ':') {
			return false
		}
	}
	return true
}

func newRequestID() string {
	b := make([]byte, 12)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

type httpMetrics struct {
	duration *prometheus.HistogramVec
	inFlight prometheus.Gauge
}

// register adds c to reg, reusing what is already there so that main may
// register the same standard collectors without a panic.
func register[T prometheus.Collector](reg *prometheus.Registry, c T) T {
	if err := reg.Register(c); err != nil {
		var are prometheus.AlreadyRegisteredError
		if errors.As(err, &are) {
			if existing, ok := are.ExistingCollector.(T); ok {
				return existing
			}
		}
	}
	return c
}

func newHTTPMetrics(reg *prometheus.Registry) *httpMetrics {
	m := &httpMetrics{
		duration: register(reg, prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "custos_http_request_duration_seconds",
			Help:    "HTTP request latency by method, route pattern and status class.",
			Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}, []string{"method", "route", "status"})),
		inFlight: register(reg, prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "custos_http_requests_in_flight",
			Help: "HTTP requests being served.",
		})),
	}
	register(reg, collectors.NewGoCollector())
	register(reg, collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// statusWriter records the status and size of a response. Unwrap lets
// http.ResponseController and the WebSocket library reach Hijack and Flush.
type statusWriter struct {
	http.ResponseWriter
	status int
	bytes  int64
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	n, err := w.ResponseWriter.Write(b)
	w.bytes += int64(n)
	return n, err
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// serve is the whole middleware chain in one function, so that the request
// handed to the mux is the one whose Pattern the mux fills in and the log
// and metrics below read back (a chain of WithContext copies would lose it).
func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	id := r.Header.Get("X-Request-Id")
	if !validRequestID(id) {
		id = newRequestID()
	}
	r = r.WithContext(context.WithValue(r.Context(), requestIDKey, id))
	if len(s.cfg.TrustedProxies) > 0 {
		// Every handler reads the client from RemoteAddr; behind our own
		// proxies that is the hop they name.
		r.RemoteAddr = clientAddr(r.RemoteAddr, r.Header.Values("X-Forwarded-For"), s.cfg.TrustedProxies)
	}
	sw := &statusWriter{ResponseWriter: w}
	s.securityHeaders(sw.Header(), r.URL.Path)
	sw.Header().Set("X-Request-Id", id)

	s.metrics.inFlight.Inc()
	defer func() {
		s.metrics.inFlight.Dec()
		if v := recover(); v != nil {
			if v == http.ErrAbortHandler {
				panic(v)
			}
			s.log.ErrorContext(r.Context(), "panic serving request",
				slog.String("request_id", id),
				slog.String("method", r.Method),
				slog.String("route", routeLabel(r)),
				slog.Any("panic", v),
				slog.String("stack", string(debug.Stack())))
			if sw.status == 0 {
				s.writeError(sw, r, &desk.Error{Code: desk.EInternal, Message: "panic"})
			}
		}
		status := sw.status
		if status == 0 {
			status = http.StatusOK
		}
		d := time.Since(start)
		route := routeLabel(r)
		s.metrics.duration.WithLabelValues(methodLabel(r.Method), route, strconv.Itoa(status/100)+"xx").Observe(d.Seconds())
		// Never the query string, body, cookies or headers: they carry
		// tokens and personal data.
		s.log.LogAttrs(r.Context(), slog.LevelInfo, "http request",
			slog.String("request_id", id),
			slog.String("method", r.Method),
			slog.String("route", route),
			slog.Int("status", status),
			slog.Duration("duration", d),
			slog.Int64("bytes", sw.bytes))
	}()
	s.mux.ServeHTTP(sw, r)
}

// methodLabel bounds the method label: a client can send any token as a
// method, and each would otherwise become a new metric series.
func methodLabel(m string) string {
	switch m {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch,
		http.MethodDelete, http.MethodOptions:
		return m
	}
	return "other"
}

// routeLabel is the matched pattern: the raw path would give the metrics
// one series per ticket id and put ids in the logs' route field.
func routeLabel(r *http.Request) string {
	if r.Pattern == "" {
		return "unmatched"
	}
	return r.Pattern
}

func (s *Server) securityHeaders(h http.Header, path string) {
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "same-origin")
	embedded := false
	for _, p := range s.cfg.EmbedPaths {
		if strings.HasPrefix(path, p) {
			embedded = true
			break
		}
	}
	if embedded {
		// Loaded by (or framed into) the exchange's own pages: keep the
		// rest of the policy, drop the framing restriction.
		h.Set("Content-Security-Policy", withoutDirective(s.cfg.CSP, "frame-ancestors"))
	} else {
		h.Set("Content-Security-Policy", s.cfg.CSP)
		h.Set("X-Frame-Options", "DENY")
	}
	if s.cfg.TLS {
		h.Set("Strict-Transport-Security", "max-age=63072000; includeSubDomains")
	}
}

func withoutDirective(csp, name string) string {
	parts := strings.Split(csp, ";")
	out := parts[:0]
	for _, p := range parts {
		t := strings.TrimSpace(p)
		if t == "" || strings.HasPrefix(t, name+" ") || t == name {
			continue
		}
		out = append(out, t)
	}
	return strings.Join(out, "; ")
}

// logger is the server's logger with the request id, for every line a
// handler writes.
func (s *Server) logger(r *http.Request) *slog.Logger {
	return s.log.With(slog.String("request_id", RequestID(r.Context())))
}
