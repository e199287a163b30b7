package identity

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"

	"github.com/caddyserver/caddy/v2/modules/caddyhttp/caddyauth"
	"golang.org/x/crypto/bcrypt"
)

// hash is a parsed password hash and the Caddy hash module that checks it.
type passwordHash struct {
	value    []byte
	comparer caddyauth.Comparer
	// class is the algorithm and its cost parameters (e.g. "$2a$10$"):
	// hashes of one class cost the same time to check.
	class string
}

// CheckPasswordHash checks that s has the shape of a hash printed by
// `caddy hash-password`: bcrypt `$2a$`, `$2b$` or `$2y$` with a two-digit
// cost and 53 characters of salt and hash, or argon2id
// `$argon2id$v=19$m=<n>,t=<n>,p=<n>$<salt>$<hash>`. The Caddyfile reader
// calls it so that a plaintext or truncated hash fails with a line number.
func CheckPasswordHash(s string) error {
	_, err := parseHash(s)
	return err
}

// hashHelp says how to make a valid hash.
const hashHelp = "make one with `caddy hash-password`"

// bcryptAlphabet is bcrypt's base64 alphabet.
const bcryptAlphabet = "./ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"

// parseHash recognises the hash formats of `caddy hash-password`.
func parseHash(s string) (passwordHash, error) {
	switch {
	case s == "":
		return passwordHash{}, errors.New("password hash is required (" + hashHelp + ")")
	case strings.HasPrefix(s, "$2a$"), strings.HasPrefix(s, "$2b$"), strings.HasPrefix(s, "$2y$"):
		if _, err := bcrypt.Cost([]byte(s)); err != nil || len(s) != 60 || s[6] != '$' ||
			strings.Trim(s[7:], bcryptAlphabet) != "" {
			return passwordHash{}, fmt.Errorf("malformed bcrypt password hash: want $2a$<cost>$ and 53 characters, got %d characters in all; is it truncated? (%s)", len(s), hashHelp)
		}
		return passwordHash{value: []byte(s), comparer: caddyauth.BcryptHash{}, class: s[:7]}, nil
	case strings.HasPrefix(s, "$argon2id$"):
		if err := checkArgon2id(s); err != nil {
			return passwordHash{}, fmt.Errorf("malformed argon2id password hash: %w; want $argon2id$v=19$m=<n>,t=<n>,p=<n>$<salt>$<hash> (%s)", err, hashHelp)
		}
		return passwordHash{value: []byte(s), comparer: caddyauth.Argon2idHash{}, class: s[:strings.LastIndexByte(s[:strings.LastIndexByte(s, '$')], '$')]}, nil
	default:
		return passwordHash{}, errors.New("unsupported password hash: want bcrypt ($2a$...) or argon2id ($argon2id$...); a plaintext password is never accepted (" + hashHelp + ")")
	}
}

// Shortest argon2id salt and hash accepted: `caddy hash-password` makes a
// 16-byte salt and a 32-byte hash, so anything shorter was cut off.
const (
	minArgon2idSalt = 8
	minArgon2idHash = 16
)

// checkArgon2id checks an argon2id hash beyond what Caddy's decoder does:
// non-zero cost parameters and a salt and hash that are not cut short.
func checkArgon2id(s string) error {
	_, hash, err := caddyauth.DecodeHash([]byte(s))
	if err != nil {
		return err
	}
	var m, t, p uint64
	if _, err := fmt.Sscanf(strings.Split(s, "$")[3], "m=%d,t=%d,p=%d", &m, &t, &p); err != nil || m == 0 || t == 0 || p == 0 {
		return errors.New("m, t and p must be positive numbers")
	}
	salt, _ := base64.RawStdEncoding.DecodeString(strings.Split(s, "$")[4])
	if len(salt) < minArgon2idSalt || len(hash) < minArgon2idHash {
		return fmt.Errorf("salt of %d bytes and hash of %d bytes are too short (truncated?)", len(salt), len(hash))
	}
	return nil
}

// matches runs the (slow) password hash comparison.
func (h passwordHash) matches(password []byte) bool {
	// A copy: the comparer is an interface, and the password must not
	// escape (the password authenticators decode it on the stack).
	ok, err := h.comparer.Compare(h.value, bytes.Clone(password))
	return err == nil && ok
}
