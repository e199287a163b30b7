package identity

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"golang.org/x/crypto/bcrypt"
)

// FuzzUsersFile fuzzes the content of a users_file. Invariants: a file
// either fails to load (or to validate) with an error, or every user in it
// can be found by name with its roles exactly when enabled, no name
// carries ':' or a line break, writing the users back out and loading them
// again gives the same users, and a wrong password is refused for every
// name (when the hashes are cheap enough to check in a fuzz loop).
func FuzzUsersFile(f *testing.F) {
	// A hash at the lowest cost, so the fuzzer may check passwords quickly.
	hash, err := bcrypt.GenerateFromPassword([]byte("fuzz-Pa55word"), bcrypt.MinCost)
	if err != nil {
		f.Fatal(err)
	}
	bcrypt4 := string(hash)
	for _, name := range []string{"users.json", "users_bob_disabled.json", "users_invalid.json"} {
		data, err := os.ReadFile(filepath.Join("..", "integration", "testdata", name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Add([]byte(`[{"name": "alice", "password_hash": "` + bcrypt4 + `", "roles": ["editor"]}]`))
	f.Add([]byte(`[{"name": "alice", "password_hash": "` + bcrypt4 + `"}, {"name": "alice", "password_hash": "` + bcrypt4 + `"}]`))
	f.Add([]byte(`[{"name": "a:b", "password_hash": "` + bcrypt4 + `"}]`))
	f.Add([]byte(`[{"name": "bob", "password_hash": "` + bcrypt4 + `", "disabled": true, "roles": []}]`))
	f.Add([]byte(`[{"name": "x", "password_hash": "` + bcrypt4 + `", "extra": 1}]`))
	f.Add([]byte(`[{"name": "x", "password_hash": "$argon2id$v=19$m=16,t=1,p=1$c2FsdHNhbHQ$aGFzaA"}]`))
	f.Add([]byte(`{}`))
	f.Add([]byte(`null`))
	path := filepath.Join(f.TempDir(), "users.json")
	f.Fuzz(func(t *testing.T, data []byte) {
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
		users, err := LoadUsersFile(path)
		if err != nil {
			return
		}
		dir, err := NewDirectory(users)
		if err != nil {
			return
		}
		for _, u := range users {
			if u.Name == "" || strings.ContainsAny(u.Name, ":\r\n") {
				t.Fatalf("accepted user name %q", u.Name)
			}
			acct, ok := dir.Lookup(u.Name)
			if ok == u.Disabled {
				t.Fatalf("user %q (disabled %v): Lookup found %v", u.Name, u.Disabled, ok)
			}
			if ok && (acct.Name != u.Name || !slices.Equal(acct.Roles, u.Roles) || acct.RolesJoined != strings.Join(u.Roles, ",")) {
				t.Fatalf("user %+v became account %+v", u, acct)
			}
		}
		again := roundTrip(t, users)
		if !slices.EqualFunc(users, again, sameUser) {
			t.Fatalf("users do not round-trip:\n%+v\n%+v", users, again)
		}
		if cheapHashes(users) {
			for _, u := range users {
				if _, err := dir.Verify([]byte(u.Name), []byte("\x00not the password")); !errors.Is(err, ErrBadCredentials) {
					t.Fatalf("a wrong password for %q gave %v", u.Name, err)
				}
			}
		}
	})
}

// roundTrip writes users as a users_file and loads it again.
func roundTrip(t *testing.T, users []User) []User {
	t.Helper()
	data, err := json.Marshal(users)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "again.json")
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	again, err := LoadUsersFile(path)
	if err != nil {
		t.Fatalf("users written back do not load: %v", err)
	}
	return again
}

func sameUser(a, b User) bool {
	return a.Name == b.Name && a.PasswordHash == b.PasswordHash && a.Disabled == b.Disabled && slices.Equal(a.Roles, b.Roles)
}

// cheapHashes reports whether every hash is bcrypt of cost at most 5.
func cheapHashes(users []User) bool {
	for _, u := range users {
		cost, err := bcrypt.Cost([]byte(u.PasswordHash))
		if err != nil || cost > 5 {
			return false
		}
	}
	return true
}
