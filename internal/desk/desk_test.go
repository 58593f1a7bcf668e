package desk

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestTicketValidate(t *testing.T) {
	ok := func() Ticket { return Ticket{Channel: ChannelChat, Subject: "출금 문의", ContactID: 1} }
	cases := []struct {
		name  string
		mod   func(*Ticket)
		field string
	}{
		{"valid", func(*Ticket) {}, ""},
		{"empty subject", func(t *Ticket) { t.Subject = "  " }, "subject"},
		{"long subject", func(t *Ticket) { t.Subject = strings.Repeat("x", MaxSubject+1) }, "subject"},
		{"bad utf8", func(t *Ticket) { t.Subject = "a\xffb" }, "subject"},
		{"nul byte", func(t *Ticket) { t.Subject = "a\x00b" }, "subject"},
		{"unknown channel", func(t *Ticket) { t.Channel = "pigeon" }, "channel"},
		{"unknown status", func(t *Ticket) { t.Status = "bogus" }, "status"},
		{"unknown priority", func(t *Ticket) { t.Priority = "asap" }, "priority"},
		{"no contact", func(t *Ticket) { t.ContactID = 0 }, "contact_id"},
		{"bad tag", func(t *Ticket) { t.Tags = []string{"<script>"} }, "tags[0]"},
		{"bad language", func(t *Ticket) { t.Language = "english please" }, "language"},
		{"bad custom key", func(t *Ticket) { t.Custom = map[string]string{"Bad Key": "v"} }, "custom.Bad Key"},
		{"nul custom key", func(t *Ticket) { t.Custom = map[string]string{"k\x00": "v"} }, "custom.k\x00"},
		{"nul custom value", func(t *Ticket) { t.Custom = map[string]string{"k": "a\x00"} }, "custom.k"},
		{"bad utf8 custom value", func(t *Ticket) { t.Custom = map[string]string{"k": "a\xff"} }, "custom.k"},
		{"nul category", func(t *Ticket) { t.Category = "kyc\x00" }, "category"},
		{"bad utf8 category", func(t *Ticket) { t.Category = "kyc\xff" }, "category"},
		{"nul tag", func(t *Ticket) { t.Tags = []string{"vip\x00"} }, "tags[0]"},
		{"bad utf8 tag", func(t *Ticket) { t.Tags = []string{"vip\xff"} }, "tags[0]"},
		{"nul language", func(t *Ticket) { t.Language = "ko\x00" }, "language"},
		{"tier", func(t *Ticket) { t.Tier = 12 }, "tier"},
		{"sql text is fine", func(t *Ticket) { t.Subject = "'; DROP TABLE tickets;--" }, ""},
	}
	for _, tc := range cases {
		tk := ok()
		tc.mod(&tk)
		err := tk.Validate()
		if tc.field == "" {
			if err != nil {
				t.Errorf("%s: unexpected %v", tc.name, err)
			}
			continue
		}
		var e *Error
		if !errors.As(err, &e) || e.Code != EInvalid || e.Fields[tc.field] == "" {
			t.Errorf("%s: want invalid on %q, got %v", tc.name, tc.field, err)
		}
	}
	tk := ok()
	tk.Tags = []string{"VIP", "vip", " Withdrawal "}
	if err := tk.Validate(); err != nil || strings.Join(tk.Tags, ",") != "vip,withdrawal" || tk.Status != StatusNew || tk.Priority != PriorityNormal {
		t.Fatalf("defaults/normalisation: %+v %v", tk, err)
	}
}

func TestErrorSentinels(t *testing.T) {
	if !errors.Is(NotFound("ticket"), ErrNotFound) || errors.Is(Errorf(EInvalid, "x"), ErrNotFound) {
		t.Fatal("NotFound must unwrap to ErrNotFound, nothing else")
	}
	wrapped := &Error{Code: EConflict, Message: "login taken", Err: errors.New("unique")}
	if !errors.Is(wrapped, ErrConflict) || ErrorCode(errors.New("plain")) != EInternal {
		t.Fatal("conflict sentinel / internal code")
	}
}

