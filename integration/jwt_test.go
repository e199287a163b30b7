package integration

import (
	"crypto/ed25519"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/caddy-restauth/caddy-restauth/internal/jwttest"
	"github.com/caddyserver/caddy/v2/caddytest"
	"github.com/golang-jwt/jwt/v5"
)

const hsSecret = "0123456789abcdef0123456789abcdef-test-secret"

// login posts credentials to @login and returns the token.
func login(t *testing.T, tester *caddytest.Tester, base, user, password string) string {
	t.Helper()
	resp, body := call(t, tester, "POST", base+"/@login", map[string]string{"Content-Type": "application/json"},
		`{"login":"`+user+`","password":"`+password+`"}`)
	if resp.StatusCode != 200 {
		t.Fatalf("@login: status %d body %s", resp.StatusCode, body)
	}
	var out struct {
		Token   string `json:"token"`
		Expires string `json:"expires"`
	}
	if err := json.Unmarshal([]byte(body), &out); err != nil {
		t.Fatal(err)
	}
	if _, err := time.Parse(time.RFC3339, out.Expires); err != nil || !strings.HasSuffix(out.Expires, "Z") {
		t.Fatalf("expires %q is not RFC 3339 UTC", out.Expires)
	}
	return out.Token
}

func bearer(token string) map[string]string {
	return map[string]string{"Authorization": "Bearer " + token}
}

// assertInvalidToken checks a 401 with error="invalid_token".
func assertInvalidToken(t *testing.T, resp *http.Response, body string) {
	t.Helper()
	assertProblem(t, resp, body, http.StatusUnauthorized, "")
	if got := resp.Header.Get("WWW-Authenticate"); !strings.HasPrefix(got, "Bearer ") || !strings.Contains(got, `error="invalid_token"`) {
		t.Fatalf("WWW-Authenticate = %q, want Bearer ... error=\"invalid_token\"", got)
	}
}

// tokenParts splits a JWT and decodes its header and claims.
func tokenParts(t *testing.T, token string) (header, claims map[string]any) {
	t.Helper()
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		t.Fatalf("not a JWT: %q", token)
	}
	for i, dst := range []*map[string]any{&header, &claims} {
		raw, err := base64.RawURLEncoding.DecodeString(parts[i])
		if err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(raw, dst); err != nil {
			t.Fatal(err)
		}
	}
	return header, claims
}

