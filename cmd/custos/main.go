// Command custos is the whole of Custos in one binary: the server, its
// database migrations, demo data, admin commands and benchmarks.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr, os.Getenv)
	stop()
	os.Exit(code)
}

// env is how commands read the environment (a map in tests).
type env struct {
	stdin          io.Reader
	stdout, stderr io.Writer
	getenv         func(string) string
}

type command struct {
	name, summary string
	run           func(ctx context.Context, e env, args []string) error
}

func commands() []command {
	return []command{
		{"serve", "run the server", cmdServe},
		{"migrate", "apply database migrations and exit", cmdMigrate},
		{"demo", "load demo data (teams, agents, customers, tickets) and print the logins", cmdDemo},
		{"user", "manage agents: create | list | disable | enable | reset-password", cmdUser},
		{"token", "manage API tokens: create | list | revoke", cmdToken},
		{"audit", "check the audit trail: verify", cmdAudit},
		{"bench", "benchmarks: api | chat", cmdBench},
		{"version", "print the version", cmdVersion},
	}
}

// usageError is a mistake in how the command was called: exit code 2.
type usageError struct{ msg string }

func (u usageError) Error() string { return u.msg }

func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer, getenv func(string) string) int {
	e := env{stdin: stdin, stdout: stdout, stderr: stderr, getenv: getenv}
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		usage(stdout)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	for _, c := range commands() {
		if c.name != args[0] {
			continue
		}
		err := c.run(ctx, e, args[1:])
		switch err.(type) {
		case nil:
			return 0
		case usageError:
			fmt.Fprintf(stderr, "custos %s: %v\n", c.name, err)
			return 2
		case exitError:
			fmt.Fprintf(stderr, "custos %s: %v\n", c.name, err)
			return err.(exitError).code
		}
		if err == errHelp {
			return 0
		}
		fmt.Fprintf(stderr, "custos %s: %v\n", c.name, err)
		return 1
	}
	fmt.Fprintf(stderr, "custos: unknown command %q\n\n", args[0])
	usage(stderr)
	return 2
}

// exitError carries a specific exit code (audit verify: 1 = chain broken).
type exitError struct {
	code int
	msg  string
}

func (x exitError) Error() string { return x.msg }

func usage(w io.Writer) {
	fmt.Fprintln(w, "Custos — 24/7 customer support for digital-asset exchanges.\n\nUsage: custos <command> [flags]   (custos <command> --help for its flags)\n\nCommands:")
	for _, c := range commands() {
		fmt.Fprintf(w, "  %-9s %s\n", c.name, c.summary)
	}
}
