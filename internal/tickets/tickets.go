// Package tickets is the ticket service: the one place where tickets are
// created, changed and written to, whatever the channel (REST, chat, and
// later email, bot, Telegram). It validates, scopes every read and write to
// what the actor may see, records the ticket timeline (events) and the audit
// trail in the same transaction as the change, and publishes realtime events
// only after that transaction has committed.
//
// It must never talk HTTP or WebSocket: adapters translate to and from it.
package tickets

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/microcosm-cc/bluemonday"

	"custos/internal/desk"
	"custos/internal/realtime"
	"custos/internal/store"
)

// Actor is who does something, with the scope of what they may see.
type Actor struct {
	Kind desk.AuthorKind // agent, token, contact, bot, system
	ID   int64
	Name string
	IP   string
	// All lifts team scoping (ticket.read_all). Otherwise an agent sees the
	// tickets of Teams and those assigned to them.
	All   bool
	Teams []int64
	// CanAssign allows assigning tickets to someone other than oneself.
	CanAssign bool
	// CanWriteContacts (contact.write) allows creating a new contact
	// inline with a ticket.
	CanWriteContacts bool
}

// System is the actor for work the desk does by itself.
var System = Actor{Kind: desk.AuthorSystem, Name: "Custos", All: true, CanAssign: true, CanWriteContacts: true}

// CanSee reports whether the actor may see ticket t.
func (a Actor) CanSee(t desk.Ticket) bool {
	switch a.Kind {
	case desk.AuthorSystem, desk.AuthorBot:
		return true
	case desk.AuthorContact:
		return t.ContactID == a.ID
	}
	if a.All || (t.AssigneeID != 0 && t.AssigneeID == a.ID) {
		return true
	}
	for _, id := range a.Teams {
		if id == t.TeamID && id != 0 {
			return true
		}
	}
	return false
}

func (a Actor) audited() bool { return a.Kind == desk.AuthorAgent || a.Kind == desk.AuthorToken }

// Service implements the ticket operations.
type Service struct {
	st   store.Store
	pub  realtime.Publisher
	now  func() time.Time
	html *bluemonday.Policy // what message HTML may keep; safe for concurrent use
}

// New returns a Service writing through st (normally a store.Batcher, so
// concurrent writes share commits) and publishing to pub (may be nil).
func New(st store.Store, pub realtime.Publisher) *Service {
	return &Service{st: st, pub: pub, now: func() time.Time { return time.Now().UTC() }, html: newHTMLPolicy()}
}

// SetClock replaces the clock (tests).
func (s *Service) SetClock(now func() time.Time) { s.now = now }

func (s *Service) publish(evs ...realtime.Event) {
	if s.pub == nil {
		return
	}
	for _, ev := range evs {
		s.pub.Publish(ev)
	}
}

// CreateInput is a new ticket, optionally with its first message.
type CreateInput struct {
	Channel   desk.Channel
	Subject   string
	ContactID int64
	// Contact is used when ContactID is 0: matched by external_uid, else by
	// its first email, else created.
	Contact    *desk.Contact
	Priority   desk.Priority
	Status     desk.Status
	Category   string
	TeamID     int64
	AssigneeID int64
	Tags       []string
	Custom     map[string]string
	Language   string
	Message    *MessageInput
	// InTx, when set, runs last inside the creating transaction with the
	// final ticket, so a caller's own record of the create (an idempotency
	// key's stored response) commits or rolls back with it.
	InTx func(ctx context.Context, tx store.Tx, t desk.Ticket) error
}

// MessageInput is a message to append.
type MessageInput struct {
	Text          string
	HTML          string
	Internal      bool
	AttachmentIDs []string
	ClientID      string
}

// View is a ticket with everything the console shows beside it.
type View struct {
	Ticket   desk.Ticket    `json:"ticket"`
	Contact  desk.Contact   `json:"contact"`
	Messages []desk.Message `json:"messages"`
	Events   []desk.Event   `json:"events"`
}

// Patch changes some fields of a ticket; nil fields are left alone.
type Patch struct {
	Subject    *string
	Status     *desk.Status
	Priority   *desk.Priority
	Category   *string
	TeamID     *int64
	AssigneeID *int64
	Tags       *[]string
	Custom     *map[string]string
	Language   *string
}

func (s *Service) audit(ctx context.Context, tx store.Tx, a Actor, action string, ticketID int64, detail any) error {
	return s.auditTarget(ctx, tx, a, action, "ticket:"+strconv.FormatInt(ticketID, 10), detail)
}

func (s *Service) auditTarget(ctx context.Context, tx store.Tx, a Actor, action, target string, detail any) error {
	if !a.audited() {
		return nil
	}
	b, err := json.Marshal(detail)
	if err != nil {
		return fmt.Errorf("audit detail: %w", err)
	}
	e := desk.AuditEntry{
		ActorKind: a.Kind, ActorID: a.ID, ActorName: a.Name,
		Action: action, Target: target,
		Detail: string(b), IP: a.IP,
	}
	return tx.AppendAudit(ctx, &e)
}

