package desk

import (
	"fmt"
	"net/mail"
	"regexp"
	"strings"
	"unicode/utf8"
)

// Limits on every text a client can send. Stores may rely on them.
const (
	MaxSubject     = 300
	MaxText        = 32 << 10 // 32 KiB per message
	MaxHTML        = 64 << 10 // 64 KiB per message, raw and sanitised
	MaxName        = 200
	MaxTag         = 64
	MaxTags        = 50
	MaxCustom      = 50 // custom fields per ticket
	MaxCustomValue = 1000
	MaxEmails      = 10
	MaxAttachments = 10 // per message
	MaxClientID    = 100
	MaxLogin       = 64
	MaxPageSize    = 200
	DefaultPage    = 50
)

var (
	loginRe     = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]{1,63}$`)
	tagRe       = regexp.MustCompile(`^[\p{L}\p{N}][\p{L}\p{N}_.:/-]*$`)
	langRe      = regexp.MustCompile(`^[a-zA-Z]{2,3}(-[a-zA-Z0-9]{2,8})*$`)
	customKeyRe = regexp.MustCompile(`^[a-z][a-z0-9_]{0,39}$`)
	clientIDRe  = regexp.MustCompile(`^[A-Za-z0-9._:-]{1,100}$`)
	// attachmentIDRe is the id format package attach issues ("at_" and 26
	// base32 characters). Checked before any lookup, so a hostile id never
	// reaches the store.
	attachmentIDRe = regexp.MustCompile(`^at_[a-z2-7]{26}$`)
)

// CheckText validates a free-text field: valid UTF-8, no NUL or other C0
// control characters except tab/newline/CR, at most max bytes. required
// makes an empty (or all-space) value a problem.
func CheckText(p Problems, field, v string, max int, required bool) {
	if !utf8.ValidString(v) {
		p.Add(field, "must be valid UTF-8")
		return
	}
	if required && strings.TrimSpace(v) == "" {
		p.Add(field, "is required")
		return
	}
	if len(v) > max {
		p.Add(field, fmt.Sprintf("must be at most %d bytes", max))
		return
	}
	for _, r := range v {
		if r < 0x20 && r != '\t' && r != '\n' && r != '\r' {
			p.Add(field, "must not contain control characters")
			return
		}
	}
}

// CheckTags validates a tag list.
func CheckTags(p Problems, field string, tags []string) {
	if len(tags) > MaxTags {
		p.Add(field, fmt.Sprintf("at most %d tags", MaxTags))
		return
	}
	for i, t := range tags {
		if !utf8.ValidString(t) || len(t) > MaxTag || !tagRe.MatchString(t) {
			p.Add(fmt.Sprintf("%s[%d]", field, i), "must be 1-64 letters, digits or _.:/- and start with a letter or digit")
			return
		}
	}
}

// NormalizeTag is how a tag is stored and looked up: trimmed, lower-cased.
func NormalizeTag(t string) string { return strings.ToLower(strings.TrimSpace(t)) }

// NormalizeTags lower-cases, trims and de-duplicates tags, keeping order.
func NormalizeTags(tags []string) []string {
	out := make([]string, 0, len(tags))
	seen := make(map[string]bool, len(tags))
	for _, t := range tags {
		t = NormalizeTag(t)
		if t == "" || seen[t] {
			continue
		}
		seen[t] = true
		out = append(out, t)
	}
	return out
}

// CheckLanguage validates an optional BCP 47-ish language tag.
func CheckLanguage(p Problems, field, v string) {
	if v != "" && (len(v) > 35 || !langRe.MatchString(v)) {
		p.Add(field, "must be a language tag such as en, zh-CN, ko, th, ja")
	}
}

// CheckClientID validates an optional client-generated message id.
func CheckClientID(p Problems, field, v string) {
	if v != "" && !clientIDRe.MatchString(v) {
		p.Add(field, "must be 1-100 characters of A-Z a-z 0-9 . _ : -")
	}
}

// ValidAttachmentID reports whether id has the form of an attachment id.
func ValidAttachmentID(id string) bool { return attachmentIDRe.MatchString(id) }

// CheckAttachmentIDs validates the attachment ids of a message: at most
// MaxAttachments, each of the attachment id form.
func CheckAttachmentIDs(p Problems, field string, ids []string) {
	if len(ids) > MaxAttachments {
		p.Add(field, fmt.Sprintf("at most %d attachments", MaxAttachments))
		return
	}
	for i, id := range ids {
		if !ValidAttachmentID(id) {
			p.Add(fmt.Sprintf("%s[%d]", field, i), "must be an attachment id (at_...)")
		}
	}
}

// OneOf records a problem for field unless v is one of valid.
func OneOf[T ~string](p Problems, field string, v T, valid []T) {
	for _, x := range valid {
		if v == x {
			return
		}
	}
	names := make([]string, len(valid))
	for i, x := range valid {
		names[i] = string(x)
	}
	p.Add(field, "must be one of: "+strings.Join(names, ", "))
}

// ValidStatus etc. report whether a value is a known enum member.
func ValidStatus(s Status) bool     { return contains(Statuses, s) }
func ValidPriority(s Priority) bool { return contains(Priorities, s) }
func ValidChannel(s Channel) bool   { return contains(Channels, s) }
func ValidRole(s Role) bool         { return contains(Roles, s) }
func ValidPresence(s Presence) bool { return contains(Presences, s) }
func ValidTeamKind(s TeamKind) bool { return contains(TeamKinds, s) }

func contains[T comparable](xs []T, v T) bool {
	for _, x := range xs {
		if x == v {
			return true
		}
	}
	return false
}

// Validate checks a ticket before it is created or updated. It fills the
// defaults (status new, priority normal, empty tags/custom) first.
func (t *Ticket) Validate() error {
	if t.Status == "" {
		t.Status = StatusNew
	}
	if t.Priority == "" {
		t.Priority = PriorityNormal
	}
	if t.Tags == nil {
		t.Tags = []string{}
	}
	if t.Custom == nil {
		t.Custom = map[string]string{}
	}
	p := Problems{}
	OneOf(p, "channel", t.Channel, Channels)
	OneOf(p, "status", t.Status, Statuses)
	OneOf(p, "priority", t.Priority, Priorities)
	CheckText(p, "subject", t.Subject, MaxSubject, true)
	CheckText(p, "category", t.Category, MaxTag, false)
	t.Tags = NormalizeTags(t.Tags)
	CheckTags(p, "tags", t.Tags)
	CheckLanguage(p, "language", t.Language)
	if t.ContactID <= 0 {
		p.Add("contact_id", "is required")
	}
	if t.TeamID < 0 {
		p.Add("team_id", "must be a team id")
	}
	if t.AssigneeID < 0 {
		p.Add("assignee_id", "must be an agent id")
	}
	if t.Tier < 0 || t.Tier > 9 {
		p.Add("tier", "must be 0-9")
	}
	if len(t.Custom) > MaxCustom {
		p.Add("custom", fmt.Sprintf("at most %d fields", MaxCustom))
	}
	for k, v := range t.Custom {
		if !customKeyRe.MatchString(k) {
			p.Add("custom."+k, "key must be 1-40 of a-z 0-9 _ starting with a letter")
			continue
		}
		CheckText(p, "custom."+k, v, MaxCustomValue, false)
	}
	return p.Err()
}

// Validate checks a contact.
func (c *Contact) Validate() error {
	if c.Emails == nil {
		c.Emails = []string{}
	}
	if c.Tags == nil {
		c.Tags = []string{}
	}
	p := Problems{}
	CheckText(p, "name", c.Name, MaxName, false)
	CheckText(p, "external_uid", c.ExternalUID, 128, false)
	CheckText(p, "phone", c.Phone, 32, false)
	CheckText(p, "telegram_id", c.TelegramID, 64, false)
	CheckLanguage(p, "language", c.Language)
	if len(c.Emails) > MaxEmails {
		p.Add("emails", fmt.Sprintf("at most %d addresses", MaxEmails))
	}
	for i, e := range c.Emails {
		a, err := mail.ParseAddress(e)
		if err != nil || a.Address != e || len(e) > 254 {
			p.Add(fmt.Sprintf("emails[%d]", i), "must be a plain email address")
		}
	}
	if c.VIPTier < 0 || c.VIPTier > 9 {
		p.Add("vip_tier", "must be 0-9")
	}
	if c.KYCLevel < 0 || c.KYCLevel > 9 {
		p.Add("kyc_level", "must be 0-9")
	}
	c.Tags = NormalizeTags(c.Tags)
	CheckTags(p, "tags", c.Tags)
	return p.Err()
}

// Validate checks an agent.
func (a *Agent) Validate() error {
	if a.TeamIDs == nil {
		a.TeamIDs = []int64{}
	}
	if a.Languages == nil {
		a.Languages = []string{}
	}
	if a.Skills == nil {
		a.Skills = []string{}
	}
	if a.Presence == "" {
		a.Presence = PresenceOffline
	}
	p := Problems{}
	if !loginRe.MatchString(a.Login) {
		p.Add("login", "must be 2-64 of a-z 0-9 . _ - starting with a letter or digit")
	}
	CheckText(p, "name", a.Name, MaxName, true)
	if a.Email != "" {
		if e, err := mail.ParseAddress(a.Email); err != nil || e.Address != a.Email {
			p.Add("email", "must be a plain email address")
		}
	}
	OneOf(p, "role", a.Role, Roles)
	OneOf(p, "presence", a.Presence, Presences)
	if a.ChatLimit < 0 || a.ChatLimit > 100 {
		p.Add("chat_limit", "must be 0-100")
	}
	for i, l := range a.Languages {
		CheckLanguage(p, fmt.Sprintf("languages[%d]", i), l)
	}
	a.Skills = NormalizeTags(a.Skills)
	CheckTags(p, "skills", a.Skills)
	return p.Err()
}

// Validate checks a team. Business hours that are not set (empty) mean
// always open and are stored as "24/7"; anything else must parse with
// ParseHours, whose message is the field's.
func (t *Team) Validate() error {
	t.BusinessHours = strings.TrimSpace(t.BusinessHours)
	if t.BusinessHours == "" {
		t.BusinessHours = AlwaysOpen
	}
	p := Problems{}
	CheckText(p, "name", t.Name, MaxName, true)
	OneOf(p, "kind", t.Kind, TeamKinds)
	CheckText(p, "business_hours", t.BusinessHours, MaxBusinessHours, false)
	if _, bad := p["business_hours"]; !bad {
		if _, err := ParseHours(t.BusinessHours); err != nil {
			p.Add("business_hours", err.Error())
		}
	}
	return p.Err()
}

// Validate checks a message before it is appended.
func (m *Message) Validate() error {
	if m.Attachments == nil {
		m.Attachments = []Attachment{}
	}
	p := Problems{}
	CheckText(p, "text", m.Text, MaxText, len(m.Attachments) == 0)
	CheckText(p, "html", m.HTML, MaxHTML, false)
	CheckClientID(p, "client_id", m.ClientID)
	if len(m.Attachments) > MaxAttachments {
		p.Add("attachments", fmt.Sprintf("at most %d attachments", MaxAttachments))
	}
	switch m.AuthorKind {
	case AuthorContact, AuthorAgent, AuthorBot, AuthorSystem, AuthorToken:
	default:
		p.Add("author_kind", "must be one of: contact, agent, bot, system, token")
	}
	if m.Internal && m.AuthorKind == AuthorContact {
		p.Add("internal", "customers cannot write internal notes")
	}
	return p.Err()
}
