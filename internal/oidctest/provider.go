// Package oidctest is a local OpenID Connect identity provider for tests:
// a TLS server with a discovery document and a JWKS, and keys that mint
// access tokens.
package oidctest

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"math/big"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// Provider is a local identity provider over TLS: an OpenID Connect
// discovery document and a JWKS, whose keys the test changes at will.
type Provider struct {
	Server *httptest.Server
	CAFile string // PEM of the server's certificate, for ca_file

	mu   sync.Mutex
	keys []*Key // published in the JWKS

	Down        atomic.Bool  // answer 503 to everything
	JWKSFetches atomic.Int64 // GETs of the JWKS, answered or not
}

// Key is a signing key of the provider.
type Key struct {
	Kid    string
	Method jwt.SigningMethod
	Priv   crypto.Signer
	JWK    map[string]string
}

// NewProvider starts a provider publishing keys.
func NewProvider(t testing.TB, keys ...*Key) *Provider {
	t.Helper()
	p := &Provider{keys: keys}
	p.Server = httptest.NewTLSServer(http.HandlerFunc(p.serve))
	t.Cleanup(p.Server.Close)
	p.CAFile = filepath.Join(t.TempDir(), "idp-ca.pem")
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: p.Server.Certificate().Raw})
	if err := os.WriteFile(p.CAFile, certPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func (p *Provider) Issuer() string { return p.Server.URL + "/realms/acme" }

func (p *Provider) serve(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == "/certs" {
		p.JWKSFetches.Add(1)
	}
	if p.Down.Load() {
		http.Error(w, "down for maintenance", http.StatusServiceUnavailable)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	switch r.URL.Path {
	case "/realms/acme/.well-known/openid-configuration":
		_ = json.NewEncoder(w).Encode(map[string]string{"issuer": p.Issuer(), "jwks_uri": p.Server.URL + "/certs"})
	case "/certs":
		p.mu.Lock()
		jwks := []map[string]string{}
		for _, k := range p.keys {
			jwks = append(jwks, k.JWK)
		}
		p.mu.Unlock()
		_ = json.NewEncoder(w).Encode(map[string]any{"keys": jwks})
	default:
		http.NotFound(w, r)
	}
}

// Publish replaces the keys of the JWKS (a key rotation).
func (p *Provider) Publish(keys ...*Key) {
	p.mu.Lock()
	p.keys = keys
	p.mu.Unlock()
}

// NewKey generates a key for alg (RS256, PS256, ES256, EdDSA);
// rsaBits sets the RSA key size (default 2048).
func NewKey(t testing.TB, kid, alg string, rsaBits ...int) *Key {
	t.Helper()
	k := &Key{Kid: kid, Method: jwt.GetSigningMethod(alg)}
	b64 := base64.RawURLEncoding.EncodeToString
	switch alg {
	case "RS256", "PS256":
		bits := 2048
		if len(rsaBits) > 0 {
			bits = rsaBits[0]
		}
		priv, err := rsa.GenerateKey(rand.Reader, bits)
		if err != nil {
			t.Fatal(err)
		}
		k.Priv = priv
		k.JWK = map[string]string{"kty": "RSA", "n": b64(priv.N.Bytes()), "e": b64(big.NewInt(int64(priv.E)).Bytes())}
	case "ES256":
		priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		k.Priv = priv
		pub, _ := priv.PublicKey.Bytes()
		k.JWK = map[string]string{"kty": "EC", "crv": "P-256", "x": b64(pub[1:33]), "y": b64(pub[33:])}
	case "EdDSA":
		pub, priv, err := ed25519.GenerateKey(rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		k.Priv = priv
		k.JWK = map[string]string{"kty": "OKP", "crv": "Ed25519", "x": b64(pub)}
	default:
		t.Fatalf("no provider key for %s", alg)
	}
	k.JWK["kid"], k.JWK["alg"], k.JWK["use"] = kid, alg, "sig"
	return k
}

// Claims are the claims of a valid access token of p for zoe, as
// Keycloak writes them; overrides replace or (nil) remove claims.
func (p *Provider) Claims(overrides jwt.MapClaims) jwt.MapClaims {
	now := time.Now()
	c := jwt.MapClaims{
		"iss":                p.Issuer(),
		"aud":                []string{"account", "api://orders"},
		"sub":                "f81d4fae-7dec-11d0-a765-00a0c91e6bf6",
		"preferred_username": "zoe",
		"realm_access":       map[string]any{"roles": []string{"reader", "writer"}},
		"iat":                now.Unix(),
		"exp":                now.Add(5 * time.Minute).Unix(),
		"jti":                "idp-" + now.Format(time.RFC3339Nano),
	}
	for k, v := range overrides {
		if v == nil {
			delete(c, k)
		} else {
			c[k] = v
		}
	}
	return c
}

// Mint signs claims with k, its kid in the header.
func (k *Key) Mint(t testing.TB, claims jwt.MapClaims) string {
	t.Helper()
	tok := jwt.NewWithClaims(k.Method, claims)
	tok.Header["kid"] = k.Kid
	s, err := tok.SignedString(k.Priv)
	if err != nil {
		t.Fatal(err)
	}
	return s
}
