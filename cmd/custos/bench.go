package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"custos/internal/app"
	"custos/internal/auth"
	"custos/internal/bench"
	"custos/internal/config"
	"custos/internal/demo"
)

func cmdBench(ctx context.Context, e env, args []string) error {
	if len(args) == 0 || strings.HasPrefix(args[0], "-") {
		fmt.Fprintln(e.stdout, "Usage: custos bench api|chat [flags]   (custos bench api --help for its flags)\n"+
			"  api   ticket create/append over HTTP with 1, 16, 64 clients, next to the raw store floor\n"+
			"  chat  customer WebSocket connections, paced messages, latency to the agent console\n"+
			"The last line of output is one JSON object with the figures.")
		if len(args) > 0 && (args[0] == "-h" || args[0] == "--help") {
			return errHelp
		}
		return usageError{"missing benchmark name (api or chat)"}
	}
	switch args[0] {
	case "api":
		return benchAPI(ctx, e, args[1:])
	case "chat":
		return benchChat(ctx, e, args[1:])
	}
	return usageError{"unknown benchmark " + strconv.Quote(args[0]) + " (api or chat)"}
}

// benchFlags is a flag set in the conventions of loadConfig: help on
// stdout and errHelp, other mistakes are usage errors.
func benchFlags(e env, name, synopsis string) *flag.FlagSet {
	fs := flag.NewFlagSet("custos bench "+name, flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	fs.Usage = func() {
		fmt.Fprintf(e.stdout, "Usage: custos bench %s\n\nFlags:\n", synopsis)
		fs.SetOutput(e.stdout)
		fs.PrintDefaults()
		fs.SetOutput(e.stderr)
	}
	return fs
}

func parseBenchFlags(fs *flag.FlagSet, args []string) error {
	err := fs.Parse(args)
	if errors.Is(err, flag.ErrHelp) {
		return errHelp
	}
	if err != nil {
		return usageError{err.Error()}
	}
	if fs.NArg() > 0 {
		return usageError{"unexpected argument " + strconv.Quote(fs.Arg(0))}
	}
	return nil
}

func benchAPI(ctx context.Context, e env, args []string) error {
	fs := benchFlags(e, "api", "api [--url URL --token T] [--db DSN] [--duration 5s] [--clients 1,16,64]")
	url := fs.String("url", "", "server to measure; empty starts one in-process on a temporary data directory")
	token := fs.String("token", "", "API token with tickets:write (required with --url)")
	dsn := fs.String("db", "", "PostgreSQL URL: the started server and the floor use it instead of SQLite (with --url: the floor only)")
	dur := fs.Duration("duration", 5*time.Second, "how long each client count runs, over HTTP and again for the floor")
	clientsS := fs.String("clients", "1,16,64", "comma-separated concurrent client counts")
	if err := parseBenchFlags(fs, args); err != nil {
		return err
	}
	var counts []int
	for _, s := range strings.Split(*clientsS, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || n < 1 || n > 4096 {
			return usageError{"--clients: " + strconv.Quote(s) + " is not a count 1-4096"}
		}
		counts = append(counts, n)
	}
	if *dur <= 0 || *dur > time.Hour {
		return usageError{"--duration must be between 0 and 1h"}
	}
	if *url != "" && *token == "" {
		return usageError{"--token is required with --url"}
	}
	if *dsn != "" && !strings.HasPrefix(*dsn, "postgres://") && !strings.HasPrefix(*dsn, "postgresql://") {
		return usageError{"--db must be a postgres:// URL"}
	}
	tmp, err := os.MkdirTemp("", "custos-bench-api-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)

	cfg := config.Defaults()
	cfg.Addr = "127.0.0.1:0"
	cfg.Data = filepath.Join(tmp, "server")
	cfg.DB = *dsn
	cfg.LogLevel = "warn"
	// The bench drives one token as hard as it can: lift the per-token
	// request limit on the server it starts (a --url server keeps its own).
	cfg.APIRateToken = 0
	target := bench.HTTPTarget{URL: *url, Token: *token}
	if *url == "" {
		a, err := app.Start(ctx, cfg, newLogger(cfg, e.stderr))
		if err != nil {
			return fmt.Errorf("start server: %w", err)
		}
		defer func() {
			sctx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownTimeout)
			defer cancel()
			a.Close(sctx)
		}()
		_, secret, err := a.Auth.CreateToken(ctx, auth.Principal{}, "bench", []string{"tickets:write", "tickets:read", "contacts:write", "contacts:read"})
		if err != nil {
			return fmt.Errorf("bench token: %w", err)
		}
		target = bench.HTTPTarget{URL: a.URL, Token: secret}
	}

	// The floor: the same engine opened the same way, written without the
	// group-commit batcher, one transaction per operation.
	fcfg := cfg
	fcfg.Data = filepath.Join(tmp, "floor")
	floor, err := app.OpenDB(ctx, fcfg)
	if err != nil {
		return fmt.Errorf("open floor store: %w", err)
	}
	defer floor.Close()
	engine := floor.Dialect()

	fsync, err := bench.FsyncCost(tmp, 200)
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stderr, "bench api: %s, engine %s, %s per run; one fsync here costs %.3f ms\n", target.URL, engine, *dur, float64(fsync.Microseconds())/1000)
	var runs []bench.APIRun
	for _, n := range counts {
		fmt.Fprintf(e.stderr, "  %d clients: HTTP...", n)
		h := bench.RunHTTP(ctx, target, n, *dur)
		fmt.Fprintf(e.stderr, " %.1f ops/s; floor...", h.OpsPerSec())
		raw := bench.RunRaw(ctx, floor, n, *dur)
		fmt.Fprintf(e.stderr, " %.1f ops/s\n", raw.OpsPerSec())
		if h.Ops == 0 {
			return fmt.Errorf("no HTTP operation succeeded with %d clients: %s", n, h.FirstError)
		}
		if raw.Ops == 0 {
			return fmt.Errorf("no floor operation succeeded with %d clients: %s", n, raw.FirstError)
		}
		if h.FirstError != "" {
			fmt.Fprintf(e.stderr, "    %d HTTP errors, first: %s\n", h.Errors, h.FirstError)
		}
		if raw.FirstError != "" {
			fmt.Fprintf(e.stderr, "    %d floor errors, first: %s\n", raw.Errors, raw.FirstError)
		}
		runs = append(runs, bench.NewAPIRun(h, raw))
		if ctx.Err() != nil {
			return ctx.Err()
		}
	}
	rep, err := bench.NewAPIReport(engine, *dur, runs)
	if err != nil {
		return err
	}
	rep.FsyncMs = float64(fsync.Microseconds()) / 1000
	bench.WriteAPITable(e.stdout, engine, runs)
	fmt.Fprintf(e.stdout, "one 4 KiB write+fsync in the data directory: %.3f ms\n", rep.FsyncMs)
	return bench.WriteJSONLine(e.stdout, rep)
}

