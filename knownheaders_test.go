package restauth

import (
	"slices"
	"testing"
)

// TestHeaderRegistry: names stay known while any block uses them, the
// defaults always, and spellings of one name count once.
func TestHeaderRegistry(t *testing.T) {
	r := newHeaderRegistry(defaultUserHeader, defaultRolesHeader)
	r.add("X-User", "X-Roles")
	r.add("x-user", "X-Groups")
	r.add("X-Remote-User", "X_Remote_Roles")
	steps := []struct {
		remove []string
		want   []string
	}{
		{nil, []string{"X-Remote-User", "X-Remote-Roles", "X-Groups", "X-Roles", "X-User"}},
		{[]string{"X-User", "X-Roles"}, []string{"X-Remote-User", "X-Remote-Roles", "X-Groups", "X-User"}},
		{[]string{"x-user", "X-Groups"}, []string{"X-Remote-User", "X-Remote-Roles"}},
		{[]string{"X-Remote-User", "X_Remote_Roles"}, []string{"X-Remote-User", "X-Remote-Roles"}},
	}
	for i, s := range steps {
		r.remove(s.remove...)
		got := r.names()
		if len(got) != len(s.want) || !slices.Equal(got[:2], s.want[:2]) {
			t.Fatalf("step %d: names %q, want %q", i, got, s.want)
		}
		for _, w := range s.want {
			if !slices.Contains(got, w) {
				t.Fatalf("step %d: names %q lack %q", i, got, w)
			}
		}
	}
}
