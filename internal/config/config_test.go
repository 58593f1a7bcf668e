package config

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func load(t *testing.T, args []string, env map[string]string) (Config, error) {
	t.Helper()
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(new(strings.Builder))
	return Load(fs, args, func(k string) string { return env[k] })
}

func TestPrecedence(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "custos.json")
	if err := os.WriteFile(file, []byte(`{"addr":"127.0.0.1:7000","data":"/from/file","log_level":"warn"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := load(t, []string{"--config", file, "--addr", "127.0.0.1:9000"}, map[string]string{"CUSTOS_DATA": "/from/env"})
	if err != nil {
		t.Fatal(err)
	}
	if c.Addr != "127.0.0.1:9000" || c.Data != "/from/env" || c.LogLevel != "warn" {
		t.Fatalf("got addr=%s data=%s level=%s", c.Addr, c.Data, c.LogLevel)
	}
	c, err = load(t, nil, nil)
	if err != nil || c.Addr != "127.0.0.1:8080" || c.Data != "data" {
		t.Fatalf("defaults: %+v %v", c, err)
	}
}

func TestInvalidNamesTheSetting(t *testing.T) {
	cases := []struct {
		args []string
		env  map[string]string
		want string
	}{
		{[]string{"--addr", "nope"}, nil, "addr:"},
		{[]string{"--addr", "127.0.0.1:99999"}, nil, "addr:"},
		{[]string{"--db", "mysql://x"}, nil, "db:"},
		{[]string{"--tls-cert", "/nonexistent.pem"}, nil, "tls_cert/tls_key"},
		{nil, map[string]string{"CUSTOS_LOG_LEVEL": "loud"}, "log_level:"},
		{nil, map[string]string{"CUSTOS_LOG_FORMAT": "xml"}, "log_format:"},
		{nil, map[string]string{"CUSTOS_IDENTITY_SECRET": "short"}, "identity_secret:"},
		{nil, map[string]string{"CUSTOS_SESSION_IDLE": "soon"}, "session_idle:"},
		{nil, map[string]string{"CUSTOS_REQUIRE_TOTP": "maybe"}, "require_totp:"},
		{nil, map[string]string{"CUSTOS_ALLOWED_ORIGINS": "https://x.example/path"}, "allowed_origins:"},
		{[]string{"--api-rate-token", "fast"}, nil, "api_rate_token:"},
		{nil, map[string]string{"CUSTOS_API_RATE_AGENT": "-3"}, "api_rate_agent:"},
		{nil, map[string]string{"CUSTOS_SESSION_SECRET": "short"}, "session_secret:"},
		{[]string{"--nats-url", "http://127.0.0.1:4222"}, map[string]string{"CUSTOS_DB": "postgres://x/y", "CUSTOS_SESSION_SECRET": secret32}, "nats_url:"},
		{[]string{"--nats-url", "nats://"}, map[string]string{"CUSTOS_DB": "postgres://x/y", "CUSTOS_SESSION_SECRET": secret32}, "nats_url:"},
		// Multi-node on SQLite is refused, naming both settings.
		{[]string{"--nats-url", "nats://127.0.0.1:4222"}, map[string]string{"CUSTOS_SESSION_SECRET": secret32}, "nats_url: several nodes need a shared PostgreSQL database: set db"},
		{[]string{"--nats-url", "nats://127.0.0.1:4222", "--db", "postgres://x/y"}, nil, "session_secret: required when nats_url"},
		{[]string{"--trusted-proxies", "10.0.0.0/8,lb.internal"}, nil, `trusted_proxies: "lb.internal"`},
		{[]string{"--attachment-store", "s3"}, nil, `attachment_store: "s3" is not files or database`},
		{nil, map[string]string{"CUSTOS_TRUSTED_PROXIES": "10.0.0.0/33"}, "trusted_proxies:"},
	}
	for _, tc := range cases {
		_, err := load(t, tc.args, tc.env)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v %v: error %v, want it to name %q", tc.args, tc.env, err, tc.want)
		}
	}
}

const secret32 = "0123456789abcdef0123456789abcdef"

func TestMultiNode(t *testing.T) {
	c, err := load(t, []string{"--nats-url", "nats://10.0.0.1:4222,nats://10.0.0.2:4222"},
		map[string]string{"CUSTOS_DB": "postgres://u@db/custos", "CUSTOS_SESSION_SECRET": secret32})
	if err != nil || c.NATSURL != "nats://10.0.0.1:4222,nats://10.0.0.2:4222" || c.SessionSecret != secret32 {
		t.Fatalf("%+v %v", c, err)
	}
	file := filepath.Join(t.TempDir(), "c.json")
	os.WriteFile(file, []byte(`{"db":"postgres://u@db/custos","nats_url":"nats://nats:4222","session_secret":"`+secret32+`"}`), 0o600)
	if c, err := load(t, []string{"--config", file}, nil); err != nil || c.NATSURL != "nats://nats:4222" {
		t.Fatalf("file: %+v %v", c, err)
	}
}

func TestConfigFileUnknownField(t *testing.T) {
	file := filepath.Join(t.TempDir(), "c.json")
	os.WriteFile(file, []byte(`{"adr":"x"}`), 0o600)
	if _, err := load(t, []string{"--config", file}, nil); err == nil || !strings.Contains(err.Error(), "adr") {
		t.Fatalf("want unknown field error, got %v", err)
	}
}

func TestTrustedProxies(t *testing.T) {
	c, err := load(t, []string{"--trusted-proxies", "10.0.0.0/8, 192.0.2.7,::1"}, nil)
	if err != nil || len(c.TrustedProxyPrefixes) != 3 || c.TrustedProxyPrefixes[1].String() != "192.0.2.7/32" ||
		c.TrustedProxyPrefixes[2].String() != "::1/128" {
		t.Fatalf("%v %v", c.TrustedProxyPrefixes, err)
	}
	if c, err := load(t, nil, nil); err != nil || len(c.TrustedProxyPrefixes) != 0 {
		t.Fatalf("default must trust no proxy: %v %v", c.TrustedProxyPrefixes, err)
	}
}

func TestAttachmentStore(t *testing.T) {
	if c, err := load(t, nil, nil); err != nil || c.AttachmentStore != "files" {
		t.Fatalf("one node: %q %v", c.AttachmentStore, err)
	}
	multi := map[string]string{"CUSTOS_DB": "postgres://u@db/custos", "CUSTOS_SESSION_SECRET": secret32, "CUSTOS_NATS_URL": "nats://n:4222"}
	if c, err := load(t, nil, multi); err != nil || c.AttachmentStore != "database" {
		t.Fatalf("several nodes: %q %v", c.AttachmentStore, err)
	}
	// A shared disk is the operator's call.
	if c, err := load(t, []string{"--attachment-store", "files"}, multi); err != nil || c.AttachmentStore != "files" {
		t.Fatalf("several nodes on a shared disk: %q %v", c.AttachmentStore, err)
	}
}
