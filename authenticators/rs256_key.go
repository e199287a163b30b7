package authenticators

import (
	"bytes"
	"crypto/rsa"
	"crypto/sha256"
	"errors"

	"filippo.io/bigmod"
)

// rs256Key checks RS256 signatures (RSASSA-PKCS1-v1_5 with SHA-256, RFC
// 8017 §8.2.2) with one provider key prepared once. crypto/rsa's
// VerifyPKCS1v15 does the same steps, but sets the modulus up again on
// every call (its Montgomery constants cost about a quarter of a check);
// a JWKS key verifies many tokens, so here it is set up when the key is
// read. The steps are Go's own (crypto/internal/fips140/rsa): the
// signature as a number below the modulus, raised to the public exponent
// with filippo.io/bigmod (the standalone copy of Go's bigmod), and the
// result compared, whole, with the one encoding the hash may have (no
// parsing of the decrypted block, so no Bleichenbacher-style forgery).
// FuzzRS256Key holds it to crypto/rsa's answer.
type rs256Key struct {
	n *bigmod.Modulus
	e uint
	// prefix is the expected encoded message up to the hash:
	// 0x00 0x01 0xff… 0x00, then SHA-256's DigestInfo header.
	prefix []byte
}

// sha256DigestInfo is the DER DigestInfo header of a SHA-256 hash (RFC
// 8017 §9.2, note 1).
var sha256DigestInfo = []byte{0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01, 0x05, 0x00, 0x04, 0x20}

// newRS256Key prepares pub for RS256 checks.
func newRS256Key(pub *rsa.PublicKey) (*rs256Key, error) {
	if pub.E < 3 || pub.E%2 == 0 {
		return nil, errors.New("the RSA exponent must be odd and at least 3")
	}
	n, err := bigmod.NewModulus(pub.N.Bytes())
	if err != nil {
		return nil, err
	}
	size := n.Size()
	padding := size - 3 - len(sha256DigestInfo) - sha256.Size
	if padding < 8 || pub.N.Bit(0) == 0 {
		return nil, errors.New("the RSA modulus is too short or even")
	}
	prefix := make([]byte, 0, size-sha256.Size)
	prefix = append(prefix, 0x00, 0x01)
	prefix = append(prefix, bytes.Repeat([]byte{0xff}, padding)...)
	prefix = append(prefix, 0x00)
	prefix = append(prefix, sha256DigestInfo...)
	return &rs256Key{n: n, e: uint(pub.E), prefix: prefix}, nil
}

// verify reports whether sig is the key's RS256 signature of input.
func (k *rs256Key) verify(input, sig []byte) bool {
	if len(sig) != k.n.Size() {
		return false
	}
	s, err := bigmod.NewNat().SetBytes(sig, k.n)
	if err != nil {
		return false // not below the modulus
	}
	em := bigmod.NewNat().ExpShortVarTime(s, k.e, k.n).Bytes(k.n)
	hashed := sha256.Sum256(input)
	return bytes.Equal(em[:len(k.prefix)], k.prefix) && bytes.Equal(em[len(k.prefix):], hashed[:])
}

// RS256Verifier is the check the jwt authenticator makes of a provider's
// RS256 signatures with pub, for benchmarks that compare the handler with
// it (nil when pub cannot be prepared).
func RS256Verifier(pub *rsa.PublicKey) func(input, sig []byte) bool {
	k, err := newRS256Key(pub)
	if err != nil {
		return nil
	}
	return k.verify
}
