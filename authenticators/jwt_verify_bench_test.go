package authenticators

import (
	"strings"
	"testing"
)

// BenchmarkJWTVerify compares our verifier with golang-jwt's
// ParseWithClaims (configured as in FuzzJWTVerify) on one HS256 token, and
// both on a forged one: the verification alone, without the handler.
func BenchmarkJWTVerify(b *testing.B) {
	hs, _, _ := fuzzKeys(b)
	p := fuzzPairs(b, hs)[0]
	token := signJWT(b, hs, `{"alg":"HS256","kid":"`+hs.kid+`","typ":"JWT"}`,
		`{"sub":"alice","roles":["editor","member"],"iat":1799956800,"exp":1800000600,"jti":"0123456789abcdefghijkl"}`)
	forged := token[:strings.LastIndexByte(token, '.')+1] + strings.Repeat("A", 43)
	for _, tc := range []struct {
		name  string
		token string
		ok    bool
	}{{"valid", token, true}, {"forged", forged, false}} {
		b.Run("ours/"+tc.name, func(b *testing.B) {
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				var c jwtClaimsSeen
				if err := p.ours.verify(tc.token, &c); (err == nil) != tc.ok {
					b.Fatal(err)
				}
			}
		})
		b.Run("golang-jwt/"+tc.name, func(b *testing.B) {
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				var c jwtClaims
				if _, err := p.parser.ParseWithClaims(tc.token, &c, p.keyFor); (err == nil) != tc.ok {
					b.Fatal(err)
				}
			}
		})
	}
}
