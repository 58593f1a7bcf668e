package auth

import (
	"encoding/base32"
	"errors"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"custos/internal/desk"
)

func code(err error) string {
	if err == nil {
		return ""
	}
	return desk.ErrorCode(err)
}

func TestPassword(t *testing.T) {
	h, err := HashPassword("correct horse battery")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(h, "$argon2id$v=19$m=19456,t=2,p=1$") {
		t.Fatalf("hash %q lacks the PHC prefix with OWASP parameters", h)
	}
	h2, _ := HashPassword("correct horse battery")
	if h == h2 {
		t.Fatal("two hashes of one password are equal: salt not random")
	}
	for _, tc := range []struct {
		hash, pw string
		ok       bool
		err      bool
	}{
		{h, "correct horse battery", true, false},
		{h, "correct horse batterY", false, false},
		{h, "", false, false},
		{dummyHash, "anything at all", false, false},
		{"", "x", false, true},
		{"$argon2i$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$a2V5a2V5a2V5a2V5a2V5a2V5", "x", false, true},
		{"$argon2id$v=19$m=99999999,t=2,p=1$c2FsdHNhbHQ$a2V5a2V5a2V5a2V5a2V5a2V5", "x", false, true},
		{"$argon2id$v=19$m=19456,t=2,p=1$!!$a2V5a2V5a2V5a2V5a2V5a2V5", "x", false, true},
	} {
		ok, err := VerifyPassword(tc.hash, tc.pw)
		if ok != tc.ok || (err != nil) != tc.err {
			t.Errorf("VerifyPassword(%q, %q) = %v, %v; want %v, err %v", tc.hash, tc.pw, ok, err, tc.ok, tc.err)
		}
	}
	for _, tc := range []struct {
		pw string
		ok bool
	}{
		{"123456789", false}, {"1234567890", true}, {strings.Repeat("x", 256), true}, {strings.Repeat("x", 257), false},
	} {
		err := CheckPassword(tc.pw)
		var de *desk.Error
		if tc.ok != (err == nil) || (err != nil && (!errors.As(err, &de) || de.Code != desk.EInvalid || de.Fields["password"] == "")) {
			t.Errorf("CheckPassword(len %d) = %v", len(tc.pw), err)
		}
	}
}

func TestTOTPVectors(t *testing.T) {
	// RFC 6238 appendix B, SHA-1 seed; 6-digit codes are the last six
	// digits of the 8-digit ones.
	secret := base32.StdEncoding.EncodeToString([]byte("12345678901234567890"))
	for _, tc := range []struct {
		unix int64
		want string
	}{
		{59, "94287082"}, {1111111109, "07081804"}, {1111111111, "14050471"},
		{1234567890, "89005924"}, {2000000000, "69279037"}, {20000000000, "65353130"},
	} {
		got, err := TOTPCode(secret, time.Unix(tc.unix, 0))
		if err != nil || got != tc.want[2:] {
			t.Errorf("TOTPCode(%d) = %q, %v; want %q", tc.unix, got, err, tc.want[2:])
		}
		key, _ := decodeTOTPSecret(secret)
		if got8 := hotp(key, uint64(tc.unix)/30, 8); got8 != tc.want {
			t.Errorf("8-digit code at %d = %q; want %q", tc.unix, got8, tc.want)
		}
	}
}

func TestTOTPWindow(t *testing.T) {
	secret := NewTOTPSecret()
	if len(secret) != 32 || strings.Contains(secret, "=") {
		t.Fatalf("secret %q: want 32 base32 characters without padding", secret)
	}
	now := time.Unix(1_700_000_000, 0)
	c, _ := TOTPCode(secret, now)
	for _, tc := range []struct {
		name string
		at   time.Time
		code string
		ok   bool
	}{
		{"now", now, c, true},
		{"one step later", now.Add(30 * time.Second), c, true},
		{"one step earlier", now.Add(-30 * time.Second), c, true},
		{"two steps later", now.Add(60 * time.Second), c, false},
		{"two steps earlier", now.Add(-60 * time.Second), c, false},
		{"short", now, c[:5], false},
		{"empty", now, "", false},
		{"spaces ok", now, c[:3] + " " + c[3:], true},
	} {
		if got := VerifyTOTP(secret, tc.code, tc.at); got != tc.ok {
			t.Errorf("%s: VerifyTOTP = %v; want %v", tc.name, got, tc.ok)
		}
	}
	if VerifyTOTP("not base32 !!", "123456", now) {
		t.Error("bad secret verified")
	}
	u, err := url.Parse(TOTPURL("Custos Desk", "ann@x", secret))
	if err != nil || u.Scheme != "otpauth" || u.Host != "totp" || u.Query().Get("secret") != secret || u.Query().Get("issuer") != "Custos Desk" {
		t.Errorf("TOTPURL = %v, %v", u, err)
	}
}

