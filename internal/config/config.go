// Package config loads Custos's settings once, from (in increasing
// precedence) defaults, an optional JSON file, CUSTOS_* environment variables
// and command-line flags, and validates them with messages that name the
// setting. The result is a plain struct passed down; nothing reads settings
// from globals.
package config

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// Config is every setting of `custos serve` (and of the commands that open
// the database). docs/configuration.md documents each one.
type Config struct {
	Addr        string        `json:"addr"`         // listen address
	Data        string        `json:"data"`         // data directory (SQLite file, attachments)
	DB          string        `json:"db"`           // PostgreSQL URL; empty = embedded SQLite
	TLSCert     string        `json:"tls_cert"`     // PEM certificate file; with tls_key enables HTTPS
	TLSKey      string        `json:"tls_key"`      // PEM key file
	LogLevel    string        `json:"log_level"`    // debug, info, warn, error
	LogFormat   string        `json:"log_format"`   // json or text
	RequireTOTP bool          `json:"require_totp"` // every agent must enrol an authenticator
	SessionIdle time.Duration `json:"-"`
	SessionMax  time.Duration `json:"-"`
	// SessionIdleS/SessionMaxS are the file/env form (durations like "12h").
	SessionIdleS string `json:"session_idle"`
	SessionMaxS  string `json:"session_max"`

	SiteKey        string   `json:"site_key"`        // public key the widget sends
	IdentitySecret string   `json:"identity_secret"` // HS256 secret for customer identity tokens
	AllowedOrigins []string `json:"allowed_origins"` // origins allowed to open chat WebSockets ("*" = any)

	// NATSURL enables multi-node fan-out of real-time events; empty = one
	// node. SessionSecret signs customer chat sessions (cs_) so that any
	// node accepts them; every node must share it.
	NATSURL       string `json:"nats_url"`
	SessionSecret string `json:"session_secret"`

	// APIRateAgent / APIRateToken bound REST requests per second per agent
	// session / per API token (bursts of twice that); 0 = unlimited.
	APIRateAgent float64 `json:"api_rate_agent"`
	APIRateToken float64 `json:"api_rate_token"`

	// TrustedProxies lists the load balancers / reverse proxies (addresses
	// or CIDR prefixes) whose X-Forwarded-For names the client; empty =
	// the TCP peer is the client. Validate fills TrustedProxyPrefixes.
	// AttachmentStore is where attachment bytes live: "files" (the data
	// directory) or "database". Empty: "database" with nats_url (nodes
	// share the database, not a disk), else "files".
	AttachmentStore string `json:"attachment_store"`

	TrustedProxies       []string       `json:"trusted_proxies"`
	TrustedProxyPrefixes []netip.Prefix `json:"-"`

	ShutdownTimeout time.Duration `json:"-"`
}

// Defaults returns the built-in settings.
func Defaults() Config {
	return Config{
		Addr:            "127.0.0.1:8080",
		Data:            "./data",
		LogLevel:        "info",
		LogFormat:       "text",
		SessionIdle:     12 * time.Hour,
		SessionMax:      7 * 24 * time.Hour,
		SiteKey:         "demo",
		AllowedOrigins:  []string{"*"},
		APIRateAgent:    20,
		APIRateToken:    300,
		ShutdownTimeout: 10 * time.Second,
	}
}

