package postgres_test

import (
	"context"
	"testing"

	"custos/internal/store/pgtest"
	"custos/internal/store/postgres"
	"custos/internal/store/sqldb/sqldbtest"
)

// open returns a fresh, migrated database of its own on CUSTOS_TEST_PG.
func open(tb testing.TB) *postgres.DB {
	return sqldbtest.Open(tb, func(ctx context.Context) (*postgres.DB, error) { return postgres.Open(ctx, pgtest.DSN(tb)) })
}

func TestStore(t *testing.T) {
	sqldbtest.Run(t, open, func(db *postgres.DB, sql string) error {
		_, err := db.Pool().Exec(context.Background(), sql)
		return err
	})
}

func TestMigrateIdempotent(t *testing.T) {
	ctx := context.Background()
	dsn := pgtest.DSN(t)
	db := sqldbtest.MigrateIdempotent(t, func() (*postgres.DB, error) { return postgres.Open(ctx, dsn) })
	var sc string
	if err := db.Pool().QueryRow(ctx, "SHOW synchronous_commit").Scan(&sc); err != nil || sc != "on" {
		t.Fatalf("synchronous_commit = %q %v", sc, err)
	}
}

func BenchmarkCreateTicket(b *testing.B) { sqldbtest.BenchmarkCreateTicket(b, open(b)) }

func BenchmarkAppendMessage(b *testing.B) { sqldbtest.BenchmarkAppendMessage(b, open(b)) }
