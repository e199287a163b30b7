package identity

import (
	"crypto/hmac"
	"crypto/sha256"
	"errors"
	"strings"
	"testing"
)

const (
	bcrypt10  = "$2a$10$42ttQUXvSCo88C1QJ/O36.i5jRP21E9c2fY4lqdm/BYUzzLAWDCfm" // alice-password
	bcrypt10b = "$2a$10$4ueeZrkywUSq4mU5OH8EROI0TXXeH6oJKZwIBt1dLNwTneFppDFQ2" // bob-password
	argon     = "$argon2id$v=19$m=47104,t=1,p=1$MDEyMzQ1Njc4OWFiY2RlZg$ccAORvH13I8YjkXWdyaZ1/PKY39jbLo19oqHa3T+lmk"
)

// TestKeyedHashPairIsHMACSHA256: SumPair is HMAC-SHA256 of the
// length-prefixed name and the password (also past the pooled buffer's
// size), so that no two splits of the same bytes share an input.
func TestKeyedHashPairIsHMACSHA256(t *testing.T) {
	key := make([]byte, 32)
	for i := range key {
		key[i] = byte(i * 7)
	}
	k := NewKeyedHash(key)
	for _, c := range []struct{ name, password string }{
		{"alice", "secret"},
		{"", ""},
		{"bob", string(make([]byte, 3000))}, // longer than the kept buffer
	} {
		mac := hmac.New(sha256.New, key)
		n := len(c.name)
		mac.Write([]byte{byte(n >> 24), byte(n >> 16), byte(n >> 8), byte(n)})
		mac.Write([]byte(c.name))
		mac.Write([]byte(c.password))
		want := mac.Sum(nil)
		got := k.SumPair([]byte(c.name), []byte(c.password))
		if !hmac.Equal(got[:], want) {
			t.Fatalf("SumPair(%q) differs from crypto/hmac", c.name)
		}
	}
	if k.SumPair([]byte("ab"), []byte("c")) == k.SumPair([]byte("a"), []byte("bc")) {
		t.Fatal("two splits of the same bytes collide")
	}
}

func TestVerify(t *testing.T) {
	d, err := NewDirectory([]User{
		{Name: "alice", PasswordHash: bcrypt10, Roles: []string{"editor"}},
		{Name: "carol", PasswordHash: bcrypt10b, Disabled: true},
		{Name: "dave", PasswordHash: argon},
	})
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name, password string
		ok             bool
	}{
		{"alice", "alice-password", true},
		{"alice", "alice-password", true}, // cached
		{"alice", "wrong", false},
		{"nobody", "alice-password", false},
		{"carol", "bob-password", false}, // disabled
		{"dave", "dave-password", true},
	}
	for _, c := range cases {
		a, err := d.Verify([]byte(c.name), []byte(c.password))
		if c.ok != (err == nil) {
			t.Fatalf("Verify(%s) err = %v, want ok=%v", c.name, err, c.ok)
		}
		if !c.ok && !errors.Is(err, ErrBadCredentials) {
			t.Fatalf("Verify(%s) err = %v, want ErrBadCredentials", c.name, err)
		}
		if c.ok && a.Name != c.name {
			t.Fatalf("Verify(%s) = %s", c.name, a.Name)
		}
	}
	if d.set.Load().cache.Len() != 2 {
		t.Errorf("cache has %d entries, want the 2 verified users only", d.set.Load().cache.Len())
	}
	if _, ok := d.Lookup("carol"); ok {
		t.Error("Lookup returned a disabled user")
	}
}

func TestDecoyIsTheMostCommonHashClass(t *testing.T) {
	d, err := NewDirectory([]User{
		{Name: "dave", PasswordHash: argon},
		{Name: "alice", PasswordHash: bcrypt10},
		{Name: "bob", PasswordHash: bcrypt10b},
	})
	if err != nil {
		t.Fatal(err)
	}
	if d.set.Load().decoy.class != "$2a$10$" {
		t.Errorf("decoy class = %q, want the bcrypt cost-10 class most users have", d.set.Load().decoy.class)
	}
	a, _ := parseHash(argon)
	if a.class != "$argon2id$v=19$m=47104,t=1,p=1" {
		t.Errorf("argon2id class = %q", a.class)
	}
}

// TestValidateNameLength: a name of MaxNameBytes can log in and is
// accepted; one byte more could not, and is refused at load.
func TestValidateNameLength(t *testing.T) {
	if err := ValidateName(strings.Repeat("é", MaxNameBytes/2)); err != nil {
		t.Errorf("a name of %d bytes: %v", MaxNameBytes, err)
	}
	if err := ValidateName(strings.Repeat("a", MaxNameBytes+1)); err == nil || !strings.Contains(err.Error(), "at most 256") {
		t.Errorf("a name of %d bytes: %v, want it refused", MaxNameBytes+1, err)
	}
}