// Load reads settings for a command: fs must already hold the command's own
// flags; Load adds the common ones, parses args and merges the sources.
func Load(fs *flag.FlagSet, args []string, getenv func(string) string) (Config, error) {
	c := Defaults()
	var (
		file                            string
		addr, data, db, cert, key       string
		logLevel, logFormat, siteKey    string
		origins, identity, idle, maxAge string
		requireTOTP, rateAgent, rateTok string
		natsURL, sessionSecret, proxies string
		attachStore                     string
	)
	fs.StringVar(&file, "config", "", "optional JSON config file (env CUSTOS_CONFIG)")
	fs.StringVar(&addr, "addr", "", "listen address host:port (env CUSTOS_ADDR; default 127.0.0.1:8080)")
	fs.StringVar(&data, "data", "", "data directory (env CUSTOS_DATA; default ./data)")
	fs.StringVar(&db, "db", "", "PostgreSQL URL; empty means embedded SQLite in the data directory (env CUSTOS_DB)")
	fs.StringVar(&cert, "tls-cert", "", "TLS certificate PEM file (env CUSTOS_TLS_CERT)")
	fs.StringVar(&key, "tls-key", "", "TLS key PEM file (env CUSTOS_TLS_KEY)")
	fs.StringVar(&logLevel, "log-level", "", "debug|info|warn|error (env CUSTOS_LOG_LEVEL; default info)")
	fs.StringVar(&logFormat, "log-format", "", "text|json (env CUSTOS_LOG_FORMAT; default text)")
	fs.StringVar(&siteKey, "site-key", "", "widget site key (env CUSTOS_SITE_KEY; default demo)")
	fs.StringVar(&identity, "identity-secret", "", "HS256 secret for customer identity tokens (env CUSTOS_IDENTITY_SECRET; prefer the env or file)")
	fs.StringVar(&origins, "allowed-origins", "", "comma-separated origins allowed to open chat (env CUSTOS_ALLOWED_ORIGINS; default *)")
	fs.StringVar(&idle, "session-idle", "", "agent session idle timeout, e.g. 12h (env CUSTOS_SESSION_IDLE)")
	fs.StringVar(&maxAge, "session-max", "", "agent session absolute lifetime, e.g. 168h (env CUSTOS_SESSION_MAX)")
	fs.StringVar(&requireTOTP, "require-totp", "", "true: every agent must use an authenticator (env CUSTOS_REQUIRE_TOTP)")
	fs.StringVar(&rateAgent, "api-rate-agent", "", "REST requests/s per agent session, 0 = unlimited (env CUSTOS_API_RATE_AGENT; default 20)")
	fs.StringVar(&rateTok, "api-rate-token", "", "REST requests/s per API token, 0 = unlimited (env CUSTOS_API_RATE_TOKEN; default 300)")
	fs.StringVar(&natsURL, "nats-url", "", "NATS URL for fan-out between nodes, e.g. nats://127.0.0.1:4222; empty = single node (env CUSTOS_NATS_URL)")
	fs.StringVar(&sessionSecret, "session-secret", "", "secret (32+ chars) signing customer chat sessions, shared by every node (env CUSTOS_SESSION_SECRET; prefer the env or file)")
	fs.StringVar(&attachStore, "attachment-store", "", "where attachment bytes live: files or database (env CUSTOS_ATTACHMENT_STORE; default files, database with --nats-url)")
	fs.StringVar(&proxies, "trusted-proxies", "", "comma-separated proxy addresses/CIDRs whose X-Forwarded-For is believed (env CUSTOS_TRUSTED_PROXIES; default none)")
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	if file == "" {
		file = getenv("CUSTOS_CONFIG")
	}
	if file != "" {
		if err := c.readFile(file); err != nil {
			return c, err
		}
	}
	// env, then flags: later wins.
	set := func(dst *string, env, flagVal string) {
		if v := getenv(env); v != "" {
			*dst = v
		}
		if flagVal != "" {
			*dst = flagVal
		}
	}
	set(&c.Addr, "CUSTOS_ADDR", addr)
	set(&c.Data, "CUSTOS_DATA", data)
	set(&c.DB, "CUSTOS_DB", db)
	set(&c.TLSCert, "CUSTOS_TLS_CERT", cert)
	set(&c.TLSKey, "CUSTOS_TLS_KEY", key)
	set(&c.LogLevel, "CUSTOS_LOG_LEVEL", logLevel)
	set(&c.LogFormat, "CUSTOS_LOG_FORMAT", logFormat)
	set(&c.SiteKey, "CUSTOS_SITE_KEY", siteKey)
	set(&c.IdentitySecret, "CUSTOS_IDENTITY_SECRET", identity)
	set(&c.NATSURL, "CUSTOS_NATS_URL", natsURL)
	set(&c.SessionSecret, "CUSTOS_SESSION_SECRET", sessionSecret)
	set(&c.SessionIdleS, "CUSTOS_SESSION_IDLE", idle)
	set(&c.SessionMaxS, "CUSTOS_SESSION_MAX", maxAge)
	var o string
	set(&o, "CUSTOS_ALLOWED_ORIGINS", origins)
	if o != "" {
		c.AllowedOrigins = splitList(o)
	}
	set(&c.AttachmentStore, "CUSTOS_ATTACHMENT_STORE", attachStore)
	var tp string
	set(&tp, "CUSTOS_TRUSTED_PROXIES", proxies)
	if tp != "" {
		c.TrustedProxies = splitList(tp)
	}
	var rt string
	set(&rt, "CUSTOS_REQUIRE_TOTP", requireTOTP)
	if rt != "" {
		b, err := strconv.ParseBool(rt)
		if err != nil {
			return c, fmt.Errorf("require_totp: %q is not true or false", rt)
		}
		c.RequireTOTP = b
	}
	for _, r := range []struct {
		name, env, flag string
		dst             *float64
	}{{"api_rate_agent", "CUSTOS_API_RATE_AGENT", rateAgent, &c.APIRateAgent}, {"api_rate_token", "CUSTOS_API_RATE_TOKEN", rateTok, &c.APIRateToken}} {
		var v string
		set(&v, r.env, r.flag)
		if v == "" {
			continue
		}
		f, err := strconv.ParseFloat(v, 64)
		if err != nil {
			return c, fmt.Errorf("%s: %q is not a number", r.name, v)
		}
		*r.dst = f
	}
	return c, c.Validate()
}

