package sqldb

// tickets.go holds the store.Tx methods for tickets, messages, events,
// attachments, idempotency keys, the audit chain and devices.

import (
	"context"
	"crypto/rand"
	"database/sql"
	"errors"
	"strconv"
	"strings"
	"time"

	"custos/internal/desk"
	"custos/internal/store"
)

// crockford is Crockford's base32 alphabet: no I, L, O, U, so a reference
// read over the phone is not mistaken.
const crockford = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"

// refAttempts bounds retries on the (1 in 10^9 per ticket) Ref collision.
const refAttempts = 10

func newRef() string {
	var b [6]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails on supported platforms
	for i := range b {
		b[i] = crockford[int(b[i])%len(crockford)] // 256 is a multiple of 32: unbiased
	}
	return string(b[:])
}

const ticketCols = `id, ref, channel, subject, status, priority, category, team_id, assignee_id, contact_id, tier, tags, custom,
	language, last_seq, created_at, updated_at, first_response_at, last_customer_message_at, solved_at`

func (t *Tx) scanTicket(r scanner) (desk.Ticket, error) {
	var k desk.Ticket
	err := r.Scan(&k.ID, &k.Ref, &k.Channel, &k.Subject, &k.Status, &k.Priority, &k.Category, &k.TeamID, &k.AssigneeID,
		&k.ContactID, &k.Tier, jcol{&k.Tags}, jcol{&k.Custom}, &k.Language, &k.LastSeq, t.at(&k.CreatedAt), t.at(&k.UpdatedAt),
		t.atNull(&k.FirstResponseAt), t.atNull(&k.LastCustomerMsgAt), t.atNull(&k.SolvedAt))
	if k.Custom == nil {
		k.Custom = map[string]string{}
	}
	return k, err
}

func custom(p *map[string]string) any {
	if *p == nil {
		*p = map[string]string{}
	}
	return jsonDoc(*p)
}

func (t *Tx) CreateTicket(ctx context.Context, k *desk.Ticket) error {
	if k.CreatedAt.IsZero() {
		k.CreatedAt = now()
	}
	k.CreatedAt = norm(k.CreatedAt)
	k.UpdatedAt = k.CreatedAt
	k.LastSeq = 0
	k.FirstResponseAt, k.LastCustomerMsgAt, k.SolvedAt = normPtr(k.FirstResponseAt), normPtr(k.LastCustomerMsgAt), normPtr(k.SolvedAt)
	// ON CONFLICT DO NOTHING instead of catching the violation: on
	// PostgreSQL a failed statement would abort the whole transaction.
	for range refAttempts {
		ref := newRef()
		err := t.tx.QueryRowContext(ctx, `INSERT INTO tickets (ref, channel, subject, status, priority, category, team_id, assignee_id,
			contact_id, tier, tags, custom, language, last_seq, created_at, updated_at, first_response_at, last_customer_message_at, solved_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, 0, $14, $15, $16, $17, $18)
			ON CONFLICT (ref) DO NOTHING RETURNING id`,
			ref, string(k.Channel), k.Subject, string(k.Status), string(k.Priority), k.Category, k.TeamID, k.AssigneeID,
			k.ContactID, k.Tier, list(&k.Tags), custom(&k.Custom), k.Language, t.tv(k.CreatedAt), t.tv(k.UpdatedAt),
			t.tvNull(k.FirstResponseAt), t.tvNull(k.LastCustomerMsgAt), t.tvNull(k.SolvedAt)).Scan(&k.ID)
		if errors.Is(err, sql.ErrNoRows) {
			continue // ref taken; draw another
		}
		if err != nil {
			return Internal("create ticket", err)
		}
		k.Ref = ref
		return nil
	}
	return Internal("create ticket", errors.New("no free ticket reference after retries"))
}

