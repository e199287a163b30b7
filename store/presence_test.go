package store

import "testing"

// TestPresenceMayContainAny: the three keys of a password check are asked
// at once; any present one answers yes, and an empty key never matches,
// even when the set holds the empty string's hash or the zero hash (which
// an empty key's unused slot holds).
func TestPresenceMayContainAny(t *testing.T) {
	p := newPresence()
	p.add([]byte("fail:user:x"))
	p.add([]byte(""))
	p.counts[0] = 1
	tests := []struct {
		keys [3]string
		want bool
	}{
		{[3]string{"fail:user:x", "", ""}, true},
		{[3]string{"a", "b", "fail:user:x"}, true},
		{[3]string{"a", "fail:user:x", "c"}, true},
		{[3]string{"a", "b", "c"}, false},
		{[3]string{"", "", ""}, false},
		{[3]string{"a", "", "c"}, false},
	}
	for _, tt := range tests {
		if got := p.mayContainAny(tt.keys); got != tt.want {
			t.Errorf("mayContainAny(%q) = %v, want %v", tt.keys, got, tt.want)
		}
	}
}