func benchChat(ctx context.Context, e env, args []string) error {
	fs := benchFlags(e, "chat", "chat [--url URL --login L --password P] --customers N --agents M --rate R --duration D [--ramp 5s]")
	url := fs.String("url", "", "server to measure; empty runs `custos demo` and `custos serve` as a child process on a temporary data directory")
	customers := fs.Int("customers", 100, "customer WebSocket connections (anonymous visitors)")
	agents := fs.Int("agents", 2, "agent console WebSocket connections")
	rate := fs.Float64("rate", 100, "customer messages per second, all customers together")
	dur := fs.Duration("duration", 10*time.Second, "measured sending time (after the ramp)")
	ramp := fs.Duration("ramp", 5*time.Second, "linear ramp-up of the rate before the measured window (its messages are not counted)")
	siteKey := fs.String("site-key", "demo", "widget site key")
	login := fs.String("login", "", "agent login (with --url; the started server uses the demo admin)")
	password := fs.String("password", "", "agent password (with --url)")
	dialers := fs.Int("dialers", 64, "connections opened at once")
	if err := parseBenchFlags(fs, args); err != nil {
		return err
	}
	switch {
	case *customers < 1 || *customers > 200_000:
		return usageError{"--customers must be 1-200000"}
	case *agents < 0 || *agents > 1000:
		return usageError{"--agents must be 0-1000"}
	case *rate <= 0 || *rate > 1_000_000:
		return usageError{"--rate must be positive (messages per second)"}
	case *dur <= 0 || *dur > time.Hour || *ramp < 0 || *ramp > 10*time.Minute:
		return usageError{"--duration must be within 1h and --ramp within 10m"}
	case *dialers < 1 || *dialers > 1024:
		return usageError{"--dialers must be 1-1024"}
	case *url != "" && *agents > 0 && (*login == "" || *password == ""):
		return usageError{"--login and --password are required with --url (or --agents 0)"}
	}
	if per := *rate / float64(*customers); per > 5 {
		fmt.Fprintf(e.stderr, "warning: %.1f messages/s per customer is over the protocol's limit of 5/s per connection; expect rate_limited errors\n", per)
	}
	limit, err := bench.RaiseFileLimit()
	if err != nil {
		fmt.Fprintf(e.stderr, "warning: could not raise the open-file limit: %v\n", err)
	} else if need := uint64(*customers+*agents) + 256; limit < need {
		fmt.Fprintf(e.stderr, "warning: the open-file limit is %d, below the %d this run needs\n", limit, need)
	}

	o := bench.ChatOptions{
		URL: *url, SiteKey: *siteKey, Customers: *customers, Agents: *agents,
		Rate: *rate, Duration: *dur, Ramp: *ramp, Dialers: *dialers, Log: e.stderr,
	}
	if *url == "" {
		exe, err := os.Executable()
		if err != nil {
			return err
		}
		tmp, err := os.MkdirTemp("", "custos-bench-chat-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(tmp)
		fmt.Fprintln(e.stderr, "bench chat: loading demo data and starting a server...")
		dctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
		out, err := exec.CommandContext(dctx, exe, "demo", "--data", tmp, "--log-level", "warn").CombinedOutput()
		cancel()
		if err != nil {
			return fmt.Errorf("custos demo: %v: %s", err, out)
		}
		p, err := bench.SpawnServer(ctx, exe, tmp, e.stderr)
		if err != nil {
			return err
		}
		defer p.Stop()
		o.URL = p.URL
		o.RSS = func(context.Context) (int64, error) { return bench.ProcRSS(p.PID()) }
		*login, *password = "admin", demo.Password
	} else {
		base := strings.TrimRight(*url, "/")
		o.URL = base
		o.RSS = func(ctx context.Context) (int64, error) { return bench.MetricsRSS(ctx, base) }
	}
	if *agents > 0 {
		c, err := bench.Login(ctx, o.URL, *login, *password)
		if err != nil {
			return err
		}
		o.AgentCookie = c
	}
	rep, err := bench.RunChat(ctx, o)
	if err != nil {
		return err
	}
	bench.WriteChatTable(e.stdout, rep)
	return bench.WriteJSONLine(e.stdout, rep)
}
