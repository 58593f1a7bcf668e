package tickets

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"custos/internal/desk"
	"custos/internal/realtime"
	"custos/internal/store"
)

// Update applies p to ticket id, recording one event per changed field.
func (s *Service) Update(ctx context.Context, a Actor, id int64, p Patch) (desk.Ticket, error) {
	var t desk.Ticket
	var sysMsg *desk.Message
	var changed []desk.Event
	err := s.st.Write(ctx, func(tx store.Tx) error {
		var err error
		t, err = tx.GetTicket(ctx, id)
		if err != nil {
			return err
		}
		if !a.CanSee(t) {
			return desk.NotFound("ticket")
		}
		if t.Status == desk.StatusClosed {
			return desk.Errorf(desk.EConflict, "the ticket is closed; open a follow-up instead")
		}
		old := t
		apply(&t, p)
		if err := t.Validate(); err != nil {
			return err
		}
		if t.AssigneeID != old.AssigneeID && t.AssigneeID != 0 && t.AssigneeID != a.ID && !a.CanAssign {
			return desk.Errorf(desk.EForbidden, "you may not assign tickets to others")
		}
		if err := checkRefs(ctx, tx, teamIfChanged(t, old), assigneeIfChanged(t, old)); err != nil {
			return err
		}
		if t.AssigneeID != old.AssigneeID {
			if err := checkChatLimit(ctx, tx, t, t.AssigneeID); err != nil {
				return err
			}
		}
		now := s.now()
		if t.Status == desk.StatusSolved && old.Status != desk.StatusSolved {
			t.SolvedAt = &now
		} else if t.Status != desk.StatusSolved && t.Status != desk.StatusClosed {
			t.SolvedAt = nil
		}
		changed = diff(old, t, a)
		if len(changed) == 0 {
			return nil
		}
		if err := tx.UpdateTicket(ctx, &t); err != nil {
			return err
		}
		for i := range changed {
			if err := tx.AddEvent(ctx, &changed[i]); err != nil {
				return err
			}
		}
		if t.Channel == desk.ChannelChat && t.AssigneeID != 0 && t.AssigneeID != old.AssigneeID {
			if sysMsg, err = s.joinedMessage(ctx, tx, &t); err != nil {
				return err
			}
		}
		return s.audit(ctx, tx, a, "ticket.update", t.ID, updateAuditDetail(old, t, changed))
	})
	if err != nil {
		return desk.Ticket{}, err
	}
	if len(changed) > 0 {
		s.publish(realtime.Event{Type: realtime.TicketUpdated, Ticket: t, Actor: a.Kind, ActorID: a.ID})
	}
	if sysMsg != nil {
		s.publish(realtime.Event{Type: realtime.MessageCreated, Ticket: t, Message: sysMsg, Actor: desk.AuthorSystem})
	}
	return t, nil
}

// checkChatLimit refuses to give agentID another open chat when they
// already carry their concurrent-chat limit (Agent.ChatLimit). Other
// channels, closed-out tickets and unassignment are not limited.
func checkChatLimit(ctx context.Context, tx store.Tx, t desk.Ticket, agentID int64) error {
	if agentID == 0 || t.Channel != desk.ChannelChat || t.Status == desk.StatusSolved || t.Status == desk.StatusClosed {
		return nil
	}
	ag, err := tx.GetAgent(ctx, agentID)
	if err != nil {
		return err
	}
	n, err := tx.CountOpenChats(ctx, agentID)
	if err != nil {
		return err
	}
	if n >= ag.ChatLimit {
		return &desk.Error{Code: desk.EConflict, Message: fmt.Sprintf("%s is at their limit of %d concurrent chats", ag.Name, ag.ChatLimit),
			Fields: map[string]string{"assignee_id": "agent is at their concurrent-chat limit"}}
	}
	return nil
}

// joinedMessage tells a chat customer that a person has taken their chat.
func (s *Service) joinedMessage(ctx context.Context, tx store.Tx, t *desk.Ticket) (*desk.Message, error) {
	ag, err := tx.GetAgent(ctx, t.AssigneeID)
	if err != nil {
		return nil, err
	}
	m := desk.Message{TicketID: t.ID, AuthorKind: desk.AuthorSystem, AuthorName: "Custos", Text: ag.Name + " joined the conversation"}
	if _, err := tx.AppendMessage(ctx, &m); err != nil {
		return nil, err
	}
	t.LastSeq = m.Seq
	return &m, nil
}

func teamIfChanged(t, old desk.Ticket) int64 {
	if t.TeamID != old.TeamID {
		return t.TeamID
	}
	return 0
}

