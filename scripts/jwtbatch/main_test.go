package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/golang-jwt/jwt/v5"
)

const testSecret = "0123456789abcdef0123456789abcdef-test"

// issue signs a token as rest_auth's @login does (golang-jwt, kid in the header).
func issue(t *testing.T, method jwt.SigningMethod, key any) string {
	t.Helper()
	tok := jwt.NewWithClaims(method, jwt.MapClaims{
		"sub": "alice", "roles": []string{"editor"}, "iat": 1700000000, "exp": 4100000000, "jti": "c29tZS1pZC1vZi0xNi1iePQ",
	})
	tok.Header["kid"] = "the-kid"
	s, err := tok.SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestBatchTokensVerify: every written token verifies with the secret,
// keeps the template's header and claims, and has a jti of its own.
func TestBatchTokensVerify(t *testing.T) {
	template := issue(t, jwt.SigningMethodHS256, []byte(testSecret))
	b, err := newBatch(template, []byte(testSecret))
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "tokens")
	if err := b.write(out, 2, 5, "Bearer "); err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{"c29tZS1pZC1vZi0xNi1iePQ": true}
	for _, file := range []string{out + ".1", out + ".2"} {
		data, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		for _, line := range strings.Split(strings.TrimSuffix(string(data), "\n"), "\n") {
			raw, ok := strings.CutPrefix(line, "Bearer ")
			if !ok || strings.Split(raw, ".")[0] != strings.Split(template, ".")[0] {
				t.Fatalf("line %q: want \"Bearer \" and the template's header", line)
			}
			claims := jwt.MapClaims{}
			tok, err := jwt.ParseWithClaims(raw, claims, func(*jwt.Token) (any, error) { return []byte(testSecret), nil },
				jwt.WithValidMethods([]string{"HS256"}), jwt.WithStrictDecoding())
			if err != nil || tok.Header["kid"] != "the-kid" || claims["sub"] != "alice" || claims["exp"] != 4100000000.0 {
				t.Fatalf("token %q: err %v, header %v, claims %v", raw, err, tok.Header, claims)
			}
			jti, _ := claims["jti"].(string)
			if len(jti) != 22 || seen[jti] {
				t.Fatalf("jti %q: want 22 characters, never seen before", jti)
			}
			seen[jti] = true
		}
	}
	if len(seen) != 6 {
		t.Fatalf("%d tokens written, want 5", len(seen)-1)
	}
}

// TestBatchRefusesTemplate: a template that cannot be copied is refused with
// an error that says why.
func TestBatchRefusesTemplate(t *testing.T) {
	hs := issue(t, jwt.SigningMethodHS256, []byte(testSecret))
	for _, tc := range []struct {
		name, template, secret, want string
	}{
		{"not a JWS", "a.b", testSecret, "not a compact JWS"},
		{"another secret", hs, testSecret + "-other", "does not match $RESTAUTH_JWT_SECRET"},
		{"not HS256", issue(t, jwt.SigningMethodHS384, []byte(testSecret)), testSecret, "want HS256"},
		{"bad claims", strings.Join([]string{strings.Split(hs, ".")[0], "!!", strings.Split(hs, ".")[2]}, "."), testSecret, "does not match"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := newBatch(tc.template, []byte(tc.secret))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want one containing %q", err, tc.want)
			}
		})
	}
}
