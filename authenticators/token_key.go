package authenticators

import (
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"strings"

	"github.com/caddy-restauth/caddy-restauth/identity"
)

// TokenPrefix starts every API token key, so that secret scanners can find
// a leaked one and a Bearer value can be told apart from a JWT.
const TokenPrefix = "rat_"

const (
	// tokenIDBytes random bytes make a token id (12 base64url characters).
	tokenIDBytes = 9
	// tokenSecretBytes random bytes make a key's secret (256 bits, 43
	// base64url characters).
	tokenSecretBytes = 32
	tokenIDLen       = (tokenIDBytes*8 + 5) / 6
	tokenSecretLen   = (tokenSecretBytes*8 + 5) / 6
	// tokenKeyLen is the length of a whole key: prefix, id, '.', secret.
	tokenKeyLen = len(TokenPrefix) + tokenIDLen + 1 + tokenSecretLen
	// displaySuffixLen is how many trailing characters of the secret the
	// display form shows.
	displaySuffixLen = 4
)

// NewKey is a freshly generated API token key. Key is shown to the client
// once; only Hash is stored.
type NewKey struct {
	// ID identifies the token in the store and in @tokens/{id}.
	ID string
	// Key is the whole secret key, `rat_<id>.<secret>`.
	Key string
	// Hash is the keyed hash under which the token is stored.
	Hash []byte
	// Display is a recognisable, non-secret form of the key.
	Display string
}

// keyHasher hashes token keys: HMAC-SHA256 under the server's token
// secret, remembering the sums of keys that proved valid
// (identity.MemoizedHash).
type keyHasher struct{ identity.MemoizedHash }

// newKeyHasher prepares the hasher of token keys for secret.
func newKeyHasher(secret []byte) *keyHasher {
	return &keyHasher{identity.NewMemoizedHash(secret)}
}

// generate makes a new random key and its hash.
func (h *keyHasher) generate() (NewKey, error) {
	var raw [tokenIDBytes + tokenSecretBytes]byte
	if _, err := rand.Read(raw[:]); err != nil {
		return NewKey{}, fmt.Errorf("generating token key: %w", err)
	}
	id := base64.RawURLEncoding.EncodeToString(raw[:tokenIDBytes])
	secret := base64.RawURLEncoding.EncodeToString(raw[tokenIDBytes:])
	key := TokenPrefix + id + "." + secret
	sum := h.Sum(key)
	return NewKey{
		ID:      id,
		Key:     key,
		Hash:    sum[:],
		Display: TokenPrefix + id + ".…" + secret[len(secret)-displaySuffixLen:],
	}, nil
}

// parseKey checks the shape of a key and returns its id. It does not
// allocate.
func parseKey(key string) (id string, ok bool) {
	if len(key) != tokenKeyLen || !strings.HasPrefix(key, TokenPrefix) {
		return "", false
	}
	rest := key[len(TokenPrefix):]
	if rest[tokenIDLen] != '.' {
		return "", false
	}
	for i := 0; i < len(rest); i++ {
		if i != tokenIDLen && !isBase64URL(rest[i]) {
			return "", false
		}
	}
	return rest[:tokenIDLen], true
}

func isBase64URL(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_'
}
