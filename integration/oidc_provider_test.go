package integration

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

// oidcProvider is a local identity provider over TLS: an OpenID Connect
// discovery document and a JWKS, whose keys the test changes at will.
type oidcProvider struct {
	srv    *httptest.Server
	caFile string // PEM of the server's certificate, for ca_file

	mu   sync.Mutex
	keys []*providerKey // published in the JWKS

	down        atomic.Bool  // answer 503 to everything
	jwksFetches atomic.Int64 // GETs of the JWKS, answered or not
}

// providerKey is a signing key of the provider.
type providerKey struct {
	kid    string
	method jwt.SigningMethod
	priv   crypto.Signer
	jwk    map[string]string
}

// newOIDCProvider starts a provider publishing keys.
func newOIDCProvider(t testing.TB, keys ...*providerKey) *oidcProvider {
	t.Helper()
	p := &oidcProvider{keys: keys}
	p.srv = httptest.NewTLSServer(http.HandlerFunc(p.serve))
	t.Cleanup(p.srv.Close)
	p.caFile = filepath.Join(t.TempDir(), "idp-ca.pem")
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: p.srv.Certificate().Raw})
	if err := os.WriteFile(p.caFile, certPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func (p *oidcProvider) issuer() string { return p.srv.URL + "/realms/acme" }

func (p *oidcProvider) serve(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == "/certs" {
		p.jwksFetches.Add(1)
	}
	if p.down.Load() {
		http.Error(w, "down for maintenance", http.StatusServiceUnavailable)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	switch r.URL.Path {
	case "/realms/acme/.well-known/openid-configuration":
		_ = json.NewEncoder(w).Encode(map[string]string{"issuer": p.issuer(), "jwks_uri": p.srv.URL + "/certs"})
	case "/certs":
		p.mu.Lock()
		jwks := []map[string]string{}
		for _, k := range p.keys {
			jwks = append(jwks, k.jwk)
		}
		p.mu.Unlock()
		_ = json.NewEncoder(w).Encode(map[string]any{"keys": jwks})
	default:
		http.NotFound(w, r)
	}
}

// publish replaces the keys of the JWKS (a key rotation).
func (p *oidcProvider) publish(keys ...*providerKey) {
	p.mu.Lock()
	p.keys = keys
	p.mu.Unlock()
}

// newProviderKey generates a key for alg (RS256, PS256, ES256, EdDSA);
// rsaBits sets the RSA key size (default 2048).
func newProviderKey(t testing.TB, kid, alg string, rsaBits ...int) *providerKey {
	t.Helper()
	k := &providerKey{kid: kid, method: jwt.GetSigningMethod(alg)}
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
		k.priv = priv
		k.jwk = map[string]string{"kty": "RSA", "n": b64(priv.N.Bytes()), "e": b64(big.NewInt(int64(priv.E)).Bytes())}
	case "ES256":
		priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		k.priv = priv
		pub, _ := priv.PublicKey.Bytes()
		k.jwk = map[string]string{"kty": "EC", "crv": "P-256", "x": b64(pub[1:33]), "y": b64(pub[33:])}
	case "EdDSA":
		pub, priv, err := ed25519.GenerateKey(rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		k.priv = priv
		k.jwk = map[string]string{"kty": "OKP", "crv": "Ed25519", "x": b64(pub)}
	default:
		t.Fatalf("no provider key for %s", alg)
	}
	k.jwk["kid"], k.jwk["alg"], k.jwk["use"] = kid, alg, "sig"
	return k
}

// idpClaims are the claims of a valid access token of p for zoe, as
// Keycloak writes them; overrides replace or (nil) remove claims.
func (p *oidcProvider) idpClaims(overrides jwt.MapClaims) jwt.MapClaims {
	now := time.Now()
	c := jwt.MapClaims{
		"iss":                p.issuer(),
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

// mint signs claims with k, its kid in the header.
func (k *providerKey) mint(t testing.TB, claims jwt.MapClaims) string {
	t.Helper()
	tok := jwt.NewWithClaims(k.method, claims)
	tok.Header["kid"] = k.kid
	s, err := tok.SignedString(k.priv)
	if err != nil {
		t.Fatal(err)
	}
	return s
}