func assigneeIfChanged(t, old desk.Ticket) int64 {
	if t.AssigneeID != old.AssigneeID {
		return t.AssigneeID
	}
	return 0
}

func apply(t *desk.Ticket, p Patch) {
	if p.Subject != nil {
		t.Subject = strings.TrimSpace(*p.Subject)
	}
	if p.Status != nil {
		t.Status = *p.Status
	}
	if p.Priority != nil {
		t.Priority = *p.Priority
	}
	if p.Category != nil {
		t.Category = *p.Category
	}
	if p.TeamID != nil {
		t.TeamID = *p.TeamID
	}
	if p.AssigneeID != nil {
		t.AssigneeID = *p.AssigneeID
	}
	if p.Tags != nil {
		t.Tags = append([]string{}, (*p.Tags)...)
	}
	if p.Custom != nil {
		t.Custom = make(map[string]string, len(*p.Custom))
		for k, v := range *p.Custom {
			t.Custom[k] = v
		}
	}
	if p.Language != nil {
		t.Language = *p.Language
	}
}

func diff(old, t desk.Ticket, a Actor) []desk.Event {
	var out []desk.Event
	add := func(field, o, n string) {
		if o != n {
			out = append(out, desk.Event{TicketID: t.ID, ActorKind: a.Kind, ActorID: a.ID, Field: field, Old: o, New: n})
		}
	}
	i := func(v int64) string {
		if v == 0 {
			return ""
		}
		return strconv.FormatInt(v, 10)
	}
	add("subject", old.Subject, t.Subject)
	add("status", string(old.Status), string(t.Status))
	add("priority", string(old.Priority), string(t.Priority))
	add("category", old.Category, t.Category)
	add("team_id", i(old.TeamID), i(t.TeamID))
	add("assignee_id", i(old.AssigneeID), i(t.AssigneeID))
	add("tags", strings.Join(old.Tags, ","), strings.Join(t.Tags, ","))
	add("language", old.Language, t.Language)
	add("custom", customString(old.Custom), customString(t.Custom))
	return out
}

func customString(m map[string]string) string {
	var b strings.Builder
	for _, k := range slices.Sorted(maps.Keys(m)) {
		b.WriteString(k + "=" + m[k] + ";")
	}
	return b.String()
}

// updateAuditDetail is the audit record of a ticket update. The audit chain
// is append-only and cannot be erased, so it keeps no personal data: for
// free text (subject, category) only the lengths, for tags the counts, for
// custom fields the keys that changed. Enums and ids keep their values. The
// ticket's events, which can be edited or erased, keep the values.
func updateAuditDetail(old, t desk.Ticket, changed []desk.Event) map[string]any {
	lengths := func(o, n string) map[string]int {
		return map[string]int{"old_len": utf8.RuneCountInString(o), "new_len": utf8.RuneCountInString(n)}
	}
	d := make(map[string]any, len(changed))
	for _, e := range changed {
		switch e.Field {
		case "status", "priority", "team_id", "assignee_id", "language":
			d[e.Field] = map[string]string{"old": e.Old, "new": e.New}
		case "subject":
			d[e.Field] = lengths(old.Subject, t.Subject)
		case "category":
			d[e.Field] = lengths(old.Category, t.Category)
		case "tags":
			d[e.Field] = map[string]int{"old_count": len(old.Tags), "new_count": len(t.Tags)}
		case "custom":
			d[e.Field] = map[string][]string{"keys": changedKeys(old.Custom, t.Custom)}
		default:
			// A field added later is recorded without its value until
			// someone decides its value is safe to keep forever.
			d[e.Field] = map[string]bool{"changed": true}
		}
	}
	return d
}

