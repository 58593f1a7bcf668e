package sqlite_test

import (
	"context"
	"path/filepath"
	"testing"

	"custos/internal/store/sqldb/sqldbtest"
	"custos/internal/store/sqlite"
)

// open returns a fresh, migrated database in a temporary directory.
func open(tb testing.TB) *sqlite.DB {
	return sqldbtest.Open(tb, func(ctx context.Context) (*sqlite.DB, error) {
		return sqlite.Open(ctx, filepath.Join(tb.TempDir(), "custos.db"))
	})
}

func TestStore(t *testing.T) {
	sqldbtest.Run(t, open, func(db *sqlite.DB, sql string) error {
		_, err := db.SQL().ExecContext(context.Background(), sql)
		return err
	})
}

func TestMigrateIdempotent(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "custos.db")
	// Reopening an existing file applies nothing and keeps the data mode.
	db := sqldbtest.MigrateIdempotent(t, func() (*sqlite.DB, error) { return sqlite.Open(ctx, path) })
	for pragma, want := range map[string]string{"journal_mode": "wal", "synchronous": "2", "foreign_keys": "1"} {
		var got string
		if err := db.SQL().QueryRowContext(ctx, "PRAGMA "+pragma).Scan(&got); err != nil {
			t.Fatal(err)
		}
		if got != want {
			t.Errorf("PRAGMA %s = %s, want %s", pragma, got, want)
		}
	}
}

func BenchmarkCreateTicket(b *testing.B) { sqldbtest.BenchmarkCreateTicket(b, open(b)) }

func BenchmarkAppendMessage(b *testing.B) { sqldbtest.BenchmarkAppendMessage(b, open(b)) }
