// Package app wires Custos together: it opens the store, builds the services
// and the HTTP/WebSocket servers in dependency order, and shuts them down in
// reverse. It is the only place that knows every package, so `custos serve`,
// the benchmarks and the end-to-end tests all start the same system (on port
// 0 with a temporary data directory in tests).
package app

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"custos/internal/attach"
	"custos/internal/auth"
	"custos/internal/chat"
	"custos/internal/config"
	"custos/internal/desk"
	"custos/internal/httpapi"
	"custos/internal/realtime"
	"custos/internal/realtime/natsbus"
	"custos/internal/store"
	"custos/internal/store/postgres"
	"custos/internal/store/sqlite"
	"custos/internal/tickets"
	"custos/internal/webui"
)

// Version is set at build time with -ldflags "-X custos/internal/app.Version=...".
var Version = "dev"

// DB is a migratable store.
type DB interface {
	store.Store
	Migrate(ctx context.Context) (int, error)
}

// OpenDB opens the configured database (PostgreSQL when cfg.DB is set, else
// SQLite in the data directory) and migrates it.
func OpenDB(ctx context.Context, cfg config.Config) (DB, error) {
	var (
		db  DB
		err error
	)
	if cfg.DB != "" {
		db, err = postgres.Open(ctx, cfg.DB)
	} else {
		if err := os.MkdirAll(cfg.Data, 0o700); err != nil {
			return nil, fmt.Errorf("data directory: %w", err)
		}
		db, err = sqlite.Open(ctx, filepath.Join(cfg.Data, "custos.db"))
	}
	if err != nil {
		return nil, err
	}
	if _, err := db.Migrate(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("migrate: %w", err)
	}
	return db, nil
}

// App is a running Custos.
type App struct {
	Cfg     config.Config
	Log     *slog.Logger
	DB      DB
	Store   *store.Batcher // group-commit writer over DB
	Hub     *realtime.Hub
	Bus     *natsbus.Bus // fan-out between nodes; nil for a single node
	Auth    *auth.Service
	Tickets *tickets.Service
	Attach  *attach.Service
	Chat    *chat.Server
	HTTP    *httpapi.Server
	URL     string // base URL, e.g. http://127.0.0.1:8080

	srv *http.Server
	ln  net.Listener
	err chan error

	stopSweep chan struct{} // ends the presence sweeper
	sweepDone chan struct{}
}

// presenceSweepEvery is how often agents with no console open are set
// offline (auth.SweepPresence; auth.PresenceTimeout is the grace).
const presenceSweepEvery = 30 * time.Second

// sweepPresence runs auth.SweepPresence until Close and tells every console
// about each change.
func (a *App) sweepPresence() {
	defer close(a.sweepDone)
	t := time.NewTicker(presenceSweepEvery)
	defer t.Stop()
	for {
		select {
		case <-a.stopSweep:
			return
		case <-t.C:
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			changed, err := a.Auth.SweepPresence(ctx)
			cancel()
			if err != nil {
				a.Log.Warn("presence sweep", slog.Any("err", err))
				continue
			}
			for _, ag := range changed {
				a.Hub.Publish(realtime.Event{Type: realtime.Presence, Actor: desk.AuthorSystem, AgentID: ag.ID, Name: ag.Name, Presence: ag.Presence})
			}
		}
	}
}

