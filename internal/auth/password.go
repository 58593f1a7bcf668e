package auth

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"fmt"
	"strings"

	"golang.org/x/crypto/argon2"

	"custos/internal/desk"
)

// argon2id parameters: the OWASP minimum recommendation (19 MiB, 2 passes,
// 1 lane), which keeps a login at a few tens of milliseconds on a small VM.
const (
	argonMemory  = 19456
	argonTime    = 2
	argonThreads = 1
	argonSaltLen = 16
	argonKeyLen  = 32

	// MinPassword and MaxPassword bound password length in bytes. The upper
	// bound keeps hashing cost predictable.
	MinPassword = 10
	MaxPassword = 256
)

// dummyHash is verified when the login does not exist, so that an unknown
// login costs the same time as a wrong password and does not reveal which
// logins exist. It is the hash of a random password nobody knows.
const dummyHash = "$argon2id$v=19$m=19456,t=2,p=1$lu9oT8RJvl+DA4XeXas4eQ$qFVSHAH3KsRSWj99iideVeNKYNHYmJMzSBj44j7LUYc"

// CheckPassword validates the length of a new password.
func CheckPassword(pw string) error {
	if len(pw) < MinPassword || len(pw) > MaxPassword {
		p := desk.Problems{}
		p.Add("password", fmt.Sprintf("must be %d-%d bytes", MinPassword, MaxPassword))
		return p.Err()
	}
	return nil
}

// HashPassword hashes pw with argon2id and a random salt, in PHC string
// format.
func HashPassword(pw string) (string, error) {
	salt := make([]byte, argonSaltLen)
	if _, err := rand.Read(salt); err != nil {
		return "", &desk.Error{Code: desk.EInternal, Message: "random source failed", Err: err}
	}
	key := argon2.IDKey([]byte(pw), salt, argonTime, argonMemory, argonThreads, argonKeyLen)
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, argonMemory, argonTime, argonThreads,
		base64.RawStdEncoding.EncodeToString(salt), base64.RawStdEncoding.EncodeToString(key)), nil
}

// VerifyPassword reports whether pw matches hash. The parameters are read
// from the hash, so hashes made with older parameters keep working; they are
// bounded so a corrupt row cannot make a login allocate gigabytes.
func VerifyPassword(hash, pw string) (bool, error) {
	parts := strings.Split(hash, "$")
	if len(parts) != 6 || parts[0] != "" || parts[1] != "argon2id" {
		return false, badHash("not an argon2id PHC string")
	}
	var version int
	if _, err := fmt.Sscanf(parts[2], "v=%d", &version); err != nil || version != argon2.Version {
		return false, badHash("unsupported argon2 version")
	}
	var m, t uint32
	var p uint8
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &m, &t, &p); err != nil {
		return false, badHash("bad parameters")
	}
	if m < 8 || m > 1<<20 || t < 1 || t > 16 || p < 1 || p > 16 {
		return false, badHash("parameters out of range")
	}
	salt, err := base64.RawStdEncoding.DecodeString(parts[4])
	if err != nil || len(salt) < 8 {
		return false, badHash("bad salt")
	}
	want, err := base64.RawStdEncoding.DecodeString(parts[5])
	if err != nil || len(want) < 16 || len(want) > 64 {
		return false, badHash("bad key")
	}
	got := argon2.IDKey([]byte(pw), salt, t, m, p, uint32(len(want)))
	return subtle.ConstantTimeCompare(got, want) == 1, nil
}

func badHash(why string) error {
	return &desk.Error{Code: desk.EInternal, Message: "stored password hash is invalid: " + why}
}
