package auth

import (
	"encoding/base64"
	"strings"
	"testing"
	"time"

	"custos/internal/desk"
)

func TestIdentityToken(t *testing.T) {
	secret := []byte("exchange-shared-secret-0123456789")
	now := time.Unix(1_700_000_000, 0).UTC()
	good := IdentityClaims{Sub: "u-42", Name: "Kim", Email: "kim@example.com", Lang: "ko", VIPTier: 3, KYCLevel: 2,
		IssuedAt: now.Add(-time.Minute), Expires: now.Add(time.Hour)}
	tok, err := SignIdentityToken(secret, good)
	if err != nil {
		t.Fatal(err)
	}
	got, err := VerifyIdentityToken(secret, tok, now)
	if err != nil {
		t.Fatal(err)
	}
	if got.Sub != "u-42" || got.Name != "Kim" || got.VIPTier != 3 || got.KYCLevel != 2 || got.Lang != "ko" ||
		!got.Expires.Equal(good.Expires) || !got.IssuedAt.Equal(good.IssuedAt) {
		t.Fatalf("claims %+v", got)
	}

	sign := func(c IdentityClaims) string {
		s, err := SignIdentityToken(secret, c)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	with := func(f func(*IdentityClaims)) string {
		c := good
		f(&c)
		return sign(c)
	}
	enc := base64.RawURLEncoding
	parts := strings.Split(tok, ".")
	raw := func(header, payload string) string { return signJWT(secret, []byte(header), []byte(payload)) }

	for _, tc := range []struct {
		name, token, msg string
	}{
		{"too large", tok + strings.Repeat("A", 5000), "4 KiB"},
		{"two parts", parts[0] + "." + parts[1], "malformed"},
		{"garbage", "a.b.c", "malformed"},
		{"header not json", enc.EncodeToString([]byte("nope")) + "." + parts[1] + "." + parts[2], "malformed"},
		{"alg none", enc.EncodeToString([]byte(`{"alg":"none","typ":"JWT"}`)) + "." + parts[1] + ".", "HS256"},
		{"alg none signed", raw(`{"alg":"none"}`, `{"sub":"x","exp":1700003600}`), "HS256"},
		{"alg HS512", raw(`{"alg":"HS512"}`, `{"sub":"x","exp":1700003600}`), "HS256"},
		{"alg RS256", raw(`{"alg":"RS256"}`, `{"sub":"x","exp":1700003600}`), "HS256"},
		{"bad signature", parts[0] + "." + parts[1] + "." + enc.EncodeToString(make([]byte, 32)), "signature"},
		{"wrong secret", func() string { s, _ := SignIdentityToken([]byte("other"), good); return s }(), "signature"},
		{"payload swapped", parts[0] + "." + enc.EncodeToString([]byte(`{"sub":"admin","exp":1700003600}`)) + "." + parts[2], "signature"},
		{"payload not json", raw(`{"alg":"HS256"}`, `[1,2]`), "malformed"},
		{"missing sub", with(func(c *IdentityClaims) { c.Sub = "" }), "no sub"},
		{"missing exp", with(func(c *IdentityClaims) { c.Expires = time.Time{} }), "no exp"},
		{"expired", with(func(c *IdentityClaims) { c.Expires = now.Add(-time.Second) }), "expired"},
		{"expires now", with(func(c *IdentityClaims) { c.Expires = now }), "expired"},
		{"lifetime over 24h", with(func(c *IdentityClaims) { c.Expires = c.IssuedAt.Add(25 * time.Hour) }), "24 hours"},
		{"no iat, exp far", with(func(c *IdentityClaims) { c.IssuedAt = time.Time{}; c.Expires = now.Add(48 * time.Hour) }), "24 hours"},
		{"iat in future", with(func(c *IdentityClaims) { c.IssuedAt = now.Add(6 * time.Minute); c.Expires = now.Add(time.Hour) }), "future"},
		{"vip out of range", with(func(c *IdentityClaims) { c.VIPTier = 10 }), "0-9"},
		{"exp not a number", raw(`{"alg":"HS256"}`, `{"sub":"x","exp":"soon"}`), "malformed"},
	} {
		_, err := VerifyIdentityToken(secret, tc.token, now)
		if code(err) != desk.EUnauthorized || !strings.Contains(err.Error(), tc.msg) {
			t.Errorf("%s: err = %v; want unauthorized containing %q", tc.name, err, tc.msg)
		}
	}
	// Accepted edge cases.
	for _, tc := range []struct{ name, token string }{
		{"iat slightly in future", with(func(c *IdentityClaims) { c.IssuedAt = now.Add(4 * time.Minute) })},
		{"no iat", with(func(c *IdentityClaims) { c.IssuedAt = time.Time{} })},
		{"exactly 24h", with(func(c *IdentityClaims) { c.IssuedAt = now; c.Expires = now.Add(24 * time.Hour) })},
	} {
		if _, err := VerifyIdentityToken(secret, tc.token, now); err != nil {
			t.Errorf("%s: %v", tc.name, err)
		}
	}
	if _, err := VerifyIdentityToken(nil, tok, now); code(err) != desk.EUnauthorized {
		t.Errorf("empty secret: %v", err)
	}
}
