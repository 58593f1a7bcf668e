package httpapi

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"

	"custos/internal/auth"
	"custos/internal/desk"
	"custos/internal/store"
)

// maxIdempotencyKey bounds the client's key; UUIDs and ULIDs fit easily.
const maxIdempotencyKey = 255

// saveFunc stores the response of a create under the request's
// Idempotency-Key inside tx, so that (where the caller can) the record
// commits or rolls back with the create itself. It is a no-op without a
// key.
type saveFunc func(ctx context.Context, tx store.Tx, status int, v any) error

// createFunc performs a create and returns its status and response value.
type createFunc func(save saveFunc) (status int, v any, err error)

// idempotent runs create honouring the Idempotency-Key header: the first
// request with a key runs and its response is stored; a retry with the same
// key and body gets that response again (Idempotent-Replayed: true); the
// same key with another body is a conflict. Keys are scoped by route and
// principal, so two integrations can never see each other's responses.
func (s *Server) idempotent(w http.ResponseWriter, r *http.Request, p auth.Principal, scope string, reqBody []byte, create createFunc) error {
	key := r.Header.Get("Idempotency-Key")
	if key == "" {
		status, v, err := create(func(context.Context, store.Tx, int, any) error { return nil })
		if err != nil {
			return err
		}
		writeJSON(w, status, v)
		return nil
	}
	if err := checkIdempotencyKey(key); err != nil {
		return err
	}
	full := scope + ":" + callerKey(p, key)
	fp := fingerprint(reqBody)

	if !s.claimKey(full) {
		return desk.Errorf(desk.EConflict, "a request with this Idempotency-Key is still in progress")
	}
	defer s.releaseKey(full)

	ctx := r.Context()
	var rec desk.IdempotencyRecord
	err := s.st.Read(ctx, func(tx store.Tx) error {
		var err error
		rec, err = tx.GetIdempotency(ctx, full)
		return err
	})
	switch {
	case err == nil:
		storedFP, body, ok := bytes.Cut(rec.Body, []byte{'\n'})
		if !ok || string(storedFP) != fp {
			return desk.Errorf(desk.EConflict, "Idempotency-Key was already used with a different request body")
		}
		w.Header().Set("Idempotent-Replayed", "true")
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		w.WriteHeader(rec.Status)
		_, _ = w.Write(append(body, '\n'))
		return nil
	case !errors.Is(err, desk.ErrNotFound):
		return err
	}

	status, v, err := create(func(ctx context.Context, tx store.Tx, status int, v any) error {
		b, err := json.Marshal(v)
		if err != nil {
			return &desk.Error{Code: desk.EInternal, Message: "encode idempotent response", Err: err}
		}
		// Body holds the request fingerprint, a newline, then the
		// response: the store has one blob per key and we need both.
		return tx.PutIdempotency(ctx, desk.IdempotencyRecord{
			Key: full, Status: status, Body: append([]byte(fp+"\n"), b...),
		})
	})
	if err != nil {
		return err
	}
	writeJSON(w, status, v)
	return nil
}

// checkIdempotencyKey refuses a key that is not 1-255 printable ASCII.
func checkIdempotencyKey(key string) error {
	if len(key) > maxIdempotencyKey || !printableASCII(key) {
		return invalid("Idempotency-Key must be 1-255 printable ASCII characters")
	}
	return nil
}

// callerKey scopes a client's key to the caller, so two integrations never
// see each other's requests.
func callerKey(p auth.Principal, key string) string {
	return string(p.ActorKind()) + ":" + strconv.FormatInt(p.ActorID(), 10) + ":" + key
}

// fingerprint identifies a request body regardless of JSON whitespace.
func fingerprint(body []byte) string {
	var c bytes.Buffer
	if err := json.Compact(&c, body); err != nil {
		c.Reset()
		c.Write(body)
	}
	sum := sha256.Sum256(c.Bytes())
	return hex.EncodeToString(sum[:])
}

func printableASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x21 || s[i] > 0x7e {
			return false
		}
	}
	return s != ""
}

func (s *Server) claimKey(k string) bool {
	s.inflightMu.Lock()
	defer s.inflightMu.Unlock()
	if s.inflight[k] {
		return false
	}
	s.inflight[k] = true
	return true
}

func (s *Server) releaseKey(k string) {
	s.inflightMu.Lock()
	defer s.inflightMu.Unlock()
	delete(s.inflight, k)
}