func sign(t *testing.T, method jwt.SigningMethod, key any, header map[string]any, claims jwt.MapClaims) string {
	t.Helper()
	tok := jwt.NewWithClaims(method, claims)
	for k, v := range header {
		tok.Header[k] = v
	}
	s, err := tok.SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestJWTFlow(t *testing.T) {
	up := newUpstream(t)
	tester := startCaddy(t, siteConfig(t, "jwt {\n\t\t\tkey hs256 "+hsSecret+"\n\t\t}", up.addr()))

	token := login(t, tester, httpBase, "alice", alicePassword)
	header, claims := tokenParts(t, token)
	if header["alg"] != "HS256" || header["kid"] == "" {
		t.Errorf("header = %v", header)
	}
	for _, c := range []string{"sub", "roles", "iat", "exp", "jti"} {
		if _, ok := claims[c]; !ok {
			t.Errorf("claim %s missing in %v", c, claims)
		}
	}
	if exp, iat := claims["exp"].(float64), claims["iat"].(float64); exp-iat != 12*3600 {
		t.Errorf("default TTL = %vs, want 12h", exp-iat)
	}

	resp, body := call(t, tester, "GET", httpBase+"/items", bearer(token), "")
	if resp.StatusCode != 200 || up.received(t).Get("X-Remote-User") != "alice" {
		t.Fatalf("call with token: %d %s", resp.StatusCode, body)
	}
	if up.received(t).Get("Authorization") != "" {
		t.Error("the upstream received the Authorization header")
	}

	resp, body = call(t, tester, "POST", httpBase+"/@login-renew", bearer(token), "")
	if resp.StatusCode != 200 {
		t.Fatalf("@login-renew: %d %s", resp.StatusCode, body)
	}
	var renewed struct{ Token string }
	_ = json.Unmarshal([]byte(body), &renewed)

	resp, body = call(t, tester, "GET", httpBase+"/items", bearer(token), "")
	assertInvalidToken(t, resp, body)
	resp, _ = call(t, tester, "GET", httpBase+"/items", bearer(renewed.Token), "")
	if resp.StatusCode != 200 {
		t.Fatalf("renewed token: %d", resp.StatusCode)
	}

	resp, body = call(t, tester, "POST", httpBase+"/@logout", bearer(renewed.Token), "")
	if resp.StatusCode != http.StatusNoContent || body != "" {
		t.Fatalf("@logout: %d %q", resp.StatusCode, body)
	}
	resp, body = call(t, tester, "GET", httpBase+"/items", bearer(renewed.Token), "")
	assertInvalidToken(t, resp, body)
}

func TestLoginEndpointErrors(t *testing.T) {
	up := newUpstream(t)
	tester := startCaddy(t, siteConfig(t, "", up.addr()))
	json := map[string]string{"Content-Type": "application/json"}
	cases := []struct {
		name, method, body string
		status             int
		detail             string
	}{
		{"wrong password", "POST", `{"login":"alice","password":"nope"}`, 401, "Invalid username or password."},
		{"unknown user", "POST", `{"username":"mallory","password":"x"}`, 401, "Invalid username or password."},
		{"disabled user", "POST", `{"login":"carol","password":"` + carolPassword + `"}`, 401, "Invalid username or password."},
		{"malformed JSON", "POST", `{"login":`, 400, "malformed JSON"},
		{"wrong type", "POST", `{"login":42,"password":"x"}`, 400, "wrong type"},
		{"missing password", "POST", `{"login":"alice"}`, 400, "password"},
		{"empty body", "POST", ``, 400, ""},
		{"too large", "POST", `{"login":"` + strings.Repeat("a", 70<<10) + `"}`, 413, "64 KiB"},
		{"GET", "GET", ``, 405, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			resp, body := call(t, tester, c.method, httpBase+"/@login", json, c.body)
			assertProblem(t, resp, body, c.status, c.detail)
		})
	}
	// "username" works like "login" (NetBox, Django).
	if tok := login(t, tester, httpBase, "dave", davePassword); tok == "" {
		t.Fatal("no token")
	}
	// @login-renew and @logout need a JWT.
	for _, path := range []string{"/@login-renew", "/@logout"} {
		resp, body := call(t, tester, "POST", httpBase+path, nil, "")
		assertProblem(t, resp, body, 401, "Authentication credentials were not provided.")
		resp, body = call(t, tester, "POST", httpBase+path, withBasic("alice", alicePassword), "")
		assertProblem(t, resp, body, 400, "Bearer")
	}
}

func TestJWTRevocationOff(t *testing.T) {
	up := newUpstream(t)
	tester := startCaddy(t, siteConfig(t, "jwt {\n\t\t\trevocation off\n\t\t}", up.addr()))
	token := login(t, tester, httpBase, "alice", alicePassword)
	resp, body := call(t, tester, "POST", httpBase+"/@logout", bearer(token), "")
	assertProblem(t, resp, body, http.StatusNotImplemented, "cannot be invalidated")
	resp, _ = call(t, tester, "GET", httpBase+"/x", bearer(token), "")
	if resp.StatusCode != 200 {
		t.Fatalf("token after 501 logout: %d", resp.StatusCode)
	}
}

