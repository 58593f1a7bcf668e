// Package sqldbtest holds the tests and benchmarks that the SQL engines
// (internal/store/sqlite and internal/store/postgres) run alike on top of
// the store contract suite (package storetest): opening a migrated test
// database, running the suite, migration idempotency and write benchmarks.
// Only engine tests import it.
package sqldbtest

import (
	"context"
	"sync/atomic"
	"testing"

	"custos/internal/desk"
	"custos/internal/store"
	"custos/internal/store/storetest"
)

// DB is an engine database that migrates itself.
type DB interface {
	store.Store
	Migrate(ctx context.Context) (int, error)
}

// Open returns the database open gives, migrated and closed when the test
// ends.
func Open[T DB](tb testing.TB, open func(context.Context) (T, error)) T {
	tb.Helper()
	ctx := context.Background()
	db, err := open(ctx)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { db.Close() })
	if _, err := db.Migrate(ctx); err != nil {
		tb.Fatal(err)
	}
	return db
}

// Run runs the store contract suite on fresh databases from open; exec runs
// raw SQL on one, for the tests that tamper with tables.
func Run[T DB](t *testing.T, open func(testing.TB) T, exec func(db T, sql string) error) {
	storetest.Run(t, storetest.Harness{
		Open: func(t *testing.T) store.Store { return open(t) },
		Exec: func(t *testing.T, s store.Store, sql string) {
			t.Helper()
			if err := exec(s.(T), sql); err != nil {
				t.Fatalf("exec %q: %v", sql, err)
			}
		},
	})
}

// MigrateIdempotent checks that the first Migrate applies something and
// that a second one, and one after reopening, apply nothing. open must open
// the same database every time. It returns the reopened database, closed
// when the test ends, for engine-specific checks.
func MigrateIdempotent[T DB](t *testing.T, open func() (T, error)) T {
	t.Helper()
	ctx := context.Background()
	db, err := open()
	if err != nil {
		t.Fatal(err)
	}
	n, err := db.Migrate(ctx)
	if err != nil || n == 0 {
		t.Fatalf("first migrate: %d %v", n, err)
	}
	if n, err := db.Migrate(ctx); err != nil || n != 0 {
		t.Fatalf("second migrate: %d %v", n, err)
	}
	db.Close()
	db, err = open()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if n, err := db.Migrate(ctx); err != nil || n != 0 {
		t.Fatalf("migrate after reopen: %d %v", n, err)
	}
	return db
}

// BenchmarkCreateTicket measures parallel ticket creation on s.
func BenchmarkCreateTicket(b *testing.B, s store.Store) {
	ctx := context.Background()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			err := s.Write(ctx, func(tx store.Tx) error {
				return tx.CreateTicket(ctx, &desk.Ticket{Channel: desk.ChannelChat, Status: desk.StatusNew,
					Priority: desk.PriorityNormal, Subject: "withdrawal stuck"})
			})
			if err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// BenchmarkAppendMessage measures parallel message appends on s.
func BenchmarkAppendMessage(b *testing.B, s store.Store) {
	ctx := context.Background()
	// A few tickets, so appends contend as they do in a busy chat desk.
	ids := make([]int64, 8)
	err := s.Write(ctx, func(tx store.Tx) error {
		for i := range ids {
			k := desk.Ticket{Channel: desk.ChannelChat, Status: desk.StatusOpen, Priority: desk.PriorityNormal}
			if err := tx.CreateTicket(ctx, &k); err != nil {
				return err
			}
			ids[i] = k.ID
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
	var next atomic.Int64
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			id := ids[next.Add(1)%int64(len(ids))]
			err := s.Write(ctx, func(tx store.Tx) error {
				_, err := tx.AppendMessage(ctx, &desk.Message{TicketID: id, AuthorKind: desk.AuthorContact, Text: "hello 你好"})
				return err
			})
			if err != nil {
				b.Error(err)
				return
			}
		}
	})
}
