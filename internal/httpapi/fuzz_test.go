package httpapi

import (
	"encoding/json"
	"strings"
	"testing"

	"golang.org/x/net/html"

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
		`{"subject":"x\u0000","contact_id":` + cid + `}`,
		`{"subject":"x","contact_id":` + cid + `,"tags":["A\u0000"],"custom":{"k\u0000":"v\u0000"},"category":"\u0000"}`,
		`{"subject":"x","contact":{"name":"\u0000","external_uid":"\u0000","phone":"\u0000","telegram_id":"\u0000"}}`,
		`{"subject":"x","contact_id":` + cid + `,"message":{"text":"hi","attachment_ids":["at_\u0000"],"client_id":"\u0000"}}`,
		`{"subject":"x","contact_id":` + cid + `,"message":{"html":"<p onclick=\"x()\" style=\"a\">hi<script>alert(1)</script><a href=\"javascript:x\">j</a><a href=\"https://e.example\">e</a><img src=x onerror=y></p>"}}`,
		`{"subject":"x","contact_id":` + cid + `,"message":{"html":"<svg><foreignObject><iframe srcdoc=\"<script>x</script>\"></iframe></foreignObject></svg>t"}}`,
		`{"subject":"x","contact_id":` + cid + `,"message":{"html":"<p>\u0000</p>"}}`,
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
		var v struct {
			Messages []desk.Message `json:"messages"`
		}
		g.json(t, &v)
		for _, m := range v.Messages {
			if bad := unsafeHTML(m.HTML); bad != "" {
				t.Fatalf("stored html keeps %s for %q: %s", bad, body, m.HTML)
			}
		}
	})
}

// safeAttrs are the only attributes sanitised message HTML may carry.
var safeAttrs = map[string]bool{"href": true, "rel": true, "target": true, "dir": true, "colspan": true, "rowspan": true, "start": true}

// unsafeHTML names the first element or attribute in s that the message
// HTML policy must have removed ("" when there is none).
func unsafeHTML(s string) string {
	z := html.NewTokenizer(strings.NewReader(s))
	for {
		switch z.Next() {
		case html.ErrorToken:
			return ""
		case html.StartTagToken, html.SelfClosingTagToken:
			tok := z.Token()
			switch tok.Data {
			case "script", "style", "img", "iframe", "svg", "math", "object", "embed", "form", "input", "link", "meta", "base":
				return "<" + tok.Data + ">"
			}
			for _, a := range tok.Attr {
				if !safeAttrs[a.Key] {
					return "attribute " + a.Key
				}
				if a.Key == "href" && !strings.HasPrefix(a.Val, "https://") && !strings.HasPrefix(a.Val, "http://") && !strings.HasPrefix(a.Val, "mailto:") {
					return "href " + a.Val
				}
			}
		}
	}
}