func TestJWTCookie(t *testing.T) {
	up := newUpstream(t)
	tester := startCaddy(t, siteConfig(t, "jwt {\n\t\t\tcookie access_token\n\t\t}", up.addr()))
	token := login(t, tester, httpBase, "bob", bobPassword)
	resp, _ := call(t, tester, "GET", httpBase+"/x", map[string]string{"Cookie": "theme=dark; access_token=" + token}, "")
	if resp.StatusCode != 200 || up.received(t).Get("X-Remote-User") != "bob" {
		t.Fatalf("cookie token: %d", resp.StatusCode)
	}
	if c := up.received(t).Get("Cookie"); strings.Contains(c, "access_token") || !strings.Contains(c, "theme=dark") {
		t.Errorf("upstream Cookie = %q, want the token cookie removed and the others kept", c)
	}
	resp, body := call(t, tester, "GET", httpBase+"/x", map[string]string{"Cookie": "access_token=" + token + "x"}, "")
	assertInvalidToken(t, resp, body)

	// A token cookie that has run out (here: logged out) is a 401 on a
	// page, but does not keep the browser that still sends it from logging
	// in again; a forged one does.
	resp, body = call(t, tester, "POST", httpBase+"/@logout", bearer(token), "")
	if resp.StatusCode != http.StatusNoContent {
		t.Fatalf("@logout: %d %s", resp.StatusCode, body)
	}
	revoked := map[string]string{"Cookie": "access_token=" + token, "Content-Type": "application/json"}
	resp, body = call(t, tester, "GET", httpBase+"/x", revoked, "")
	assertInvalidToken(t, resp, body)
	resp, body = call(t, tester, "POST", httpBase+"/@login", revoked, `{"login":"bob","password":"`+bobPassword+`"}`)
	if resp.StatusCode != 200 {
		t.Fatalf("@login with a revoked token cookie: %d %s", resp.StatusCode, body)
	}
	forged := map[string]string{"Cookie": "access_token=" + token + "x", "Content-Type": "application/json"}
	resp, body = call(t, tester, "POST", httpBase+"/@login", forged, `{"login":"bob","password":"`+bobPassword+`"}`)
	assertInvalidToken(t, resp, body)
}

