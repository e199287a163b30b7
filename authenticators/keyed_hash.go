package authenticators

import "crypto/sha256"

// keyedHash computes HMAC-SHA256 (RFC 2104) under one secret on stack
// buffers, for the values looked up on every request (API token keys,
// session ids, CSRF tokens): hashing them allocates nothing.
type keyedHash struct {
	ipad, opad [sha256.BlockSize]byte
}

// maxStackHashed is the longest value hashed without allocating (longer
// ones are hashed too, in a heap buffer).
const maxStackHashed = 192

// newKeyedHash prepares the HMAC pads for secret.
func newKeyedHash(secret []byte) keyedHash {
	if len(secret) > sha256.BlockSize {
		sum := sha256.Sum256(secret)
		secret = sum[:]
	}
	var h keyedHash
	copy(h.ipad[:], secret)
	copy(h.opad[:], secret)
	for i := range h.ipad {
		h.ipad[i] ^= 0x36
		h.opad[i] ^= 0x5c
	}
	return h
}

// sum returns HMAC-SHA256(secret, v).
func (h *keyedHash) sum(v string) [sha256.Size]byte {
	var stack [sha256.BlockSize + maxStackHashed]byte
	inner := stack[:]
	if len(v) > maxStackHashed {
		inner = make([]byte, sha256.BlockSize+len(v))
	}
	copy(inner, h.ipad[:])
	n := copy(inner[sha256.BlockSize:], v)
	innerSum := sha256.Sum256(inner[:sha256.BlockSize+n])
	var outer [sha256.BlockSize + sha256.Size]byte
	copy(outer[:], h.opad[:])
	copy(outer[sha256.BlockSize:], innerSum[:])
	return sha256.Sum256(outer[:])
}
