package httpapi

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"math"
	"net/http"
	"strconv"
	"strings"

	"custos/internal/auth"
	"custos/internal/desk"
	"custos/internal/store"
	"custos/internal/tickets"
)

func (s *Server) listTickets(w http.ResponseWriter, r *http.Request, p auth.Principal) error {
	q := r.URL.Query()
	pr := desk.Problems{}
	f := store.TicketFilter{
		TeamIDs:    nil,
		AssigneeID: queryInt(q, pr, "assignee_id", 1, math.MaxInt64, 0),
		ContactID:  queryInt(q, pr, "contact_id", 1, math.MaxInt64, 0),
		Cursor:     queryInt(q, pr, "cursor", 1, math.MaxInt64, 0),
		Limit:      int(queryInt(q, pr, "limit", 1, desk.MaxPageSize, desk.DefaultPage)),
		Tag:        q.Get("tag"),
		Text:       q.Get("q"),
	}
	if t := queryInt(q, pr, "team_id", 1, math.MaxInt64, 0); t > 0 {
		f.TeamIDs = []int64{t}
	}
	if v := q.Get("status"); v != "" {
		for _, st := range strings.Split(v, ",") {
			st := desk.Status(strings.TrimSpace(st))
			desk.OneOf(pr, "status", st, desk.Statuses)
			f.Statuses = append(f.Statuses, st)
		}
	}
	if v := q.Get("channel"); v != "" {
		f.Channel = desk.Channel(v)
		desk.OneOf(pr, "channel", f.Channel, desk.Channels)
	}
	desk.CheckText(pr, "q", f.Text, desk.MaxSubject, false)
	desk.CheckText(pr, "tag", f.Tag, desk.MaxTag, false)
	empty := false
	switch q.Get("view") {
	case "", "all":
	case "mine":
		if p.Agent == nil || p.Token != nil {
			pr.Add("view", "mine is only for agents")
		}
		f.AssigneeID = p.ActorID()
	case "unassigned":
		f.AssigneeID = -1
	case "teams":
		teams := p.Teams()
		if len(teams) == 0 {
			// No teams means no team tickets, not "any team".
			empty = true
		}
		f.TeamIDs = teams
	default:
		pr.Add("view", "must be one of: mine, unassigned, teams, all")
	}
	if err := pr.Err(); err != nil {
		return err
	}
	if empty {
		writeJSON(w, http.StatusOK, page[desk.Ticket]{Items: []desk.Ticket{}})
		return nil
	}
	items, next, err := s.tickets.List(r.Context(), actor(p), f)
	if err != nil {
		return err
	}
	if items == nil {
		items = []desk.Ticket{}
	}
	writeJSON(w, http.StatusOK, page[desk.Ticket]{Items: items, NextCursor: nextCursor(next)})
	return nil
}

type contactInput struct {
	ExternalUID string   `json:"external_uid"`
	Name        string   `json:"name"`
	Emails      []string `json:"emails"`
	Phone       string   `json:"phone"`
	TelegramID  string   `json:"telegram_id"`
	Language    string   `json:"language"`
	VIPTier     int      `json:"vip_tier"`
	KYCLevel    int      `json:"kyc_level"`
	Tags        []string `json:"tags"`
}

func (c contactInput) contact() desk.Contact {
	return desk.Contact{
		ExternalUID: c.ExternalUID, Name: c.Name, Emails: c.Emails, Phone: c.Phone,
		TelegramID: c.TelegramID, Language: c.Language, VIPTier: c.VIPTier, KYCLevel: c.KYCLevel, Tags: c.Tags,
	}
}

type messageInput struct {
	Text          string   `json:"text"`
	HTML          string   `json:"html"`
	Internal      bool     `json:"internal"`
	AttachmentIDs []string `json:"attachment_ids"`
	ClientID      string   `json:"client_id"`
}

func (m messageInput) input() tickets.MessageInput {
	return tickets.MessageInput{Text: m.Text, HTML: m.HTML, Internal: m.Internal, AttachmentIDs: m.AttachmentIDs, ClientID: m.ClientID}
}

type createTicketInput struct {
	Channel    desk.Channel      `json:"channel"`
	Subject    string            `json:"subject"`
	ContactID  int64             `json:"contact_id"`
	Contact    *contactInput     `json:"contact"`
	Priority   desk.Priority     `json:"priority"`
	Status     desk.Status       `json:"status"`
	Category   string            `json:"category"`
	TeamID     int64             `json:"team_id"`
	AssigneeID int64             `json:"assignee_id"`
	Tags       []string          `json:"tags"`
	Custom     map[string]string `json:"custom"`
	Language   string            `json:"language"`
	Message    *messageInput     `json:"message"`
}

