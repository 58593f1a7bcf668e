package httpapi

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/url"

	"custos/internal/auth"
	"custos/internal/desk"
	"custos/internal/store"
)

type uploaded struct {
	ID          string `json:"id"`
	Name        string `json:"name"`
	ContentType string `json:"content_type"`
	Size        int64  `json:"size"`
	URL         string `json:"url"`
}

// uploadAttachment streams the multipart "file" part to the attachment
// store without buffering it in memory or on disk here.
func (s *Server) uploadAttachment(w http.ResponseWriter, r *http.Request, p auth.Principal) error {
	if s.attach == nil {
		return desk.Errorf(desk.EUnavailable, "attachments are not configured")
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxUpload)
	mr, err := r.MultipartReader()
	if err != nil {
		return &desk.Error{Code: codeUnsupportedType, Message: "Content-Type must be multipart/form-data"}
	}
	for {
		part, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			return fieldError("file", "is required")
		}
		if err != nil {
			return uploadErr(err)
		}
		if part.FormName() != "file" {
			part.Close()
			continue
		}
		name := part.FileName()
		if name == "" {
			name = "file"
		}
		// The upload is a write: its audit entry commits with its row.
		att, err := s.attach.Save(r.Context(), name, part, p.ActorKind(), p.ActorID(), func(ctx context.Context, tx store.Tx, a desk.Attachment) error {
			e := auth.AuditEntry(p, "attachment.upload", "attachment:"+a.ID, map[string]any{"name": a.Name, "content_type": a.ContentType, "size": a.Size, "sha256": a.SHA256})
			return tx.AppendAudit(ctx, &e)
		})
		part.Close()
		if err != nil {
			return uploadErr(err)
		}
		writeJSON(w, http.StatusCreated, uploaded{ID: att.ID, Name: att.Name, ContentType: att.ContentType,
			Size: att.Size, URL: api + "/attachments/" + url.PathEscape(att.ID)})
		return nil
	}
}

func uploadErr(err error) error {
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return desk.Errorf(desk.ETooLarge, "upload is over the size limit")
	}
	var de *desk.Error
	if errors.As(err, &de) {
		return err
	}
	return invalid("malformed multipart body")
}

// getAttachment serves a file to those who may see its ticket. An
// attachment not yet linked to a ticket is visible to its uploader and to
// those who see every ticket. Anything else is "not found", so ids cannot
// be probed.
func (s *Server) getAttachment(w http.ResponseWriter, r *http.Request, p auth.Principal) error {
	if s.attach == nil {
		return desk.Errorf(desk.EUnavailable, "attachments are not configured")
	}
	att, rc, err := s.attach.Open(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	defer rc.Close()
	if !p.SeesAllTickets() {
		visible := false
		if att.TicketID != 0 {
			err := s.st.Read(r.Context(), func(tx store.Tx) error {
				t, err := tx.GetTicket(r.Context(), att.TicketID)
				if err != nil {
					return err
				}
				visible = p.CanSeeTicket(t)
				return nil
			})
			if err != nil && desk.ErrorCode(err) != desk.ENotFound {
				return err
			}
		} else {
			visible = att.UploaderKind == p.ActorKind() && att.UploaderID == p.ActorID()
		}
		if !visible {
			return desk.NotFound("attachment")
		}
	}
	s.attach.Serve(w, r, att, rc)
	return nil
}

// agentStream hands the console's WebSocket to the realtime server. A
// cross-origin page must not open it with the agent's cookie.
func (s *Server) agentStream(w http.ResponseWriter, r *http.Request, p auth.Principal) error {
	if s.stream == nil {
		return desk.Errorf(desk.EUnavailable, "realtime stream is not configured")
	}
	if o := r.Header.Get("Origin"); o != "" {
		u, err := url.Parse(o)
		if err != nil || u.Host != r.Host {
			return desk.Errorf(desk.EForbidden, "cross-origin WebSocket refused")
		}
	}
	// What identifies the caller, kept for the socket's later checks (the
	// request itself does not outlive the handshake).
	again := &http.Request{Header: http.Header{}, RemoteAddr: r.RemoteAddr}
	for _, h := range []string{"Cookie", "Authorization"} {
		if v := r.Header.Values(h); len(v) > 0 {
			again.Header[h] = append([]string(nil), v...)
		}
	}
	recheck := func(ctx context.Context) (auth.Principal, error) { return s.principal(ctx, again, false) }
	s.stream.ServeAgent(w, r, p, recheck)
	return nil
}
