package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"reflect"
	"strconv"
	"strings"
	"unicode/utf8"

	"custos/internal/desk"
)

// codeUnsupportedType is the code of a refused media type (request
// Content-Type or upload kind). It is not in desk because no service but
// attach and this package produces it.
const codeUnsupportedType = "unsupported_type"

// EMethodNotAllowed is the code of a known API path called with a method it
// does not have (405, with an Allow header).
const EMethodNotAllowed = "method_not_allowed"

type errorBody struct {
	Error errorDetail `json:"error"`
}

type errorDetail struct {
	Code      string            `json:"code"`
	Message   string            `json:"message"`
	Fields    map[string]string `json:"fields,omitempty"`
	RequestID string            `json:"request_id"`
}

// errorStatus is the one mapping of error codes to HTTP statuses.
func errorStatus(code string) int {
	switch code {
	case desk.EInvalid:
		return http.StatusBadRequest
	case desk.EUnauthorized, desk.EMFARequired:
		return http.StatusUnauthorized
	case desk.EForbidden:
		return http.StatusForbidden
	case desk.ENotFound:
		return http.StatusNotFound
	case desk.EConflict:
		return http.StatusConflict
	case desk.ETooLarge:
		return http.StatusRequestEntityTooLarge
	case codeUnsupportedType:
		return http.StatusUnsupportedMediaType
	case EMethodNotAllowed:
		return http.StatusMethodNotAllowed
	case desk.ELocked:
		return http.StatusLocked
	case desk.ERateLimited:
		return http.StatusTooManyRequests
	case desk.EUnavailable:
		return http.StatusServiceUnavailable
	}
	return http.StatusInternalServerError
}

// writeError is the one place an error becomes an HTTP response: a status
// from its code and a message safe to show. Internal errors (ours with code
// internal, and anything that is not a *desk.Error) are logged with their
// cause and answered with "internal error" only.
func (s *Server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	var de *desk.Error
	if !errors.As(err, &de) {
		de = &desk.Error{Code: desk.EInternal, Err: err}
	}
	status := errorStatus(de.Code)
	body := errorBody{Error: errorDetail{Code: de.Code, Message: de.Message, Fields: de.Fields, RequestID: RequestID(r.Context())}}
	switch {
	case status == http.StatusInternalServerError:
		s.logger(r).ErrorContext(r.Context(), "request failed", slog.String("route", routeLabel(r)), slog.String("error", err.Error()))
		body.Error = errorDetail{Code: desk.EInternal, Message: "internal error", RequestID: body.Error.RequestID}
	case status == http.StatusServiceUnavailable:
		s.logger(r).WarnContext(r.Context(), "dependency unavailable", slog.String("route", routeLabel(r)), slog.String("error", err.Error()))
	}
	if body.Error.Message == "" {
		body.Error.Message = http.StatusText(status)
	}
	if status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Bearer realm="custos"`)
	}
	writeJSON(w, status, body)
}

// writeJSON encodes v. Go's encoder escapes <, > and & so that a stored
// "<script>" can never be read as HTML even by a confused client.
func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		// Only a bug (an unencodable type) gets here.
		status = http.StatusInternalServerError
		b = []byte(`{"error":{"code":"internal","message":"internal error"}}`)
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write(append(b, '\n'))
}

func invalid(msg string) error { return &desk.Error{Code: desk.EInvalid, Message: msg} }

func fieldError(field, msg string) error {
	p := desk.Problems{}
	p.Add(field, msg)
	return p.Err()
}

// readBody reads a JSON request body within limit, checking its media type
// and encoding. The raw bytes are returned for idempotency fingerprints.
func (s *Server) readBody(w http.ResponseWriter, r *http.Request) ([]byte, error) {
	ct := r.Header.Get("Content-Type")
	mt, params, err := mime.ParseMediaType(ct)
	if ct == "" || err != nil || mt != "application/json" {
		return nil, &desk.Error{Code: codeUnsupportedType, Message: "Content-Type must be application/json"}
	}
	if cs, ok := params["charset"]; ok && !strings.EqualFold(cs, "utf-8") {
		return nil, &desk.Error{Code: codeUnsupportedType, Message: "charset must be utf-8"}
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, s.cfg.MaxBodyBytes))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, &desk.Error{Code: desk.ETooLarge, Message: fmt.Sprintf("request body is over %d bytes", s.cfg.MaxBodyBytes)}
		}
		return nil, invalid("could not read request body")
	}
	if len(bytes.TrimSpace(body)) == 0 {
		return nil, invalid("request body is required")
	}
	if !utf8.Valid(body) {
		return nil, invalid("request body is not valid UTF-8")
	}
	return body, nil
}

// decodeJSON reads and decodes a JSON object body into dst, refusing what a
// lenient decoder would let through: unknown fields, trailing data, a
// non-object top level. Every error names where the problem is.
func (s *Server) decodeJSON(w http.ResponseWriter, r *http.Request, dst any) ([]byte, error) {
	body, err := s.readBody(w, r)
	if err != nil {
		return nil, err
	}
	return body, unmarshalStrict(body, dst)
}

func unmarshalStrict(body []byte, dst any) error {
	trimmed := bytes.TrimLeft(body, " \t\r\n")
	if len(trimmed) == 0 || trimmed[0] != '{' {
		return invalid("request body must be a JSON object")
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(dst); err != nil {
		return jsonError(err)
	}
	var extra json.RawMessage
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		return invalid(fmt.Sprintf("unexpected data after the JSON object at byte offset %d", dec.InputOffset()))
	}
	return nil
}

func jsonError(err error) error {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syn):
		return invalid(fmt.Sprintf("malformed JSON at byte offset %d: %s", syn.Offset, syn.Error()))
	case errors.As(err, &typ):
		field := typ.Field
		if field == "" {
			return invalid("request body must be a JSON object")
		}
		return fieldError(field, "must be "+jsonTypeName(typ.Type))
	case errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
		return invalid("malformed JSON: unexpected end of input")
	}
	msg := err.Error()
	if i := strings.Index(msg, "unknown field "); i >= 0 {
		name, uerr := strconv.Unquote(strings.TrimSpace(msg[i+len("unknown field "):]))
		if uerr != nil {
			name = strings.Trim(msg[i+len("unknown field "):], `" `)
		}
		return fieldError(name, "unknown field")
	}
	return invalid("malformed JSON: " + strings.TrimPrefix(msg, "json: "))
}

// jsonTypeName says which JSON type a Go type expects, in the client's terms.
func jsonTypeName(t reflect.Type) string {
	if t == nil {
		return "a valid value"
	}
	switch t.Kind() {
	case reflect.Pointer:
		return jsonTypeName(t.Elem())
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "a boolean"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "an integer (in range)"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.Slice, reflect.Array:
		return "an array"
	case reflect.Map, reflect.Struct:
		return "an object"
	}
	return "a valid value"
}
