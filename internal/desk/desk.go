// Package desk holds Custos's domain: the types every channel, service and
// store speaks (contacts, agents, teams, tickets, messages, events, the audit
// trail), their validation and the one error type with stable codes.
//
// desk imports nothing of ours and does no I/O. Everything else points at it.
package desk

import (
	"time"
)

// Channel is where a ticket came from. Every channel lands in one inbox.
type Channel string

const (
	ChannelChat     Channel = "chat"     // web widget and in-app chat (WebSocket protocol)
	ChannelEmail    Channel = "email"    // inbound SMTP/IMAP
	ChannelAPI      Channel = "api"      // created through the REST API by an integration
	ChannelWeb      Channel = "web"      // web form / help center
	ChannelTelegram Channel = "telegram" // Telegram bot
	ChannelSocial   Channel = "social"   // X, Facebook, WhatsApp, KakaoTalk via the channel API
	ChannelPhone    Channel = "phone"    // a logged phone call
)

// Channels lists every valid channel, in display order.
var Channels = []Channel{ChannelChat, ChannelEmail, ChannelAPI, ChannelWeb, ChannelTelegram, ChannelSocial, ChannelPhone}

// Status is a ticket's place in its life cycle.
type Status string

const (
	StatusNew     Status = "new"
	StatusOpen    Status = "open"
	StatusPending Status = "pending" // waiting on the customer
	StatusOnHold  Status = "on-hold" // waiting on a third party / another team
	StatusSolved  Status = "solved"
	StatusClosed  Status = "closed" // final; reopening creates a follow-up
)

// Statuses lists every valid status, in life-cycle order.
var Statuses = []Status{StatusNew, StatusOpen, StatusPending, StatusOnHold, StatusSolved, StatusClosed}

// Priority orders the queue.
type Priority string

const (
	PriorityLow    Priority = "low"
	PriorityNormal Priority = "normal"
	PriorityHigh   Priority = "high"
	PriorityUrgent Priority = "urgent"
)

// Priorities lists every valid priority, lowest first.
var Priorities = []Priority{PriorityLow, PriorityNormal, PriorityHigh, PriorityUrgent}

// Role is an agent's role. Permissions hang off roles (see package auth).
type Role string

const (
	RoleAdmin   Role = "admin"
	RoleLead    Role = "lead"    // team lead
	RoleAgent   Role = "agent"   // frontline or specialist agent
	RoleQA      Role = "qa"      // QA reviewer
	RoleAuditor Role = "auditor" // read-only
)

// Roles lists every valid role.
var Roles = []Role{RoleAdmin, RoleLead, RoleAgent, RoleQA, RoleAuditor}

// TeamKind says where a team sits in the escalation ladder.
type TeamKind string

const (
	TeamL1     TeamKind = "l1"
	TeamL2     TeamKind = "l2"
	TeamExpert TeamKind = "expert"
	TeamVIP    TeamKind = "vip"
)

// TeamKinds lists every valid team kind.
var TeamKinds = []TeamKind{TeamL1, TeamL2, TeamExpert, TeamVIP}

// Presence is an agent's availability for new conversations.
type Presence string

const (
	PresenceOnline  Presence = "online"
	PresenceAway    Presence = "away"
	PresenceOffline Presence = "offline"
)

// Presences lists every valid presence.
var Presences = []Presence{PresenceOnline, PresenceAway, PresenceOffline}

// AuthorKind says who wrote a message or caused an event.
type AuthorKind string

const (
	AuthorContact AuthorKind = "contact"
	AuthorAgent   AuthorKind = "agent"
	AuthorBot     AuthorKind = "bot"
	AuthorSystem  AuthorKind = "system"
	AuthorToken   AuthorKind = "token" // an API token (integration)
)

