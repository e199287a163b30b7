package identity

import (
	"runtime"
	"strings"
	"testing"
)

// TestMemoizedHashDoesNotPinRequestHeaders: remembering a key cut from a
// padded header keeps the key, not the header (a user could otherwise
// make every remembered token hold 16 KiB or more).
func TestMemoizedHashDoesNotPinRequestHeaders(t *testing.T) {
	m := NewMemoizedHash([]byte("0123456789abcdef0123456789abcdef"))
	const entries, pad = 200, 64 << 10
	var before runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	for i := 0; i < entries; i++ {
		header := "Token " + strings.Repeat(" ", pad) + "rat_" + strings.Repeat(string(rune('a'+i%26)), 8) + string(rune('A'+i/26)) + ".secret"
		key := strings.TrimLeft(header[len("Token "):], " ")
		sum, _ := m.Lookup(key)
		m.Remember(key, sum)
	}
	var after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&after)
	grown := int64(after.HeapAlloc) - int64(before.HeapAlloc)
	if grown > entries*pad/4 {
		t.Fatalf("remembering %d short keys kept %d KiB alive (%d B an entry): the padded header values are pinned",
			entries, grown>>10, grown/entries)
	}
	runtime.KeepAlive(m)
}