func TestJWTRejections(t *testing.T) {
	keys := jwttest.WriteKeys(t)
	up := newUpstream(t)
	options := "jwt {\n\t\t\tkey hs256 " + hsSecret + "\n\t\t\tkey ed25519 " + keys.EdPath +
		"\n\t\t\tkey es256 " + keys.ECPath + "\n\t\t\tissuer https://api.test\n\t\t\taudience api\n\t\t}"
	tester := startCaddy(t, siteConfig(t, options, up.addr()))

	good := login(t, tester, httpBase, "alice", alicePassword)
	header, _ := tokenParts(t, good)
	hsKid := header["kid"].(string)

	// The kids of the asymmetric keys, from the public JWKS.
	resp, body := call(t, tester, "GET", httpBase+"/.well-known/jwks.json", nil, "")
	if resp.StatusCode != 200 {
		t.Fatalf("jwks: %d %s", resp.StatusCode, body)
	}
	var set struct{ Keys []map[string]string }
	_ = json.Unmarshal([]byte(body), &set)
	kids := map[string]string{}
	for _, k := range set.Keys {
		kids[k["kty"]] = k["kid"]
		if k["d"] != "" || k["k"] != "" {
			t.Fatalf("JWKS leaks private or secret material: %v", k)
		}
	}
	if len(set.Keys) != 2 || kids["OKP"] == "" || kids["EC"] == "" {
		t.Fatalf("JWKS = %s, want the Ed25519 and P-256 public keys only", body)
	}
	if resp, atBody := call(t, tester, "GET", httpBase+"/@jwks", nil, ""); resp.StatusCode != 200 || atBody != body {
		t.Fatalf("@jwks: %d %s, want the same set as /.well-known/jwks.json", resp.StatusCode, atBody)
	}

	now := time.Now()
	valid := func() jwt.MapClaims {
		return jwt.MapClaims{"sub": "alice", "iat": now.Unix(), "exp": now.Add(time.Hour).Unix(),
			"jti": "j-" + now.Format("150405.000000000"), "iss": "https://api.test", "aud": "api"}
	}
	with := func(edit func(jwt.MapClaims)) jwt.MapClaims { c := valid(); edit(c); return c }
	edKid := map[string]any{"kid": kids["OKP"]}
	hsHeader := map[string]any{"kid": hsKid}

	// A token signed by the second and third keys of the ring is accepted.
	for name, tok := range map[string]string{
		"ed25519": sign(t, jwt.SigningMethodEdDSA, keys.Ed, edKid, valid()),
		"es256":   sign(t, jwt.SigningMethodES256, keys.EC, map[string]any{"kid": kids["EC"]}, valid()),
	} {
		resp, body := call(t, tester, "GET", httpBase+"/x", bearer(tok), "")
		if resp.StatusCode != 200 {
			t.Errorf("token signed by the %s key: %d %s", name, resp.StatusCode, body)
		}
	}

	noneToken := func() string {
		s, _ := jwt.NewWithClaims(jwt.SigningMethodNone, valid()).SignedString(jwt.UnsafeAllowNoneSignatureType)
		return s
	}()
	edPub, _ := x509.MarshalPKIXPublicKey(keys.Ed.Public())
	pubPEM := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: edPub})
	parts := strings.Split(good, ".")
	tampered := parts[0] + "." + base64.RawURLEncoding.EncodeToString([]byte(`{"sub":"dave","roles":["admin"],"exp":9999999999,"jti":"x"}`)) + "." + parts[2]

	cases := map[string]string{
		"alg none":                 noneToken,
		"HS256 with EdDSA pub key": sign(t, jwt.SigningMethodHS256, pubPEM, edKid, valid()),
		"HS256 with raw pub key":   sign(t, jwt.SigningMethodHS256, []byte(keys.Ed.Public().(ed25519.PublicKey)), edKid, valid()),
		"unknown kid":              sign(t, jwt.SigningMethodHS256, []byte(hsSecret), map[string]any{"kid": "nope"}, valid()),
		"kid with path characters": sign(t, jwt.SigningMethodHS256, []byte(hsSecret), map[string]any{"kid": "../../etc/passwd"}, valid()),
		"no kid":                   sign(t, jwt.SigningMethodHS256, []byte(hsSecret), nil, valid()),
		"crit extension":           sign(t, jwt.SigningMethodHS256, []byte(hsSecret), map[string]any{"kid": hsKid, "crit": []string{"exp"}}, valid()),
		"empty crit":               sign(t, jwt.SigningMethodHS256, []byte(hsSecret), map[string]any{"kid": hsKid, "crit": []string{}}, valid()),
		"crit with an Ed25519 key": sign(t, jwt.SigningMethodEdDSA, keys.Ed, map[string]any{"kid": kids["OKP"], "crit": []string{"b64"}, "b64": true}, valid()),
		"expired":                  sign(t, jwt.SigningMethodHS256, []byte(hsSecret), hsHeader, with(func(c jwt.MapClaims) { c["exp"] = now.Add(-time.Minute).Unix() })),
		"nbf in the future":        sign(t, jwt.SigningMethodHS256, []byte(hsSecret), hsHeader, with(func(c jwt.MapClaims) { c["nbf"] = now.Add(time.Hour).Unix() })),
		"no exp":                   sign(t, jwt.SigningMethodHS256, []byte(hsSecret), hsHeader, with(func(c jwt.MapClaims) { delete(c, "exp") })),
		"wrong iss":                sign(t, jwt.SigningMethodHS256, []byte(hsSecret), hsHeader, with(func(c jwt.MapClaims) { c["iss"] = "https://evil.test" })),
		"no iss":                   sign(t, jwt.SigningMethodHS256, []byte(hsSecret), hsHeader, with(func(c jwt.MapClaims) { delete(c, "iss") })),
		"wrong aud":                sign(t, jwt.SigningMethodHS256, []byte(hsSecret), hsHeader, with(func(c jwt.MapClaims) { c["aud"] = "other" })),
		"unknown user":             sign(t, jwt.SigningMethodHS256, []byte(hsSecret), hsHeader, with(func(c jwt.MapClaims) { c["sub"] = "mallory" })),
		"disabled user":            sign(t, jwt.SigningMethodHS256, []byte(hsSecret), hsHeader, with(func(c jwt.MapClaims) { c["sub"] = "carol" })),
		"no jti":                   sign(t, jwt.SigningMethodHS256, []byte(hsSecret), hsHeader, with(func(c jwt.MapClaims) { delete(c, "jti") })),
		"wrong secret":             sign(t, jwt.SigningMethodHS256, []byte(strings.Repeat("x", 40)), hsHeader, valid()),
		"tampered payload":         tampered,
		"truncated signature":      good[:len(good)-5],
		"truncated at a dot":       parts[0] + "." + parts[1],
		"over 8 KiB":               sign(t, jwt.SigningMethodHS256, []byte(hsSecret), hsHeader, with(func(c jwt.MapClaims) { c["pad"] = strings.Repeat("p", 9<<10) })),
		"not base64":               "abc.def.ghi",
		"garbage":                  "hello",
	}
	for name, tok := range cases {
		t.Run(name, func(t *testing.T) {
			resp, body := call(t, tester, "GET", httpBase+"/x", bearer(tok), "")
			assertInvalidToken(t, resp, body)
		})
	}
}

