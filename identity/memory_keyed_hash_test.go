package identity

import (
	"crypto/sha256"
	"strings"
	"sync"
	"testing"
)

// TestMemoryKeyedHashIsPrefixedSHA256: a NewMemoryKeyedHash is SHA-256 of
// the secret zero-padded to one block, then the value (the restored state
// gives exactly that, around the block boundaries too, from many
// goroutines at once); SumPair keeps the length prefix; a different
// secret gives different sums.
func TestMemoryKeyedHashIsPrefixedSHA256(t *testing.T) {
	secret := []byte(strings.Repeat("k", 32))
	k := NewMemoryKeyedHash(secret)
	prefixed := func(v string) [sha256.Size]byte {
		block := make([]byte, sha256.BlockSize)
		copy(block, secret)
		return sha256.Sum256(append(block, v...))
	}
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			for _, n := range []int{0, 1, 43, 55, 56, 63, 64, 65, 119, 120, 200, 2000} {
				v := strings.Repeat(string(rune('a'+g)), n)
				if k.Sum(v) != prefixed(v) {
					t.Errorf("value of %d bytes: not SHA-256 of the secret's block and the value", n)
				}
			}
		})
	}
	wg.Wait()
	if got, want := k.SumPair([]byte("alice"), []byte("pw")), prefixed("\x00\x00\x00\x05alicepw"); got != want {
		t.Errorf("SumPair(alice, pw) is not the length-prefixed pair")
	}
	if k.SumPair([]byte("ab"), []byte("c")) == k.SumPair([]byte("a"), []byte("bc")) {
		t.Error("two splits of the same bytes collide")
	}
	if NewMemoryKeyedHash([]byte(strings.Repeat("j", 32))).Sum("v") == k.Sum("v") {
		t.Error("two secrets give the same sum")
	}
	if NewKeyedHash(secret).Sum("v") == k.Sum("v") { // the same secret as HMAC
		t.Error("the memory keyed hash is HMAC: the two must not be mixed up")
	}
}

// TestMemoryKeyedHashSecretSize: a secret shorter than 256 bits (an
// empty one would make it plain SHA-256) or longer than a SHA-256 block is
// refused when the hash is made, not silently used or cut.
func TestMemoryKeyedHashSecretSize(t *testing.T) {
	for _, n := range []int{0, 31, sha256.BlockSize + 1} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("NewMemoryKeyedHash(%d bytes) did not panic", n)
				}
			}()
			NewMemoryKeyedHash(make([]byte, n))
		}()
	}
	for _, n := range []int{32, sha256.BlockSize} {
		NewMemoryKeyedHash(make([]byte, n))
	}
}