func (t *Tx) UpdateTicket(ctx context.Context, k *desk.Ticket) error {
	k.UpdatedAt = now()
	k.FirstResponseAt, k.LastCustomerMsgAt, k.SolvedAt = normPtr(k.FirstResponseAt), normPtr(k.LastCustomerMsgAt), normPtr(k.SolvedAt)
	res, err := t.tx.ExecContext(ctx, `UPDATE tickets SET channel = $1, subject = $2, status = $3, priority = $4, category = $5,
		team_id = $6, assignee_id = $7, contact_id = $8, tier = $9, tags = $10, custom = $11, language = $12, updated_at = $13,
		first_response_at = $14, last_customer_message_at = $15, solved_at = $16 WHERE id = $17`,
		string(k.Channel), k.Subject, string(k.Status), string(k.Priority), k.Category, k.TeamID, k.AssigneeID, k.ContactID,
		k.Tier, list(&k.Tags), custom(&k.Custom), k.Language, t.tv(k.UpdatedAt), t.tvNull(k.FirstResponseAt),
		t.tvNull(k.LastCustomerMsgAt), t.tvNull(k.SolvedAt), k.ID)
	if err := t.affected("ticket", res, err); err != nil {
		return err
	}
	// LastSeq belongs to AppendMessage; report the stored one.
	if err := t.tx.QueryRowContext(ctx, `SELECT last_seq FROM tickets WHERE id = $1`, k.ID).Scan(&k.LastSeq); err != nil {
		return rowErr("ticket", err)
	}
	return nil
}

func (t *Tx) GetTicket(ctx context.Context, id int64) (desk.Ticket, error) {
	return queryOne(ctx, t, "ticket", t.scanTicket, `SELECT `+ticketCols+` FROM tickets WHERE id = $1`, id)
}

func (t *Tx) GetTicketByRef(ctx context.Context, ref string) (desk.Ticket, error) {
	return queryOne(ctx, t, "ticket", t.scanTicket, `SELECT `+ticketCols+` FROM tickets WHERE ref = $1`, ref)
}

func (t *Tx) ListTickets(ctx context.Context, f store.TicketFilter) ([]desk.Ticket, error) {
	var w where
	if len(f.Statuses) > 0 {
		vals := make([]any, len(f.Statuses))
		for i, s := range f.Statuses {
			vals[i] = string(s)
		}
		w.in("status", vals)
	}
	if len(f.TeamIDs) > 0 {
		vals := make([]any, len(f.TeamIDs))
		for i, id := range f.TeamIDs {
			vals[i] = id
		}
		w.in("team_id", vals)
	}
	switch {
	case f.AssigneeID > 0:
		w.add("assignee_id = " + w.arg(f.AssigneeID))
	case f.AssigneeID < 0:
		w.add("assignee_id = 0")
	}
	if f.ContactID != 0 {
		w.add("contact_id = " + w.arg(f.ContactID))
	}
	if f.Channel != "" {
		w.add("channel = " + w.arg(string(f.Channel)))
	}
	if f.Tag != "" {
		w.add(t.d.TagCond("tags", w.arg(f.Tag)))
	}
	if f.Text != "" {
		p := w.arg(likePattern(f.Text))
		w.add(`(lower(subject) LIKE ` + p + ` ESCAPE '\' OR lower(ref) LIKE ` + p + ` ESCAPE '\')`)
	}
	if f.VisibleTeams != nil {
		// VisibleTo 0 is nobody: it must not make unassigned tickets visible.
		var or []string
		if len(f.VisibleTeams) > 0 {
			vals := make([]any, len(f.VisibleTeams))
			for i, id := range f.VisibleTeams {
				vals[i] = id
			}
			tw := where{args: w.args}
			tw.in("team_id", vals)
			w.args = tw.args
			or = append(or, tw.conds[0])
		}
		if f.VisibleTo > 0 {
			or = append(or, "assignee_id = "+w.arg(f.VisibleTo))
		}
		if len(or) == 0 {
			or = append(or, "1 = 0")
		}
		w.add("(" + strings.Join(or, " OR ") + ")")
	}
	if f.Cursor > 0 {
		w.add("id < " + w.arg(f.Cursor))
	}
	q := `SELECT ` + ticketCols + ` FROM tickets` + w.String() + ` ORDER BY id DESC LIMIT ` + strconv.Itoa(limit(f.Limit))
	return queryAll(ctx, t, "list tickets", t.scanTicket, q, w.args...)
}

func (t *Tx) CountOpenChats(ctx context.Context, agentID int64) (int, error) {
	var n int
	err := t.tx.QueryRowContext(ctx, `SELECT count(*) FROM tickets WHERE assignee_id = $1 AND channel = $2 AND status IN ($3, $4, $5)`,
		agentID, string(desk.ChannelChat), string(desk.StatusNew), string(desk.StatusOpen), string(desk.StatusPending)).Scan(&n)
	if err != nil {
		return 0, Internal("count open chats", err)
	}
	return n, nil
}

