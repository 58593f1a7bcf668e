// Package pgtest gives tests a fresh PostgreSQL database of their own.
//
// CUSTOS_TEST_PG names a server the tests may create and drop databases on
// (scripts/pg-test-server.sh starts a throwaway one and prints the DSN).
// Without it, tests that need PostgreSQL are skipped, unless
// CUSTOS_TEST_REQUIRE_PG=1 (CI), where a missing server is a failure.
//
// pgtest returns DSNs, not stores, so that package postgres's own tests can
// use it without an import cycle.
package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// DSN creates an empty database custos_t_<random> on the CUSTOS_TEST_PG
// server, drops it when tb ends, and returns its DSN.
func DSN(tb testing.TB) string {
	tb.Helper()
	admin := os.Getenv("CUSTOS_TEST_PG")
	if admin == "" {
		if os.Getenv("CUSTOS_TEST_REQUIRE_PG") == "1" {
			tb.Fatal("CUSTOS_TEST_PG is not set but CUSTOS_TEST_REQUIRE_PG=1")
		}
		tb.Skip("CUSTOS_TEST_PG not set (start one with scripts/pg-test-server.sh start /tmp/custos-pg 55432)")
	}
	u, err := url.Parse(admin)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		tb.Fatalf("CUSTOS_TEST_PG must be a postgres:// URL: %q", admin)
	}
	var b [8]byte
	_, _ = rand.Read(b[:])
	name := "custos_t_" + hex.EncodeToString(b[:]) // only [0-9a-f_]: safe to splice into DDL

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	exec(ctx, tb, admin, "CREATE DATABASE "+name)
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		exec(ctx, tb, admin, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)")
	})
	u.Path = "/" + name
	return u.String()
}

func exec(ctx context.Context, tb testing.TB, dsn, sql string) {
	tb.Helper()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		tb.Fatalf("connect to CUSTOS_TEST_PG: %v", err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, sql); err != nil {
		tb.Fatalf("%s: %v", sql, err)
	}
}
