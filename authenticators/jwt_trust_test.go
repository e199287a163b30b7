package authenticators

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestPeekIssuer: the trust block is chosen by the top-level iss wherever
// it sits in the claims, also past the first chunk peekIssuer decodes and
// with a member cut at every chunk boundary.
func TestPeekIssuer(t *testing.T) {
	acme, other := &trustedIssuer{}, &trustedIssuer{}
	j := &JWT{issuers: map[string]*trustedIssuer{"https://idp.example/acme": acme, "https://other.example": other}}
	token := func(claims string) string {
		return "eyJhbGciOiJSUzI1NiJ9." + jwtB64.EncodeToString([]byte(claims)) + ".c2ln"
	}
	pad := func(n int) string { return `"pad":"` + strings.Repeat("x", n) + `",` }
	tests := []struct {
		name   string
		claims string
		want   *trustedIssuer
	}{
		{"first", `{"iss":"https://idp.example/acme","sub":"zoe"}`, acme},
		{"after others", `{"sub":"zoe","exp":1,"iss":"https://other.example"}`, other},
		{"nested iss first", `{"act":{"iss":"https://other.example"},"iss":"https://idp.example/acme"}`, acme},
		{"unknown issuer", `{"iss":"https://evil.example"}`, nil},
		{"no iss", `{"sub":"zoe"}`, nil},
		{"iss not a string", `{"iss":42}`, nil},
		{"escaped", `{"iss":"https:\/\/idp.example\/acme"}`, acme},
		{"malformed before iss", `{"sub":zoe,"iss":"https://idp.example/acme"}`, nil},
		// Only routing: the verification rejects what is malformed after.
		{"malformed after iss", `{"iss":"https://idp.example/acme"`, acme},
		{"not an object", `["iss"]`, nil},
	}
	// The iss member placed so that each of its parts falls on the first
	// chunk's end (192 decoded bytes).
	for n := 160; n < 200; n++ {
		tests = append(tests, struct {
			name   string
			claims string
			want   *trustedIssuer
		}{"cut at " + strings.Repeat("+", n-159), `{` + pad(n) + `"iss":"https://idp.example/acme","sub":"zoe"}`, acme})
	}
	tests = append(tests, struct {
		name   string
		claims string
		want   *trustedIssuer
	}{"far", `{` + pad(5000) + `"iss":"https://other.example"}`, other})
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := j.peekIssuer(token(tc.claims)); got != tc.want {
				t.Errorf("peekIssuer(%s) = %p, want %p", tc.claims, got, tc.want)
			}
		})
	}
	for _, bad := range []string{"", "a", "a.b", "a.!!!.c", "a..c"} {
		if got := j.peekIssuer(bad); got != nil {
			t.Errorf("peekIssuer(%q) = %p, want nil", bad, got)
		}
	}
}

// TestJWTTooLarge: a token over 8 KiB is refused before anything reads it
// (the issuer peek included), as a 401.
func TestJWTTooLarge(t *testing.T) {
	j := testJWT(t, testEnv(t))
	huge := "eyJhbGciOiJSUzI1NiJ9." + jwtB64.EncodeToString([]byte(`{"pad":"`+strings.Repeat("A", 9000))) + ".c2ln"
	r := httptest.NewRequest(http.MethodGet, "/", nil)
	r.Header.Set("Authorization", "Bearer "+huge)
	_, err := j.Authenticate(r)
	if rej, ok := AsRejection(err); !ok || rej.StatusCode() != http.StatusUnauthorized || rej.Detail != "The token is too large." {
		t.Fatalf("Authenticate: %v, want 401 The token is too large.", err)
	}
}
