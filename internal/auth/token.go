package auth

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
)

// Token prefixes say what a secret is, so a leaked one is recognised by
// secret scanners and cannot be used in the wrong place.
const (
	PrefixAPIToken    = "cst_"
	PrefixSession     = "css_"
	PrefixChatSession = "cs_"
	PrefixDevice      = "dt_"
)

// maxTokenLen bounds what we hash and look up; ours are about 47 bytes.
const maxTokenLen = 128

// NewSecret returns a new random token (prefix + 32 random bytes,
// base64url) and the hash the store keeps.
func NewSecret(prefix string) (token, hash string) {
	token = prefix + base64.RawURLEncoding.EncodeToString(randomBytes(32))
	return token, HashSecret(token)
}

// HashSecret is the hex sha256 of the whole token. A fast hash is enough:
// tokens carry 256 random bits, so there is nothing to brute-force.
func HashSecret(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

// randomBytes reads n bytes from the system CSPRNG. crypto/rand.Read never
// returns an error on supported platforms (it crashes the program instead),
// so there is no error to pass up.
func randomBytes(n int) []byte {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return b
}
