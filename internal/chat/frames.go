package chat

import (
	"time"

	"custos/internal/desk"
)

// inFrame is every client frame (customer or agent) in one struct: the
// fields of a type are read, the others ignored.
type inFrame struct {
	Type string `json:"type"`

	// hello
	V           int          `json:"v"`
	SiteKey     string       `json:"site_key"`
	DeviceToken string       `json:"device_token"`
	Identity    string       `json:"identity"`
	Language    string       `json:"language"`
	Resume      *resumeFrame `json:"resume"`

	// send
	ClientID    string   `json:"client_id"`
	Text        string   `json:"text"`
	Attachments []string `json:"attachments"`

	// typing, read, sync
	On       bool  `json:"on"`
	Seq      int64 `json:"seq"`
	AfterSeq int64 `json:"after_seq"`

	// agent frames
	TicketID int64 `json:"ticket_id"`
}

type resumeFrame struct {
	ConversationID int64 `json:"conversation_id"`
	LastSeq        int64 `json:"last_seq"`
}

type author struct {
	Kind desk.AuthorKind `json:"kind"`
	Name string          `json:"name"`
}

type conversationView struct {
	ID      int64       `json:"id"`
	Ref     string      `json:"ref"`
	Status  desk.Status `json:"status"`
	LastSeq int64       `json:"last_seq"`
}

func viewOf(t desk.Ticket) *conversationView {
	if t.ID == 0 {
		return nil
	}
	return &conversationView{ID: t.ID, Ref: t.Ref, Status: t.Status, LastSeq: t.LastSeq}
}

type contactView struct {
	ID   int64  `json:"id"`
	Name string `json:"name"`
}

type welcomeFrame struct {
	Type         string            `json:"type"`
	V            int               `json:"v"`
	Session      string            `json:"session"`
	DeviceToken  string            `json:"device_token,omitempty"`
	HeartbeatSec int               `json:"heartbeat_sec"`
	Contact      contactView       `json:"contact"`
	Conversation *conversationView `json:"conversation"`
}

type attachmentView struct {
	ID          string `json:"id"`
	Name        string `json:"name"`
	ContentType string `json:"content_type"`
	Size        int64  `json:"size"`
	URL         string `json:"url"`
}

func attachmentViewOf(a desk.Attachment) attachmentView {
	return attachmentView{ID: a.ID, Name: a.Name, ContentType: a.ContentType, Size: a.Size, URL: "/chat/v1/attachments/" + a.ID}
}

type messageFrame struct {
	Type           string           `json:"type"`
	ConversationID int64            `json:"conversation_id"`
	ID             int64            `json:"id"`
	Seq            int64            `json:"seq"`
	Author         author           `json:"author"`
	Text           string           `json:"text"`
	Attachments    []attachmentView `json:"attachments"`
	At             time.Time        `json:"at"`
	ClientID       string           `json:"client_id"`
}

func customerMessage(m *desk.Message) messageFrame {
	f := messageFrame{
		Type: "message", ConversationID: m.TicketID, ID: m.ID, Seq: m.Seq,
		Author: author{Kind: m.AuthorKind, Name: m.AuthorName}, Text: m.Text,
		Attachments: make([]attachmentView, 0, len(m.Attachments)), At: m.CreatedAt.UTC(), ClientID: m.ClientID,
	}
	// Integrations write as "token"; the customer sees them as the desk.
	if f.Author.Kind == desk.AuthorToken {
		f.Author.Kind = desk.AuthorSystem
	}
	for _, a := range m.Attachments {
		f.Attachments = append(f.Attachments, attachmentViewOf(a))
	}
	return f
}

type ackFrame struct {
	Type           string    `json:"type"`
	ClientID       string    `json:"client_id"`
	ConversationID int64     `json:"conversation_id"`
	ID             int64     `json:"id"`
	Seq            int64     `json:"seq"`
	At             time.Time `json:"at"`
	Duplicate      bool      `json:"duplicate"`
}

type errorFrame struct {
	Type     string            `json:"type"`
	Code     string            `json:"code"`
	Message  string            `json:"message"`
	Fields   map[string]string `json:"fields,omitempty"`
	ClientID string            `json:"client_id,omitempty"`
}

type conversationFrame struct {
	Type         string            `json:"type"`
	Conversation *conversationView `json:"conversation"`
}

type typingFrame struct {
	Type     string `json:"type"`
	TicketID int64  `json:"ticket_id,omitempty"` // agent frames only
	Author   author `json:"author"`
	On       bool   `json:"on"`
}

type readFrame struct {
	Type     string `json:"type"`
	TicketID int64  `json:"ticket_id,omitempty"` // agent frames only
	Seq      int64  `json:"seq"`
}

type queueFrame struct {
	Type     string `json:"type"`
	Position int    `json:"position"`
}

type syncedFrame struct {
	Type    string `json:"type"`
	LastSeq int64  `json:"last_seq"`
}

type typeOnly struct {
	Type string `json:"type"`
}

// agent frames

type agentTicketFrame struct {
	Type   string      `json:"type"`
	Ticket desk.Ticket `json:"ticket"`
}

type agentMessageFrame struct {
	Type     string        `json:"type"`
	TicketID int64         `json:"ticket_id"`
	Message  *desk.Message `json:"message"`
}

type presenceFrame struct {
	Type     string        `json:"type"`
	AgentID  int64         `json:"agent_id"`
	Presence desk.Presence `json:"presence"`
}
