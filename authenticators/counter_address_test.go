package authenticators

import "testing"

// TestCounterAddress: an IPv4 address is counted as it is, also written as
// IPv4-mapped IPv6; an IPv6 address by its /64 network, zone or not, so
// that rotating the interface part does not escape the per-address limits.
func TestCounterAddress(t *testing.T) {
	for _, tt := range []struct{ addr, want string }{
		{"192.0.2.1", "192.0.2.1"},
		{"::ffff:192.0.2.1", "192.0.2.1"},
		{"::ffff:c000:201", "192.0.2.1"},
		{"2001:db8:1:2:3:4:5:6", "2001:db8:1:2::/64"},
		{"2001:db8:1:2::9", "2001:db8:1:2::/64"},
		{"2001:db8:1:3::9", "2001:db8:1:3::/64"},
		{"fe80::1%eth0", "fe80::/64"},
		{"::1", "::/64"},
		{"not an address", "not an address"},
		{"[::1]:80", "[::1]:80"},
	} {
		if got := counterAddress(tt.addr); got != tt.want {
			t.Errorf("counterAddress(%q) = %q, want %q", tt.addr, got, tt.want)
		}
	}
}

// TestFailureKeysCountAddressesTheirWay: the keys of an IPv6 client name
// its /64, and are reused while it keeps coming from the same address.
func TestFailureKeysCountAddressesTheirWay(t *testing.T) {
	var f failureKeys
	const name = "0123456789abcdef0123456789abcdef"
	k := f.get(name, "2001:db8::7")
	if got, want := k.keys[k.addrAt:], "fail:addr:2001:db8::/64"; got != want {
		t.Errorf("per-address key %q, want %q", got, want)
	}
	if again := f.get(name, "2001:db8::7"); again != k {
		t.Error("the keys of a returning IPv6 client were built again")
	}
	if other := f.get(name, "2001:db8::8"); other.keys != k.keys {
		t.Errorf("keys of another address of the /64 = %q, want %q", other.keys, k.keys)
	}
}