func (s *Server) createTicket(w http.ResponseWriter, r *http.Request, p auth.Principal) error {
	var in createTicketInput
	body, err := s.decodeJSON(w, r, &in)
	if err != nil {
		return err
	}
	if in.Channel == "" {
		// Integrations create through the API; agents log calls, mails
		// and forms by hand.
		in.Channel = desk.ChannelAPI
		if p.Token == nil {
			in.Channel = desk.ChannelWeb
		}
	}
	pr := desk.Problems{}
	desk.OneOf(pr, "channel", in.Channel, desk.Channels)
	if in.Priority != "" {
		desk.OneOf(pr, "priority", in.Priority, desk.Priorities)
	}
	if in.Status != "" {
		desk.OneOf(pr, "status", in.Status, desk.Statuses)
	}
	if in.ContactID < 0 {
		pr.Add("contact_id", "must be a contact id")
	}
	if in.ContactID == 0 && in.Contact == nil {
		pr.Add("contact_id", "is required (or give a contact)")
	}
	if err := pr.Err(); err != nil {
		return err
	}
	ci := tickets.CreateInput{
		Channel: in.Channel, Subject: in.Subject, ContactID: in.ContactID, Priority: in.Priority, Status: in.Status,
		Category: in.Category, TeamID: in.TeamID, AssigneeID: in.AssigneeID, Tags: in.Tags,
		Custom: in.Custom, Language: in.Language,
	}
	if in.Contact != nil && in.ContactID == 0 {
		c := in.Contact.contact()
		ci.Contact = &c
	}
	if in.Message != nil {
		m := in.Message.input()
		ci.Message = &m
	}
	return s.idempotent(w, r, p, "tickets", body, func(save saveFunc) (int, any, error) {
		// The idempotency record commits in the same transaction as the
		// ticket: a retry can never see one without the other.
		ci.InTx = func(ctx context.Context, tx store.Tx, t desk.Ticket) error {
			return save(ctx, tx, http.StatusCreated, t)
		}
		t, err := s.tickets.Create(r.Context(), actor(p), ci)
		if err != nil {
			return 0, nil, err
		}
		return http.StatusCreated, t, nil
	})
}

func (s *Server) getTicket(w http.ResponseWriter, r *http.Request, p auth.Principal) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	v, err := s.tickets.Get(r.Context(), actor(p), id)
	if err != nil {
		return err
	}
	v.Contact = maskContact(v.Contact)
	writeJSON(w, http.StatusOK, v)
	return nil
}

type ticketPatch struct {
	Subject    *string            `json:"subject"`
	Status     *desk.Status       `json:"status"`
	Priority   *desk.Priority     `json:"priority"`
	Category   *string            `json:"category"`
	TeamID     *int64             `json:"team_id"`
	AssigneeID *int64             `json:"assignee_id"`
	Tags       *[]string          `json:"tags"`
	Custom     *map[string]string `json:"custom"`
	Language   *string            `json:"language"`
}

func (s *Server) updateTicket(w http.ResponseWriter, r *http.Request, p auth.Principal) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	var in ticketPatch
	if _, err := s.decodeJSON(w, r, &in); err != nil {
		return err
	}
	pr := desk.Problems{}
	if in.Status != nil {
		desk.OneOf(pr, "status", *in.Status, desk.Statuses)
	}
	if in.Priority != nil {
		desk.OneOf(pr, "priority", *in.Priority, desk.Priorities)
	}
	if in.TeamID != nil && *in.TeamID < 0 {
		pr.Add("team_id", "must be a team id (0 = none)")
	}
	if in.AssigneeID != nil && *in.AssigneeID < 0 {
		pr.Add("assignee_id", "must be an agent id (0 = unassigned)")
	}
	if err := pr.Err(); err != nil {
		return err
	}
	t, err := s.tickets.Update(r.Context(), actor(p), id, tickets.Patch{
		Subject: in.Subject, Status: in.Status, Priority: in.Priority, Category: in.Category,
		TeamID: in.TeamID, AssigneeID: in.AssigneeID, Tags: in.Tags, Custom: in.Custom, Language: in.Language,
	})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, t)
	return nil
}

func (s *Server) addMessage(w http.ResponseWriter, r *http.Request, p auth.Principal) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	var in messageInput
	if _, err := s.decodeJSON(w, r, &in); err != nil {
		return err
	}
	msg := in.input()
	if key := r.Header.Get("Idempotency-Key"); key != "" && msg.ClientID == "" {
		// The ticket already deduplicates client ids: the key becomes one,
		// scoped to the caller so two integrations never collide.
		if err := checkIdempotencyKey(key); err != nil {
			return err
		}
		sum := sha256.Sum256([]byte(callerKey(p, key)))
		msg.ClientID = "idem:" + hex.EncodeToString(sum[:16])
	}
	m, dup, err := s.tickets.AddMessage(r.Context(), actor(p), id, msg)
	if err != nil {
		return err
	}
	status := http.StatusCreated
	if dup {
		status = http.StatusOK
		w.Header().Set("Idempotent-Replayed", "true")
	}
	w.Header().Set("Location", api+"/tickets/"+strconv.FormatInt(id, 10))
	writeJSON(w, status, m)
	return nil
}
