package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"custos/internal/app"
	"custos/internal/audit"
	"custos/internal/auth"
	"custos/internal/config"
	"custos/internal/demo"
	"custos/internal/desk"
	"custos/internal/store"
	"custos/internal/tickets"
)

var errHelp = errors.New("help shown")

// loadConfig parses a command's flags plus the common settings.
func loadConfig(e env, name, synopsis string, args []string, extra func(fs *flag.FlagSet)) (config.Config, *flag.FlagSet, error) {
	fs := flag.NewFlagSet("custos "+name, flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	fs.Usage = func() {
		fmt.Fprintf(e.stdout, "Usage: custos %s\n\nFlags:\n", synopsis)
		fs.SetOutput(e.stdout)
		fs.PrintDefaults()
		fs.SetOutput(e.stderr)
	}
	if extra != nil {
		extra(fs)
	}
	cfg, err := config.Load(fs, args, e.getenv)
	if errors.Is(err, flag.ErrHelp) {
		return cfg, fs, errHelp
	}
	if err != nil {
		if strings.HasPrefix(err.Error(), "flag") {
			return cfg, fs, usageError{err.Error()}
		}
		return cfg, fs, fmt.Errorf("invalid configuration: %w", err)
	}
	return cfg, fs, nil
}

func newLogger(cfg config.Config, w io.Writer) *slog.Logger {
	var level slog.Level
	level.UnmarshalText([]byte(cfg.LogLevel))
	opts := &slog.HandlerOptions{Level: level}
	if cfg.LogFormat == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

func cmdServe(ctx context.Context, e env, args []string) error {
	cfg, _, err := loadConfig(e, "serve", "serve [flags]", args, nil)
	if err != nil {
		return err
	}
	log := newLogger(cfg, e.stderr)
	a, err := app.Start(ctx, cfg, log)
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "Custos is running at %s/ (console), %s/demo/ (widget demo page)\n", a.URL, a.URL)
	werr := a.Wait(ctx)
	log.Info("shutting down")
	sctx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownTimeout)
	defer cancel()
	return errors.Join(werr, a.Close(sctx))
}

func cmdMigrate(ctx context.Context, e env, args []string) error {
	cfg, _, err := loadConfig(e, "migrate", "migrate [--data DIR | --db URL]", args, nil)
	if err != nil {
		return err
	}
	db, err := app.OpenDB(ctx, cfg)
	if err != nil {
		return err
	}
	defer db.Close()
	fmt.Fprintf(e.stdout, "database (%s) is up to date\n", db.Dialect())
	return nil
}

// services opens the database with the services admin commands need.
func services(ctx context.Context, cfg config.Config) (app.DB, *auth.Service, *tickets.Service, error) {
	db, err := app.OpenDB(ctx, cfg)
	if err != nil {
		return nil, nil, nil, err
	}
	return db, auth.NewService(db, auth.Options{}), tickets.New(db, nil), nil
}

func cmdDemo(ctx context.Context, e env, args []string) error {
	cfg, _, err := loadConfig(e, "demo", "demo [--data DIR | --db URL]", args, nil)
	if err != nil {
		return err
	}
	db, au, ts, err := services(ctx, cfg)
	if err != nil {
		return err
	}
	defer db.Close()
	n, err := demo.Load(ctx, db, au, ts)
	if err != nil {
		return err
	}
	if n == 0 {
		fmt.Fprintln(e.stdout, "Demo data is already loaded.")
	} else {
		fmt.Fprintf(e.stdout, "Loaded demo data: %d tickets.\n", n)
	}
	fmt.Fprintln(e.stdout, "Demo logins (password for all: "+demo.Password+"):")
	tw := tabwriter.NewWriter(e.stdout, 2, 4, 2, ' ', 0)
	for _, l := range demo.Logins() {
		fmt.Fprintf(tw, "  %s\t%s\t%s\n", l.Login, l.Role, l.Name)
	}
	return tw.Flush()
}

func readSecretLine(r io.Reader) (string, error) {
	line, err := bufio.NewReader(io.LimitReader(r, 4096)).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return "", err
	}
	line = strings.TrimRight(line, "\r\n")
	if line == "" {
		return "", usageError{"no password on standard input (it is never taken from the command line)"}
	}
	return line, nil
}

