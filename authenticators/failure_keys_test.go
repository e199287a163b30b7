package authenticators

import "testing"

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

	// Pairs that share the first one's slot replace it, and each gets its own keys.
	slot := failureKeySlot(name, "192.0.2.1")
	var others []string
	for i := 0; len(others) < 3 && i < 100000; i++ {
		addr := "198.51.100." + string(rune('a'+i%26)) + string(rune('a'+i/26%26)) + string(rune('a'+i/676%26))
		if failureKeySlot(name, addr) == slot {
			others = append(others, addr)
		}
	}
	if len(others) < 3 {
		t.Fatal("found no addresses sharing a slot")
	}
	for _, addr := range append(others, "192.0.2.1") {
		got := f.get(name, addr)
		if want := "fail:addr:" + addr; got.keys[got.addrAt:] != want {
			t.Errorf("keys of %s end %q, want %q", addr, got.keys[got.addrAt:], want)
		}
	}
	other := "fedcba9876543210fedcba987654321f"
	if got := f.get(other, "192.0.2.1"); got.keys[got.userAt:got.addrAt] != "fail:user:"+other {
		t.Errorf("another user from the same address got %q", got.keys[got.userAt:got.addrAt])
	}
}