func TestJWTKeyRotationAndUserRemoval(t *testing.T) {
	keys := jwttest.WriteKeys(t)
	up := newUpstream(t)
	withKeys := func(keyLines, usersFile string) string {
		c := siteConfig(t, "jwt {\n"+keyLines+"\n\t\t}", up.addr())
		return strings.ReplaceAll(c, testdataPath(t, "users.json"), usersFile)
	}
	users := testdataPath(t, "users.json")
	tester := startCaddy(t, withKeys("\t\t\tkey ed25519 "+keys.EdPath, users))
	old := login(t, tester, httpBase, "bob", bobPassword)

	// Rotate: a new first key signs, the old one still verifies.
	tester = startCaddy(t, withKeys("\t\t\tkey es256 "+keys.ECPath+"\n\t\t\tkey ed25519 "+keys.EdPath, users))
	if resp, body := call(t, tester, "GET", httpBase+"/x", bearer(old), ""); resp.StatusCode != 200 {
		t.Fatalf("old token after rotation: %d %s", resp.StatusCode, body)
	}
	fresh := login(t, tester, httpBase, "bob", bobPassword)
	if h, _ := tokenParts(t, fresh); h["alg"] != "ES256" {
		t.Fatalf("new tokens signed with %v, want ES256 (the first key)", h["alg"])
	}

	// Remove the old key: its tokens stop working.
	tester = startCaddy(t, withKeys("\t\t\tkey es256 "+keys.ECPath, users))
	resp, body := call(t, tester, "GET", httpBase+"/x", bearer(old), "")
	assertInvalidToken(t, resp, body)

	// Remove bob: his token stops working.
	var all []map[string]any
	_ = json.Unmarshal([]byte(readFile(t, users)), &all)
	withoutBob := filepath.Join(t.TempDir(), "users.json")
	var kept []map[string]any
	for _, u := range all {
		if u["name"] != "bob" {
			kept = append(kept, u)
		}
	}
	data, _ := json.Marshal(kept)
	if err := os.WriteFile(withoutBob, data, 0o600); err != nil {
		t.Fatal(err)
	}
	tester = startCaddy(t, withKeys("\t\t\tkey es256 "+keys.ECPath, withoutBob))
	resp, body = call(t, tester, "GET", httpBase+"/x", bearer(fresh), "")
	assertInvalidToken(t, resp, body)
}

