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
