// Package sqlite implements store.Store on an embedded SQLite database
// (modernc.org/sqlite, pure Go). It is the default storage of a single-node
// Custos.
//
// One writer connection serialises every write transaction (BEGIN IMMEDIATE,
// so a transaction never has to upgrade its lock and fail with SQLITE_BUSY);
// a small pool of query_only connections serves reads concurrently thanks to
// WAL. synchronous=FULL makes a commit survive a power cut: an acknowledged
// chat message is never lost.
//
// This package must never hold business rules: it stores and loads what
// package desk defines.
package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"net/url"
	"time"

	"custos/internal/store"
	"custos/internal/store/sqldb"

	_ "modernc.org/sqlite" // registers the "sqlite" database/sql driver
)

//go:embed migrations/*.sql
var migrationFS embed.FS

// readers is the size of the read pool; reads are short, so a few suffice.
const readers = 4

// DB is a SQLite-backed store.Store.
type DB struct {
	writer *sql.DB
	reader *sql.DB
}

var _ store.Store = (*DB)(nil)

// Open opens (creating if needed) the database file at path. Call Migrate
// before use.
func Open(ctx context.Context, path string) (*DB, error) {
	pragmas := []string{
		"journal_mode(WAL)",
		"synchronous(FULL)",
		"busy_timeout(5000)",
		"foreign_keys(ON)",
	}
	dsn := func(txlock string, extra ...string) string {
		q := url.Values{}
		for _, p := range append(pragmas, extra...) {
			q.Add("_pragma", p)
		}
		q.Set("_txlock", txlock)
		return "file:" + path + "?" + q.Encode()
	}
	// BEGIN IMMEDIATE takes the write lock up front, so a write transaction
	// never fails half-way trying to upgrade a read lock.
	w, err := sql.Open("sqlite", dsn("immediate"))
	if err != nil {
		return nil, sqldb.Unavailable("open database", err)
	}
	w.SetMaxOpenConns(1)
	w.SetMaxIdleConns(1)
	w.SetConnMaxLifetime(0)
	w.SetConnMaxIdleTime(0)
	// Touch the writer first so WAL mode is set before readers connect.
	if err := w.PingContext(ctx); err != nil {
		w.Close()
		return nil, sqldb.Unavailable("open database", err)
	}
	r, err := sql.Open("sqlite", dsn("deferred", "query_only(1)"))
	if err != nil {
		w.Close()
		return nil, sqldb.Unavailable("open database", err)
	}
	r.SetMaxOpenConns(readers)
	r.SetMaxIdleConns(readers)
	return &DB{writer: w, reader: r}, nil
}

// SQL returns the writer handle, for diagnostics and for tests that must
// bypass the store (e.g. to tamper with the audit table).
func (db *DB) SQL() *sql.DB { return db.writer }

// Dialect implements store.Store.
func (db *DB) Dialect() string { return "sqlite" }

// Close closes both pools.
func (db *DB) Close() error {
	return errors.Join(db.reader.Close(), db.writer.Close())
}

// Ping implements store.Store; it checks both pools.
func (db *DB) Ping(ctx context.Context) error {
	if err := db.writer.PingContext(ctx); err != nil {
		return sqldb.Unavailable("ping", err)
	}
	if err := db.reader.PingContext(ctx); err != nil {
		return sqldb.Unavailable("ping", err)
	}
	return nil
}

// Read implements store.Store on a query_only reader connection.
func (db *DB) Read(ctx context.Context, fn func(store.Tx) error) error {
	return sqldb.Run(ctx, db.reader, nil, dialect, fn)
}

// Write implements store.Store on the single writer connection.
func (db *DB) Write(ctx context.Context, fn func(store.Tx) error) error {
	return sqldb.Run(ctx, db.writer, nil, dialect, fn)
}

// Migrate applies the embedded migrations not yet recorded in
// schema_migrations, each in its own transaction, and returns how many ran.
// Running it again is a no-op.
func (db *DB) Migrate(ctx context.Context) (applied int, err error) {
	if _, err := db.writer.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL)`); err != nil {
		return 0, sqldb.Internal("migrate", err)
	}
	files, err := sqldb.Migrations(migrationFS)
	if err != nil {
		return 0, sqldb.Internal("migrate", err)
	}
	for _, m := range files {
		err := sqldb.InTx(ctx, db.writer, nil, func(x *sql.Tx) error {
			if done, err := sqldb.Applied(ctx, x, m.Version); err != nil || done {
				return err
			}
			if _, err := x.ExecContext(ctx, m.SQL); err != nil {
				return sqldb.Internal("migrate "+m.Name, err)
			}
			if _, err := x.ExecContext(ctx, `INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)`,
				m.Version, m.Name, time.Now().UnixMicro()); err != nil {
				return sqldb.Internal("migrate "+m.Name, err)
			}
			applied++
			return nil
		})
		if err != nil {
			return applied, err
		}
	}
	return applied, nil
}
