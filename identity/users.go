package identity

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
)

// User is one configured account, as written in a `user` line or in a
// users_file.
type User struct {
	// The user's login name.
	Name string `json:"name"`
	// The password hash, exactly as `caddy hash-password` prints it
	// (bcrypt `$2a$...` or argon2id `$argon2id$...`).
	PasswordHash string `json:"password_hash"`
	// Roles given to the user; sent upstream and checked by allow_roles and
	// write_roles.
	Roles []string `json:"roles,omitempty"`
	// A disabled user is refused by every authenticator.
	Disabled bool `json:"disabled,omitempty"`
}

// LoadUsersFile reads a JSON list of users from path.
func LoadUsersFile(path string) ([]User, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading users_file: %w", err)
	}
	return ParseUsersFile(path, data)
}

// ParseUsersFile decodes data, the contents of the users_file at path.
func ParseUsersFile(path string, data []byte) ([]User, error) {
	var users []User
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&users); err != nil {
		return nil, fmt.Errorf("users_file %s: invalid JSON (want a list of {\"name\", \"password_hash\", \"roles\", \"disabled\"}): %w", path, err)
	}
	return users, nil
}

// ValidateUsers checks names, uniqueness and password hashes.
func ValidateUsers(users []User) error {
	seen := make(map[string]bool, len(users))
	for i, u := range users {
		if u.Name == "" {
			return fmt.Errorf("user %d: name is required", i)
		}
		if seen[u.Name] {
			return fmt.Errorf("user %q is defined more than once", u.Name)
		}
		seen[u.Name] = true
		if err := ValidateUser(u); err != nil {
			return err
		}
	}
	return nil
}

// ValidateUser checks one user's name, password hash and roles.
func ValidateUser(u User) error {
	if err := ValidateName(u.Name); err != nil {
		return err
	}
	if err := CheckPasswordHash(u.PasswordHash); err != nil {
		return fmt.Errorf("user %q: %w", u.Name, err)
	}
	for _, r := range u.Roles {
		if err := ValidateRole(r); err != nil {
			return fmt.Errorf("user %q: %w", u.Name, err)
		}
	}
	return nil
}

// MaxNameBytes bounds user names. A password check refuses a longer name
// before any store access (it would be a key of every store), so a longer
// name could never log in: it is refused when the users are loaded.
const MaxNameBytes = 256

// ValidateName checks that a user name can be a Basic login and travel
// in a request header: not empty, at most MaxNameBytes, no ':' and no
// control characters (line breaks, NUL, DEL).
func ValidateName(name string) error {
	switch {
	case name == "":
		return errors.New("user: name is required")
	case len(name) > MaxNameBytes:
		return fmt.Errorf("user %.32q…: name is %d bytes long; at most %d", name, len(name), MaxNameBytes)
	case strings.Contains(name, ":") || hasControl(name):
		return fmt.Errorf("user %q: name must not contain ':' or control characters such as line breaks", name)
	}
	return nil
}

// ValidateRole checks that a role name can travel in a comma-separated
// header: a non-empty word without commas, spaces or control characters.
func ValidateRole(role string) error {
	if role == "" || strings.ContainsAny(role, ", ") || hasControl(role) {
		return fmt.Errorf("role %q must be a non-empty word without commas, spaces or control characters", role)
	}
	return nil
}

// hasControl reports whether s holds an ASCII control character (what a
// header value may not carry, tab aside, which names may not either).
func hasControl(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] == 0x7f {
			return true
		}
	}
	return false
}

// ErrBadCredentials is returned for an unknown user, a wrong password or a
// disabled user alike, so callers cannot tell them apart.
var ErrBadCredentials = errors.New("invalid username or password")
