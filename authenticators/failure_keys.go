package authenticators

import (
	"strings"
	"sync/atomic"
)

// Prefixes of the failure counter keys.
const (
	keyUserAddr = "fail:user-addr:"
	keyUser     = "fail:user:"
	keyAddr     = "fail:addr:"
)

// failureKeys builds the three failure counter keys of a password check
// (per user and address, per user, per address) as one string, and keeps
// the last one built for each of a few hundred (user, address) slots, so
// that a client that keeps sending a cached Basic password from one
// address does not allocate its keys on every request. The keys hold no
// secret: a user name's hash and a client address.
type failureKeys struct {
	recent [failureKeySlots]atomic.Pointer[builtFailureKeys]
}

// failureKeySlots bounds what failureKeys keeps: an entry is about 210
// bytes with an IPv4 address and 260 with an IPv6 one (Caddy's client IP
// is an address, never a header's text), so at most about 64 KiB.
const failureKeySlots = 256

// builtFailureKeys are the keys of one (user, address): keys[:userAt] per
// user and address, keys[userAt:addrAt] per user, keys[addrAt:] per
// address (counterAddress's form of addr).
type builtFailureKeys struct {
	name, addr     string
	keys           string
	userAt, addrAt int
}

// get returns the keys of the user whose identity.NameHash is name, from
// addr.
func (f *failureKeys) get(name, addr string) *builtFailureKeys {
	slot := &f.recent[failureKeySlot(name, addr)]
	if k := slot.Load(); k != nil && k.name == name && k.addr == addr {
		return k
	}
	k := buildFailureKeys(name, addr)
	slot.Store(k)
	return k
}

// failureKeySlot spreads (name, addr) over the slots: FNV-1a of the
// address and the first 8 characters of the name's hash (32 bits of it),
// so that many users behind one address (a NAT, a proxy that is not among
// trusted_proxies) spread over all the slots.
func failureKeySlot(name, addr string) int {
	return int(fnv1a(fnv1a(fnvOffset, addr), name[:min(len(name), 8)]) % failureKeySlots)
}

// fnv1a continues the 32-bit FNV-1a hash h over s (start from fnvOffset):
// how failure keys pick their slot here and their lock stripe in
// Passwords, without an allocation.
func fnv1a(h uint32, s string) uint32 {
	for i := 0; i < len(s); i++ {
		h = (h ^ uint32(s[i])) * 16777619
	}
	return h
}

// fnvOffset is FNV-1a's initial 32-bit value.
const fnvOffset uint32 = 2166136261

func buildFailureKeys(name, addr string) *builtFailureKeys {
	counted := counterAddress(addr)
	var b strings.Builder
	b.Grow(len(keyUserAddr) + len(name) + 1 + len(counted) + len(keyUser) + len(name) + len(keyAddr) + len(counted))
	b.WriteString(keyUserAddr)
	b.WriteString(name)
	b.WriteByte(':')
	b.WriteString(counted)
	userAt := b.Len()
	b.WriteString(keyUser)
	b.WriteString(name)
	addrAt := b.Len()
	b.WriteString(keyAddr)
	b.WriteString(counted)
	keys := b.String()
	// name and addr are kept as parts of keys where they are in it: no
	// copies of them.
	if counted == addr {
		addr = keys[addrAt+len(keyAddr):]
	}
	return &builtFailureKeys{
		name:   keys[len(keyUserAddr) : len(keyUserAddr)+len(name)],
		addr:   addr,
		keys:   keys,
		userAt: userAt,
		addrAt: addrAt,
	}
}
