package identity

import "crypto/sha256"

// keyedHash is HMAC-SHA256 (RFC 2104) of a user name and password under a
// random key, written out over sha256.Sum256 so that it runs on stack
// buffers: the verified-password cache must cost no allocation per request.
type keyedHash struct {
	key [sha256.BlockSize]byte
}

// sum returns HMAC-SHA256(key, len(name) || name || password).
func (k *keyedHash) sum(name, password []byte) [sha256.Size]byte {
	var inner [sha256.BlockSize + 4 + 252]byte
	msg := inner[:0]
	for _, b := range k.key {
		msg = append(msg, b^0x36)
	}
	n := len(name)
	msg = append(msg, byte(n>>24), byte(n>>16), byte(n>>8), byte(n))
	msg = append(msg, name...)
	msg = append(msg, password...) // past the stack buffer, append moves to the heap
	innerSum := sha256.Sum256(msg)

	var outer [sha256.BlockSize + sha256.Size]byte
	for i, b := range k.key {
		outer[i] = b ^ 0x5c
	}
	copy(outer[sha256.BlockSize:], innerSum[:])
	return sha256.Sum256(outer[:])
}
