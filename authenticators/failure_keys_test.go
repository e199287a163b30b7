package authenticators

import (
	"fmt"
	"hash/fnv"
	"testing"
)

// TestFailureKeys: the three keys of a (user, address) are the documented
// ones, are built once while that pair keeps coming back, and never answer
// for another pair, even one that shares their slot.
func TestFailureKeys(t *testing.T) {
	var f failureKeys
	const name = "0123456789abcdef0123456789abcdef"
	k := f.get(name, "192.0.2.1")
	for _, tt := range []struct{ got, want string }{
		{k.keys[:k.userAt], "fail:user-addr:" + name + ":192.0.2.1"},
		{k.keys[k.userAt:k.addrAt], "fail:user:" + name},
		{k.keys[k.addrAt:], "fail:addr:192.0.2.1"},
	} {
		if tt.got != tt.want {
			t.Errorf("key %q, want %q", tt.got, tt.want)
		}
	}
	if again := f.get(name, "192.0.2.1"); again != k {
		t.Error("the keys of a returning (user, address) were built again")
	}
	if allocs := testing.AllocsPerRun(100, func() { f.get(name, "192.0.2.1") }); allocs != 0 {
		t.Errorf("a returning (user, address) costs %v allocations, want 0", allocs)
	}

	// Pairs that share the first one's slot replace it, and each gets its
	// own keys: other addresses of this user, other users of this address.
	slot := failureKeySlot(name, "192.0.2.1")
	var addrs, names []string
	for i := 0; (len(addrs) < 3 || len(names) < 3) && i < 1_000_000; i++ {
		addr := fmt.Sprintf("198.51.%d.%d", i/256%256, i%256)
		if len(addrs) < 3 && failureKeySlot(name, addr) == slot {
			addrs = append(addrs, addr)
		}
		other := fmt.Sprintf("%08x%s", i, name[8:])
		if len(names) < 3 && other != name && failureKeySlot(other, "192.0.2.1") == slot {
			names = append(names, other)
		}
	}
	if len(addrs) < 3 || len(names) < 3 {
		t.Fatalf("found %d addresses and %d names sharing a slot, want 3 of each", len(addrs), len(names))
	}
	for _, addr := range append(addrs, "192.0.2.1") {
		got := f.get(name, addr)
		if want := "fail:user-addr:" + name + ":" + addr; got.keys[:got.userAt] != want {
			t.Errorf("keys of %s start %q, want %q", addr, got.keys[:got.userAt], want)
		}
	}
	for _, other := range append(names, name) {
		got := f.get(other, "192.0.2.1")
		if want := "fail:user:" + other; got.keys[got.userAt:got.addrAt] != want {
			t.Errorf("keys of user %s hold %q, want %q", other, got.keys[got.userAt:got.addrAt], want)
		}
	}
}

// TestFNV1a: the slot and stripe hash is FNV-1a as hash/fnv computes it.
func TestFNV1a(t *testing.T) {
	for _, s := range []string{"", "a", "fail:user:0123456789abcdef0123456789abcdef", "fail:addr:2001:db8::1"} {
		h := fnv.New32a()
		h.Write([]byte(s))
		if got, want := fnv1a(fnvOffset, s), h.Sum32(); got != want {
			t.Errorf("fnv1a(%q) = %#x, want %#x", s, got, want)
		}
	}
}
