package authenticators

import (
	"crypto/hmac"
	"crypto/sha256"
	"hash"
	"sync"
)

// keyedHash computes HMAC-SHA256 (RFC 2104) under one secret, for the
// values looked up on every request (API token keys, session ids, CSRF
// tokens). It reuses HMACs that have the key's pads absorbed already
// (crypto/hmac restores them on Reset), so a value of up to 55 bytes
// costs three SHA-256 blocks instead of five, and the buffers travel with
// the HMAC: hashing allocates nothing.
type keyedHash struct {
	macs *sync.Pool // of *keyedMAC
}

// keyedMAC is one reusable HMAC and its buffers.
type keyedMAC struct {
	h   hash.Hash
	in  []byte
	sum [sha256.Size]byte
}

// newKeyedHash prepares the HMAC of secret.
func newKeyedHash(secret []byte) keyedHash {
	key := append([]byte(nil), secret...)
	return keyedHash{macs: &sync.Pool{New: func() any {
		return &keyedMAC{h: hmac.New(sha256.New, key), in: make([]byte, 0, 128)}
	}}}
}

// sum returns HMAC-SHA256(secret, v).
func (k keyedHash) sum(v string) [sha256.Size]byte {
	m := k.macs.Get().(*keyedMAC)
	m.h.Reset()
	m.in = append(m.in[:0], v...)
	m.h.Write(m.in)
	m.h.Sum(m.sum[:0])
	out := m.sum
	if cap(m.in) > maxKeptInput {
		m.in = make([]byte, 0, 128) // an odd long value is not kept
	}
	k.macs.Put(m)
	return out
}

// maxKeptInput bounds the input buffer a pooled HMAC keeps.
const maxKeptInput = 1024
