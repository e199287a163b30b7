package identity

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding"
	"fmt"
	"hash"
	"sync"
)

// KeyedHash computes HMAC-SHA256 (RFC 2104) under one secret, for the
// values looked up on every request: API token keys, session ids, CSRF
// tokens. It reuses HMACs that have the secret's pads absorbed already
// (crypto/hmac restores them on Reset), so a short value costs three
// SHA-256 blocks instead of five, and the buffers travel with the HMAC:
// hashing allocates nothing. The zero value is not usable; use
// NewKeyedHash. (MemoryKeyedHash shares its pooling.)
type KeyedHash struct {
	macs *sync.Pool // of *keyedMAC
	// prefix is the SHA-256 state after the secret's block, for a
	// MemoryKeyedHash; nil for HMAC.
	prefix []byte
}

// keyedMAC is one reusable HMAC (or SHA-256, for a MemoryKeyedHash) and
// its buffers.
type keyedMAC struct {
	h   hash.Hash
	in  []byte
	sum [sha256.Size]byte
}

// maxKeptInput bounds the input buffer a pooled HMAC keeps.
const maxKeptInput = 1024

// NewKeyedHash prepares the HMAC of secret.
func NewKeyedHash(secret []byte) KeyedHash {
	key := append([]byte(nil), secret...)
	return KeyedHash{macs: &sync.Pool{New: func() any {
		return &keyedMAC{h: hmac.New(sha256.New, key), in: make([]byte, 0, 128)}
	}}}
}

// Sum returns HMAC-SHA256(secret, v) (for a MemoryKeyedHash, SHA-256 of
// the secret's block and v).
func (k KeyedHash) Sum(v string) [sha256.Size]byte {
	m := k.macs.Get().(*keyedMAC)
	m.in = append(m.in[:0], v...)
	return k.finish(m)
}

// SumPair returns Sum(len(name) || name || password), the length a 4-byte
// big-endian count: no two pairs share an input.
func (k KeyedHash) SumPair(name, password []byte) [sha256.Size]byte {
	m := k.macs.Get().(*keyedMAC)
	n := len(name)
	m.in = append(m.in[:0], byte(n>>24), byte(n>>16), byte(n>>8), byte(n))
	m.in = append(m.in, name...)
	m.in = append(m.in, password...)
	return k.finish(m)
}

// finish hashes m.in and returns m to the pool.
func (k KeyedHash) finish(m *keyedMAC) [sha256.Size]byte {
	if k.prefix == nil {
		m.h.Reset()
	} else if err := m.h.(encoding.BinaryUnmarshaler).UnmarshalBinary(k.prefix); err != nil {
		panic(fmt.Sprintf("identity: restoring the SHA-256 state: %v", err)) // it was saved by this process
	}
	m.h.Write(m.in)
	m.h.Sum(m.sum[:0])
	out := m.sum
	clear(m.in) // the input may be a password
	if cap(m.in) > maxKeptInput {
		m.in = make([]byte, 0, 128) // an odd long value is not kept
	}
	k.macs.Put(m)
	return out
}
