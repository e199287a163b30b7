package authenticators

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"slices"

	"github.com/golang-jwt/jwt/v5"
)

// minHS256KeyBytes is the shortest accepted HS256 secret (RFC 7518 §3.2).
const minHS256KeyBytes = 32

// JWTKey is one key of the JWT keyring, as configured.
type JWTKey struct {
	// The key type: `hs256` (a shared secret), `ed25519` (EdDSA) or `es256`
	// (ECDSA P-256).
	Algorithm string `json:"algorithm"`
	// For hs256: the secret itself, at least 32 bytes, used as raw bytes.
	// Use a placeholder such as `{env.RESTAUTH_JWT_SECRET}` so the secret
	// stays out of the config.
	Secret string `json:"secret,omitempty"`
	// For ed25519 and es256: a PKCS #8 PEM private key file.
	File string `json:"file,omitempty"`
}

// signingKey is a loaded key of the keyring.
type signingKey struct {
	kid    string
	method jwt.SigningMethod
	sign   any // []byte, ed25519.PrivateKey or *ecdsa.PrivateKey
	verify any // []byte, ed25519.PublicKey or *ecdsa.PublicKey
	jwk    map[string]string
}

// loadKey reads and checks one configured key. secret has placeholders
// already replaced.
func loadKey(k JWTKey, secret string) (*signingKey, error) {
	switch k.Algorithm {
	case "hs256":
		if k.File != "" {
			return nil, errors.New("jwt: an hs256 key is a secret, not a file")
		}
		if err := checkHS256Secret(secret); err != nil {
			return nil, err
		}
		return hmacKey([]byte(secret)), nil
	case "ed25519", "es256":
		if k.Secret != "" || k.File == "" {
			return nil, fmt.Errorf("jwt: an %s key is a PKCS #8 PEM private key file: `key %s /path/key.pem`", k.Algorithm, k.Algorithm)
		}
		priv, err := readPKCS8(k.File)
		if err != nil {
			return nil, err
		}
		return asymmetricKey(k.Algorithm, k.File, priv)
	default:
		return nil, unknownKeyType(k.Algorithm)
	}
}

// checkHS256Secret checks the length of an hs256 secret, its placeholders
// replaced.
func checkHS256Secret(secret string) error {
	if len(secret) < minHS256KeyBytes {
		return fmt.Errorf("jwt: hs256 key must be at least %d bytes (got %d; is its environment variable set?)", minHS256KeyBytes, len(secret))
	}
	return nil
}

// unknownKeyType is the error for a key type not in keyAlgorithms.
func unknownKeyType(alg string) error {
	return fmt.Errorf("jwt: unknown key type %q (want hs256, ed25519 or es256)", alg)
}

// keyAlgorithms are the key types of `key`.
var keyAlgorithms = []string{"hs256", "ed25519", "es256"}

func hmacKey(secret []byte) *signingKey {
	jwk := map[string]string{"kty": "oct", "k": b64(secret)}
	return &signingKey{kid: thumbprint(jwk), method: jwt.SigningMethodHS256, sign: secret, verify: secret}
}

func readPKCS8(path string) (crypto.PrivateKey, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("jwt: reading key file: %w", err)
	}
	block, _ := pem.Decode(data)
	if block == nil || block.Type != "PRIVATE KEY" {
		return nil, fmt.Errorf("jwt: key file %s is not a PKCS #8 PEM private key (-----BEGIN PRIVATE KEY-----)", path)
	}
	priv, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("jwt: key file %s: %w", path, err)
	}
	return priv, nil
}

func asymmetricKey(alg, path string, priv crypto.PrivateKey) (*signingKey, error) {
	switch p := priv.(type) {
	case ed25519.PrivateKey:
		if alg != "ed25519" {
			break
		}
		pub := p.Public().(ed25519.PublicKey)
		jwk := map[string]string{"kty": "OKP", "crv": "Ed25519", "x": b64(pub)}
		return withKid(&signingKey{method: jwt.SigningMethodEdDSA, sign: p, verify: pub, jwk: jwk}), nil
	case *ecdsa.PrivateKey:
		if alg != "es256" {
			break
		}
		if p.Curve != elliptic.P256() {
			return nil, fmt.Errorf("jwt: key file %s: es256 needs a P-256 key", path)
		}
		pubBytes, err := p.PublicKey.Bytes() // uncompressed: 0x04 || X || Y
		if err != nil {
			return nil, fmt.Errorf("jwt: key file %s: %w", path, err)
		}
		jwk := map[string]string{"kty": "EC", "crv": "P-256", "x": b64(pubBytes[1:33]), "y": b64(pubBytes[33:])}
		return withKid(&signingKey{method: jwt.SigningMethodES256, sign: p, verify: &p.PublicKey, jwk: jwk}), nil
	}
	return nil, fmt.Errorf("jwt: key file %s does not hold an %s key", path, alg)
}

func withKid(k *signingKey) *signingKey {
	k.kid = thumbprint(k.jwk)
	k.jwk["kid"] = k.kid
	k.jwk["alg"] = k.method.Alg()
	k.jwk["use"] = "sig"
	return k
}

// thumbprint is the RFC 7638 JWK thumbprint (SHA-256, base64url) of the
// required members of jwk. encoding/json sorts map keys and writes no
// whitespace, which is exactly the canonical form RFC 7638 asks for.
func thumbprint(members map[string]string) string {
	required := map[string]string{}
	for _, name := range []string{"crv", "e", "k", "kty", "n", "x", "y"} {
		if v, ok := members[name]; ok {
			required[name] = v
		}
	}
	canonical, _ := json.Marshal(required)
	sum := sha256.Sum256(canonical)
	return b64(sum[:])
}

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

// keyring holds the keys: the first signs, all verify.
type keyring struct {
	keys  []*signingKey
	byKid map[string]*signingKey
	algs  []string
}

func newKeyring(keys []*signingKey) (*keyring, error) {
	kr := &keyring{keys: keys, byKid: make(map[string]*signingKey, len(keys))}
	for _, k := range keys {
		if _, dup := kr.byKid[k.kid]; dup {
			return nil, errors.New("jwt: the same key is listed twice")
		}
		kr.byKid[k.kid] = k
		if !slices.Contains(kr.algs, k.method.Alg()) {
			kr.algs = append(kr.algs, k.method.Alg())
		}
	}
	return kr, nil
}

func (kr *keyring) signer() *signingKey { return kr.keys[0] }

// publicJWKs are the JWKs of the asymmetric keys (never a shared secret).
func (kr *keyring) publicJWKs() []map[string]string {
	jwks := []map[string]string{}
	for _, k := range kr.keys {
		if k.jwk != nil {
			jwks = append(jwks, k.jwk)
		}
	}
	return jwks
}