// changedKeys lists, sorted, the keys added, removed or changed from a to b.
func changedKeys(a, b map[string]string) []string {
	keys := []string{}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			keys = append(keys, k)
		}
	}
	for k := range b {
		if _, ok := a[k]; !ok {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	return keys
}

// AddMessage appends a reply or note to ticket ticketID. A resend with the
// same ClientID returns the stored message and dup=true.
func (s *Service) AddMessage(ctx context.Context, a Actor, ticketID int64, in MessageInput) (desk.Message, bool, error) {
	var (
		m      desk.Message
		t      desk.Ticket
		dup    bool
		before desk.Ticket
	)
	d, err := s.draft(a, in)
	if err != nil {
		return desk.Message{}, false, err
	}
	err = s.st.Write(ctx, func(tx store.Tx) error {
		var err error
		t, err = tx.GetTicket(ctx, ticketID)
		if err != nil {
			return err
		}
		if !a.CanSee(t) {
			return desk.NotFound("ticket")
		}
		before = t
		m, dup, err = s.appendTx(ctx, tx, a, &t, d)
		if err != nil || dup {
			return err
		}
		return s.auditMessage(ctx, tx, a, m)
	})
	if err != nil {
		return desk.Message{}, false, err
	}
	if !dup {
		s.publish(realtime.Event{Type: realtime.MessageCreated, Ticket: t, Message: &m, Actor: a.Kind, ActorID: a.ID})
		if t.Status != before.Status || t.AssigneeID != before.AssigneeID {
			s.publish(realtime.Event{Type: realtime.TicketUpdated, Ticket: t, Actor: a.Kind, ActorID: a.ID})
		}
	}
	return m, dup, nil
}

// appendTx appends d (from s.draft) to t inside tx, applying the side
// effects of a reply: a customer writing reopens a pending or solved ticket;
// an agent's public reply opens a new ticket and takes an unassigned one. t
// is updated in place.
func (s *Service) appendTx(ctx context.Context, tx store.Tx, a Actor, t *desk.Ticket, d draft) (desk.Message, bool, error) {
	if t.Status == desk.StatusClosed {
		return desk.Message{}, false, desk.Errorf(desk.EConflict, "the ticket is closed; open a follow-up instead")
	}
	m := d.msg
	m.TicketID = t.ID
	m.Attachments = nil
	for i, id := range d.attachmentIDs {
		att, err := tx.GetAttachment(ctx, id)
		field := "attachment_ids[" + strconv.Itoa(i) + "]"
		if err != nil {
			if desk.ErrorCode(err) == desk.ENotFound {
				return m, false, &desk.Error{Code: desk.EInvalid, Message: "validation failed", Fields: map[string]string{field: "no such attachment"}}
			}
			return m, false, err
		}
		if att.UploaderKind != a.Kind || att.UploaderID != a.ID || (att.TicketID != 0 && att.TicketID != t.ID) {
			return m, false, &desk.Error{Code: desk.EInvalid, Message: "validation failed", Fields: map[string]string{field: "not an attachment you uploaded"}}
		}
		if att.TicketID == 0 {
			if err := tx.LinkAttachment(ctx, id, t.ID); err != nil {
				return m, false, err
			}
			att.TicketID = t.ID
		}
		m.Attachments = append(m.Attachments, att)
	}
	if err := m.Validate(); err != nil {
		return m, false, err
	}
	dup, err := tx.AppendMessage(ctx, &m)
	if err != nil || dup {
		return m, dup, err
	}
	t.LastSeq = m.Seq
	old := *t
	switch {
	case a.Kind == desk.AuthorContact && (t.Status == desk.StatusPending || t.Status == desk.StatusSolved):
		t.Status = desk.StatusOpen
		t.SolvedAt = nil
	case a.Kind == desk.AuthorAgent && !m.Internal:
		if t.Status == desk.StatusNew {
			t.Status = desk.StatusOpen
		}
		if t.AssigneeID == 0 && checkChatLimit(ctx, tx, *t, a.ID) == nil {
			// Replying takes the ticket, unless that would put the agent
			// over their concurrent-chat limit: then it stays in the queue.
			t.AssigneeID = a.ID
		}
	}
	if a.Kind == desk.AuthorAgent && !m.Internal && t.FirstResponseAt == nil {
		at := m.CreatedAt
		t.FirstResponseAt = &at
	}
	if a.Kind == desk.AuthorContact {
		at := m.CreatedAt
		t.LastCustomerMsgAt = &at
	}
	t.UpdatedAt = m.CreatedAt
	if evs := diff(old, *t, a); len(evs) > 0 {
		if err := tx.UpdateTicket(ctx, t); err != nil {
			return m, false, err
		}
		for i := range evs {
			if err := tx.AddEvent(ctx, &evs[i]); err != nil {
				return m, false, err
			}
		}
	}
	return m, false, nil
}

// auditMessage records an appended message (never its text: it may hold
// personal data). Callers do it last in their transaction: the audit chain
// head is a lock every audited write shares, so it is held only briefly.
func (s *Service) auditMessage(ctx context.Context, tx store.Tx, a Actor, m desk.Message) error {
	return s.audit(ctx, tx, a, "message.create", m.TicketID, map[string]any{"seq": m.Seq, "internal": m.Internal, "length": utf8.RuneCountInString(m.Text), "attachments": len(m.Attachments)})
}
