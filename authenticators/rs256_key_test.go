package authenticators

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"math/big"
	"sync"
	"testing"
)

// rs256TestKeys are RSA keys of the sizes providers use, one with the
// exponent 3, generated once per test binary.
var rs256TestKeys = sync.OnceValue(func() []*rsa.PrivateKey {
	var keys []*rsa.PrivateKey
	for _, bits := range []int{2048, 3072} {
		k, err := rsa.GenerateKey(rand.Reader, bits)
		if err != nil {
			panic(err)
		}
		keys = append(keys, k)
	}
	// e = 3: the exponent of the classic PKCS #1 v1.5 forgeries.
	keys = append(keys, generateE3(2048))
	return keys
})

// generateE3 makes an RSA key with public exponent 3.
func generateE3(bits int) *rsa.PrivateKey {
	three := big.NewInt(3)
	for {
		p, _ := rand.Prime(rand.Reader, bits/2)
		q, _ := rand.Prime(rand.Reader, bits/2)
		pm, qm := new(big.Int).Sub(p, big.NewInt(1)), new(big.Int).Sub(q, big.NewInt(1))
		phi := new(big.Int).Mul(pm, qm)
		d := new(big.Int).ModInverse(three, phi)
		n := new(big.Int).Mul(p, q)
		if d == nil || n.BitLen() != bits || p.Cmp(q) == 0 {
			continue
		}
		k := &rsa.PrivateKey{PublicKey: rsa.PublicKey{N: n, E: 3}, D: d, Primes: []*big.Int{p, q}}
		k.Precompute()
		if k.Validate() == nil {
			return k
		}
	}
}

// sameAnswer fails unless the prepared key and crypto/rsa agree on sig.
func sameAnswer(t *testing.T, k *rs256Key, pub *rsa.PublicKey, input, sig []byte) bool {
	t.Helper()
	sum := sha256.Sum256(input)
	want := rsa.VerifyPKCS1v15(pub, crypto.SHA256, sum[:], sig) == nil
	if got := k.verify(input, sig); got != want {
		t.Fatalf("prepared key says %v, crypto/rsa says %v (sig %x)", got, want, sig)
	}
	return want
}

// TestRS256KeyAgreesWithCryptoRSA: real signatures verify; a signature of
// other input, a flipped bit anywhere, a wrong length, the modulus itself,
// zero, one and n-1 do not; and each answer is crypto/rsa's.
func TestRS256KeyAgreesWithCryptoRSA(t *testing.T) {
	for _, priv := range rs256TestKeys() {
		pub := &priv.PublicKey
		k, err := newRS256Key(pub)
		if err != nil {
			t.Fatal(err)
		}
		input := []byte("eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ6b2UifQ")
		sum := sha256.Sum256(input)
		sig, err := rsa.SignPKCS1v15(rand.Reader, priv, crypto.SHA256, sum[:])
		if err != nil {
			t.Fatal(err)
		}
		if !sameAnswer(t, k, pub, input, sig) {
			t.Fatal("a real signature does not verify")
		}
		if sameAnswer(t, k, pub, append(input, 'x'), sig) {
			t.Fatal("a signature verified other input")
		}
		for i := range len(sig) * 8 {
			bad := append([]byte(nil), sig...)
			bad[i/8] ^= 1 << (i % 8)
			if sameAnswer(t, k, pub, input, bad) {
				t.Fatalf("bit %d flipped still verifies", i)
			}
		}
		size := (pub.N.BitLen() + 7) / 8
		nMinus1 := new(big.Int).Sub(pub.N, big.NewInt(1))
		for _, bad := range [][]byte{
			sig[1:], append(append([]byte(nil), sig...), 0), append([]byte{0}, sig...),
			pub.N.FillBytes(make([]byte, size)),
			make([]byte, size),
			big.NewInt(1).FillBytes(make([]byte, size)),
			nMinus1.FillBytes(make([]byte, size)),
			nil,
		} {
			if sameAnswer(t, k, pub, input, bad) {
				t.Fatalf("malformed signature %x verifies", bad)
			}
		}
	}
}

// FuzzRS256Key: for any input and signature bytes (seeded with real
// signatures), the prepared key answers as crypto/rsa.VerifyPKCS1v15.
func FuzzRS256Key(f *testing.F) {
	keys := rs256TestKeys()
	for i, priv := range keys {
		input := []byte("header.claims")
		sum := sha256.Sum256(input)
		sig, err := rsa.SignPKCS1v15(rand.Reader, priv, crypto.SHA256, sum[:])
		if err != nil {
			f.Fatal(err)
		}
		f.Add(uint8(i), input, sig)
	}
	prepared := make([]*rs256Key, len(keys))
	for i, priv := range keys {
		k, err := newRS256Key(&priv.PublicKey)
		if err != nil {
			f.Fatal(err)
		}
		prepared[i] = k
	}
	f.Fuzz(func(t *testing.T, which uint8, input, sig []byte) {
		i := int(which) % len(keys)
		sameAnswer(t, prepared[i], &keys[i].PublicKey, input, sig)
	})
}

// TestNewRS256KeyRefuses: exponents crypto/rsa would refuse are refused.
func TestNewRS256KeyRefuses(t *testing.T) {
	pub := rs256TestKeys()[0].PublicKey
	for _, e := range []int{0, 1, 2, 65536} {
		bad := pub
		bad.E = e
		if _, err := newRS256Key(&bad); err == nil {
			t.Errorf("exponent %d accepted", e)
		}
	}
	even := pub
	even.N = new(big.Int).Add(pub.N, big.NewInt(1))
	if _, err := newRS256Key(&even); err == nil {
		t.Error("an even modulus accepted")
	}
}
