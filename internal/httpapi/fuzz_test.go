package httpapi

import (
	"encoding/json"
	"strings"
	"testing"

	"custos/internal/desk"
)

// FuzzCreateTicket throws arbitrary bodies at POST /tickets: the API must
// never answer 5xx, and whatever it accepts must parse and be fetchable.
func FuzzCreateTicket(f *testing.F) {
	e := newEnv(f)
	cid := id(e.contact.ID)
	for _, seed := range []string{
		`{"subject":"withdrawal stuck","contact_id":` + cid + `}`,
		`{"subject":"x","contact_id":` + cid + `,"priority":"urgent","status":"open","tags":["kyc","vip"],"custom":{"tx_id":"0xabc"},"language":"ko","message":{"text":"help","client_id":"c-1"}}`,
		`{"subject":"new contact","contact":{"name":"A","emails":["a@example.com"],"external_uid":"u1"}}`,
		`{"subject":"` + strings.ReplaceAll(hostile, `"`, `\"`) + `","contact_id":` + cid + `}`,
		`{"subject":"x","contact_id":` + cid + `,"team_id":999999}`,
		`{"subject":"x","contact_id":` + cid + `,"assignee_id":-1}`,
		`{"subject":"x","contact_id":` + cid + `,"message":{"text":"hi","attachment_ids":["nope"]}}`,
		`{"subject":"x","contact_id":` + cid + `,"custom":{"Bad Key":"v"}}`,
		`{"subject":1}`, `{"subject":`, `[]`, `null`, ``, `{"a":1}`, `{}{}`,
		`{"subject":"\ud800","contact_id":1}`, "{\"subject\":\"\xff\"}", `{"contact_id":1e400}`,
		`{"subject":"x","contact_id":9223372036854775807}`,
		`{"subject":"x","contact":{"emails":["<script>@x"]}}`,
	} {
		f.Add([]byte(seed))
	}
	w := e.creds["writer"]
	f.Fuzz(func(t *testing.T, body []byte) {
		r := e.request(t, w, "POST", "/api/v1/tickets", body)
		if r.status >= 500 {
			t.Fatalf("status %d for %q: %s", r.status, body, r.body)
		}
		if r.status/100 != 2 {
			if r.errCode() == "" {
				t.Fatalf("error without a code for %q: %s", body, r.body)
			}
			return
		}
		var tk desk.Ticket
		if err := json.Unmarshal(r.body, &tk); err != nil || tk.ID <= 0 {
			t.Fatalf("2xx body does not parse for %q: %s", body, r.body)
		}
		g := e.request(t, w, "GET", "/api/v1/tickets/"+id(tk.ID), nil)
		if g.status != 200 {
			t.Fatalf("created ticket %d not fetchable: %d %s", tk.ID, g.status, g.body)
		}
	})
}