// Contact is a customer of the exchange.
type Contact struct {
	ID          int64     `json:"id"`
	ExternalUID string    `json:"external_uid,omitempty"` // the exchange's own user id
	Name        string    `json:"name"`
	Emails      []string  `json:"emails"`
	Phone       string    `json:"phone,omitempty"`
	TelegramID  string    `json:"telegram_id,omitempty"`
	Language    string    `json:"language,omitempty"` // BCP 47, e.g. "en", "zh-CN", "ko", "th", "ja"
	VIPTier     int       `json:"vip_tier"`           // 0 = retail, 1..9 VIP levels
	KYCLevel    int       `json:"kyc_level"`          // 0 = none
	Tags        []string  `json:"tags"`
	CreatedAt   time.Time `json:"created_at"`
	UpdatedAt   time.Time `json:"updated_at"`
}

// Team is a group of agents tickets are routed to.
type Team struct {
	ID            int64     `json:"id"`
	Name          string    `json:"name"`
	Kind          TeamKind  `json:"kind"`
	BusinessHours string    `json:"business_hours"` // "24/7" or e.g. "Mon-Fri 09:00-18:00 Asia/Seoul"
	CreatedAt     time.Time `json:"created_at"`
}

// Agent is a person who works the desk (any role).
type Agent struct {
	ID          int64     `json:"id"`
	Login       string    `json:"login"`
	Name        string    `json:"name"`
	Email       string    `json:"email,omitempty"`
	Role        Role      `json:"role"`
	TeamIDs     []int64   `json:"team_ids"`
	Languages   []string  `json:"languages"`
	Skills      []string  `json:"skills"`
	ChatLimit   int       `json:"chat_limit"` // concurrent chats; 0 = no new chats
	Presence    Presence  `json:"presence"`
	Disabled    bool      `json:"disabled"`
	TOTPEnabled bool      `json:"totp_enabled"`
	CreatedAt   time.Time `json:"created_at"`
	UpdatedAt   time.Time `json:"updated_at"`
}

// InTeam reports whether the agent belongs to team id.
func (a Agent) InTeam(id int64) bool {
	for _, t := range a.TeamIDs {
		if t == id {
			return true
		}
	}
	return false
}

// AgentSecrets are the credentials of an agent. They never leave the store
// except to the auth code, and are never serialised to JSON.
type AgentSecrets struct {
	AgentID      int64
	PasswordHash string // argon2id PHC string
	TOTPSecret   string // base32; empty = none
	TOTPLastStep int64  // the last accepted authenticator time step: codes are single-use
	FailedLogins int
	LockedUntil  time.Time
}

// Ticket is the one unit of work every channel produces. A chat is a ticket
// on ChannelChat.
type Ticket struct {
	ID                int64             `json:"id"`
	Ref               string            `json:"ref"` // short human reference, e.g. "K7Q2MX"; unique, not guessable
	Channel           Channel           `json:"channel"`
	Subject           string            `json:"subject"`
	Status            Status            `json:"status"`
	Priority          Priority          `json:"priority"`
	Category          string            `json:"category,omitempty"`
	TeamID            int64             `json:"team_id,omitempty"`     // 0 = none
	AssigneeID        int64             `json:"assignee_id,omitempty"` // 0 = unassigned
	ContactID         int64             `json:"contact_id"`
	Tier              int               `json:"tier"` // the contact's VIP tier when the ticket was opened
	Tags              []string          `json:"tags"`
	Custom            map[string]string `json:"custom"`
	Language          string            `json:"language,omitempty"`
	LastSeq           int64             `json:"last_seq"` // sequence of the newest message
	CreatedAt         time.Time         `json:"created_at"`
	UpdatedAt         time.Time         `json:"updated_at"`
	FirstResponseAt   *time.Time        `json:"first_response_at,omitempty"`
	LastCustomerMsgAt *time.Time        `json:"last_customer_message_at,omitempty"`
	SolvedAt          *time.Time        `json:"solved_at,omitempty"`
}

