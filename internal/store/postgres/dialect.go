package postgres

import (
	"errors"
	"fmt"
	"time"

	"custos/internal/store/sqldb"

	"github.com/jackc/pgx/v5/pgconn"
)

// This file holds what differs between the PostgreSQL and SQLite adapters;
// the queries themselves live in package sqldb.

// dialect is PostgreSQL's sqldb.Dialect.
var dialect = &sqldb.Dialect{
	// timestamptz keeps microseconds, so truncating here makes what we hash
	// equal what we read.
	Time: func(t time.Time) any { return t.UTC().Truncate(time.Microsecond) },
	ScanTime: func(src any) (time.Time, error) {
		if v, ok := src.(time.Time); ok {
			return v.UTC(), nil
		}
		return time.Time{}, fmt.Errorf("time column: unexpected %T", src)
	},
	// @> can use the GIN index on tickets.tags.
	TagCond: func(col, param string) string {
		return col + " @> jsonb_build_array(" + param + "::text)"
	},
	JSONText: func(col string) string { return col + "::text" },
	// FOR UPDATE row-locks the ticket until commit, so concurrent appends
	// to one ticket take turns and get consecutive seqs.
	LockTicket: `SELECT last_seq FROM tickets WHERE id = $1 FOR UPDATE`,
	IsUnique:   isUnique,
}

// isUnique reports whether err is a unique or primary-key violation.
func isUnique(err error) bool {
	var e *pgconn.PgError
	return errors.As(err, &e) && e.Code == "23505"
}
