package restauth

import (
	"strings"
	"testing"
)

// TestHeaderNameSet: every spelling a backend reads as a member is in the
// set, whatever the member's length, and nothing else is.
func TestHeaderNameSet(t *testing.T) {
	long := "X-" + strings.Repeat("Long-", 14) + "User" // 76 bytes
	s := newHeaderNameSet("X-Remote-User", "X-Remote-Roles", long)
	tests := []struct {
		name string
		want bool
	}{
		{"X-Remote-User", true},
		{"x-remote-user", true},
		{"X_Remote_User", true},
		{"X.REMOTE.ROLES", true},
		{strings.ReplaceAll(strings.ToLower(long), "-", "_"), true},
		{"X-Remote-Use", false},
		{"X-Remote-Userx", false},
		{"Authorization", false}, // the length of X-Remote-User
		{long[:len(long)-1] + "S", false},
		{long + "-", false},
		{"", false},
	}
	for _, tt := range tests {
		if got := s.contains(tt.name); got != tt.want {
			t.Errorf("contains(%q) = %v, want %v", tt.name, got, tt.want)
		}
	}
}
