package identity

import (
	"crypto/sha256"
	"encoding"
	"fmt"
	"sync"
)

// MemoryKeyedHash is a keyed hash for map keys that never leave this
// process's memory (the verified-password cache): SHA-256 of the secret,
// zero-padded to one block, followed by the value. The state after the
// secret's block is kept, so a short value costs one SHA-256 block,
// against two for HMAC. A secret-prefix hash is a keyed hash only while
// no one sees its digests (one could be extended past its end): these are
// compared in memory, never stored, logged or sent. It is a type of its
// own so that it cannot stand in for KeyedHash, whose HMAC is what
// stored hashes use. The zero value is not usable; use
// NewMemoryKeyedHash.
type MemoryKeyedHash struct {
	k KeyedHash
}

// Secret sizes a MemoryKeyedHash accepts: at least 256 bits, and one
// SHA-256 block at most.
const (
	minMemoryKeyBytes = 32
	maxMemoryKeyBytes = sha256.BlockSize
)

// NewMemoryKeyedHash prepares the hash of secret, 32 to 64 random bytes.
func NewMemoryKeyedHash(secret []byte) MemoryKeyedHash {
	if len(secret) < minMemoryKeyBytes || len(secret) > maxMemoryKeyBytes {
		panic(fmt.Sprintf("identity: a memory keyed hash's secret is %d to %d bytes, not %d", minMemoryKeyBytes, maxMemoryKeyBytes, len(secret)))
	}
	var block [sha256.BlockSize]byte
	copy(block[:], secret)
	h := sha256.New()
	h.Write(block[:])
	prefix, err := h.(encoding.BinaryMarshaler).MarshalBinary()
	if err != nil {
		panic(fmt.Sprintf("identity: saving the SHA-256 state: %v", err))
	}
	return MemoryKeyedHash{KeyedHash{prefix: prefix, macs: &sync.Pool{New: func() any {
		return &keyedMAC{h: sha256.New(), in: make([]byte, 0, 128)}
	}}}}
}

// Sum returns SHA-256 of the secret's block and v.
func (m MemoryKeyedHash) Sum(v string) [sha256.Size]byte { return m.k.Sum(v) }

// SumPair returns Sum(len(name) || name || password), the length a 4-byte
// big-endian count: no two pairs share an input.
func (m MemoryKeyedHash) SumPair(name, password []byte) [sha256.Size]byte {
	return m.k.SumPair(name, password)
}