func chain(n int) []AuditEntry {
	var out []AuditEntry
	prev := ""
	at := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	for i := 1; i <= n; i++ {
		e := AuditEntry{ID: int64(i), At: at.Add(time.Duration(i) * time.Second), ActorKind: AuthorAgent, ActorID: 7, Action: "ticket.update", Target: "ticket:1", Detail: `{"n":1}`, PrevHash: prev}
		e.Hash = AuditHash(e)
		prev = e.Hash
		out = append(out, e)
	}
	return out
}

func TestVerifyChain(t *testing.T) {
	good := chain(5)
	if id, why := VerifyChain(0, "", good); id != 0 {
		t.Fatalf("good chain reported bad at %d: %s", id, why)
	}
	edited := chain(5)
	edited[2].Detail = `{"n":2}`
	deleted := append(chain(5)[:1], chain(5)[2:]...)
	swapped := chain(5)
	swapped[1], swapped[2] = swapped[2], swapped[1]
	for name, tc := range map[string]struct {
		es   []AuditEntry
		want int64
	}{"edited": {edited, 3}, "deleted": {deleted, 3}, "swapped": {swapped, 3}} {
		if id, _ := VerifyChain(0, "", tc.es); id != tc.want {
			t.Errorf("%s: first bad %d, want %d", name, id, tc.want)
		}
	}
}

func TestMessageValidate(t *testing.T) {
	cases := []struct {
		name  string
		m     Message
		field string
	}{
		{"text", Message{AuthorKind: AuthorAgent, Text: "hi"}, ""},
		{"text and html", Message{AuthorKind: AuthorAgent, Text: "hi", HTML: "<p>hi</p>\n\t"}, ""},
		{"nul text", Message{AuthorKind: AuthorAgent, Text: "h\x00i"}, "text"},
		{"nul html", Message{AuthorKind: AuthorAgent, Text: "hi", HTML: "<p>h\x00i</p>"}, "html"},
		{"control html", Message{AuthorKind: AuthorAgent, Text: "hi", HTML: "<p>\x1b[31m</p>"}, "html"},
		{"bad utf8 html", Message{AuthorKind: AuthorAgent, Text: "hi", HTML: "<p>\xff</p>"}, "html"},
		{"long html", Message{AuthorKind: AuthorAgent, Text: "hi", HTML: strings.Repeat("x", MaxHTML+1)}, "html"},
		{"html at the limit", Message{AuthorKind: AuthorAgent, Text: "hi", HTML: strings.Repeat("x", MaxHTML)}, ""},
		{"bad client id", Message{AuthorKind: AuthorAgent, Text: "hi", ClientID: "a\x00"}, "client_id"},
	}
	for _, tc := range cases {
		err := tc.m.Validate()
		if tc.field == "" {
			if err != nil {
				t.Errorf("%s: unexpected %v", tc.name, err)
			}
			continue
		}
		var e *Error
		if !errors.As(err, &e) || e.Code != EInvalid || e.Fields[tc.field] == "" {
			t.Errorf("%s: want invalid on %q, got %v", tc.name, tc.field, err)
		}
	}
}

func TestAttachmentIDs(t *testing.T) {
	good := "at_" + strings.Repeat("a2", 13)
	if !ValidAttachmentID(good) {
		t.Fatalf("%s refused", good)
	}
	for _, id := range []string{"", "at_", "at_nope", good + "a", "AT_" + good[3:], good[:28] + "\x00", good[:28] + "1", "../" + good, good[:28] + "\xff"} {
		if ValidAttachmentID(id) {
			t.Errorf("%q accepted", id)
		}
	}
	p := Problems{}
	CheckAttachmentIDs(p, "attachment_ids", []string{good, "x\x00"})
	if p["attachment_ids[1]"] == "" || p["attachment_ids[0]"] != "" {
		t.Errorf("problems %v", p)
	}
	p = Problems{}
	CheckAttachmentIDs(p, "attachment_ids", make([]string, MaxAttachments+1))
	if p["attachment_ids"] == "" {
		t.Errorf("too many: %v", p)
	}
}

func TestNormalizeTag(t *testing.T) {
	for in, want := range map[string]string{"SECURITY": "security", " Kyc ": "kyc", "ÉTÉ": "été", "": ""} {
		if got := NormalizeTag(in); got != want {
			t.Errorf("NormalizeTag(%q) = %q, want %q", in, got, want)
		}
	}
}
