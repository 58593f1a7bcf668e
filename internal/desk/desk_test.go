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
