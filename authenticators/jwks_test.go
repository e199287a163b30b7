package authenticators

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"math/big"
	"slices"
	"strings"
	"testing"
)

func TestParseJWK(t *testing.T) {
	rsa2048, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	rsa1024, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	ec, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	ecPub, _ := ec.PublicKey.Bytes()
	edPub, _, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	rsaJWK := func(k *rsa.PrivateKey, extra string) string {
		return `{"kty":"RSA","kid":"k","n":"` + b64(k.N.Bytes()) + `","e":"` + b64(big.NewInt(int64(k.E)).Bytes()) + `"` + extra + `}`
	}
	ecJWK := func(extra string) string {
		return `{"kty":"EC","kid":"k","crv":"P-256","x":"` + b64(ecPub[1:33]) + `","y":"` + b64(ecPub[33:]) + `"` + extra + `}`
	}
	edJWK := `{"kty":"OKP","kid":"k","crv":"Ed25519","x":"` + b64(edPub) + `"}`

	tests := []struct {
		name    string
		jwk     string
		allowed []string
		alg     string // "" when the key must be refused
		err     string
	}{
		{"RSA with alg", rsaJWK(rsa2048, `,"alg":"RS256","use":"sig"`), nil, "RS256", ""},
		{"RSA without alg", rsaJWK(rsa2048, ""), nil, "RS256", ""},
		{"RSA without alg, only PS256 accepted", rsaJWK(rsa2048, ""), []string{"PS256"}, "PS256", ""},
		{"RSA PS256", rsaJWK(rsa2048, `,"alg":"PS256"`), nil, "PS256", ""},
		{"RSA 1024 bits", rsaJWK(rsa1024, `,"alg":"RS256"`), nil, "", "1024 bits"},
		{"RSA declared HS256", rsaJWK(rsa2048, `,"alg":"HS256"`), nil, "", "cannot be used"},
		{"RSA not among the accepted", rsaJWK(rsa2048, `,"alg":"RS256"`), []string{"ES256"}, "", "not among"},
		{"RSA for encryption", rsaJWK(rsa2048, `,"use":"enc"`), nil, "", "not signatures"},
		{"EC", ecJWK(`,"alg":"ES256"`), nil, "ES256", ""},
		{"EC declared RS256", ecJWK(`,"alg":"RS256"`), nil, "", "cannot be used"},
		{"EC point off the curve", strings.Replace(ecJWK(""), b64(ecPub[33:]), b64(make([]byte, 32)), 1), nil, "", "malformed"},
		{"Ed25519", edJWK, nil, "EdDSA", ""},
		{"shared secret", `{"kty":"oct","kid":"k","k":"c2VjcmV0","alg":"HS256"}`, nil, "", `key type "oct"`},
		{"no kid", `{"kty":"OKP","crv":"Ed25519","x":"` + b64(edPub) + `"}`, nil, "", "no kid"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, key, err := parseJWK(json.RawMessage(tc.jwk), tc.allowed)
			if tc.alg == "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("error %v, want one containing %q", err, tc.err)
				}
				return
			}
			if err != nil || key.alg != tc.alg {
				t.Fatalf("key %+v, error %v; want a %s key", key, err, tc.alg)
			}
		})
	}
}

func TestExternalClaims(t *testing.T) {
	e := &externalClaims{userPath: []string{"preferred_username"}, rolesPath: []string{"realm_access", "roles"}}
	tests := []struct {
		name   string
		claims string
		user   string // "" when invalid
		roles  []string
	}{
		{"list", `{"sub":"x","preferred_username":"zoe","realm_access":{"other":[1,{"a":2}],"roles":["r1","r2"]}}`, "zoe", []string{"r1", "r2"}},
		{"string", `{"preferred_username":"zoe","realm_access":{"roles":"r1"}}`, "zoe", []string{"r1"}},
		{"no roles", `{"preferred_username":"zoe"}`, "zoe", nil},
		{"roles null", `{"preferred_username":"zoe","realm_access":{"roles":null}}`, "zoe", nil},
		{"path through a non-object", `{"preferred_username":"zoe","realm_access":["roles"]}`, "zoe", nil},
		{"roles of numbers", `{"preferred_username":"zoe","realm_access":{"roles":[1]}}`, "", nil},
		{"no user", `{"sub":"x"}`, "", nil},
		{"empty user", `{"preferred_username":""}`, "", nil},
		{"user not a string", `{"preferred_username":7}`, "", nil},
		// Parsers differ on which of two members counts: refused.
		{"roles given twice", `{"preferred_username":"zoe","realm_access":{"roles":["viewer"],"roles":["admin"]}}`, "", nil},
		{"roles object given twice", `{"preferred_username":"zoe","realm_access":{"roles":["viewer"]},"realm_access":{"roles":["admin"]}}`, "", nil},
		{"a role with a comma", `{"preferred_username":"zoe","realm_access":{"roles":["a,admin"]}}`, "", nil},
		{"a user with a line break", `{"preferred_username":"zoe\nx"}`, "", nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var c jwtClaimsSeen
			err := e.decode([]byte(tc.claims), tc.claims, &c)
			if tc.user == "" {
				if err == nil {
					t.Fatalf("accepted as %+v", c)
				}
				return
			}
			if err != nil || c.User != tc.user || !slices.Equal(c.ExternalRoles, tc.roles) {
				t.Fatalf("user %q roles %q error %v; want %q %q", c.User, c.ExternalRoles, err, tc.user, tc.roles)
			}
		})
	}
}