func (t *Tx) QueuePosition(ctx context.Context, ticketID int64) (int, error) {
	var created int64
	var createdAt time.Time
	err := t.tx.QueryRowContext(ctx, `SELECT id, created_at FROM tickets WHERE id = $1`, ticketID).Scan(&created, t.at(&createdAt))
	if err != nil {
		return 0, rowErr("ticket", err)
	}
	// Order by creation time, then ID, so imported tickets with an earlier
	// CreatedAt still queue first.
	var n int
	err = t.tx.QueryRowContext(ctx, `SELECT count(*) FROM tickets WHERE channel = $1 AND status = $2 AND assignee_id = 0
		AND (created_at < $3 OR (created_at = $3 AND id < $4))`,
		string(desk.ChannelChat), string(desk.StatusNew), t.tv(createdAt), ticketID).Scan(&n)
	if err != nil {
		return 0, Internal("queue position", err)
	}
	return n, nil
}

// ---- messages ----

const messageCols = `id, ticket_id, seq, author_kind, author_id, author_name, internal, text, html, attachments, client_id, created_at`

func (t *Tx) scanMessage(r scanner) (desk.Message, error) {
	var m desk.Message
	err := r.Scan(&m.ID, &m.TicketID, &m.Seq, &m.AuthorKind, &m.AuthorID, &m.AuthorName, &m.Internal, &m.Text, &m.HTML,
		jcol{&m.Attachments}, &m.ClientID, t.at(&m.CreatedAt))
	if m.Attachments == nil {
		m.Attachments = []desk.Attachment{}
	}
	return m, err
}

func (t *Tx) AppendMessage(ctx context.Context, m *desk.Message) (bool, error) {
	// Lock the ticket first (a row lock on PostgreSQL), so concurrent
	// appends, and resends of one client id, queue up behind each other.
	var lastSeq int64
	if err := t.tx.QueryRowContext(ctx, t.d.LockTicket, m.TicketID).Scan(&lastSeq); err != nil {
		return false, rowErr("ticket", err)
	}
	if m.ClientID != "" {
		stored, err := t.scanMessage(t.tx.QueryRowContext(ctx, `SELECT `+messageCols+` FROM messages WHERE ticket_id = $1 AND client_id = $2`,
			m.TicketID, m.ClientID))
		if err == nil {
			*m = stored
			return true, nil
		}
		if !errors.Is(err, sql.ErrNoRows) {
			return false, Internal("append message", err)
		}
	}
	if m.CreatedAt.IsZero() {
		m.CreatedAt = now()
	}
	m.CreatedAt = norm(m.CreatedAt)
	set := `last_seq = last_seq + 1, updated_at = $1`
	switch {
	case m.AuthorKind == desk.AuthorContact:
		set += `, last_customer_message_at = $1`
	case m.AuthorKind == desk.AuthorAgent && !m.Internal:
		set += `, first_response_at = COALESCE(first_response_at, $1)`
	}
	if err := t.tx.QueryRowContext(ctx, `UPDATE tickets SET `+set+` WHERE id = $2 RETURNING last_seq`,
		t.tv(m.CreatedAt), m.TicketID).Scan(&m.Seq); err != nil {
		return false, rowErr("ticket", err)
	}
	err := t.tx.QueryRowContext(ctx, `INSERT INTO messages (ticket_id, seq, author_kind, author_id, author_name, internal, text, html,
		attachments, client_id, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) RETURNING id`,
		m.TicketID, m.Seq, string(m.AuthorKind), m.AuthorID, m.AuthorName, m.Internal, m.Text, m.HTML, list(&m.Attachments),
		m.ClientID, t.tv(m.CreatedAt)).Scan(&m.ID)
	if err != nil {
		return false, t.dbErr("append message", "message already exists", err)
	}
	if m.Attachments == nil {
		m.Attachments = []desk.Attachment{}
	}
	return false, nil
}

func (t *Tx) FindContactMessage(ctx context.Context, contactID int64, clientID string) (desk.Message, error) {
	if clientID == "" {
		return desk.Message{}, desk.NotFound("message")
	}
	// The literal predicates match the partial index messages_contact_client_id.
	m, err := t.scanMessage(t.tx.QueryRowContext(ctx, `SELECT `+messageCols+` FROM messages
		WHERE author_kind = 'contact' AND client_id <> '' AND author_id = $1 AND client_id = $2 ORDER BY id LIMIT 1`, contactID, clientID))
	if err != nil {
		return desk.Message{}, rowErr("message", err)
	}
	return m, nil
}

