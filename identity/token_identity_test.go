package identity

import (
	"testing"

	"github.com/caddy-restauth/caddy-restauth/internal/testusers"
)

// TestTokenIdentityPlaceholders: an identity made from the account's
// prebuilt one answers the placeholders with its own token id, through the
// lookup handed to Caddy's replacer too.
func TestTokenIdentityPlaceholders(t *testing.T) {
	d, err := NewDirectory([]User{{Name: "alice", PasswordHash: testusers.AliceHash, Roles: []string{"editor"}}})
	if err != nil {
		t.Fatal(err)
	}
	acct, _ := d.Lookup("alice")
	id := acct.TokenIdentity("jwt", "jti-123")
	for name, lookup := range map[string]func(string) (any, bool){
		"Placeholder":     id.Placeholder,
		"PlaceholderFunc": id.PlaceholderFunc(),
	} {
		for key, want := range map[string]string{
			PlaceholderUser: "alice", PlaceholderRoles: "editor", PlaceholderMethod: "jwt", PlaceholderTokenID: "jti-123",
		} {
			if v, ok := lookup(key); !ok || v != want {
				t.Errorf("%s(%s) = %v, %v; want %q", name, key, v, ok, want)
			}
		}
	}
	if other := acct.TokenIdentity("jwt", "jti-456"); other.TokenID != "jti-456" || id.TokenID != "jti-123" {
		t.Fatal("two token identities of one account share their token id")
	}
}
