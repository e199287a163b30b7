package store

import (
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/caddy-restauth/caddy-restauth/internal/monotonic"
)

// redisFailureMemoSlots bounds the memos a redis store keeps.
const (
	redisFailureMemoSlotBits = 8
	redisFailureMemoSlots    = 1 << redisFailureMemoSlotBits
)

// redisFailureMemos remembers, for the last few hundred password checks'
// keys, that the client-side cache held all three counters as absent, so
// that a client sending its cached Basic password again is answered
// without hashing three keys of about 100 bytes into the cache's map
// (about 0.14 µs of a request). A memo holds while the cache's generation
// is the one it was made in (no invalidation, clearing or loss of the
// subscription since) and its entries are young enough to be trusted.
//
// A memo is found by the identity of the caller's key strings, not their
// text: the password checker reuses one string per (user, address). The
// memo keeps those strings alive, so while it exists no other string can
// have their address; equal address and length mean equal text.
type redisFailureMemos struct {
	slots [redisFailureMemoSlots]atomic.Pointer[redisFailureMemo]
}

// redisFailureMemo says that keys' counters were cached as absent in
// generation gen, the oldest of the entries cached at oldest.
type redisFailureMemo struct {
	keys   [3]string
	gen    uint64
	oldest monotonic.Instant
}

// holds reports whether a memo says that keys have no failure counters
// while the cache is in generation gen.
func (m *redisFailureMemos) holds(keys [3]string, gen uint64) bool {
	memo := m.slots[redisFailureMemoSlot(keys)].Load()
	if memo == nil || memo.gen != gen || !sameStrings(memo.keys, keys) {
		return false
	}
	return time.Duration(monotonic.Now()-memo.oldest) <= redisCacheMaxAge
}

// remember records that keys had no failure counters in generation gen,
// the oldest entry cached at oldest.
func (m *redisFailureMemos) remember(keys [3]string, gen uint64, oldest monotonic.Instant) {
	m.slots[redisFailureMemoSlot(keys)].Store(&redisFailureMemo{keys: keys, gen: gen, oldest: oldest})
}

// redisFailureMemoSlot picks keys' slot from the address of the first key's
// text, multiplied by 2^64/φ (Fibonacci hashing) so that its high bits
// depend on all of it: the allocator puts strings of one size class at
// fixed strides, which its low bits alone would spread over few slots.
func redisFailureMemoSlot(keys [3]string) int {
	p := uint64(uintptr(unsafe.Pointer(unsafe.StringData(keys[0]))))
	return int((p * 0x9E3779B97F4A7C15) >> (64 - redisFailureMemoSlotBits))
}

// sameStrings reports whether a and b are the same strings: the same text
// at the same address.
func sameStrings(a, b [3]string) bool {
	for i := range a {
		if len(a[i]) != len(b[i]) || unsafe.StringData(a[i]) != unsafe.StringData(b[i]) {
			return false
		}
	}
	return true
}