func (t *Tx) ListMessages(ctx context.Context, ticketID, afterSeq int64, limit int, includeInternal bool) ([]desk.Message, error) {
	q := `SELECT ` + messageCols + ` FROM messages WHERE ticket_id = $1 AND seq > $2`
	args := []any{ticketID, afterSeq}
	if !includeInternal {
		q += ` AND internal = $3`
		args = append(args, false)
	}
	q += ` ORDER BY seq`
	if limit > 0 {
		q += ` LIMIT ` + strconv.Itoa(limit)
	}
	return queryAll(ctx, t, "list messages", t.scanMessage, q, args...)
}

// ---- events ----

func (t *Tx) AddEvent(ctx context.Context, e *desk.Event) error {
	if e.CreatedAt.IsZero() {
		e.CreatedAt = now()
	}
	e.CreatedAt = norm(e.CreatedAt)
	err := t.tx.QueryRowContext(ctx, `INSERT INTO events (ticket_id, actor_kind, actor_id, field, old, new, created_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id`,
		e.TicketID, string(e.ActorKind), e.ActorID, e.Field, e.Old, e.New, t.tv(e.CreatedAt)).Scan(&e.ID)
	if err != nil {
		return Internal("add event", err)
	}
	return nil
}

func (t *Tx) ListEvents(ctx context.Context, ticketID int64) ([]desk.Event, error) {
	return queryAll(ctx, t, "list events", func(r scanner) (desk.Event, error) {
		var e desk.Event
		err := r.Scan(&e.ID, &e.TicketID, &e.ActorKind, &e.ActorID, &e.Field, &e.Old, &e.New, t.at(&e.CreatedAt))
		return e, err
	}, `SELECT id, ticket_id, actor_kind, actor_id, field, old, new, created_at FROM events
		WHERE ticket_id = $1 ORDER BY id`, ticketID)
}

// ---- attachments ----

func (t *Tx) CreateAttachment(ctx context.Context, a *desk.Attachment) error {
	if a.CreatedAt.IsZero() {
		a.CreatedAt = now()
	}
	a.CreatedAt = norm(a.CreatedAt)
	res, err := t.tx.ExecContext(ctx, `INSERT INTO attachments (id, ticket_id, name, content_type, size, sha256, uploader_kind, uploader_id, created_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT DO NOTHING`,
		a.ID, a.TicketID, a.Name, a.ContentType, a.Size, a.SHA256, string(a.UploaderKind), a.UploaderID, t.tv(a.CreatedAt))
	if err != nil {
		return Internal("create attachment", err)
	}
	if n, err := res.RowsAffected(); err != nil || n == 0 {
		return conflict("attachment already exists", err)
	}
	return nil
}

func (t *Tx) GetAttachment(ctx context.Context, id string) (desk.Attachment, error) {
	var a desk.Attachment
	err := t.tx.QueryRowContext(ctx, `SELECT id, ticket_id, name, content_type, size, sha256, uploader_kind, uploader_id, created_at
		FROM attachments WHERE id = $1`, id).Scan(&a.ID, &a.TicketID, &a.Name, &a.ContentType, &a.Size, &a.SHA256,
		&a.UploaderKind, &a.UploaderID, t.at(&a.CreatedAt))
	if err != nil {
		return desk.Attachment{}, rowErr("attachment", err)
	}
	return a, nil
}

func (t *Tx) PutBlob(ctx context.Context, id string, data []byte) error {
	if data == nil {
		data = []byte{}
	}
	if _, err := t.tx.ExecContext(ctx, `INSERT INTO attachment_blobs (id, data) VALUES ($1, $2)`, id, data); err != nil {
		return t.dbErr("put blob", "blob already exists", err)
	}
	return nil
}

func (t *Tx) GetBlob(ctx context.Context, id string) ([]byte, error) {
	var data []byte
	if err := t.tx.QueryRowContext(ctx, `SELECT data FROM attachment_blobs WHERE id = $1`, id).Scan(&data); err != nil {
		return nil, rowErr("attachment", err)
	}
	return data, nil
}

func (t *Tx) DeleteBlob(ctx context.Context, id string) error {
	if _, err := t.tx.ExecContext(ctx, `DELETE FROM attachment_blobs WHERE id = $1`, id); err != nil {
		return Internal("delete blob", err)
	}
	return nil
}

func (t *Tx) LinkAttachment(ctx context.Context, id string, ticketID int64) error {
	res, err := t.tx.ExecContext(ctx, `UPDATE attachments SET ticket_id = $1 WHERE id = $2`, ticketID, id)
	return t.affected("attachment", res, err)
}

// ---- idempotency ----

