package httpapi

import (
	"strings"

	"custos/internal/desk"
)

// maskContact hides a contact's personal data (emails, phone, Telegram id)
// enough to recognise, not to use. It is the one masking function: every
// response carrying a contact goes through it unless the caller revealed
// the contact (an audited action).
func maskContact(c desk.Contact) desk.Contact {
	out := c
	out.Emails = make([]string, len(c.Emails))
	for i, e := range c.Emails {
		out.Emails[i] = maskEmail(e)
	}
	out.Phone = maskMiddle(c.Phone, 3, 2)
	out.TelegramID = maskMiddle(c.TelegramID, 2, 2)
	return out
}

// maskEmail keeps the first character of the local part and the domain:
// "mina@example.com" → "m***@example.com".
func maskEmail(e string) string {
	at := strings.LastIndexByte(e, '@')
	if at <= 0 {
		return "***"
	}
	r := []rune(e[:at])
	return string(r[0]) + "***" + e[at:]
}

// maskMiddle keeps head and tail runes and stars the rest; values too short
// to keep anything meaningful hidden are starred entirely.
func maskMiddle(s string, head, tail int) string {
	r := []rune(s)
	if len(r) == 0 {
		return ""
	}
	if len(r) <= head+tail+2 {
		return strings.Repeat("*", len(r))
	}
	return string(r[:head]) + strings.Repeat("*", len(r)-head-tail) + string(r[len(r)-tail:])
}
