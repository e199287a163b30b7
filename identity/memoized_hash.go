package identity

import (
	"crypto/sha256"

	"github.com/caddy-restauth/caddy-restauth/cache"
)

// MemoizedHash is a KeyedHash that remembers the sums of credentials that
// proved valid (API token keys, session ids), so that a known credential
// costs a map lookup instead of an HMAC. The sum of a value under one
// secret never changes, so nothing here needs invalidating: whether the
// credential is still valid is decided by the store, under its sum, on
// every request. Values that did not prove valid are never remembered.
//
// Sums are handed out by pointer: a remembered one is shared by every
// request that presents its value (no copy to escape to the heap when a
// store is asked under it), so it must never be modified.
type MemoizedHash struct {
	KeyedHash
	known *cache.BySecret[*[sha256.Size]byte]
}

// maxRememberedSums bounds a MemoizedHash's memory: at about 180 bytes an
// entry, 1.8 MB. Credentials beyond it cost their HMAC again.
const maxRememberedSums = 10000

// NewMemoizedHash prepares the HMAC of secret, remembering nothing yet.
func NewMemoizedHash(secret []byte) MemoizedHash {
	return MemoizedHash{KeyedHash: NewKeyedHash(secret), known: cache.NewBySecret[*[sha256.Size]byte](maxRememberedSums)}
}

// Lookup returns HMAC-SHA256(secret, v), read-only, and whether it was
// remembered.
func (m MemoizedHash) Lookup(v string) (sum *[sha256.Size]byte, remembered bool) {
	if sum, ok := m.known.Get(v); ok {
		return sum, true
	}
	s := m.Sum(v)
	return &s, false
}

// Remember keeps sum, returned by Lookup, for v: v proved to be a valid
// credential.
func (m MemoizedHash) Remember(v string, sum *[sha256.Size]byte) {
	m.known.Put(v, sum)
}

// Forget drops what is remembered for v: a credential that was ended
// (a session logged out) is not kept in memory until it is evicted.
func (m MemoizedHash) Forget(v string) {
	m.known.Delete(v)
}
