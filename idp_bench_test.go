package restauth

import (
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"fmt"
	"testing"

	"github.com/golang-jwt/jwt/v5"
)

// idpBenchHandler is a handler whose jwt authenticator trusts a local
// provider publishing one 2048-bit RS256 key (Keycloak's claims).
func idpBenchHandler(b *testing.B) (*oidcProvider, *providerKey, *Handler) {
	key := newProviderKey(b, "rs", "RS256")
	p := newOIDCProvider(b, key)
	h := jwtBenchHandler(b, fmt.Sprintf(`"trust":[{"name":"acme","issuer":%q,"audiences":["api://orders"],`+
		`"user_claim":"preferred_username","roles_claim":"realm_access.roles","ca_file":%q}]`, p.issuer(), p.caFile))
	return p, key, h
}

// idpTokens mints n distinct tokens of the provider for zoe.
func idpTokens(b *testing.B, p *oidcProvider, key *providerKey, n int) [][]string {
	tokens := make([][]string, n)
	for i := range tokens {
		tokens[i] = []string{"Bearer " + key.mint(b, p.idpClaims(jwt.MapClaims{"jti": fmt.Sprint("bench-", i)}))}
	}
	return tokens
}

// BenchmarkExternalJWTCached is a request with a token of a trusted
// provider verified before: verified-token cache hit, expiry checked,
// identity headers set.
func BenchmarkExternalJWTCached(b *testing.B) {
	p, key, h := idpBenchHandler(b)
	jwtLoop(b, h, idpTokens(b, p, key, 1), 200)
}

// BenchmarkExternalJWTNeverSeenRS256 is a request with an RS256 token of
// a trusted provider this Caddy has never seen (each request a new token):
// issuer peeked, signature, claims, user and roles, cache put. Compare
// with BenchmarkRSAVerifyFloor.
func BenchmarkExternalJWTNeverSeenRS256(b *testing.B) {
	p, key, h := idpBenchHandler(b)
	jwtLoop(b, h, idpTokens(b, p, key, b.N), 200)
}

// BenchmarkRSAVerifyFloor is rsa.VerifyPKCS1v15 alone, the hash and the
// signature prepared: the floor of a never-seen RS256 token.
func BenchmarkRSAVerifyFloor(b *testing.B) {
	key := newProviderKey(b, "rs", "RS256")
	input, sig := signingInput(b, jwt.SigningMethodRS256, key.priv)
	sum := sha256.Sum256([]byte(input))
	pub := key.priv.Public().(*rsa.PublicKey)
	b.ReportAllocs()
	defer reportCPU(b)()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := rsa.VerifyPKCS1v15(pub, crypto.SHA256, sum[:], sig); err != nil {
			b.Fatal(err)
		}
	}
}
