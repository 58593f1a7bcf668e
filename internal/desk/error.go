package desk

import (
	"errors"
	"fmt"
	"sort"
	"strings"
)

// Error codes are stable strings that clients may switch on. The HTTP layer
// maps them to a status in exactly one function (httpapi.writeError).
const (
	EInvalid      = "invalid"      // validation failed; Fields says where
	ENotFound     = "not_found"    // the thing does not exist (or the caller may not know it does)
	EConflict     = "conflict"     // duplicate key, version mismatch
	EUnauthorized = "unauthorized" // no or bad credentials
	EForbidden    = "forbidden"    // authenticated but not allowed
	ETooLarge     = "too_large"    // body, frame or upload over its limit
	ERateLimited  = "rate_limited" // too many requests; retry later
	EUnavailable  = "unavailable"  // a dependency (database) is down
	EInternal     = "internal"     // a bug; details are logged, never returned
	EMFARequired  = "mfa_required" // password accepted, TOTP code needed
	ELocked       = "locked"       // account temporarily locked after failures
)

// ErrNotFound is the sentinel every "does not exist" error unwraps to, so
// callers write errors.Is(err, desk.ErrNotFound) whatever the store.
var ErrNotFound = &Error{Code: ENotFound, Message: "not found"}

// ErrConflict is the sentinel for unique-constraint violations.
var ErrConflict = &Error{Code: EConflict, Message: "conflict"}

// Error is Custos's one error type. Message is safe to show to the caller;
// Fields maps a JSON field path to what is wrong with it.
type Error struct {
	Code    string
	Message string
	Fields  map[string]string
	Err     error // wrapped cause, never shown to clients
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.Code)
	if e.Message != "" {
		b.WriteString(": ")
		b.WriteString(e.Message)
	}
	if len(e.Fields) > 0 {
		keys := make([]string, 0, len(e.Fields))
		for k := range e.Fields {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			fmt.Fprintf(&b, "; %s: %s", k, e.Fields[k])
		}
	}
	if e.Err != nil {
		b.WriteString(": ")
		b.WriteString(e.Err.Error())
	}
	return b.String()
}

func (e *Error) Unwrap() error { return e.Err }

// Is makes errors.Is(err, ErrNotFound) true for any *Error with the same code.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Code == e.Code && (t == ErrNotFound || t == ErrConflict)
}

// Errorf returns an *Error with code and a formatted message.
func Errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// NotFound returns an error that unwraps to ErrNotFound naming what was missing.
func NotFound(what string) *Error {
	return &Error{Code: ENotFound, Message: what + " not found"}
}

// ErrorCode returns the code of err, EInternal for errors that are not ours.
func ErrorCode(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return EInternal
}

// Problems collects field-level validation messages.
type Problems map[string]string

// Add records msg for field unless the field already has a message.
func (p Problems) Add(field, msg string) {
	if _, ok := p[field]; !ok {
		p[field] = msg
	}
}

// Err returns nil when there are no problems, otherwise an EInvalid *Error.
func (p Problems) Err() error {
	if len(p) == 0 {
		return nil
	}
	return &Error{Code: EInvalid, Message: "validation failed", Fields: map[string]string(p)}
}
