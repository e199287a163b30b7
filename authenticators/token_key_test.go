package authenticators

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"strings"
	"testing"
)

// TestKeyHasherIsHMAC checks the stack-buffer HMAC against crypto/hmac,
// for short secrets and for one longer than a block.
func TestKeyHasherIsHMAC(t *testing.T) {
	for _, secret := range [][]byte{bytes.Repeat([]byte{7}, 32), bytes.Repeat([]byte{9}, 100)} {
		h := newKeyHasher(secret)
		k, err := h.generate()
		if err != nil {
			t.Fatal(err)
		}
		mac := hmac.New(sha256.New, secret)
		mac.Write([]byte(k.Key))
		if got := h.Sum(k.Key); !bytes.Equal(got[:], mac.Sum(nil)) || !bytes.Equal(k.Hash, got[:]) {
			t.Fatalf("sum differs from HMAC-SHA256 for a %d-byte secret", len(secret))
		}
	}
}

// TestGeneratedKeys checks the shape of new keys: prefix, id, entropy,
// display without the secret.
func TestGeneratedKeys(t *testing.T) {
	h := newKeyHasher([]byte("secret"))
	seen := map[string]bool{}
	for i := 0; i < 100; i++ {
		k, err := h.generate()
		if err != nil {
			t.Fatal(err)
		}
		id, ok := parseKey(k.Key)
		if !ok || id != k.ID || seen[k.Key] || len(k.Key) != tokenKeyLen {
			t.Fatalf("key %d not parseable or repeated (id %q, want %q)", i, id, k.ID)
		}
		seen[k.Key] = true
		secret := k.Key[strings.IndexByte(k.Key, '.')+1:]
		if !strings.HasPrefix(k.Display, TokenPrefix+k.ID) || strings.Contains(k.Display, secret[:8]) ||
			!strings.HasSuffix(k.Display, secret[len(secret)-displaySuffixLen:]) {
			t.Fatalf("display %q shows too much or too little", k.Display)
		}
	}
	if tokenSecretBytes*8 < 160 {
		t.Fatal("keys must carry at least 160 random bits")
	}
}

func TestParseKeyRejects(t *testing.T) {
	good := TokenPrefix + strings.Repeat("A", tokenIDLen) + "." + strings.Repeat("b", tokenSecretLen)
	if _, ok := parseKey(good); !ok {
		t.Fatal("a well-formed key was rejected")
	}
	for _, key := range []string{
		"",
		"rat_",
		good[:len(good)-1],
		good + "c",
		"nbt_" + good[4:],
		strings.Replace(good, ".", "A", 1),
		good[:len(good)-1] + "=",
		good[:len(good)-1] + ".",
		strings.Replace(good, "A", "+", 1),
	} {
		if _, ok := parseKey(key); ok {
			t.Errorf("parseKey(%q) accepted", key)
		}
	}
}

func FuzzParseKey(f *testing.F) {
	f.Add(TokenPrefix + strings.Repeat("A", tokenIDLen) + "." + strings.Repeat("b", tokenSecretLen))
	f.Add("rat_x")
	h := newKeyHasher([]byte("secret"))
	f.Fuzz(func(t *testing.T, key string) {
		if id, ok := parseKey(key); ok {
			if len(id) != tokenIDLen || !strings.HasPrefix(key, TokenPrefix+id+".") {
				t.Fatalf("parseKey(%q) = %q", key, id)
			}
			_ = h.Sum(key)
		}
	})
}
