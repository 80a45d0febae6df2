// Package password hashes and checks passwords with Argon2id. It is its own package because the
// web handlers, the CLI and the tests all hash passwords, and the parameters must be one choice.
package password

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	"golang.org/x/crypto/argon2"
)

// Params are Argon2id's cost settings. Default is OWASP's minimum recommendation
// (m=19456 KiB, t=2, p=1).
type Params struct {
	Memory  uint32 // KiB
	Time    uint32
	Threads uint8
}

// Default is used for every new hash.
var Default = Params{Memory: 19456, Time: 2, Threads: 1}

const (
	saltLen = 16
	keyLen  = 32
)

var b64 = base64.RawStdEncoding

// Hash returns a PHC-format string: $argon2id$v=19$m=19456,t=2,p=1$<salt>$<key>.
func Hash(plain string) (string, error) {
	salt := make([]byte, saltLen)
	if _, err := rand.Read(salt); err != nil {
		return "", fmt.Errorf("password: salt: %w", err)
	}
	p := Default
	key := argon2.IDKey([]byte(plain), salt, p.Time, p.Memory, p.Threads, keyLen)
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s",
		argon2.Version, p.Memory, p.Time, p.Threads, b64.EncodeToString(salt), b64.EncodeToString(key)), nil
}

// ErrMalformed means a stored hash is not one this package wrote.
var ErrMalformed = errors.New("password: malformed hash")

// Check reports whether plain matches encoded, in time independent of where they differ.
func Check(plain, encoded string) (bool, error) {
	parts := strings.Split(encoded, "$")
	if len(parts) != 6 || parts[1] != "argon2id" {
		return false, ErrMalformed
	}
	var version int
	if _, err := fmt.Sscanf(parts[2], "v=%d", &version); err != nil || version != argon2.Version {
		return false, ErrMalformed
	}
	var p Params
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &p.Memory, &p.Time, &p.Threads); err != nil || p.Time == 0 || p.Threads == 0 {
		return false, ErrMalformed
	}
	salt, err := b64.DecodeString(parts[4])
	if err != nil {
		return false, ErrMalformed
	}
	want, err := b64.DecodeString(parts[5])
	if err != nil || len(want) == 0 {
		return false, ErrMalformed
	}
	got := argon2.IDKey([]byte(plain), salt, p.Time, p.Memory, p.Threads, uint32(len(want)))
	return subtle.ConstantTimeCompare(got, want) == 1, nil
}

// dummy is checked against when an account does not exist, so that a wrong email costs the same
// time as a wrong password.
var dummy, _ = Hash("no account has this password")

// CheckNothing spends the time of one Check and always fails.
func CheckNothing(plain string) {
	_, _ = Check(plain, dummy)
}

// Length limits for new passwords.
const (
	MinLength = 10
	MaxLength = 128
)

// Problem says what is wrong with a new password for the account with email, or "" if nothing:
// 10 to 128 characters and not the email address itself.
func Problem(plain, email string) string {
	n := utf8.RuneCountInString(plain)
	switch {
	case n < MinLength:
		return "Use at least 10 characters."
	case n > MaxLength:
		return "Use at most 128 characters."
	case email != "" && strings.EqualFold(strings.TrimSpace(plain), strings.TrimSpace(email)):
		return "Your password must not be your email address."
	}
	return ""
}
