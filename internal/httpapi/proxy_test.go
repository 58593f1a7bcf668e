package httpapi

import (
	"io"
	"net/http"
	"net/netip"
	"testing"
)

func TestClientAddr(t *testing.T) {
	lb := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("127.0.0.1/32")}
	cases := []struct {
		name, remote string
		xff          []string
		trusted      []netip.Prefix
		want         string
	}{
		{"no proxies configured: header ignored", "203.0.113.9:5000", []string{"198.51.100.1"}, nil, "203.0.113.9:5000"},
		{"untrusted peer: header ignored", "203.0.113.9:5000", []string{"198.51.100.1"}, lb, "203.0.113.9:5000"},
		{"trusted peer, one hop", "10.1.2.3:5000", []string{"198.51.100.1"}, lb, "198.51.100.1:0"},
		{"forged left part never read", "10.1.2.3:5000", []string{"1.2.3.4, 198.51.100.1"}, lb, "198.51.100.1:0"},
		{"chain of our proxies skipped", "127.0.0.1:5000", []string{"1.2.3.4, 198.51.100.1, 10.9.9.9"}, lb, "198.51.100.1:0"},
		{"several header lines", "10.1.2.3:5000", []string{"1.2.3.4", "198.51.100.1, 10.0.0.7"}, lb, "198.51.100.1:0"},
		{"IPv6 client", "10.1.2.3:5000", []string{"2001:db8::1"}, lb, "[2001:db8::1]:0"},
		{"IPv4-mapped client is unmapped", "10.1.2.3:5000", []string{"::ffff:198.51.100.1"}, lb, "198.51.100.1:0"},
		{"garbage hop: keep the proxy", "10.1.2.3:5000", []string{"1.2.3.4, <script>"}, lb, "10.1.2.3:5000"},
		{"only our proxies", "10.1.2.3:5000", []string{"10.0.0.2"}, lb, "10.1.2.3:5000"},
		{"no header", "10.1.2.3:5000", nil, lb, "10.1.2.3:5000"},
	}
	for _, tc := range cases {
		if got := clientAddr(tc.remote, tc.xff, tc.trusted); got != tc.want {
			t.Errorf("%s: got %q, want %q", tc.name, got, tc.want)
		}
	}
	// A header of thousands of hops is bounded: only the last hops are read.
	long := ""
	for i := 0; i < 5000; i++ {
		long += "10.0.0.1, "
	}
	if got := clientAddr("10.1.2.3:1", []string{long + "10.0.0.2"}, lb); got != "10.1.2.3:1" {
		t.Errorf("long header: %q", got)
	}
}

// TestTrustedProxyRewritesRemoteAddr checks the whole chain: handlers see
// the client named by a trusted proxy, and a client's own header is ignored
// when no proxy is trusted.
func TestTrustedProxyRewritesRemoteAddr(t *testing.T) {
	for _, tc := range []struct {
		trusted []netip.Prefix
		want    string
	}{
		{nil, "127.0.0.1"},
		{[]netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}, "198.51.100.7"},
	} {
		db, dir := openSQLite(t)
		e := newEnvOnConfig(t, db, dir, Config{TrustedProxies: tc.trusted})
		e.srv.Handle("GET /echo-ip", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			host, _ := parseHost(r.RemoteAddr)
			io.WriteString(w, host.String())
		}))
		req, _ := http.NewRequest("GET", e.ts.URL+"/echo-ip", nil)
		req.Header.Set("X-Forwarded-For", "198.51.100.7")
		res, err := e.client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if string(b) != tc.want {
			t.Errorf("trusted %v: handler saw %q, want %q", tc.trusted, b, tc.want)
		}
	}
}
