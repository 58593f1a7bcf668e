package chat

import (
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/url"
	"path"
	"strings"

	"custos/internal/attach"
	"custos/internal/desk"
)

// customerSession authenticates a customer HTTP call by its cs_ session
// (Authorization: Bearer, or ?session= for <img> tags), issued by any node.
func (s *Server) customerSession(r *http.Request) (int64, bool) {
	tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok {
		tok = r.URL.Query().Get("session")
	}
	if tok == "" {
		return 0, false
	}
	id, expires, ok := s.sessions.verify(strings.TrimSpace(tok))
	if !ok {
		return 0, false
	}
	return id, s.d.Now().Before(expires) || s.connected(id)
}

// connected reports whether this node holds a live connection of the
// contact (which keeps its sessions valid beyond their expiry).
func (s *Server) connected(contactID int64) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.byContact[contactID]) > 0
}

func (s *Server) uploadAttachment(w http.ResponseWriter, r *http.Request) {
	contactID, ok := s.customerSession(r)
	if !ok {
		writeErr(w, &desk.Error{Code: desk.EUnauthorized, Message: "a chat session is required"})
		return
	}
	if s.d.Attach == nil {
		writeErr(w, &desk.Error{Code: desk.EUnavailable, Message: "attachments are not enabled"})
		return
	}
	// The multipart envelope adds a little to the file's own limit.
	r.Body = http.MaxBytesReader(w, r.Body, s.d.Attach.MaxSize()+64<<10)
	mr, err := r.MultipartReader()
	if err != nil {
		writeErr(w, desk.Errorf(desk.EInvalid, "expected multipart/form-data with a field \"file\""))
		return
	}
	for {
		part, err := mr.NextPart()
		if err != nil {
			var mbe *http.MaxBytesError
			if errors.As(err, &mbe) {
				writeErr(w, desk.Errorf(desk.ETooLarge, "the file is too large"))
				return
			}
			writeErr(w, desk.Errorf(desk.EInvalid, "no field \"file\" in the form"))
			return
		}
		if part.FormName() != "file" {
			part.Close()
			continue
		}
		att, err := s.d.Attach.Save(r.Context(), part.FileName(), part, desk.AuthorContact, contactID)
		part.Close()
		if err != nil {
			var mbe *http.MaxBytesError
			if errors.As(err, &mbe) {
				err = desk.Errorf(desk.ETooLarge, "the file is too large")
			}
			if c := desk.ErrorCode(err); c == desk.EInternal {
				s.log.Error("chat upload", slog.Any("err", err))
			}
			writeErr(w, err)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusCreated)
		json.NewEncoder(w).Encode(attachmentViewOf(att))
		return
	}
}

// downloadAttachment serves an attachment the customer uploaded or one in
// their own conversations; anything else is "not found".
func (s *Server) downloadAttachment(w http.ResponseWriter, r *http.Request) {
	contactID, ok := s.customerSession(r)
	if !ok {
		writeErr(w, &desk.Error{Code: desk.EUnauthorized, Message: "a chat session is required"})
		return
	}
	if s.d.Attach == nil {
		writeErr(w, desk.NotFound("attachment"))
		return
	}
	att, rc, err := s.d.Attach.Open(r.Context(), r.PathValue("id"))
	if err != nil {
		writeErr(w, err)
		return
	}
	defer rc.Close()
	allowed := att.UploaderKind == desk.AuthorContact && att.UploaderID == contactID
	if !allowed && att.TicketID != 0 {
		if t, err := s.lookupTicket(r.Context(), att.TicketID); err == nil && t.ContactID == contactID {
			// Only attachments of customer-visible messages are the
			// customer's; attachments of internal notes are uploaded by
			// agents, and the uploader check above does not cover them.
			allowed = s.visibleAttachment(r, att)
		}
	}
	if !allowed {
		writeErr(w, desk.NotFound("attachment"))
		return
	}
	// Shown by the widget inside the exchange's page, another site: the
	// session in the URL is what protects it, not the page's site.
	w.Header().Set("Cross-Origin-Resource-Policy", "cross-origin")
	attach.Serve(w, r, att, rc)
}

// visibleAttachment reports whether att belongs to a customer-visible
// message of its ticket.
func (s *Server) visibleAttachment(r *http.Request, att desk.Attachment) bool {
	t, err := s.lookupTicket(r.Context(), att.TicketID)
	if err != nil {
		return false
	}
	ms, err := s.d.Tickets.CustomerMessages(r.Context(), t.ContactID, t.ID, 0, 0)
	if err != nil {
		return false
	}
	for _, m := range ms {
		for _, a := range m.Attachments {
			if a.ID == att.ID {
				return true
			}
		}
	}
	return false
}

// writeErr maps a desk error to a status for the customer endpoints. (The
// REST API has its own mapper; these few codes are all chat needs.)
func writeErr(w http.ResponseWriter, err error) {
	status := http.StatusInternalServerError
	code := desk.ErrorCode(err)
	switch code {
	case desk.EInvalid:
		status = http.StatusBadRequest
	case desk.EUnauthorized:
		status = http.StatusUnauthorized
	case desk.EForbidden:
		status = http.StatusForbidden
	case desk.ENotFound:
		status = http.StatusNotFound
	case desk.ETooLarge:
		status = http.StatusRequestEntityTooLarge
	case attach.EUnsupportedType:
		status = http.StatusUnsupportedMediaType
	case desk.ERateLimited:
		status = http.StatusTooManyRequests
	case desk.EUnavailable:
		status = http.StatusServiceUnavailable
	}
	body := errorFrame{Type: "error", Code: code, Message: "internal error"}
	var e *desk.Error
	if errors.As(err, &e) && code != desk.EInternal {
		body.Message, body.Fields = e.Message, e.Fields
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(body)
}

// originAllowed reports whether a browser page of origin may call the
// customer endpoints: the same host, or a host matching allowed_origins
// (the rule the WebSocket handshake applies).
func (s *Server) originAllowed(r *http.Request, origin string) bool {
	u, err := url.Parse(origin)
	if err != nil || u.Host == "" {
		return false
	}
	if strings.EqualFold(r.Host, u.Host) {
		return true
	}
	host := strings.ToLower(u.Host)
	for _, p := range s.cfg.AllowedOrigins {
		target := host
		if strings.Contains(p, "://") {
			target = strings.ToLower(origin)
		}
		if ok, err := path.Match(strings.ToLower(p), target); err == nil && ok {
			return true
		}
	}
	return false
}

// cors lets an allowed origin read the response. Customer calls carry the
// cs_ session in a header or the query, never a cookie, so no credentials
// are allowed.
func (s *Server) cors(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Add("Vary", "Origin")
		if o := r.Header.Get("Origin"); o != "" && s.originAllowed(r, o) {
			w.Header().Set("Access-Control-Allow-Origin", o)
		}
		h(w, r)
	}
}

// preflight answers the browser's CORS preflight for method. A disallowed
// origin gets no Access-Control headers, which the browser reads as "no".
func (s *Server) preflight(method string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Add("Vary", "Origin")
		h.Add("Vary", "Access-Control-Request-Method")
		h.Add("Vary", "Access-Control-Request-Headers")
		if o := r.Header.Get("Origin"); o != "" && s.originAllowed(r, o) && r.Header.Get("Access-Control-Request-Method") == method {
			h.Set("Access-Control-Allow-Origin", o)
			h.Set("Access-Control-Allow-Methods", method)
			h.Set("Access-Control-Allow-Headers", "Authorization, Content-Type")
			h.Set("Access-Control-Max-Age", "600")
		}
		w.WriteHeader(http.StatusNoContent)
	}
}
