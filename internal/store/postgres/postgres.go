// Package postgres implements store.Store on PostgreSQL (pgx), for
// deployments that run several Custos nodes or want managed backups.
//
// Writes are not globally serialised as on SQLite: what must be ordered is
// ordered with row locks (a ticket row for its message sequence, the one-row
// audit_head for the audit chain). Commits are synchronous_commit=on, so an
// acknowledged message is on disk.
//
// The queries run through database/sql on top of the pgx pool, so that the
// query code in package sqldb is shared with package sqlite and one
// contract suite proves both; this package supplies only its dialect.
//
// This package must never hold business rules: it stores and loads what
// package desk defines.
package postgres

import (
	"context"
	"database/sql"
	"embed"

	"custos/internal/desk"
	"custos/internal/store"
	"custos/internal/store/sqldb"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
)

//go:embed migrations/*.sql
var migrationFS embed.FS

// migrationLock is the pg_advisory_xact_lock key that keeps two nodes
// starting at once from migrating concurrently.
const migrationLock = 0x637573746f73 // "custos"

// DB is a PostgreSQL-backed store.Store.
type DB struct {
	pool *pgxpool.Pool
	db   *sql.DB
}

var _ store.Store = (*DB)(nil)

// Open connects to the database at dsn (a postgres:// URL or key=value
// string) and checks it answers. Call Migrate before use.
func Open(ctx context.Context, dsn string) (*DB, error) {
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		return nil, &desk.Error{Code: desk.EInvalid, Message: "invalid database dsn", Err: err}
	}
	// Whatever the server default, a commit we acknowledge is durable.
	cfg.ConnConfig.RuntimeParams["synchronous_commit"] = "on"
	cfg.ConnConfig.RuntimeParams["timezone"] = "UTC"
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, sqldb.Unavailable("connect", err)
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, sqldb.Unavailable("connect", err)
	}
	return &DB{pool: pool, db: stdlib.OpenDBFromPool(pool)}, nil
}

// Pool returns the pgx pool, for diagnostics and tests that bypass the store.
func (db *DB) Pool() *pgxpool.Pool { return db.pool }

// Dialect implements store.Store.
func (db *DB) Dialect() string { return "postgres" }

// Close closes the database/sql handle and then the pool under it.
func (db *DB) Close() error {
	err := db.db.Close()
	db.pool.Close()
	return err
}

// Ping implements store.Store.
func (db *DB) Ping(ctx context.Context) error {
	if err := db.pool.Ping(ctx); err != nil {
		return sqldb.Unavailable("ping", err)
	}
	return nil
}

// Read implements store.Store in a READ ONLY transaction.
func (db *DB) Read(ctx context.Context, fn func(store.Tx) error) error {
	return sqldb.Run(ctx, db.db, &sql.TxOptions{ReadOnly: true}, dialect, fn)
}

// Write implements store.Store.
func (db *DB) Write(ctx context.Context, fn func(store.Tx) error) error {
	return sqldb.Run(ctx, db.db, nil, dialect, fn)
}

// Migrate applies the embedded migrations not yet recorded in
// schema_migrations, all in one transaction under an advisory lock (DDL is
// transactional in PostgreSQL), and returns how many ran. Running it again
// is a no-op.
func (db *DB) Migrate(ctx context.Context) (applied int, err error) {
	files, err := sqldb.Migrations(migrationFS)
	if err != nil {
		return 0, sqldb.Internal("migrate", err)
	}
	err = sqldb.InTx(ctx, db.db, nil, func(x *sql.Tx) error {
		if _, err := x.ExecContext(ctx, `SELECT pg_advisory_xact_lock($1)`, int64(migrationLock)); err != nil {
			return sqldb.Internal("migrate lock", err)
		}
		if _, err := x.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
			version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())`); err != nil {
			return sqldb.Internal("migrate", err)
		}
		for _, m := range files {
			done, err := sqldb.Applied(ctx, x, m.Version)
			if err != nil {
				return err
			}
			if done {
				continue
			}
			if _, err := x.ExecContext(ctx, m.SQL); err != nil {
				return sqldb.Internal("migrate "+m.Name, err)
			}
			if _, err := x.ExecContext(ctx, `INSERT INTO schema_migrations (version, name) VALUES ($1, $2)`, m.Version, m.Name); err != nil {
				return sqldb.Internal("migrate "+m.Name, err)
			}
			applied++
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	return applied, nil
}
