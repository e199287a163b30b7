package identity

import (
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

// parseHash recognises the hash formats of `caddy hash-password`.
func parseHash(s string) (passwordHash, error) {
	switch {
	case s == "":
		return passwordHash{}, errors.New("password hash is required (make one with `caddy hash-password`)")
	case strings.HasPrefix(s, "$2a$"), strings.HasPrefix(s, "$2b$"), strings.HasPrefix(s, "$2y$"):
		if _, err := bcrypt.Cost([]byte(s)); err != nil || len(s) != 60 {
			return passwordHash{}, errors.New("malformed bcrypt password hash (make one with `caddy hash-password`)")
		}
		return passwordHash{value: []byte(s), comparer: caddyauth.BcryptHash{}, class: s[:7]}, nil
	case strings.HasPrefix(s, "$argon2id$"):
		if _, _, err := caddyauth.DecodeHash([]byte(s)); err != nil {
			return passwordHash{}, fmt.Errorf("malformed argon2id password hash: %w", err)
		}
		return passwordHash{value: []byte(s), comparer: caddyauth.Argon2idHash{}, class: s[:strings.LastIndexByte(s[:strings.LastIndexByte(s, '$')], '$')]}, nil
	default:
		return passwordHash{}, errors.New("unsupported password hash: want bcrypt ($2a$...) or argon2id ($argon2id$...) as printed by `caddy hash-password`")
	}
}

// matches runs the (slow) password hash comparison.
func (h passwordHash) matches(password []byte) bool {
	ok, err := h.comparer.Compare(h.value, password)
	return err == nil && ok
}