// subcommand splits "sub [flags]"; without a subcommand it prints usage.
func subcommand(e env, args []string, usage string) (string, []string, error) {
	if len(args) == 0 || strings.HasPrefix(args[0], "-") {
		fmt.Fprintln(e.stdout, usage)
		if len(args) > 0 && (args[0] == "-h" || args[0] == "--help") {
			return "", nil, errHelp
		}
		return "", nil, usageError{"missing subcommand"}
	}
	return args[0], args[1:], nil
}

// readAll runs one list query in a read transaction.
func readAll[T any](ctx context.Context, db store.Store, list func(store.Tx, context.Context) ([]T, error)) ([]T, error) {
	var out []T
	err := db.Read(ctx, func(tx store.Tx) error {
		var err error
		out, err = list(tx, ctx)
		return err
	})
	return out, err
}

func cmdUser(ctx context.Context, e env, args []string) error {
	sub, rest, err := subcommand(e, args, "Usage: custos user create|list|disable|enable|reset-password|remove-totp [flags]\n  passwords are read from standard input, never from argv\n  remove-totp takes away a lost authenticator")
	if err != nil {
		return err
	}
	var login, name, role, email, teams string
	cfg, _, err := loadConfig(e, "user "+sub, "user "+sub+" [flags]", rest, func(fs *flag.FlagSet) {
		if sub != "list" {
			fs.StringVar(&login, "login", "", "agent login")
		}
		if sub == "create" {
			fs.StringVar(&name, "name", "", "display name")
			fs.StringVar(&role, "role", "agent", "admin|lead|agent|qa|auditor")
			fs.StringVar(&email, "email", "", "email address")
			fs.StringVar(&teams, "teams", "", "comma-separated team ids")
		}
	})
	if err != nil {
		return err
	}
	db, au, _, err := services(ctx, cfg)
	if err != nil {
		return err
	}
	defer db.Close()
	find := func() (desk.Agent, error) {
		if login == "" {
			return desk.Agent{}, usageError{"--login is required"}
		}
		var a desk.Agent
		err := db.Read(ctx, func(tx store.Tx) error {
			var err error
			a, err = tx.GetAgentByLogin(ctx, login)
			return err
		})
		return a, err
	}
	switch sub {
	case "create":
		a := desk.Agent{Login: login, Name: name, Role: desk.Role(role), Email: email, ChatLimit: 5}
		for _, t := range strings.Split(teams, ",") {
			if t = strings.TrimSpace(t); t == "" {
				continue
			}
			id, err := strconv.ParseInt(t, 10, 64)
			if err != nil {
				return usageError{"--teams: " + strconv.Quote(t) + " is not a team id"}
			}
			a.TeamIDs = append(a.TeamIDs, id)
		}
		pw, err := readSecretLine(e.stdin)
		if err != nil {
			return err
		}
		if err := au.CreateAgent(ctx, auth.Principal{}, &a, pw); err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "created agent %d %s (%s)\n", a.ID, a.Login, a.Role)
	case "list":
		list, err := readAll(ctx, db, store.Tx.ListAgents)
		if err != nil {
			return err
		}
		tw := tabwriter.NewWriter(e.stdout, 2, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tLOGIN\tNAME\tROLE\tTEAMS\tTOTP\tDISABLED")
		for _, a := range list {
			fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%v\t%v\t%v\n", a.ID, a.Login, a.Name, a.Role, a.TeamIDs, a.TOTPEnabled, a.Disabled)
		}
		return tw.Flush()
	case "disable", "enable":
		a, err := find()
		if err != nil {
			return err
		}
		if err := au.SetDisabled(ctx, auth.Principal{}, a.ID, sub == "disable"); err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "%sd agent %s\n", sub, a.Login)
	case "reset-password":
		a, err := find()
		if err != nil {
			return err
		}
		pw, err := readSecretLine(e.stdin)
		if err != nil {
			return err
		}
		if err := au.SetPassword(ctx, auth.Principal{}, a.ID, pw); err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "password of %s reset; their sessions were ended\n", a.Login)
	case "remove-totp":
		// The way back in for an admin whose phone is gone and who has no
		// other admin to ask.
		a, err := find()
		if err != nil {
			return err
		}
		if err := au.DisableTOTP(ctx, auth.Principal{}, a.ID); err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "authenticator of %s removed\n", a.Login)
	default:
		return usageError{"unknown subcommand " + strconv.Quote(sub)}
	}
	return nil
}

