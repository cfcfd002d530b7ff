package auth

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/iocd/iocd/defs"
	"golang.org/x/crypto/argon2"
)

// Password length bounds, in characters. The upper bound keeps a request
// from making the server hash a megabyte.
const (
	MinPasswordLen = 10
	MaxPasswordLen = 256
)

// Argon2Params are the argon2id cost parameters of new hashes. Existing
// hashes carry their own, so raising these later needs no migration.
type Argon2Params struct {
	MemoryKiB uint32
	Time      uint32
	Threads   uint8
}

// DefaultArgon2 is OWASP's first argon2id recommendation: 19 MiB, two
// passes, one lane: tens of milliseconds per login (BenchmarkVerifyPassword:
// 65 ms on a 2-core VM under load).
var DefaultArgon2 = Argon2Params{MemoryKiB: 19 * 1024, Time: 2, Threads: 1}

const (
	saltLen = 16
	keyLen  = 32
)

// checkPassword says what is wrong with a new password, if anything.
func checkPassword(pw string) error {
	n := utf8.RuneCountInString(pw)
	switch {
	case !utf8.ValidString(pw):
		return defs.Invalid("password", "must be UTF-8 text")
	case n < MinPasswordLen:
		return defs.Invalid("password", "must be at least %d characters long (got %d)", MinPasswordLen, n)
	case n > MaxPasswordLen:
		return defs.Invalid("password", "must be at most %d characters long", MaxPasswordLen)
	}
	return nil
}

// hashPassword returns the PHC-style encoding of pw's argon2id hash with
// a fresh salt: $argon2id$v=19$m=19456,t=2,p=1$<salt>$<hash>.
func hashPassword(pw string, p Argon2Params) (string, error) {
	salt := make([]byte, saltLen)
	if _, err := rand.Read(salt); err != nil {
		return "", fmt.Errorf("hashing password: %w", err)
	}
	key := argon2.IDKey([]byte(pw), salt, p.Time, p.MemoryKiB, p.Threads, keyLen)
	b64 := base64.RawStdEncoding
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, p.MemoryKiB, p.Time, p.Threads,
		b64.EncodeToString(salt), b64.EncodeToString(key)), nil
}

// verifyPassword reports whether pw matches the encoded hash, comparing
// in constant time. A malformed encoding matches nothing.
func verifyPassword(pw, encoded string) bool {
	p, salt, key, ok := decodeHash(encoded)
	if !ok {
		return false
	}
	got := argon2.IDKey([]byte(pw), salt, p.Time, p.MemoryKiB, p.Threads, uint32(len(key)))
	return subtle.ConstantTimeCompare(got, key) == 1
}

// decodeHash parses a PHC argon2id string. Its bounds keep a tampered
// row from making a login allocate gigabytes.
func decodeHash(encoded string) (Argon2Params, []byte, []byte, bool) {
	parts := strings.Split(encoded, "$")
	if len(parts) != 6 || parts[0] != "" || parts[1] != "argon2id" {
		return Argon2Params{}, nil, nil, false
	}
	var v int
	if _, err := fmt.Sscanf(parts[2], "v=%d", &v); err != nil || v != argon2.Version {
		return Argon2Params{}, nil, nil, false
	}
	var p Argon2Params
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &p.MemoryKiB, &p.Time, &p.Threads); err != nil {
		return Argon2Params{}, nil, nil, false
	}
	if p.MemoryKiB < 8 || p.MemoryKiB > 1<<20 || p.Time < 1 || p.Time > 16 || p.Threads < 1 {
		return Argon2Params{}, nil, nil, false
	}
	b64 := base64.RawStdEncoding
	salt, err1 := b64.DecodeString(parts[4])
	key, err2 := b64.DecodeString(parts[5])
	if err1 != nil || err2 != nil || len(salt) < 8 || len(key) < 16 || len(key) > 64 {
		return Argon2Params{}, nil, nil, false
	}
	return p, salt, key, true
}