func TestJWTConfigErrors(t *testing.T) {
	keys := jwttest.WriteKeys(t)
	notPEM := filepath.Join(t.TempDir(), "key.txt")
	_ = os.WriteFile(notPEM, []byte("not a key"), 0o600)
	inBlock := func(cases []configCase) []configCase {
		for i := range cases {
			cases[i].options = "jwt {\n\t\t\t" + cases[i].options + "\n\t\t}"
		}
		return cases
	}
	assertConfigErrors(t, inBlock([]configCase{
		{"short hs256", "key hs256 tooshort", "jwt: hs256 key must be at least 32 bytes"},
		{"unknown key type", "key rs256 /x.pem", `jwt: unknown key type "rs256"`},
		{"bad revocation", "revocation maybe", "revocation on"},
		{"bad ttl", "ttl soon", `jwt: ttl: "soon" is not a duration (e.g. 30m, 2h, 90d)`},
		{"unknown option", "algorithm HS512", `jwt: unknown option "algorithm"`},
	}))
	// Known only when Caddy loads: placeholders and key files.
	assertLoadErrors(t, inBlock([]configCase{
		{"unset env secret", "key hs256 {env.RESTAUTH_TEST_UNSET_SECRET}", "jwt: hs256 key must be at least 32 bytes"},
		{"missing key file", "key ed25519 /nonexistent.pem", "jwt: reading key file"},
		{"not PEM", "key ed25519 " + notPEM, "is not a PKCS #8 PEM private key"},
		{"wrong key type in file", "key ed25519 " + keys.ECPath, "does not hold an ed25519 key"},
		{"same key twice", "key ed25519 " + keys.EdPath + "\n\t\t\tkey ed25519 " + keys.EdPath, "the same key is listed twice"},
	}))
}

// TestJWTCookieWritesNeedSameOrigin: a JWT from a cookie (sent by browsers
// on cross-site requests too) authenticates writes only from this site.
func TestJWTCookieWritesNeedSameOrigin(t *testing.T) {
	up := newUpstream(t)
	tester := startCaddy(t, siteConfig(t, "jwt {\n\t\t\tcookie access_token\n\t\t}", up.addr()))
	token := login(t, tester, httpBase, "bob", bobPassword)
	cookie := "access_token=" + token
	cases := []struct {
		name    string
		headers map[string]string
		status  int
	}{
		{"read without Origin", map[string]string{"Cookie": cookie}, 200},
		{"write from this site", map[string]string{"Cookie": cookie, "Origin": httpBase}, 200},
		{"write from a foreign site", map[string]string{"Cookie": cookie, "Origin": "https://evil.example"}, 403},
		{"write without Origin or Referer", map[string]string{"Cookie": cookie}, 403},
		{"write with the token in Authorization", map[string]string{"Authorization": "Bearer " + token}, 200},
	}
	for _, c := range cases {
		method := "POST"
		if c.name == "read without Origin" {
			method = "GET"
		}
		resp, body := call(t, tester, method, httpBase+"/x", c.headers, "")
		if resp.StatusCode != c.status {
			t.Errorf("%s: %d (%s), want %d", c.name, resp.StatusCode, body, c.status)
		}
	}
}

// TestJWKSIsPublic: the JWKS answers whatever credential comes along.
func TestJWKSIsPublic(t *testing.T) {
	up := newUpstream(t)
	tester := startCaddy(t, siteConfig(t, "allow_roles nobody", up.addr()))
	for _, h := range []map[string]string{nil, withBasic("alice", "wrong"), withBasic("alice", alicePassword)} {
		if resp, body := call(t, tester, "GET", httpBase+"/.well-known/jwks.json", h, ""); resp.StatusCode != 200 {
			t.Errorf("jwks with %v: %d %s", h, resp.StatusCode, body)
		}
	}
}