// Create opens a ticket (and appends its first message when given).
func (s *Service) Create(ctx context.Context, a Actor, in CreateInput) (desk.Ticket, error) {
	if in.Channel == "" {
		in.Channel = desk.ChannelAPI
	}
	t := desk.Ticket{
		Channel: in.Channel, Subject: strings.TrimSpace(in.Subject), Status: in.Status,
		Priority: in.Priority, Category: in.Category, TeamID: in.TeamID, AssigneeID: in.AssigneeID,
		ContactID: in.ContactID, Tags: in.Tags, Custom: in.Custom, Language: in.Language,
	}
	if t.ContactID == 0 && in.Contact != nil {
		t.ContactID = 1 // placeholder so Validate checks the rest; resolved below
	}
	if err := t.Validate(); err != nil {
		return desk.Ticket{}, err
	}
	if in.ContactID == 0 && in.Contact != nil {
		if err := in.Contact.Validate(); err != nil {
			return desk.Ticket{}, prefixFields(err, "contact.")
		}
	}
	var first *draft
	if in.Message != nil {
		d, err := s.draft(a, *in.Message)
		if err != nil {
			return desk.Ticket{}, prefixFields(err, "message.")
		}
		first = &d
	}
	if a.Kind == desk.AuthorAgent && !a.All && t.TeamID == 0 && t.AssigneeID == 0 {
		// An agent without read_all must be able to see what they create.
		t.AssigneeID = a.ID
	}
	if t.AssigneeID != 0 && t.AssigneeID != a.ID && !a.CanAssign {
		return desk.Ticket{}, desk.Errorf(desk.EForbidden, "you may not assign tickets to others")
	}

	var msg *desk.Message
	err := s.st.Write(ctx, func(tx store.Tx) error {
		c, newContact, err := s.resolveContact(ctx, tx, a, in)
		if err != nil {
			return err
		}
		t.ContactID = c.ID
		t.Tier = c.VIPTier
		if t.Language == "" {
			t.Language = c.Language
		}
		if err := checkRefs(ctx, tx, t.TeamID, t.AssigneeID); err != nil {
			return err
		}
		if err := tx.CreateTicket(ctx, &t); err != nil {
			return err
		}
		if err := tx.AddEvent(ctx, &desk.Event{TicketID: t.ID, ActorKind: a.Kind, ActorID: a.ID, Field: "created", New: string(t.Status)}); err != nil {
			return err
		}
		if first != nil {
			m, _, err := s.appendTx(ctx, tx, a, &t, *first)
			if err != nil {
				return prefixFields(err, "message.")
			}
			msg = &m
		}
		if !a.CanSee(t) && a.Kind != desk.AuthorContact {
			// Created but invisible to its creator would be a trap; refuse.
			return desk.Errorf(desk.EForbidden, "you would not be able to see this ticket: set a team of yours or assign it to yourself")
		}
		// Audit last: the chain head is a lock shared by every audited write.
		if newContact {
			// Never personal data in the detail: the chain cannot be erased.
			if err := s.auditTarget(ctx, tx, a, "contact.create", "contact:"+strconv.FormatInt(c.ID, 10), map[string]any{"ticket_id": t.ID}); err != nil {
				return err
			}
		}
		if err := s.audit(ctx, tx, a, "ticket.create", t.ID, map[string]any{"subject_len": utf8.RuneCountInString(t.Subject), "channel": t.Channel, "team_id": t.TeamID, "assignee_id": t.AssigneeID}); err != nil {
			return err
		}
		if msg != nil {
			if err := s.auditMessage(ctx, tx, a, *msg); err != nil {
				return err
			}
		}
		if in.InTx != nil {
			return in.InTx(ctx, tx, t)
		}
		return nil
	})
	if err != nil {
		return desk.Ticket{}, err
	}
	s.publish(realtime.Event{Type: realtime.TicketCreated, Ticket: t, Actor: a.Kind, ActorID: a.ID})
	if msg != nil {
		s.publish(realtime.Event{Type: realtime.MessageCreated, Ticket: t, Message: msg, Actor: a.Kind, ActorID: a.ID})
	}
	return t, nil
}

