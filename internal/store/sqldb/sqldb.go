// Package sqldb is the query code shared by the SQL engines of package
// store (internal/store/sqlite and internal/store/postgres): Tx implements
// store.Tx over a database/sql transaction with $N parameters, and each
// engine supplies a Dialect for what the two databases do differently (time
// and JSON column encoding, tag and text search conditions, the ticket row
// lock, unique-violation detection). One contract suite run on both engines
// therefore proves one body of queries.
//
// This package must never hold engine-specific SQL outside a Dialect value:
// every statement here has to run unchanged on SQLite and PostgreSQL. Nor
// must it hold business rules: it stores and loads what package desk
// defines. Opening, migrating and pooling stay in the engine packages.
package sqldb

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"sort"
	"strconv"
	"strings"
	"time"

	"custos/internal/desk"
	"custos/internal/store"
)

// Dialect is what an engine supplies: everything that differs between the
// databases. All fields are required.
type Dialect struct {
	// Time converts a non-zero time to a parameter for a time column.
	Time func(time.Time) any
	// ScanTime converts a non-NULL value read from a time column; it
	// returns an error for a value of an unexpected type.
	ScanTime func(src any) (time.Time, error)
	// TagCond is the condition "the JSON list column col contains the
	// string bound to param".
	TagCond func(col, param string) string
	// JSONText is the JSON column col as text, for substring search.
	JSONText func(col string) string
	// LockTicket is a query reading a ticket's last_seq, with $1 the ticket
	// id, that makes concurrent appends to one ticket take turns until
	// commit.
	LockTicket string
	// IsUnique reports whether err is a unique or primary-key violation.
	IsUnique func(error) bool
}

// tv converts a time for a NOT NULL column.
func (t *Tx) tv(v time.Time) any { return t.d.Time(v) }

// tvNull converts a nullable time; nil and the zero time are NULL.
func (t *Tx) tvNull(v *time.Time) any {
	if v == nil || v.IsZero() {
		return nil
	}
	return t.d.Time(*v)
}

// at scans a NOT NULL time column into p.
func (t *Tx) at(p *time.Time) sql.Scanner { return atCol{t.d, p} }

// atNull scans a nullable time column into p (nil for NULL).
func (t *Tx) atNull(p **time.Time) sql.Scanner { return atNullCol{t.d, p} }

type atCol struct {
	d *Dialect
	p *time.Time
}

func (c atCol) Scan(src any) error {
	if src == nil {
		*c.p = time.Time{}
		return nil
	}
	v, err := c.d.ScanTime(src)
	if err != nil {
		return err
	}
	*c.p = v
	return nil
}

type atNullCol struct {
	d *Dialect
	p **time.Time
}

func (c atNullCol) Scan(src any) error {
	if src == nil {
		*c.p = nil
		return nil
	}
	var v time.Time
	if err := (atCol{c.d, &v}).Scan(src); err != nil {
		return err
	}
	*c.p = &v
	return nil
}

// jcol scans a JSON column into p.
type jcol struct{ p any }

func (c jcol) Scan(src any) error {
	switch v := src.(type) {
	case string:
		return json.Unmarshal([]byte(v), c.p)
	case []byte:
		return json.Unmarshal(v, c.p)
	case nil:
		return nil
	}
	return fmt.Errorf("json column: unexpected %T", src)
}

// InTx runs fn in a transaction begun on pool with opts and commits it if
// fn returns nil; otherwise the transaction is rolled back.
func InTx(ctx context.Context, pool *sql.DB, opts *sql.TxOptions, fn func(*sql.Tx) error) error {
	sqlTx, err := pool.BeginTx(ctx, opts)
	if err != nil {
		return Unavailable("begin", err)
	}
	committed := false
	defer func() {
		if !committed {
			_ = sqlTx.Rollback()
		}
	}()
	if err := fn(sqlTx); err != nil {
		return err
	}
	if err := sqlTx.Commit(); err != nil {
		return Unavailable("commit", err)
	}
	committed = true
	return nil
}

// Run is InTx handing fn a store.Tx that speaks dialect d.
func Run(ctx context.Context, pool *sql.DB, opts *sql.TxOptions, d *Dialect, fn func(store.Tx) error) error {
	return InTx(ctx, pool, opts, func(x *sql.Tx) error {
		return fn(&Tx{tx: x, d: d})
	})
}

// Migration is one migrations/NNNN_name.sql file.
type Migration struct {
	Version int
	Name    string
	SQL     string
}

// Migrations lists migrations/NNNN_name.sql in fsys in version order.
func Migrations(fsys fs.FS) ([]Migration, error) {
	names, err := fs.Glob(fsys, "migrations/*.sql")
	if err != nil {
		return nil, err
	}
	var out []Migration
	for _, n := range names {
		base := strings.TrimPrefix(n, "migrations/")
		num, _, ok := strings.Cut(base, "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil {
			return nil, fmt.Errorf("migration %s: name must start with a number and _", n)
		}
		b, err := fs.ReadFile(fsys, n)
		if err != nil {
			return nil, err
		}
		out = append(out, Migration{Version: v, Name: base, SQL: string(b)})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Version < out[j].Version })
	return out, nil
}

// Applied reports whether migration version is recorded in
// schema_migrations.
func Applied(ctx context.Context, x *sql.Tx, version int) (bool, error) {
	var n int
	if err := x.QueryRowContext(ctx, `SELECT count(*) FROM schema_migrations WHERE version = $1`, version).Scan(&n); err != nil {
		return false, Internal("migrate", err)
	}
	return n > 0, nil
}

// Internal wraps a database failure; details are for logs, not clients.
// An error that already is a *desk.Error passes through unchanged.
func Internal(op string, err error) error {
	var de *desk.Error
	if errors.As(err, &de) {
		return err
	}
	return &desk.Error{Code: desk.EInternal, Message: op, Err: err}
}

// Unavailable wraps a failure to reach or use the database at all.
func Unavailable(op string, err error) error {
	return &desk.Error{Code: desk.EUnavailable, Message: "database: " + op, Err: err}
}
