// Package store is the storage contract: the one shared interface of Custos,
// because it has two real implementations (sqlite/, postgres/) and one test
// suite (storetest/) that both must pass.
//
// Every read and write runs inside a transaction handed to a callback, so a
// request is all-or-nothing: an error from the callback rolls back everything
// it did. Implementations must never return (zero, nil) for a missing row:
// they return an error that unwraps to desk.ErrNotFound. A unique-constraint
// violation unwraps to desk.ErrConflict.
package store

import (
	"context"
	"time"

	"custos/internal/desk"
)

// Store opens transactions. Write transactions are serialised (SQLite has
// one writer connection; PostgreSQL serialises what must be, e.g. the audit
// chain head and per-ticket sequences, with row locks).
type Store interface {
	// Read runs fn in a read-only transaction (a reader connection on SQLite).
	Read(ctx context.Context, fn func(Tx) error) error
	// Write runs fn in a read-write transaction and commits durably (SQLite
	// synchronous=FULL, PostgreSQL synchronous_commit=on) before returning nil.
	Write(ctx context.Context, fn func(Tx) error) error
	// Ping checks the database answers (readiness).
	Ping(ctx context.Context) error
	// Dialect is "sqlite" or "postgres".
	Dialect() string
	Close() error
}

// Tx is what a transaction can do. Methods that create rows fill in the
// generated fields (ID, Ref, Seq, CreatedAt, UpdatedAt, Hash, ...) of the
// value passed by pointer.
type Tx interface {
	// Savepoint runs fn inside a savepoint of this transaction: an error from
	// fn undoes only what fn did, and is returned. The group-commit writer
	// (Batcher) runs each caller's work in its own savepoint so one caller's
	// failure never undoes another's.
	Savepoint(ctx context.Context, fn func(Tx) error) error

	// Contacts.
	CreateContact(ctx context.Context, c *desk.Contact) error
	UpdateContact(ctx context.Context, c *desk.Contact) error
	GetContact(ctx context.Context, id int64) (desk.Contact, error)
	GetContactByUID(ctx context.Context, externalUID string) (desk.Contact, error)
	ListContacts(ctx context.Context, f ContactFilter) ([]desk.Contact, error)

	// Teams.
	CreateTeam(ctx context.Context, t *desk.Team) error
	UpdateTeam(ctx context.Context, t *desk.Team) error
	GetTeam(ctx context.Context, id int64) (desk.Team, error)
	ListTeams(ctx context.Context) ([]desk.Team, error)

	// Agents. Secrets are stored beside the agent but read only through
	// GetAgentSecrets.
	CreateAgent(ctx context.Context, a *desk.Agent, passwordHash string) error
	UpdateAgent(ctx context.Context, a *desk.Agent) error
	GetAgent(ctx context.Context, id int64) (desk.Agent, error)
	GetAgentByLogin(ctx context.Context, login string) (desk.Agent, error)
	ListAgents(ctx context.Context) ([]desk.Agent, error)
	// ListStalePresence returns the agents shown online or away who have
	// no session seen at or after seenBefore: nobody has their console open.
	ListStalePresence(ctx context.Context, seenBefore time.Time) ([]desk.Agent, error)
	GetAgentSecrets(ctx context.Context, agentID int64) (desk.AgentSecrets, error)
	// SetAgentSecrets replaces password hash, TOTP secret, failed-login count
	// and lock time at once.
	SetAgentSecrets(ctx context.Context, s desk.AgentSecrets) error

	// Recovery codes: the single-use fallback for a lost authenticator,
	// kept as hashes. ReplaceRecoveryCodes deletes agentID's codes and
	// stores hashes in their place (none: the codes are just deleted).
	ReplaceRecoveryCodes(ctx context.Context, agentID int64, hashes []string) error
	// UseRecoveryCode deletes agentID's code with this hash and returns how
	// many codes the agent has left; ErrNotFound when there is no such
	// code. Of two transactions spending one code, only one succeeds.
	UseRecoveryCode(ctx context.Context, agentID int64, hash string) (left int, err error)
	CountRecoveryCodes(ctx context.Context, agentID int64) (int, error)

	// Sessions (agent console logins).
	CreateSession(ctx context.Context, s desk.Session) error
	GetSession(ctx context.Context, id string) (desk.Session, error)
	UpdateSession(ctx context.Context, s desk.Session) error
	DeleteSession(ctx context.Context, id string) error
	// DeleteAgentSessions logs an agent out everywhere (disable, password reset).
	DeleteAgentSessions(ctx context.Context, agentID int64) error
	DeleteExpiredSessions(ctx context.Context, now time.Time) (int64, error)

	// API tokens.
	CreateToken(ctx context.Context, t *desk.APIToken) error
	GetTokenByHash(ctx context.Context, hash string) (desk.APIToken, error)
	ListTokens(ctx context.Context) ([]desk.APIToken, error)
	TouchToken(ctx context.Context, id int64, at time.Time) error
	RevokeToken(ctx context.Context, id int64, at time.Time) error

	// Tickets. CreateTicket assigns ID, a unique random Ref, LastSeq 0 and
	// the timestamps (CreatedAt from t.CreatedAt when set, else now).
	CreateTicket(ctx context.Context, t *desk.Ticket) error
	// UpdateTicket writes every mutable field of t (by ID) and sets UpdatedAt.
	UpdateTicket(ctx context.Context, t *desk.Ticket) error
	GetTicket(ctx context.Context, id int64) (desk.Ticket, error)
	GetTicketByRef(ctx context.Context, ref string) (desk.Ticket, error)
	// ListTickets returns tickets newest first (by ID descending), at most
	// f.Limit, after f.Cursor (an ID: only IDs below it).
	ListTickets(ctx context.Context, f TicketFilter) ([]desk.Ticket, error)
	// CountOpenChats counts an agent's assigned chat tickets whose status is
	// new/open/pending (for the concurrent-chat limit).
	CountOpenChats(ctx context.Context, agentID int64) (int, error)
	// QueuePosition counts unassigned chat tickets with status new created
	// before ticket id (its 0-based place in the queue).
	QueuePosition(ctx context.Context, ticketID int64) (int, error)

	// Messages. AppendMessage gives m the next Seq of its ticket (ticket
	// last_seq+1, which it also stores on the ticket along with updated_at,
	// and last_customer_message_at / first_response_at as the author kind
	// says). If m.ClientID is set and the ticket already has a message with
	// that client id, nothing is written: m is overwritten with the stored
	// message and dup is true (err nil), so a resend is acknowledged with the
	// original Seq and never duplicated.
	AppendMessage(ctx context.Context, m *desk.Message) (dup bool, err error)
	// FindContactMessage returns the message contactID sent with clientID,
	// in any of their tickets (ErrNotFound if none): a customer's resend is
	// recognised even after the conversation it went to was solved.
	FindContactMessage(ctx context.Context, contactID int64, clientID string) (desk.Message, error)
	// ListMessages returns a ticket's messages with Seq > afterSeq in Seq
	// order, at most limit (0 = all). includeInternal false hides notes.
	ListMessages(ctx context.Context, ticketID, afterSeq int64, limit int, includeInternal bool) ([]desk.Message, error)

	// Events (ticket timeline).
	AddEvent(ctx context.Context, e *desk.Event) error
	ListEvents(ctx context.Context, ticketID int64) ([]desk.Event, error)

	// Attachments (metadata; bytes live in a blob store).
	CreateAttachment(ctx context.Context, a *desk.Attachment) error
	GetAttachment(ctx context.Context, id string) (desk.Attachment, error)
	// PutBlob, GetBlob and DeleteBlob keep attachment bytes in the
	// database (attach.DBBlobs). GetBlob of a missing id is ErrNotFound;
	// DeleteBlob of one is not an error.
	PutBlob(ctx context.Context, id string, data []byte) error
	GetBlob(ctx context.Context, id string) ([]byte, error)
	DeleteBlob(ctx context.Context, id string) error
	// LinkAttachment sets the ticket of an uploaded attachment.
	LinkAttachment(ctx context.Context, id string, ticketID int64) error

	// Idempotency keys for creates; PutIdempotency on an existing key is a
	// desk.ErrConflict.
	GetIdempotency(ctx context.Context, key string) (desk.IdempotencyRecord, error)
	PutIdempotency(ctx context.Context, r desk.IdempotencyRecord) error

	// Audit. AppendAudit locks the chain head, sets e.ID (previous+1),
	// e.PrevHash (previous hash, "" for the first) and e.Hash (AuditHash),
	// and inserts. There is no update or delete.
	AppendAudit(ctx context.Context, e *desk.AuditEntry) error
	// ListAudit returns entries with ID > afterID in ID order, at most limit.
	ListAudit(ctx context.Context, afterID int64, limit int) ([]desk.AuditEntry, error)
	// AuditHead returns the id and hash of the last entry appended, as the
	// chain head row records them ((0, "") for an empty chain): entries
	// deleted off the end of the chain leave the head pointing past them.
	AuditHead(ctx context.Context) (lastID int64, lastHash string, err error)

	// Device tokens of anonymous chat visitors (device token hash → contact).
	GetDevice(ctx context.Context, hash string) (contactID int64, err error)
	PutDevice(ctx context.Context, hash string, contactID int64) error
}

// TicketFilter selects tickets. Zero values mean "any".
type TicketFilter struct {
	Statuses   []desk.Status
	TeamIDs    []int64 // any of these teams
	AssigneeID int64   // -1 = unassigned only
	ContactID  int64
	Channel    desk.Channel
	Tag        string
	Text       string // case-insensitive substring of subject or ref
	// VisibleTeams, when non-nil, restricts to tickets of these teams or
	// assigned to VisibleTo (team scoping of an agent's view).
	VisibleTeams []int64
	VisibleTo    int64
	Cursor       int64 // return IDs < Cursor
	Limit        int
}

// ContactFilter selects contacts.
type ContactFilter struct {
	Text   string // case-insensitive substring of name or external uid, or a whole email address or phone number
	Cursor int64  // IDs < Cursor
	Limit  int
}
