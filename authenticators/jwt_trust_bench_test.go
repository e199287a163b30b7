package authenticators

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/json"
	"math/big"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"go.uber.org/zap"
)

// trustBench is a jwt authenticator trusting a provider on loopback that
// publishes one 2048-bit RS256 key, and a token of that provider.
type trustBench struct {
	j     *JWT
	t     *trustedIssuer
	token string
	key   *rsa.PrivateKey
}

func newTrustBench(b *testing.B) *trustBench {
	b.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		b.Fatal(err)
	}
	jwks, _ := json.Marshal(map[string]any{"keys": []map[string]string{{
		"kty": "RSA", "kid": "k1", "alg": "RS256", "use": "sig",
		"n": b64(key.N.Bytes()), "e": b64(big.NewInt(int64(key.E)).Bytes()),
	}}})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write(jwks) }))
	b.Cleanup(srv.Close)
	issuer := "https://idp.example.com/realms/acme"
	j := &JWT{Trust: []JWTTrust{{
		Name: "acme", Issuer: issuer, JWKSURL: srv.URL + "/certs", Audiences: []string{"api://orders"},
		UserClaim: "preferred_username", RolesClaim: "realm_access.roles",
	}}}
	if err := j.Validate(); err != nil {
		b.Fatal(err)
	}
	if err := j.Bind(Env{Logger: zap.NewNop(), Realm: "bench"}); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = j.Cleanup() })
	tok := jwt.NewWithClaims(jwt.SigningMethodRS256, jwt.MapClaims{
		"iss": issuer, "aud": []string{"account", "api://orders"}, "sub": "f81d4fae-7dec-11d0-a765-00a0c91e6bf6",
		"preferred_username": "zoe", "realm_access": map[string]any{"roles": []string{"reader", "writer"}},
		"iat": time.Now().Unix(), "exp": time.Now().Add(time.Hour).Unix(), "jti": "0123456789abcdefghijkl",
		"scope": "openid profile email", "email": "zoe@example.com", "azp": "orders-web",
	})
	tok.Header["kid"] = "k1"
	token, err := tok.SignedString(key)
	if err != nil {
		b.Fatal(err)
	}
	return &trustBench{j: j, t: j.issuers[issuer], token: token, key: key}
}

// run authenticates the token b.N times; before each, miss (if set)
// prepares the request.
func (tb *trustBench) run(b *testing.B, miss func(keys *jwksKeys)) {
	r := httptest.NewRequest(http.MethodGet, "/orders", nil)
	r.Header.Set("Authorization", "Bearer "+tb.token)
	if id, err := tb.j.Authenticate(r); err != nil || id.User != "zoe" || id.RolesJoined != "reader,writer" {
		b.Fatalf("identity %+v, error %v", id, err)
	}
	keys := tb.t.keys.Load()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if miss != nil {
			miss(keys)
		}
		if _, err := tb.j.Authenticate(r); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkExternalJWTCached is a token of a trusted provider verified
// before: issuer peeked, verified-token cache hit, expiry checked.
func BenchmarkExternalJWTCached(b *testing.B) {
	newTrustBench(b).run(b, nil)
}

// BenchmarkExternalJWTNeverSeenRS256 is a token of a trusted provider
// never seen before (dropped from the verified-token cache before each
// request): the RS256 signature, the claims, the identity. Compare with
// BenchmarkRSAVerifyFloor.
func BenchmarkExternalJWTNeverSeenRS256(b *testing.B) {
	tb := newTrustBench(b)
	tb.run(b, func(keys *jwksKeys) { keys.verified.Delete(tb.token) })
}

// BenchmarkRSAVerifyFloor is rsa.VerifyPKCS1v15 alone, the hash and
// signature prepared: the floor of a never-seen RS256 token.
func BenchmarkRSAVerifyFloor(b *testing.B) {
	tb := newTrustBench(b)
	dot := strings.LastIndexByte(tb.token, '.')
	sig, err := jwtB64.DecodeString(tb.token[dot+1:])
	if err != nil {
		b.Fatal(err)
	}
	sum := sha256.Sum256([]byte(tb.token[:dot]))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := rsa.VerifyPKCS1v15(&tb.key.PublicKey, crypto.SHA256, sum[:], sig); err != nil {
			b.Fatal(err)
		}
	}
}