// Attachment is the metadata of a stored file. The bytes live in a blob
// store keyed by ID.
type Attachment struct {
	ID           string     `json:"id"` // random, URL-safe
	TicketID     int64      `json:"ticket_id,omitempty"`
	Name         string     `json:"name"`
	ContentType  string     `json:"content_type"` // sniffed, not trusted from the client
	Size         int64      `json:"size"`
	SHA256       string     `json:"sha256"`
	UploaderKind AuthorKind `json:"uploader_kind"`
	UploaderID   int64      `json:"uploader_id"`
	CreatedAt    time.Time  `json:"created_at"`
}

// Message is one entry of a ticket's conversation.
type Message struct {
	ID          int64        `json:"id"`
	TicketID    int64        `json:"ticket_id"`
	Seq         int64        `json:"seq"` // per-ticket, strictly increasing, assigned at commit
	AuthorKind  AuthorKind   `json:"author_kind"`
	AuthorID    int64        `json:"author_id"`
	AuthorName  string       `json:"author_name,omitempty"`
	Internal    bool         `json:"internal"` // an internal note, never shown to the customer
	Text        string       `json:"text"`
	HTML        string       `json:"html,omitempty"` // sanitised
	Attachments []Attachment `json:"attachments"`
	ClientID    string       `json:"client_id,omitempty"` // idempotency: unique per ticket
	CreatedAt   time.Time    `json:"created_at"`
}

// Event is one change to a ticket: the progress timeline.
type Event struct {
	ID        int64      `json:"id"`
	TicketID  int64      `json:"ticket_id"`
	ActorKind AuthorKind `json:"actor_kind"`
	ActorID   int64      `json:"actor_id"`
	Field     string     `json:"field"` // "status", "assignee_id", "created", ...
	Old       string     `json:"old"`
	New       string     `json:"new"`
	CreatedAt time.Time  `json:"created_at"`
}

// Session is a logged-in agent's server-side session. The cookie carries a
// random token; the store keeps only its hash.
type Session struct {
	ID         string // sha256 of the cookie token, hex
	AgentID    int64
	CSRF       string // per-session CSRF token (sent back in X-CSRF-Token)
	MFAPending bool   // password ok, TOTP still required
	CreatedAt  time.Time
	ExpiresAt  time.Time
	LastSeenAt time.Time
	IP         string
	UserAgent  string
}

// APIToken is an integration credential. The secret is shown once; the store
// keeps only its hash.
type APIToken struct {
	ID         int64      `json:"id"`
	Name       string     `json:"name"`
	Prefix     string     `json:"prefix"` // first characters, to recognise it in a list
	Hash       string     `json:"-"`      // sha256 hex of the whole token
	Scopes     []string   `json:"scopes"`
	CreatedBy  int64      `json:"created_by"`
	CreatedAt  time.Time  `json:"created_at"`
	LastUsedAt *time.Time `json:"last_used_at,omitempty"`
	RevokedAt  *time.Time `json:"revoked_at,omitempty"`
}

// AuditEntry is one link of the tamper-evident audit chain. Hash covers every
// other field and PrevHash, so editing, deleting or reordering any entry
// breaks every hash after it.
type AuditEntry struct {
	ID        int64      `json:"id"` // 1, 2, 3, ... without gaps
	At        time.Time  `json:"at"`
	ActorKind AuthorKind `json:"actor_kind"`
	ActorID   int64      `json:"actor_id"`
	ActorName string     `json:"actor_name"`
	Action    string     `json:"action"` // "ticket.update", "auth.login", "auth.login_failed", "contact.reveal", ...
	Target    string     `json:"target"` // "ticket:42", "agent:7", ...
	Detail    string     `json:"detail"` // JSON object, never secrets
	IP        string     `json:"ip"`
	PrevHash  string     `json:"prev_hash"`
	Hash      string     `json:"hash"`
}

// IdempotencyRecord remembers the response to a create request sent with an
// Idempotency-Key, so a retry gets the same answer instead of a duplicate.
type IdempotencyRecord struct {
	Key       string // scope + ":" + client key
	Status    int
	Body      []byte
	CreatedAt time.Time
}