func TestSecrets(t *testing.T) {
	tok, hash := NewSecret(PrefixAPIToken)
	tok2, _ := NewSecret(PrefixAPIToken)
	if !strings.HasPrefix(tok, "cst_") || len(tok) != 4+43 || tok == tok2 {
		t.Fatalf("NewSecret = %q", tok)
	}
	if hash != HashSecret(tok) || len(hash) != 64 {
		t.Fatalf("hash %q", hash)
	}
}

func TestRolePermissionTable(t *testing.T) {
	// The table as the product defines it, written out independently.
	R, RA, W, A := PermTicketRead, PermTicketReadAll, PermTicketWrite, PermTicketAssign
	CR, CW, CX := PermContactRead, PermContactWrite, PermContactReveal
	AR, AM, TR, TM, TK, AU, AT := PermAgentRead, PermAgentManage, PermTeamRead, PermTeamManage, PermTokenManage, PermAuditRead, PermAttachmentRead
	want := map[desk.Role][]Permission{
		desk.RoleAdmin:   {R, RA, W, A, CR, CW, CX, AR, AM, TR, TM, TK, AU, AT},
		desk.RoleLead:    {R, RA, W, A, CR, CW, CX, AR, TR, AT},
		desk.RoleAgent:   {R, W, CR, CW, AR, TR, AT},
		desk.RoleQA:      {R, RA, CR, AR, TR, AT},
		desk.RoleAuditor: {R, RA, CR, AR, TR, AU, AT},
	}
	if len(AllPermissions()) != 14 {
		t.Fatalf("%d permissions", len(AllPermissions()))
	}
	for _, role := range desk.Roles {
		a := desk.Agent{ID: 1, Role: role}
		p := Principal{Agent: &a}
		for _, perm := range AllPermissions() {
			w := slices.Contains(want[role], perm)
			if got := slices.Contains(RolePermissions(role), perm); got != w {
				t.Errorf("RolePermissions(%s) has %s = %v; want %v", role, perm, got, w)
			}
			if got := p.Can(perm); got != w {
				t.Errorf("%s.Can(%s) = %v; want %v", role, perm, got, w)
			}
			if (Principal{Agent: &a, Session: &desk.Session{MFAPending: true}}).Can(perm) {
				t.Errorf("MFA-pending %s can %s", role, perm)
			}
			dis := a
			dis.Disabled = true
			if (Principal{Agent: &dis}).Can(perm) {
				t.Errorf("disabled %s can %s", role, perm)
			}
		}
	}
	if RolePermissions("pirate") != nil {
		t.Error("unknown role has permissions")
	}
	if (Principal{}).Can(PermTicketRead) {
		t.Error("system principal passes Can")
	}
}