func (t *Tx) GetIdempotency(ctx context.Context, key string) (desk.IdempotencyRecord, error) {
	var r desk.IdempotencyRecord
	err := t.tx.QueryRowContext(ctx, `SELECT key, status, body, created_at FROM idempotency WHERE key = $1`, key).
		Scan(&r.Key, &r.Status, &r.Body, t.at(&r.CreatedAt))
	if err != nil {
		return desk.IdempotencyRecord{}, rowErr("idempotency key", err)
	}
	if r.Body == nil {
		r.Body = []byte{}
	}
	return r, nil
}

func (t *Tx) PutIdempotency(ctx context.Context, r desk.IdempotencyRecord) error {
	if r.CreatedAt.IsZero() {
		r.CreatedAt = now()
	}
	if r.Body == nil {
		r.Body = []byte{}
	}
	res, err := t.tx.ExecContext(ctx, `INSERT INTO idempotency (key, status, body, created_at) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING`,
		r.Key, r.Status, r.Body, t.tv(r.CreatedAt))
	if err != nil {
		return Internal("put idempotency key", err)
	}
	if n, err := res.RowsAffected(); err != nil || n == 0 {
		return conflict("idempotency key already used", err)
	}
	return nil
}

// ---- audit ----

func (t *Tx) AppendAudit(ctx context.Context, e *desk.AuditEntry) error {
	// Bumping the one-row head takes its lock (the write lock on SQLite, a
	// row lock on PostgreSQL) until commit: appends are serialised, IDs are
	// gapless and every PrevHash is the hash that really came before.
	var prevID int64
	var prevHash string
	if err := t.tx.QueryRowContext(ctx, `UPDATE audit_head SET last_id = last_id + 1 WHERE one = 1 RETURNING last_id - 1, last_hash`).
		Scan(&prevID, &prevHash); err != nil {
		return Internal("append audit", err)
	}
	e.ID = prevID + 1
	e.PrevHash = prevHash
	if e.At.IsZero() {
		e.At = now()
	}
	e.At = norm(e.At)
	e.Hash = desk.AuditHash(*e)
	if _, err := t.tx.ExecContext(ctx, `INSERT INTO audit (id, at, actor_kind, actor_id, actor_name, action, target, detail, ip, prev_hash, hash)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`,
		e.ID, t.tv(e.At), string(e.ActorKind), e.ActorID, e.ActorName, e.Action, e.Target, e.Detail, e.IP, e.PrevHash, e.Hash); err != nil {
		return Internal("append audit", err)
	}
	if _, err := t.tx.ExecContext(ctx, `UPDATE audit_head SET last_hash = $1 WHERE one = 1`, e.Hash); err != nil {
		return Internal("append audit", err)
	}
	return nil
}

func (t *Tx) AuditHead(ctx context.Context) (int64, string, error) {
	var id int64
	var hash string
	if err := t.tx.QueryRowContext(ctx, `SELECT last_id, last_hash FROM audit_head WHERE one = 1`).Scan(&id, &hash); err != nil {
		return 0, "", Internal("audit head", err)
	}
	return id, hash, nil
}

func (t *Tx) ListAudit(ctx context.Context, afterID int64, limit int) ([]desk.AuditEntry, error) {
	q := `SELECT id, at, actor_kind, actor_id, actor_name, action, target, detail, ip, prev_hash, hash FROM audit WHERE id > $1 ORDER BY id`
	if limit > 0 {
		q += ` LIMIT ` + strconv.Itoa(limit)
	}
	return queryAll(ctx, t, "list audit", func(r scanner) (desk.AuditEntry, error) {
		var e desk.AuditEntry
		err := r.Scan(&e.ID, t.at(&e.At), &e.ActorKind, &e.ActorID, &e.ActorName, &e.Action, &e.Target, &e.Detail,
			&e.IP, &e.PrevHash, &e.Hash)
		return e, err
	}, q, afterID)
}

// ---- devices ----

func (t *Tx) GetDevice(ctx context.Context, hash string) (int64, error) {
	var id int64
	if err := t.tx.QueryRowContext(ctx, `SELECT contact_id FROM devices WHERE hash = $1`, hash).Scan(&id); err != nil {
		return 0, rowErr("device", err)
	}
	return id, nil
}

func (t *Tx) PutDevice(ctx context.Context, hash string, contactID int64) error {
	if _, err := t.tx.ExecContext(ctx, `INSERT INTO devices (hash, contact_id) VALUES ($1, $2)
		ON CONFLICT (hash) DO UPDATE SET contact_id = excluded.contact_id`, hash, contactID); err != nil {
		return Internal("put device", err)
	}
	return nil
}
