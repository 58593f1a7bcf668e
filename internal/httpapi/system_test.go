package httpapi

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"

	"custos/internal/auth"
	"custos/internal/store"
)

func TestHealthReadyMetricsHeaders(t *testing.T) { testHealthReadyMetricsHeaders(t, newEnv(t)) }

func testHealthReadyMetricsHeaders(t *testing.T, e *env) {
	r := e.request(t, cred{}, "GET", "/healthz", nil)
	if r.status != 200 || strings.TrimSpace(string(r.body)) != "ok" {
		t.Fatalf("healthz: %d %q", r.status, r.body)
	}
	r = e.request(t, cred{}, "GET", "/readyz", nil)
	if r.status != 200 {
		t.Fatalf("readyz: %d %s", r.status, r.body)
	}
	// Security headers on every response, API and not.
	for _, path := range []string{"/healthz", "/api/v1/tickets", "/api/v1/nope"} {
		r := e.request(t, cred{}, "GET", path, nil)
		for h, want := range map[string]string{
			"X-Content-Type-Options":  "nosniff",
			"Referrer-Policy":         "same-origin",
			"X-Frame-Options":         "DENY",
			"Content-Security-Policy": DefaultCSP,
		} {
			if got := r.header.Get(h); got != want {
				t.Errorf("%s: %s = %q, want %q", path, h, got, want)
			}
		}
		if r.header.Get("Strict-Transport-Security") != "" {
			t.Errorf("%s: HSTS without TLS", path)
		}
		if r.header.Get("X-Request-Id") == "" {
			t.Errorf("%s: no X-Request-Id", path)
		}
	}
	// A client request id is echoed, in the header and in error bodies.
	r = e.request(t, cred{}, "GET", "/api/v1/tickets", nil, "X-Request-Id", "trace-abc-123")
	if r.header.Get("X-Request-Id") != "trace-abc-123" || r.errBody().RequestID != "trace-abc-123" {
		t.Errorf("request id not echoed: %v %s", r.header.Get("X-Request-Id"), r.body)
	}
	// A hostile one is replaced.
	r = e.request(t, cred{}, "GET", "/healthz", nil, "X-Request-Id", "bad id\twith spaces")
	if got := r.header.Get("X-Request-Id"); got == "" || strings.Contains(got, " ") {
		t.Errorf("hostile request id kept: %q", got)
	}
	// Unknown API paths answer JSON.
	r = e.request(t, e.creds["admin"], "GET", "/api/v1/nope", nil)
	if r.status != 404 || r.errCode() != "not_found" {
		t.Errorf("unknown path: %d %s", r.status, r.body)
	}

	r = e.request(t, cred{}, "GET", "/metrics", nil)
	body := string(r.body)
	for _, want := range []string{
		"custos_http_request_duration_seconds_bucket",
		`route="GET /healthz"`,
		`status="2xx"`,
		"custos_http_requests_in_flight",
		"custos_db_seconds",
		"go_goroutines",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
	if strings.Contains(body, "/api/v1/tickets/"+id(e.ticketA.ID)) {
		t.Error("metrics carry a raw path")
	}
}

func TestEmbedPathsAndTLS(t *testing.T) {
	s := New(Config{TLS: true}, Deps{})
	h := http.Header{}
	s.securityHeaders(h, "/widget.js")
	if h.Get("X-Frame-Options") != "" || strings.Contains(h.Get("Content-Security-Policy"), "frame-ancestors") {
		t.Errorf("widget gets a framing restriction: %v", h)
	}
	if !strings.Contains(h.Get("Content-Security-Policy"), "default-src 'self'") {
		t.Errorf("widget CSP lost: %q", h.Get("Content-Security-Policy"))
	}
	if h.Get("Strict-Transport-Security") == "" {
		t.Error("no HSTS under TLS")
	}
}

// downStore fails Ping, for readiness.
type downStore struct{ store.Store }

func (downStore) Ping(context.Context) error { return errors.New("dial tcp 10.0.0.1:5432: refused") }

func TestReadyzDown(t *testing.T) { testReadyzDown(t, newEnv(t)) }

func testReadyzDown(t *testing.T, e *env) {
	s := New(Config{}, Deps{Store: downStore{e.st}, Auth: auth.NewService(e.st, auth.Options{})})
	rec := newRecorder()
	s.Handler().ServeHTTP(rec, mustReq("GET", "/readyz"))
	if rec.Code != 503 || strings.Contains(rec.Body.String(), "10.0.0.1") {
		t.Fatalf("readyz down: %d %s", rec.Code, rec.Body)
	}
}

func TestPanicRecovered(t *testing.T) {
	s := New(Config{}, Deps{})
	s.Handle("GET /boom", http.HandlerFunc(func(http.ResponseWriter, *http.Request) { panic("secret detail") }))
	rec := newRecorder()
	s.Handler().ServeHTTP(rec, mustReq("GET", "/boom"))
	if rec.Code != 500 || strings.Contains(rec.Body.String(), "secret") || !strings.Contains(rec.Body.String(), `"internal"`) {
		t.Fatalf("panic: %d %s", rec.Code, rec.Body)
	}
}

func TestWrongMethodIs405(t *testing.T) {
	env := newEnv(t)
	req, _ := http.NewRequest(http.MethodPut, env.ts.URL+"/api/v1/tickets", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed || !strings.Contains(resp.Header.Get("Allow"), "GET") || !strings.Contains(resp.Header.Get("Allow"), "POST") {
		t.Fatalf("PUT /api/v1/tickets: %d Allow=%q", resp.StatusCode, resp.Header.Get("Allow"))
	}
	resp, err = http.Get(env.ts.URL + "/api/v1/nope")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Fatalf("unknown path: %d", resp.StatusCode)
	}
}

func TestRateLimitPerPrincipal(t *testing.T) {
	db, dir := openSQLite(t)
	env := newEnvOnConfig(t, db, dir, Config{TokenRate: 5})
	var limited int
	for i := 0; i < 30; i++ {
		req, _ := http.NewRequest(http.MethodGet, env.ts.URL+"/api/v1/tickets", nil)
		req.Header.Set("Authorization", "Bearer "+env.creds["token"].bearer)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode == http.StatusTooManyRequests {
			limited++
			if resp.Header.Get("Retry-After") == "" {
				t.Fatal("429 without Retry-After")
			}
		}
	}
	// Burst 10 at 5/s: about 20 of 30 back-to-back requests are refused.
	if limited < 10 || limited > 25 {
		t.Fatalf("%d of 30 requests limited", limited)
	}
	// Another principal has its own allowance.
	req, _ := http.NewRequest(http.MethodGet, env.ts.URL+"/api/v1/tickets", nil)
	req.Header.Set("Authorization", "Bearer "+env.creds["writer"].bearer)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode == http.StatusTooManyRequests {
		t.Fatal("a second token was limited by the first one's traffic")
	}
}