func TestScopes(t *testing.T) {
	want := map[string][]Permission{
		"tickets:read":   {PermTicketReadAll, PermAttachmentRead},
		"tickets:write":  {PermTicketReadAll, PermTicketWrite, PermTicketAssign},
		"contacts:read":  {PermContactRead},
		"contacts:write": {PermContactRead, PermContactWrite},
		"agents:read":    {PermAgentRead},
		"teams:read":     {PermTeamRead},
		"audit:read":     {PermAuditRead},
	}
	if len(ValidScopes()) != len(want) {
		t.Fatalf("ValidScopes = %v", ValidScopes())
	}
	for _, s := range ValidScopes() {
		got, ok := ScopePermissions(s)
		if !ok || !slices.Equal(got, want[s]) {
			t.Errorf("ScopePermissions(%s) = %v, %v", s, got, ok)
		}
	}
	if _, ok := ScopePermissions("admin"); ok {
		t.Error("unknown scope accepted")
	}
	tok := desk.APIToken{ID: 9, Name: "crm", Scopes: []string{"tickets:read", "contacts:write"}}
	p := Principal{Token: &tok}
	for perm, w := range map[Permission]bool{PermTicketReadAll: true, PermAttachmentRead: true, PermContactWrite: true,
		PermTicketWrite: false, PermAgentManage: false, PermTokenManage: false} {
		if p.Can(perm) != w {
			t.Errorf("token Can(%s) = %v", perm, !w)
		}
	}
	if p.ActorKind() != desk.AuthorToken || p.ActorID() != 9 || p.Name() != "crm" || !p.SeesAllTickets() || p.Teams() != nil {
		t.Errorf("token principal identity wrong: %v %v %v", p.ActorKind(), p.ActorID(), p.Name())
	}
}

func TestCanSeeTicket(t *testing.T) {
	ag := desk.Agent{ID: 5, Role: desk.RoleAgent, TeamIDs: []int64{1, 2}}
	lead := desk.Agent{ID: 6, Role: desk.RoleLead, TeamIDs: []int64{1}}
	for _, tc := range []struct {
		name string
		a    desk.Agent
		t    desk.Ticket
		want bool
	}{
		{"own team", ag, desk.Ticket{TeamID: 2}, true},
		{"other team", ag, desk.Ticket{TeamID: 3}, false},
		{"other team but assigned", ag, desk.Ticket{TeamID: 3, AssigneeID: 5}, true},
		{"no team, unassigned", ag, desk.Ticket{}, false},
		{"no team, someone else's", ag, desk.Ticket{AssigneeID: 7}, false},
		{"lead sees all", lead, desk.Ticket{TeamID: 9}, true},
	} {
		p := Principal{Agent: &tc.a}
		if got := p.CanSeeTicket(tc.t); got != tc.want {
			t.Errorf("%s: CanSeeTicket = %v", tc.name, got)
		}
	}
	if (Principal{Agent: &ag}).SeesAllTickets() {
		t.Error("agent sees all tickets")
	}
	if !slices.Equal((Principal{Agent: &ag}).Teams(), []int64{1, 2}) {
		t.Error("Teams")
	}
}

func TestAuditEntryHelper(t *testing.T) {
	a := desk.Agent{ID: 3, Name: "Ann", Role: desk.RoleAdmin}
	e := AuditEntry(Principal{Agent: &a, IP: "10.0.0.1"}, "ticket.update", "ticket:1", map[string]int{"n": 1})
	if e.ActorKind != desk.AuthorAgent || e.ActorID != 3 || e.ActorName != "Ann" || e.Detail != `{"n":1}` || e.IP != "10.0.0.1" || e.At.IsZero() {
		t.Errorf("entry %+v", e)
	}
	sys := AuditEntry(Principal{}, "x", "y", nil)
	if sys.ActorKind != desk.AuthorSystem || sys.Detail != "{}" || sys.ActorName != "system" {
		t.Errorf("system entry %+v", sys)
	}
	if bad := AuditEntry(Principal{}, "x", "y", func() {}); !strings.Contains(bad.Detail, "error") {
		t.Errorf("unmarshalable detail = %q", bad.Detail)
	}
}

func TestThrottle(t *testing.T) {
	th := newThrottle(20, 3)
	now := time.Unix(1000, 0)
	for i := range 20 {
		if !th.allow("1.1.1.1", now) {
			t.Fatalf("attempt %d refused", i)
		}
	}
	if th.allow("1.1.1.1", now) {
		t.Fatal("21st attempt in a minute allowed")
	}
	if !th.allow("2.2.2.2", now) {
		t.Fatal("other IP refused")
	}
	if !th.allow("1.1.1.1", now.Add(3*time.Second)) {
		t.Fatal("no refill after 3 s")
	}
	for i := range 100 {
		th.allow(string(rune('a'+i%26))+time.Duration(i).String(), now)
		if th.k.Len() > 3 {
			t.Fatalf("map grew to %d", th.k.Len())
		}
	}
}
