package cache

import (
	"hash/maphash"
	"testing"
)

func TestBySecret(t *testing.T) {
	c := NewBySecret[int](4)
	c.Put("rat_one", 1)
	if v, ok := c.Get("rat_one"); !ok || v != 1 {
		t.Fatalf("Get = %d, %v; want 1, true", v, ok)
	}
	for _, miss := range []string{"rat_two", "rat_on", "rat_one ", ""} {
		if _, ok := c.Get(miss); ok {
			t.Errorf("Get(%q) hit", miss)
		}
	}
	// Another secret under the same hash is never answered with this one's
	// value: the secret is compared, not only its hash.
	c.entries.Put(maphash.String(c.seed, "rat_two"), secretEntry[int]{secret: "rat_one", value: 1})
	if _, ok := c.Get("rat_two"); ok {
		t.Error("a secret was answered by another one of the same hash")
	}
	c.Delete("rat_one")
	if _, ok := c.Get("rat_one"); ok {
		t.Error("deleted secret still there")
	}
	for i, s := range []string{"a", "b", "c", "d", "e", "f"} {
		c.Put(s, i)
		if c.Len() > 4 {
			t.Fatalf("len %d exceeds the bound", c.Len())
		}
	}
}

// TestBySecretOnSecondSight: a secret is stored on its second put, not its
// first; one stored already is replaced at once; and a first put whose
// mark was overwritten by another secret's counts as a first put again.
func TestBySecretOnSecondSight(t *testing.T) {
	c := NewBySecretOnSecondSight[int](100)
	steps := []struct {
		do      func()
		secret  string
		want    int
		wantHit bool
	}{
		{func() { c.Put("jwt_a", 1) }, "jwt_a", 0, false},
		{func() { c.Put("jwt_a", 2) }, "jwt_a", 2, true},
		{func() { c.Put("jwt_a", 3) }, "jwt_a", 3, true}, // replaced at once
		{func() { c.Put("jwt_b", 1) }, "jwt_b", 0, false},
		{func() { c.Delete("jwt_a") }, "jwt_a", 0, false},
		{func() { c.Put("jwt_a", 4) }, "jwt_a", 4, true}, // its mark is still there
		{func() {
			c.Put("jwt_c", 1)
			// Overwrite jwt_c's mark, as another secret of the same slot would.
			c.sightings[maphash.String(c.seed, "jwt_c")&(sightingSlots-1)].Store(0)
			c.Put("jwt_c", 2)
		}, "jwt_c", 0, false},
	}
	for i, s := range steps {
		s.do()
		v, ok := c.Get(s.secret)
		if ok != s.wantHit || v != s.want {
			t.Fatalf("step %d: Get(%q) = %d, %v; want %d, %v", i, s.secret, v, ok, s.want, s.wantHit)
		}
	}
}

// TestEqualSecrets: a difference anywhere (in a whole word, in the tail)
// makes two secrets unequal.
func TestEqualSecrets(t *testing.T) {
	tests := []struct {
		a, b string
		want bool
	}{
		{"", "", true},
		{"abc", "abc", true},
		{"abc", "abd", false},
		{"abc", "ab", false},
		{"ab", "abc", false},
		{"0123456789abcdefX", "0123456789abcdefX", true},
		{"0123456789abcdefX", "0123456789abcdefY", false},
		{"0123456789abcdefX", "0123456789abcdeXX", false},
		{"X123456789abcdefX", "0123456789abcdefX", false},
	}
	for _, tt := range tests {
		if got := EqualSecrets(tt.a, tt.b); got != tt.want {
			t.Errorf("EqualSecrets(%q, %q) = %v", tt.a, tt.b, got)
		}
	}
}
