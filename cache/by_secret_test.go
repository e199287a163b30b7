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