func (c *Config) readFile(path string) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("config: %w", err)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(c); err != nil {
		return fmt.Errorf("config file %s: %w", path, err)
	}
	return nil
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// Validate checks every setting and names the first bad one.
func (c *Config) Validate() error {
	var errs []error
	bad := func(name, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: "+format, append([]any{name}, args...)...))
	}
	if _, port, err := net.SplitHostPort(c.Addr); err != nil {
		bad("addr", "%q is not host:port", c.Addr)
	} else if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
		bad("addr", "port %q is not 0-65535", port)
	}
	if strings.TrimSpace(c.Data) == "" {
		bad("data", "must not be empty")
	} else {
		c.Data = filepath.Clean(c.Data)
	}
	if c.DB != "" && !strings.HasPrefix(c.DB, "postgres://") && !strings.HasPrefix(c.DB, "postgresql://") {
		bad("db", "must be a postgres:// URL (or empty for the embedded SQLite store)")
	}
	if (c.TLSCert == "") != (c.TLSKey == "") {
		bad("tls_cert/tls_key", "give both or neither")
	}
	for _, f := range []struct{ name, path string }{{"tls_cert", c.TLSCert}, {"tls_key", c.TLSKey}} {
		if f.path != "" {
			if _, err := os.Stat(f.path); err != nil {
				bad(f.name, "%v", err)
			}
		}
	}
	switch c.LogLevel {
	case "debug", "info", "warn", "error":
	default:
		bad("log_level", "%q is not one of debug, info, warn, error", c.LogLevel)
	}
	switch c.LogFormat {
	case "text", "json":
	default:
		bad("log_format", "%q is not text or json", c.LogFormat)
	}
	if c.SiteKey == "" || len(c.SiteKey) > 64 {
		bad("site_key", "must be 1-64 characters")
	}
	if c.IdentitySecret != "" && len(c.IdentitySecret) < 32 {
		bad("identity_secret", "must be at least 32 characters")
	}
	if c.SessionSecret != "" && len(c.SessionSecret) < 32 {
		bad("session_secret", "must be at least 32 characters")
	}
	if c.NATSURL != "" {
		for _, u := range strings.Split(c.NATSURL, ",") {
			if p, err := url.Parse(strings.TrimSpace(u)); err != nil || p.Scheme != "nats" || p.Host == "" {
				bad("nats_url", "%q is not a nats://host:port URL (comma-separate several servers)", u)
				break
			}
		}
		if c.DB == "" {
			bad("nats_url", "several nodes need a shared PostgreSQL database: set db to a postgres:// URL (the embedded SQLite store belongs to one node), or leave nats_url empty")
		}
		if c.SessionSecret == "" {
			bad("session_secret", "required when nats_url is set: every node must share it so a chat session issued by one node works on the others")
		}
	}
	for _, o := range c.AllowedOrigins {
		if o != "*" && strings.ContainsAny(o, " /") {
			bad("allowed_origins", "%q must be a host pattern such as exchange.example or *.exchange.example", o)
		}
	}
	if c.APIRateAgent < 0 || c.APIRateAgent > 1e6 {
		bad("api_rate_agent", "must be 0 (unlimited) to 1000000")
	}
	if c.APIRateToken < 0 || c.APIRateToken > 1e6 {
		bad("api_rate_token", "must be 0 (unlimited) to 1000000")
	}
	switch c.AttachmentStore {
	case "":
		c.AttachmentStore = "files"
		if c.NATSURL != "" {
			c.AttachmentStore = "database"
		}
	case "files", "database":
	default:
		bad("attachment_store", "%q is not files or database", c.AttachmentStore)
	}
	c.TrustedProxyPrefixes = nil
	for _, s := range c.TrustedProxies {
		p, err := parsePrefix(strings.TrimSpace(s))
		if err != nil {
			bad("trusted_proxies", "%q is not an IP address or CIDR prefix such as 10.0.0.0/8", s)
			continue
		}
		c.TrustedProxyPrefixes = append(c.TrustedProxyPrefixes, p)
	}
	for _, d := range []struct {
		name string
		s    string
		dst  *time.Duration
	}{{"session_idle", c.SessionIdleS, &c.SessionIdle}, {"session_max", c.SessionMaxS, &c.SessionMax}} {
		if d.s == "" {
			continue
		}
		v, err := time.ParseDuration(d.s)
		if err != nil || v < time.Minute {
			bad(d.name, "%q is not a duration of at least 1m (e.g. 12h)", d.s)
			continue
		}
		*d.dst = v
	}
	return errors.Join(errs...)
}

// parsePrefix reads "10.0.0.0/8" or a single address ("192.0.2.7", "::1").
func parsePrefix(s string) (netip.Prefix, error) {
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		return p.Masked(), err
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, err
	}
	a = a.Unmap()
	return netip.PrefixFrom(a, a.BitLen()), nil
}

// TLS reports whether HTTPS is configured.
func (c Config) TLS() bool { return c.TLSCert != "" }
