package identity

import (
	"crypto/hmac"
	"crypto/sha256"
	"strings"
	"sync"
	"testing"
)

// TestKeyedHashIsHMAC: the reused HMACs give exactly HMAC-SHA256 (stored
// token hashes and session ids depend on it), for values of every length
// around the block boundaries, long secrets included, also from many
// goroutines at once.
func TestKeyedHashIsHMAC(t *testing.T) {
	for _, secret := range []string{"s", strings.Repeat("k", 32), strings.Repeat("long secret ", 20)} {
		k := NewKeyedHash([]byte(secret))
		var wg sync.WaitGroup
		for g := range 4 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for _, n := range []int{0, 1, 43, 55, 56, 63, 64, 65, 119, 120, 200, 2000} {
					v := strings.Repeat(string(rune('a'+g)), n)
					mac := hmac.New(sha256.New, []byte(secret))
					mac.Write([]byte(v))
					if got := k.Sum(v); !hmac.Equal(got[:], mac.Sum(nil)) {
						t.Errorf("secret %d bytes, value %d bytes: not HMAC-SHA256", len(secret), n)
					}
				}
			}()
		}
		wg.Wait()
	}
}

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
	if NewKeyedHash(secret).Sum("v") == k.Sum("v") {
		t.Error("the memory keyed hash is HMAC: the two must not be mixed up")
	}
}

// TestMemoryKeyedHashSecretFitsOneBlock: a secret longer than a SHA-256
// block is refused when the hash is made, not silently cut.
func TestMemoryKeyedHashSecretFitsOneBlock(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("NewMemoryKeyedHash(65 bytes) did not panic")
		}
	}()
	NewMemoryKeyedHash(make([]byte, sha256.BlockSize+1))
}