func cmdToken(ctx context.Context, e env, args []string) error {
	sub, rest, err := subcommand(e, args, "Usage: custos token create --name N --scopes S | list | revoke --id N\n  scopes: "+strings.Join(auth.ValidScopes(), ","))
	if err != nil {
		return err
	}
	var name, scopes string
	var id int64
	cfg, _, err := loadConfig(e, "token "+sub, "token "+sub+" [flags]", rest, func(fs *flag.FlagSet) {
		switch sub {
		case "create":
			fs.StringVar(&name, "name", "", "what the token is for")
			fs.StringVar(&scopes, "scopes", "", "comma-separated: "+strings.Join(auth.ValidScopes(), ","))
		case "revoke":
			fs.Int64Var(&id, "id", 0, "token id")
		}
	})
	if err != nil {
		return err
	}
	db, au, _, err := services(ctx, cfg)
	if err != nil {
		return err
	}
	defer db.Close()
	switch sub {
	case "create":
		var sc []string
		for _, s := range strings.Split(scopes, ",") {
			if s = strings.TrimSpace(s); s != "" {
				sc = append(sc, s)
			}
		}
		tok, secret, err := au.CreateToken(ctx, auth.Principal{}, name, sc)
		if err != nil {
			return err
		}
		fmt.Fprintf(e.stderr, "token %d %q created with scopes %s; it is shown once:\n", tok.ID, tok.Name, strings.Join(tok.Scopes, ","))
		fmt.Fprintln(e.stdout, secret)
	case "list":
		list, err := readAll(ctx, db, store.Tx.ListTokens)
		if err != nil {
			return err
		}
		tw := tabwriter.NewWriter(e.stdout, 2, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tNAME\tPREFIX\tSCOPES\tCREATED\tREVOKED")
		for _, t := range list {
			rev := ""
			if t.RevokedAt != nil {
				rev = t.RevokedAt.Format(time.RFC3339)
			}
			fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\n", t.ID, t.Name, t.Prefix, strings.Join(t.Scopes, ","), t.CreatedAt.Format(time.RFC3339), rev)
		}
		return tw.Flush()
	case "revoke":
		if id <= 0 {
			return usageError{"--id is required"}
		}
		if err := au.RevokeToken(ctx, auth.Principal{}, id); err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "token %d revoked\n", id)
	default:
		return usageError{"unknown subcommand " + strconv.Quote(sub)}
	}
	return nil
}

func cmdAudit(ctx context.Context, e env, args []string) error {
	if len(args) == 0 || args[0] != "verify" {
		fmt.Fprintln(e.stdout, "Usage: custos audit verify [--data DIR | --db URL]\n  exits 1 and names the first bad entry when the chain was edited, cut or reordered")
		if len(args) > 0 && (args[0] == "-h" || args[0] == "--help") {
			return errHelp
		}
		return usageError{"missing subcommand"}
	}
	cfg, _, err := loadConfig(e, "audit verify", "audit verify [flags]", args[1:], nil)
	if err != nil {
		return err
	}
	db, err := app.OpenDB(ctx, cfg)
	if err != nil {
		return err
	}
	defer db.Close()
	res, err := audit.Verify(ctx, db, 1000)
	if err != nil {
		return err
	}
	if !res.OK {
		return exitError{1, fmt.Sprintf("audit trail BROKEN at entry %d: %s (%d entries checked before it)", res.BadID, res.Reason, res.Checked)}
	}
	fmt.Fprintf(e.stdout, "audit trail OK: %d entries, hash chain intact\nhead: %s\n(keep the head elsewhere: a later verify that ends before it shows entries were cut off)\n", res.Checked, res.Head)
	return nil
}

func cmdVersion(ctx context.Context, e env, args []string) error {
	if len(args) > 0 && (args[0] == "-h" || args[0] == "--help") {
		fmt.Fprintln(e.stdout, "Usage: custos version")
		return errHelp
	}
	fmt.Fprintln(e.stdout, "custos", app.Version)
	return nil
}
