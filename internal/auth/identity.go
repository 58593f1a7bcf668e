package auth

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"math"
	"strings"
	"time"
	"unicode/utf8"

	"custos/internal/desk"
)

// Limits on customer identity tokens. The exchange signs them for its
// logged-in users; short lifetimes limit what a leaked token is worth.
const (
	maxIdentityToken    = 4 << 10
	maxIdentityLifetime = 24 * time.Hour
	maxIdentityFuture   = 5 * time.Minute
	maxIdentitySub      = 255
)

// IdentityClaims is who the exchange says a chat customer is.
type IdentityClaims struct {
	Sub      string // the exchange's user id; becomes Contact.ExternalUID
	Name     string
	Email    string
	Lang     string
	VIPTier  int
	KYCLevel int
	IssuedAt time.Time // zero = not stated
	Expires  time.Time
}

type jwtHeader struct {
	Alg string `json:"alg"`
	Typ string `json:"typ,omitempty"`
}

// jwtClaims is the wire form. Times are pointers so a missing claim is
// told apart from zero, and float64 because some signers write 1.7e9.
type jwtClaims struct {
	Sub      string   `json:"sub"`
	Name     string   `json:"name,omitempty"`
	Email    string   `json:"email,omitempty"`
	Lang     string   `json:"lang,omitempty"`
	VIPTier  int      `json:"vip_tier,omitempty"`
	KYCLevel int      `json:"kyc_level,omitempty"`
	Iat      *float64 `json:"iat,omitempty"`
	Exp      *float64 `json:"exp,omitempty"`
}

func identityErr(msg string) error {
	return &desk.Error{Code: desk.EUnauthorized, Message: "identity token " + msg}
}

// SignIdentityToken signs c as an HS256 JWT. Zero times are left out. It
// exists for tests, the demo and benchmarks; exchanges sign with their own
// JWT library.
func SignIdentityToken(secret []byte, c IdentityClaims) (string, error) {
	if len(secret) == 0 {
		return "", desk.Errorf(desk.EInvalid, "identity secret is empty")
	}
	wc := jwtClaims{Sub: c.Sub, Name: c.Name, Email: c.Email, Lang: c.Lang, VIPTier: c.VIPTier, KYCLevel: c.KYCLevel}
	if !c.IssuedAt.IsZero() {
		v := float64(c.IssuedAt.Unix())
		wc.Iat = &v
	}
	if !c.Expires.IsZero() {
		v := float64(c.Expires.Unix())
		wc.Exp = &v
	}
	payload, err := json.Marshal(wc)
	if err != nil {
		return "", &desk.Error{Code: desk.EInternal, Message: "encode identity claims", Err: err}
	}
	return signJWT(secret, []byte(`{"alg":"HS256","typ":"JWT"}`), payload), nil
}

func signJWT(secret, header, payload []byte) string {
	enc := base64.RawURLEncoding
	signing := enc.EncodeToString(header) + "." + enc.EncodeToString(payload)
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(signing))
	return signing + "." + enc.EncodeToString(m.Sum(nil))
}

// VerifyIdentityToken checks an HS256 JWT signed with secret and returns its
// claims. Only HS256 is accepted: the algorithm is fixed by us, never chosen
// by the token (so "none" and key-confusion tricks fail).
func VerifyIdentityToken(secret []byte, token string, now time.Time) (IdentityClaims, error) {
	var zero IdentityClaims
	if len(secret) == 0 {
		return zero, identityErr("not accepted: no identity secret configured")
	}
	if len(token) > maxIdentityToken {
		return zero, identityErr("is over 4 KiB")
	}
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return zero, identityErr("is malformed: want three dot-separated parts")
	}
	enc := base64.RawURLEncoding
	hb, err := enc.DecodeString(parts[0])
	if err != nil {
		return zero, identityErr("is malformed: header is not base64url")
	}
	var h jwtHeader
	if err := json.Unmarshal(hb, &h); err != nil {
		return zero, identityErr("is malformed: header is not JSON")
	}
	if h.Alg != "HS256" {
		return zero, identityErr("algorithm must be HS256")
	}
	sig, err := enc.DecodeString(parts[2])
	if err != nil {
		return zero, identityErr("is malformed: signature is not base64url")
	}
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(parts[0] + "." + parts[1]))
	if !hmac.Equal(sig, m.Sum(nil)) {
		return zero, identityErr("signature is invalid")
	}
	pb, err := enc.DecodeString(parts[1])
	if err != nil {
		return zero, identityErr("is malformed: payload is not base64url")
	}
	var c jwtClaims
	if err := json.Unmarshal(pb, &c); err != nil {
		return zero, identityErr("is malformed: payload is not a JSON claims object")
	}
	if c.Sub == "" {
		return zero, identityErr("has no sub")
	}
	if len(c.Sub) > maxIdentitySub || !utf8.ValidString(c.Sub) {
		return zero, identityErr("sub is too long or not UTF-8")
	}
	if c.Exp == nil {
		return zero, identityErr("has no exp")
	}
	exp, ok := unixTime(*c.Exp)
	if !ok {
		return zero, identityErr("exp is out of range")
	}
	if !now.Before(exp) {
		return zero, identityErr("has expired")
	}
	out := IdentityClaims{Sub: c.Sub, Name: c.Name, Email: c.Email, Lang: c.Lang, VIPTier: c.VIPTier, KYCLevel: c.KYCLevel, Expires: exp}
	if c.Iat != nil {
		iat, ok := unixTime(*c.Iat)
		if !ok {
			return zero, identityErr("iat is out of range")
		}
		if iat.After(now.Add(maxIdentityFuture)) {
			return zero, identityErr("iat is in the future")
		}
		if exp.Sub(iat) > maxIdentityLifetime {
			return zero, identityErr("lifetime is over 24 hours")
		}
		out.IssuedAt = iat
	} else if exp.Sub(now) > maxIdentityLifetime {
		// Without iat the lifetime cannot be checked; bound what is left.
		return zero, identityErr("exp is more than 24 hours away")
	}
	if out.VIPTier < 0 || out.VIPTier > 9 || out.KYCLevel < 0 || out.KYCLevel > 9 {
		return zero, identityErr("vip_tier and kyc_level must be 0-9")
	}
	return out, nil
}

// unixTime converts a NumericDate, refusing values no clock will reach.
func unixTime(v float64) (time.Time, bool) {
	if math.IsNaN(v) || v < 0 || v > 1<<40 {
		return time.Time{}, false
	}
	return time.Unix(int64(v), 0).UTC(), true
}