// resolveContact finds the ticket's contact, or creates it from the inline
// contact (created=true) when the actor may write contacts.
func (s *Service) resolveContact(ctx context.Context, tx store.Tx, a Actor, in CreateInput) (c desk.Contact, created bool, err error) {
	if in.ContactID != 0 {
		c, err := tx.GetContact(ctx, in.ContactID)
		if err != nil {
			if desk.ErrorCode(err) == desk.ENotFound {
				return c, false, &desk.Error{Code: desk.EInvalid, Message: "validation failed", Fields: map[string]string{"contact_id": "no such contact"}}
			}
			return c, false, err
		}
		return c, false, nil
	}
	if in.Contact == nil {
		return desk.Contact{}, false, &desk.Error{Code: desk.EInvalid, Message: "validation failed", Fields: map[string]string{"contact_id": "is required (or give contact)"}}
	}
	c = *in.Contact
	if c.ExternalUID != "" {
		if got, err := tx.GetContactByUID(ctx, c.ExternalUID); err == nil {
			return got, false, nil
		} else if desk.ErrorCode(err) != desk.ENotFound {
			return got, false, err
		}
	} else if len(c.Emails) > 0 {
		got, err := tx.ListContacts(ctx, store.ContactFilter{Text: c.Emails[0], Limit: 5})
		if err != nil {
			return desk.Contact{}, false, err
		}
		for _, g := range got {
			for _, e := range g.Emails {
				if strings.EqualFold(e, c.Emails[0]) {
					return g, false, nil
				}
			}
		}
	}
	if !a.CanWriteContacts {
		// Creating a contact inline is creating a contact: the same
		// permission as POST /contacts.
		return c, false, desk.Errorf(desk.EForbidden, "creating a contact needs the contact.write permission; give contact_id or an existing contact")
	}
	if err := tx.CreateContact(ctx, &c); err != nil {
		return c, false, err
	}
	return c, true, nil
}

func checkRefs(ctx context.Context, tx store.Tx, teamID, assigneeID int64) error {
	p := desk.Problems{}
	if teamID != 0 {
		if _, err := tx.GetTeam(ctx, teamID); err != nil {
			if desk.ErrorCode(err) != desk.ENotFound {
				return err
			}
			p.Add("team_id", "no such team")
		}
	}
	if assigneeID != 0 {
		ag, err := tx.GetAgent(ctx, assigneeID)
		switch {
		case err != nil && desk.ErrorCode(err) != desk.ENotFound:
			return err
		case err != nil:
			p.Add("assignee_id", "no such agent")
		case ag.Disabled:
			p.Add("assignee_id", "agent is disabled")
		}
	}
	return p.Err()
}

func prefixFields(err error, prefix string) error {
	e, ok := err.(*desk.Error)
	if !ok || len(e.Fields) == 0 {
		return err
	}
	f := make(map[string]string, len(e.Fields))
	for k, v := range e.Fields {
		f[prefix+k] = v
	}
	return &desk.Error{Code: e.Code, Message: e.Message, Fields: f, Err: e.Err}
}

// Get returns a ticket with its contact, messages and events. A ticket the
// actor may not see does not exist for them.
func (s *Service) Get(ctx context.Context, a Actor, id int64) (View, error) {
	var v View
	err := s.st.Read(ctx, func(tx store.Tx) error {
		t, err := tx.GetTicket(ctx, id)
		if err != nil {
			return err
		}
		if !a.CanSee(t) {
			return desk.NotFound("ticket")
		}
		v.Ticket = t
		if v.Contact, err = tx.GetContact(ctx, t.ContactID); err != nil {
			return err
		}
		if v.Messages, err = tx.ListMessages(ctx, id, 0, 0, a.Kind != desk.AuthorContact); err != nil {
			return err
		}
		v.Events, err = tx.ListEvents(ctx, id)
		return err
	})
	return v, err
}

// List returns the tickets matching f that the actor may see, newest first,
// and the cursor of the next page (0 at the end).
func (s *Service) List(ctx context.Context, a Actor, f store.TicketFilter) ([]desk.Ticket, int64, error) {
	if f.Limit <= 0 {
		f.Limit = desk.DefaultPage
	}
	if f.Limit > desk.MaxPageSize {
		f.Limit = desk.MaxPageSize
	}
	// Free text goes into queries: PostgreSQL refuses NUL and invalid
	// UTF-8 with an error, so they are refused here as bad input.
	p := desk.Problems{}
	desk.CheckText(p, "q", f.Text, desk.MaxSubject, false)
	desk.CheckText(p, "tag", f.Tag, desk.MaxTag, false)
	if err := p.Err(); err != nil {
		return nil, 0, err
	}
	f.Tag = desk.NormalizeTag(f.Tag) // tags are stored normalised
	switch {
	case a.Kind == desk.AuthorContact:
		f.ContactID = a.ID
	case !a.All && (a.Kind == desk.AuthorAgent || a.Kind == desk.AuthorToken):
		f.VisibleTeams = append([]int64{}, a.Teams...)
		f.VisibleTo = a.ID
	}
	var out []desk.Ticket
	err := s.st.Read(ctx, func(tx store.Tx) error {
		var err error
		out, err = tx.ListTickets(ctx, f)
		return err
	})
	if err != nil {
		return nil, 0, err
	}
	var next int64
	if len(out) == f.Limit {
		next = out[len(out)-1].ID
	}
	return out, next, nil
}
