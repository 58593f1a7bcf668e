package tickets

import (
	"context"
	"strings"
	"unicode/utf8"

	"custos/internal/desk"
	"custos/internal/realtime"
	"custos/internal/store"
)

var openStatuses = []desk.Status{desk.StatusNew, desk.StatusOpen, desk.StatusPending, desk.StatusOnHold}

func contactActor(c desk.Contact) Actor {
	return Actor{Kind: desk.AuthorContact, ID: c.ID, Name: c.Name}
}

// CurrentChat returns the contact's newest chat ticket that is not solved or
// closed, or an error that unwraps to desk.ErrNotFound.
func (s *Service) CurrentChat(ctx context.Context, contactID int64) (desk.Ticket, error) {
	var t desk.Ticket
	err := s.st.Read(ctx, func(tx store.Tx) error {
		var err error
		t, err = currentChat(ctx, tx, contactID)
		return err
	})
	return t, err
}

func currentChat(ctx context.Context, tx store.Tx, contactID int64) (desk.Ticket, error) {
	ts, err := tx.ListTickets(ctx, store.TicketFilter{ContactID: contactID, Channel: desk.ChannelChat, Statuses: openStatuses, Limit: 1})
	if err != nil {
		return desk.Ticket{}, err
	}
	if len(ts) == 0 {
		return desk.Ticket{}, desk.NotFound("conversation")
	}
	return ts[0], nil
}

// CustomerSend appends a customer's chat message to their current chat, or
// opens a new chat ticket when there is none. Resending a ClientID the
// customer already used is a duplicate (dup=true, the stored message and its
// ticket returned), whatever has happened to that conversation since.
func (s *Service) CustomerSend(ctx context.Context, c desk.Contact, in MessageInput, language string) (desk.Message, desk.Ticket, bool, error) {
	a := contactActor(c)
	in.Internal = false
	var (
		m       desk.Message
		t       desk.Ticket
		dup     bool
		created bool
		before  desk.Ticket
	)
	d, err := s.draft(a, in)
	if err != nil {
		return desk.Message{}, desk.Ticket{}, false, err
	}
	err = s.st.Write(ctx, func(tx store.Tx) error {
		if in.ClientID != "" {
			// A resend, maybe of a message that went to a conversation
			// solved since: answer with the stored message, in whichever
			// conversation it is.
			stored, err := tx.FindContactMessage(ctx, c.ID, in.ClientID)
			if err == nil {
				m, dup = stored, true
				t, err = tx.GetTicket(ctx, stored.TicketID)
				return err
			}
			if desk.ErrorCode(err) != desk.ENotFound {
				return err
			}
		}
		var err error
		t, err = currentChat(ctx, tx, c.ID)
		switch {
		case err == nil:
		case desk.ErrorCode(err) == desk.ENotFound:
			t = desk.Ticket{
				Channel: desk.ChannelChat, Subject: chatSubject(d.msg.Text), ContactID: c.ID,
				Tier: c.VIPTier, Language: firstNonEmpty(language, c.Language), Status: desk.StatusNew,
				Priority: desk.PriorityNormal,
			}
			if c.VIPTier > 0 {
				t.Priority = desk.PriorityHigh
			}
			if t.TeamID, err = entryTeam(ctx, tx, c); err != nil {
				return err
			}
			if err := t.Validate(); err != nil {
				return err
			}
			if err := tx.CreateTicket(ctx, &t); err != nil {
				return err
			}
			if err := tx.AddEvent(ctx, &desk.Event{TicketID: t.ID, ActorKind: desk.AuthorContact, ActorID: c.ID, Field: "created", New: string(t.Status)}); err != nil {
				return err
			}
			created = true
		default:
			return err
		}
		before = t
		m, dup, err = s.appendTx(ctx, tx, a, &t, d)
		return err
	})
	if err != nil {
		return desk.Message{}, desk.Ticket{}, false, err
	}
	if created {
		s.publish(realtime.Event{Type: realtime.TicketCreated, Ticket: t, Actor: desk.AuthorContact, ActorID: c.ID})
	}
	if !dup {
		s.publish(realtime.Event{Type: realtime.MessageCreated, Ticket: t, Message: &m, Actor: desk.AuthorContact, ActorID: c.ID})
		if !created && t.Status != before.Status {
			s.publish(realtime.Event{Type: realtime.TicketUpdated, Ticket: t, Actor: desk.AuthorContact, ActorID: c.ID})
		}
	}
	return m, t, dup, nil
}

// entryTeam is where a new chat lands until the routing engine decides
// better: VIP customers go to the first VIP team (bypassing L1 and L2), others
// to the first L1 team; 0 when the desk has no such team.
func entryTeam(ctx context.Context, tx store.Tx, c desk.Contact) (int64, error) {
	teams, err := tx.ListTeams(ctx)
	if err != nil {
		return 0, err
	}
	want := desk.TeamL1
	if c.VIPTier > 0 {
		want = desk.TeamVIP
	}
	var l1 int64
	for _, tm := range teams {
		if tm.Kind == want && (c.VIPTier == 0 || want == desk.TeamVIP) {
			return tm.ID, nil
		}
		if tm.Kind == desk.TeamL1 && l1 == 0 {
			l1 = tm.ID
		}
	}
	return l1, nil
}

// CustomerMessages returns the customer-visible messages of one of the
// contact's tickets after afterSeq.
func (s *Service) CustomerMessages(ctx context.Context, contactID, ticketID, afterSeq int64, limit int) ([]desk.Message, error) {
	var out []desk.Message
	err := s.st.Read(ctx, func(tx store.Tx) error {
		t, err := tx.GetTicket(ctx, ticketID)
		if err != nil {
			return err
		}
		if t.ContactID != contactID {
			return desk.NotFound("conversation")
		}
		out, err = tx.ListMessages(ctx, ticketID, afterSeq, limit, false)
		return err
	})
	return out, err
}

// chatSubject makes a subject from the first line of the first message.
func chatSubject(text string) string {
	line, _, _ := strings.Cut(strings.TrimSpace(text), "\n")
	line = strings.TrimSpace(line)
	if line == "" {
		return "Chat"
	}
	const max = 80
	if utf8.RuneCountInString(line) > max {
		r := []rune(line)
		line = string(r[:max]) + "…"
	}
	return line
}

func firstNonEmpty(xs ...string) string {
	for _, x := range xs {
		if x != "" {
			return x
		}
	}
	return ""
}
