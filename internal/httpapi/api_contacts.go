package httpapi

import (
	"math"
	"net/http"
	"strconv"

	"custos/internal/auth"
	"custos/internal/desk"
	"custos/internal/store"
)

func contactTarget(id int64) string { return "contact:" + strconv.FormatInt(id, 10) }

func (s *Server) listContacts(w http.ResponseWriter, r *http.Request, p auth.Principal) error {
	q := r.URL.Query()
	pr := desk.Problems{}
	f := store.ContactFilter{
		Text:   q.Get("q"),
		Cursor: queryInt(q, pr, "cursor", 1, math.MaxInt64, 0),
		Limit:  int(queryInt(q, pr, "limit", 1, desk.MaxPageSize, desk.DefaultPage)),
	}
	desk.CheckText(pr, "q", f.Text, desk.MaxName, false)
	if err := pr.Err(); err != nil {
		return err
	}
	limit := f.Limit
	f.Limit++ // one more tells whether there is a next page
	var items []desk.Contact
	err := s.st.Read(r.Context(), func(tx store.Tx) error {
		var err error
		items, err = tx.ListContacts(r.Context(), f)
		return err
	})
	if err != nil {
		return err
	}
	var next int64
	if len(items) > limit {
		items = items[:limit]
		next = items[limit-1].ID
	}
	out := make([]desk.Contact, len(items))
	for i, c := range items {
		out[i] = maskContact(c)
	}
	writeJSON(w, http.StatusOK, page[desk.Contact]{Items: out, NextCursor: nextCursor(next)})
	return nil
}

func (s *Server) createContact(w http.ResponseWriter, r *http.Request, p auth.Principal) error {
	var in contactInput
	body, err := s.decodeJSON(w, r, &in)
	if err != nil {
		return err
	}
	c := in.contact()
	if err := c.Validate(); err != nil {
		return err
	}
	ctx := r.Context()
	return s.idempotent(w, r, p, "contacts", body, func(save saveFunc) (int, any, error) {
		var out desk.Contact
		err := s.st.Write(ctx, func(tx store.Tx) error {
			if err := tx.CreateContact(ctx, &c); err != nil {
				return err
			}
			// Never personal data in the audit detail: the chain cannot
			// be edited, so it could never be erased.
			e := auth.AuditEntry(p, "contact.create", contactTarget(c.ID), nil)
			if err := tx.AppendAudit(ctx, &e); err != nil {
				return err
			}
			out = maskContact(c)
			return save(ctx, tx, http.StatusCreated, out)
		})
		if err != nil {
			return 0, nil, err
		}
		return http.StatusCreated, out, nil
	})
}

func (s *Server) getContact(w http.ResponseWriter, r *http.Request, p auth.Principal) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	var c desk.Contact
	err = s.st.Read(r.Context(), func(tx store.Tx) error {
		var err error
		c, err = tx.GetContact(r.Context(), id)
		return err
	})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, maskContact(c))
	return nil
}

type contactPatch struct {
	ExternalUID *string   `json:"external_uid"`
	Name        *string   `json:"name"`
	Emails      *[]string `json:"emails"`
	Phone       *string   `json:"phone"`
	TelegramID  *string   `json:"telegram_id"`
	Language    *string   `json:"language"`
	VIPTier     *int      `json:"vip_tier"`
	KYCLevel    *int      `json:"kyc_level"`
	Tags        *[]string `json:"tags"`
}

// apply sets the given fields on c and returns their names (for the audit
// entry, which records what changed but never the values).
func (in contactPatch) apply(c *desk.Contact) []string {
	var changed []string
	set := func(name string, ok bool, f func()) {
		if ok {
			f()
			changed = append(changed, name)
		}
	}
	set("external_uid", in.ExternalUID != nil, func() { c.ExternalUID = *in.ExternalUID })
	set("name", in.Name != nil, func() { c.Name = *in.Name })
	set("emails", in.Emails != nil, func() { c.Emails = *in.Emails })
	set("phone", in.Phone != nil, func() { c.Phone = *in.Phone })
	set("telegram_id", in.TelegramID != nil, func() { c.TelegramID = *in.TelegramID })
	set("language", in.Language != nil, func() { c.Language = *in.Language })
	set("vip_tier", in.VIPTier != nil, func() { c.VIPTier = *in.VIPTier })
	set("kyc_level", in.KYCLevel != nil, func() { c.KYCLevel = *in.KYCLevel })
	set("tags", in.Tags != nil, func() { c.Tags = *in.Tags })
	return changed
}

func (s *Server) updateContact(w http.ResponseWriter, r *http.Request, p auth.Principal) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	var in contactPatch
	if _, err := s.decodeJSON(w, r, &in); err != nil {
		return err
	}
	ctx := r.Context()
	var c desk.Contact
	err = s.st.Write(ctx, func(tx store.Tx) error {
		var err error
		if c, err = tx.GetContact(ctx, id); err != nil {
			return err
		}
		changed := in.apply(&c)
		if err := c.Validate(); err != nil {
			return err
		}
		if len(changed) == 0 {
			return nil
		}
		if err := tx.UpdateContact(ctx, &c); err != nil {
			return err
		}
		e := auth.AuditEntry(p, "contact.update", contactTarget(c.ID), map[string]any{"fields": changed})
		return tx.AppendAudit(ctx, &e)
	})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, maskContact(c))
	return nil
}

// revealContact returns the unmasked contact. The read and its audit entry
// share a transaction: no reveal without a record of it.
func (s *Server) revealContact(w http.ResponseWriter, r *http.Request, p auth.Principal) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	ctx := r.Context()
	var c desk.Contact
	err = s.st.Write(ctx, func(tx store.Tx) error {
		var err error
		if c, err = tx.GetContact(ctx, id); err != nil {
			return err
		}
		e := auth.AuditEntry(p, "contact.reveal", contactTarget(c.ID), nil)
		return tx.AppendAudit(ctx, &e)
	})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, c)
	return nil
}