// Start opens everything and starts serving on cfg.Addr (port 0 picks one).
func Start(ctx context.Context, cfg config.Config, log *slog.Logger) (*App, error) {
	a := &App{Cfg: cfg, Log: log, err: make(chan error, 1)}
	ok := false
	defer func() {
		if !ok {
			a.Close(context.Background())
		}
	}()
	var err error
	if a.DB, err = OpenDB(ctx, cfg); err != nil {
		return nil, err
	}
	// SQLite has one writer: group commit shares each fsync among every
	// write that queued meanwhile. PostgreSQL group-commits concurrent
	// transactions itself, so there the writes go straight through.
	a.Store = store.NewBatcher(a.DB, store.BatchOptions{PassThrough: a.DB.Dialect() == "postgres"})
	reg := prometheus.NewRegistry()
	// Every service sees the instrumented group-commit store: one place
	// times every transaction (custos_db_seconds).
	st := httpapi.InstrumentStore(a.Store, reg)
	var hubOpts realtime.HubOptions
	if cfg.NATSURL != "" {
		// Several nodes: events published here also go to the others, and
		// theirs are delivered here. The database stays the record.
		if a.Bus, err = natsbus.Connect(natsbus.Options{URL: cfg.NATSURL, Logger: log, Registerer: reg}); err != nil {
			return nil, err
		}
		hubOpts.Forward = a.Bus.Forward
	}
	a.Hub = realtime.NewHub(hubOpts)
	if a.Bus != nil {
		if err := a.Bus.Subscribe(a.Hub); err != nil {
			return nil, err
		}
	}
	a.Auth = auth.NewService(st, auth.Options{
		SessionIdle: cfg.SessionIdle, SessionMax: cfg.SessionMax,
		RequireTOTP: cfg.RequireTOTP, Secure: cfg.TLS(),
	})
	a.Tickets = tickets.New(st, a.Hub)
	var attOpts attach.Options
	if cfg.AttachmentStore == "database" {
		attOpts.Blobs = attach.DBBlobs{St: st}
	}
	if a.Attach, err = attach.New(cfg.Data, st, attOpts); err != nil {
		return nil, err
	}
	secret := []byte(cfg.IdentitySecret)
	if len(secret) == 0 {
		// Without a configured secret nobody outside can mint identity
		// tokens: only anonymous visitors can chat. A random secret keeps the
		// verifier strict instead of special-casing "no secret".
		b := make([]byte, 32)
		rand.Read(b)
		secret = []byte(hex.EncodeToString(b))
	}
	a.Chat = chat.New(chat.Config{
		SiteKey: cfg.SiteKey, IdentitySecret: secret, AllowedOrigins: cfg.AllowedOrigins,
		SessionSecret: []byte(cfg.SessionSecret), // empty: random, one node
	}, chat.Deps{Store: st, Tickets: a.Tickets, Hub: a.Hub, Attach: a.Attach, Logger: log})

	registerGauges(reg, a)
	a.HTTP = httpapi.New(httpapi.Config{TLS: cfg.TLS(), AgentRate: cfg.APIRateAgent, TokenRate: cfg.APIRateToken,
		TrustedProxies: cfg.TrustedProxyPrefixes}, httpapi.Deps{
		Store: st, Auth: a.Auth, Tickets: a.Tickets, Attach: a.Attach, AgentStream: a.Chat,
		Publisher: a.Hub, Logger: log, Registry: reg, Version: Version,
	})
	mux := http.NewServeMux()
	a.Chat.Register(mux)
	a.HTTP.Handle("/chat/v1/", mux)
	ui := webui.New()
	a.HTTP.Handle("GET /widget.js", ui.Widget())
	a.HTTP.Handle("GET /demo/", ui.Widget())
	a.HTTP.Handle("/", ui.Console())

	a.srv = &http.Server{
		Handler:           a.HTTP.Handler(),
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	if a.ln, err = net.Listen("tcp", cfg.Addr); err != nil {
		return nil, fmt.Errorf("addr: %w", err)
	}
	scheme := "http"
	if cfg.TLS() {
		cert, err := tls.LoadX509KeyPair(cfg.TLSCert, cfg.TLSKey)
		if err != nil {
			return nil, fmt.Errorf("tls_cert/tls_key: %w", err)
		}
		a.ln = tls.NewListener(a.ln, &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12})
		scheme = "https"
	}
	a.URL = scheme + "://" + a.ln.Addr().String()
	go func() {
		err := a.srv.Serve(a.ln)
		if errors.Is(err, http.ErrServerClosed) {
			err = nil
		}
		a.err <- err
	}()
	a.stopSweep, a.sweepDone = make(chan struct{}), make(chan struct{})
	go a.sweepPresence()
	ok = true
	log.Info("custos started", slog.String("url", a.URL), slog.String("db", a.DB.Dialect()), slog.Bool("multi_node", a.Bus != nil),
		slog.String("version", Version))
	return a, nil
}

// registerGauges exports the real-time and group-commit figures operators
// watch: open chat connections, hub subscribers and drops, and how many
// writes each commit carries.
func registerGauges(reg *prometheus.Registry, a *App) {
	reg.MustRegister(
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "custos_chat_connections", Help: "Open customer and agent WebSocket connections."},
			func() float64 { return float64(a.Chat.Conns()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "custos_realtime_subscribers", Help: "Realtime hub subscriptions."},
			func() float64 { return float64(a.Hub.Stats().Subscribers) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "custos_realtime_dropped_total", Help: "Subscribers cut off because they fell behind."},
			func() float64 { return float64(a.Hub.Stats().Dropped) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "custos_store_commits_total", Help: "Group commits (transactions) written."},
			func() float64 { b, _ := a.Store.Stats(); return float64(b) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "custos_store_writes_total", Help: "Writes carried by group commits."},
			func() float64 { _, w := a.Store.Stats(); return float64(w) }),
		closesCollector{a},
	)
}

// closesCollector exports chat.Server.CloseCounts as a counter by code.
type closesCollector struct{ a *App }

var closesDesc = prometheus.NewDesc("custos_chat_closes_total",
	"WebSocket connections the server closed, by close code (4008 rate limited, 4009 too slow, 4001 unauthorized, ...).",
	[]string{"code"}, nil)

func (c closesCollector) Describe(ch chan<- *prometheus.Desc) { ch <- closesDesc }

func (c closesCollector) Collect(ch chan<- prometheus.Metric) {
	for code, n := range c.a.Chat.CloseCounts() {
		ch <- prometheus.MustNewConstMetric(closesDesc, prometheus.CounterValue, float64(n), strconv.Itoa(code))
	}
}

// Wait blocks until the server stops by itself (an error) or ctx ends.
func (a *App) Wait(ctx context.Context) error {
	select {
	case err := <-a.err:
		return err
	case <-ctx.Done():
		return nil
	}
}

// Close shuts down in reverse order: stop accepting, close WebSockets with
// "going away", finish in-flight requests, drain NATS, flush the group-commit writer,
// then close the database. Every acknowledged message is already committed.
func (a *App) Close(ctx context.Context) error {
	var errs []error
	if a.stopSweep != nil {
		close(a.stopSweep)
		<-a.sweepDone
		a.stopSweep = nil
	}
	if a.srv != nil {
		if a.Chat != nil {
			a.Chat.Shutdown(ctx)
		}
		if err := a.srv.Shutdown(ctx); err != nil {
			errs = append(errs, err)
			a.srv.Close()
		}
	}
	if a.Bus != nil {
		// After the servers: every event of a finished request is queued;
		// draining sends what nats.go buffered.
		if err := a.Bus.Close(ctx); err != nil {
			errs = append(errs, fmt.Errorf("nats: %w", err))
		}
	}
	if a.Hub != nil {
		a.Hub.Close()
	}
	if a.Store != nil {
		a.Store.Close()
	}
	if a.DB != nil {
		errs = append(errs, a.DB.Close())
	}
	return errors.Join(errs...)
}
