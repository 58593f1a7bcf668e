package sqlite

import (
	"errors"
	"fmt"
	"time"

	"custos/internal/store/sqldb"

	sqlite3 "modernc.org/sqlite"
)

// This file holds what differs between the SQLite and PostgreSQL adapters;
// the queries themselves live in package sqldb.

// dialect is SQLite's sqldb.Dialect.
var dialect = &sqldb.Dialect{
	// SQLite stores times as INTEGER unix microseconds UTC.
	Time: func(t time.Time) any { return t.UTC().UnixMicro() },
	ScanTime: func(src any) (time.Time, error) {
		if v, ok := src.(int64); ok {
			return time.UnixMicro(v).UTC(), nil
		}
		return time.Time{}, fmt.Errorf("time column: unexpected %T", src)
	},
	TagCond: func(col, param string) string {
		return "EXISTS (SELECT 1 FROM json_each(" + col + ") WHERE json_each.value = " + param + ")"
	},
	// JSON columns are TEXT already.
	JSONText: func(col string) string { return col },
	// SQLite needs no row lock: the one writer connection already
	// serialises write transactions.
	LockTicket: `SELECT last_seq FROM tickets WHERE id = $1`,
	IsUnique:   isUnique,
}

// isUnique reports whether err is a unique or primary-key violation.
func isUnique(err error) bool {
	var e *sqlite3.Error
	if !errors.As(err, &e) {
		return false
	}
	const (
		constraintPrimaryKey = 1555
		constraintUnique     = 2067
	)
	return e.Code() == constraintUnique || e.Code() == constraintPrimaryKey
}
