package authenticators

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/golang-jwt/jwt/v5"
)

// fuzzNow is the clock of the differential fuzz target.
var fuzzNow = time.Unix(1_800_000_000, 0)

// fuzzKeys are the keys of the differential fuzz target: fixed, so that
// the seed tokens verify on every run.
func fuzzKeys(t testing.TB) (hs, ed, es *signingKey) {
	t.Helper()
	hs = hmacKey([]byte("0123456789abcdef0123456789abcdef-fuzz"))
	edPriv := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{7}, ed25519.SeedSize))
	ed, err := asymmetricKey("ed25519", "fuzz", edPriv)
	if err != nil {
		t.Fatal(err)
	}
	ecPriv, err := ecdsa.ParseRawPrivateKey(elliptic.P256(), bytes.Repeat([]byte{9}, 32))
	if err != nil {
		t.Fatal(err)
	}
	if es, err = asymmetricKey("es256", "fuzz", ecPriv); err != nil {
		t.Fatal(err)
	}
	return hs, ed, es
}

// jwtPair is our verifier and golang-jwt configured the same way.
type jwtPair struct {
	ours   *jwtVerifier
	parser *jwt.Parser
	keyFor jwt.Keyfunc
}

// fuzzPairs are the configurations compared: with and without issuer,
// audience and leeway.
func fuzzPairs(t testing.TB, keys ...*signingKey) []jwtPair {
	t.Helper()
	kr, err := newKeyring(keys)
	if err != nil {
		t.Fatal(err)
	}
	var pairs []jwtPair
	for _, cfg := range []struct {
		iss, aud string
		leeway   time.Duration
	}{{"", "", 0}, {"https://issuer.example", "api", 0}, {"", "api", time.Minute}, {"https://issuer.example", "", 30 * time.Second}} {
		v := newJWTVerifier(kr, cfg.iss, cfg.aud, cfg.leeway, time.Now)
		v.now = func() time.Time { return fuzzNow }
		v.fullClaims = true
		opts := []jwt.ParserOption{
			jwt.WithValidMethods(kr.algs),
			jwt.WithExpirationRequired(),
			jwt.WithIssuedAt(),
			jwt.WithLeeway(cfg.leeway),
			jwt.WithStrictDecoding(),
			jwt.WithTimeFunc(func() time.Time { return fuzzNow }),
		}
		if cfg.iss != "" {
			opts = append(opts, jwt.WithIssuer(cfg.iss))
		}
		if cfg.aud != "" {
			opts = append(opts, jwt.WithAudience(cfg.aud))
		}
		pairs = append(pairs, jwtPair{ours: v, parser: jwt.NewParser(opts...), keyFor: referenceKeyFor(kr)})
	}
	return pairs
}

// signJWT builds a token from header and claims JSON as given, signed by key.
func signJWT(t testing.TB, key *signingKey, header, claims string) string {
	t.Helper()
	input := b64([]byte(header)) + "." + b64([]byte(claims))
	sig, err := key.method.Sign(input, key.sign)
	if err != nil {
		t.Fatal(err)
	}
	return input + "." + b64(sig)
}

// fuzzSeeds are headers and claims that probe the edges: types, escapes,
// duplicates, case, numbers, crit.
func fuzzSeeds(kid, alg string) [][2]string {
	h := `{"alg":"` + alg + `","kid":"` + kid + `","typ":"JWT"}`
	ok := `{"sub":"alice","jti":"j1","iat":1799999000,"exp":1800003600,"roles":["editor"]}`
	return [][2]string{
		{h, ok},
		{h, `{"sub":"alice","jti":"j1","exp":1800003600,"iss":"https://issuer.example","aud":"api"}`},
		{h, `{"sub":"alice","jti":"j1","exp":1800003600,"iss":"https://issuer.example","aud":["x","api"]}`},
		{h, `{"sub":"alice","jti":"j1","exp":1800003600,"aud":[]}`},
		{h, `{"sub":"alice","jti":"j1","exp":1800003600,"aud":[1]}`},
		{h, `{"sub":"alice","jti":"j1","exp":1800003600,"aud":null,"roles":[null,"a"]}`},
		{h, `{"sub":"alice","jti":"j1","exp":"1800003600.5"}`},
		{h, `{"sub":"alice","jti":"j1","exp":1.8000036e9,"nbf":1800000030,"iat":-1}`},
		{h, `{"sub":"alice","jti":"j1","exp":1e400}`},
		{h, `{"sub":"alice","jti":"j1","exp":1799999990}`},
		{h, `{"sub":"alice","jti":"j1","exp":1800000000}`},
		{h, `{"sub":"alice","jti":"j1","exp":null}`},
		{h, `{"sub":"alice","sub":"bob","jti":"j1","exp":1800003600}`},
		{h, `{"SUB":"alice","jti":"j1","exp":1800003600}`},
		{h, `{"\u017fub":"alice","jti":"j1","exp":1800003600}`},
		{h, `{"s\u0075b":"al\ud800ice\u00e9\ud83d\ude00","jti":"j\/1","exp":1800003600}`},
		{h, `{"sub":"alice","jti":"j1","exp":1800003600,"x":{"y":[1,2,{"z":null}],"w":true}} `},
		{h, `{"sub":"alice","jti":"j1","exp":1800003600,}`},
		{h, `{"sub":"alice","jti":"j1","exp":01800003600}`},
		{h, `{"sub":5,"jti":"j1","exp":1800003600}`},
		{h, `{"sub":"alice","jti":"j1","exp":1800003600,"roles":"editor"}`},
		{h, `null`},
		{h, `[]`},
		{`{"alg":"` + alg + `","kid":"` + kid + `","crit":["exp"]}`, ok},
		{`{"alg":"` + alg + `","kid":"` + kid + `","alg":"` + alg + `"}`, ok},
		{`{"alg":"` + alg + `"}`, ok},
		{`{"alg":"none","kid":"` + kid + `"}`, ok},
		{`{"alg":"HS256","kid":"` + kid + `"}`, ok},
		{`{"alg":"` + alg + `","kid":5}`, ok},
		{`{"alg":"` + alg + `","kid":"` + kid + `","jwk":{"kty":"oct","k":"AA"},"typ":null}`, ok},
		{` {"kid":"` + kid + `", "alg" : "` + alg + `"}` + "\n", ok},
	}
}

// FuzzJWTVerify holds our verifier to golang-jwt's decisions and claims.
// mode picks the key (HS256, EdDSA, ES256), the configuration, and whether
// the token is header and claims signed by the key (so that the claims
// decoder is reached) or raw as given (mutated whole tokens).
func FuzzJWTVerify(f *testing.F) {
	hs, ed, es := fuzzKeys(f)
	keys := []*signingKey{hs, ed, es}
	for i, k := range keys {
		for _, s := range fuzzSeeds(k.kid, k.method.Alg()) {
			f.Add(uint8(i|4), s[0], s[1], "")
			f.Add(uint8(i), "", "", signJWT(f, k, s[0], s[1]))
		}
	}
	pairs := fuzzPairs(f, keys...)
	f.Fuzz(func(t *testing.T, mode uint8, header, claims, raw string) {
		token := raw
		if mode&4 != 0 {
			token = signJWT(t, keys[int(mode&3)%len(keys)], header, claims)
		}
		p := pairs[int(mode>>3)%len(pairs)]
		compareVerifiers(t, p, token)
	})
}

// compareVerifiers requires the same decision and claims from both.
func compareVerifiers(t *testing.T, p jwtPair, token string) {
	t.Helper()
	got, gotErr := verifyClaims(p.ours, token)
	want, wantErr := referenceVerify(p, token)
	strict := strictlyAcceptable(token)
	switch {
	case wantErr == nil && strict && gotErr != nil:
		t.Fatalf("golang-jwt accepts, ours rejects (%v): %q", gotErr, token)
	case (wantErr != nil || !strict) && gotErr == nil:
		t.Fatalf("golang-jwt rejects (%v, strict %v), ours accepts: %q", wantErr, strict, token)
	case wantErr != nil && strict && errors.Is(wantErr, jwt.ErrTokenExpired) != errors.Is(gotErr, errJWTExpired):
		t.Fatalf("expiry: golang-jwt %v, ours %v: %q", wantErr, gotErr, token)
	case gotErr == nil:
		sameClaims(t, want, got, token)
	}
}

// referenceVerify is golang-jwt with jwt.go's key choice.
func referenceVerify(p jwtPair, token string) (c jwtClaims, err error) {
	defer func() {
		if recover() != nil {
			err = errors.New("golang-jwt panicked")
		}
	}()
	_, err = p.parser.ParseWithClaims(token, &c, p.keyFor)
	return c, err
}

func sameClaims(t *testing.T, want jwtClaims, got jwtClaimsSeen, token string) {
	t.Helper()
	dates := []struct {
		want *jwt.NumericDate
		got  time.Time
		has  bool
	}{{want.ExpiresAt, got.ExpiresAt, got.HasExp}, {want.NotBefore, got.NotBefore, got.HasNbf}, {want.IssuedAt, got.IssuedAt, got.HasIat}}
	for i, d := range dates {
		if (d.want != nil) != d.has || d.want != nil && !d.want.Equal(d.got) {
			t.Fatalf("date %d: golang-jwt %v, ours %v (%v): %q", i, d.want, d.got, d.has, token)
		}
	}
	if want.Subject != got.Subject || want.ID != got.ID || want.Issuer != got.Issuer ||
		!slices.Equal(want.Audience, got.Audience) || !slices.Equal(want.Roles, got.Roles) {
		t.Fatalf("claims differ: golang-jwt %+v, ours %+v: %q", want, got, token)
	}
}

// strictlyAcceptable is false for what our verifier refuses on purpose
// although golang-jwt lets it through: a crit header, a member given twice,
// a claim name that matches ours only when case is ignored, invalid UTF-8.
// It is written independently of the verifier, with encoding/json.
func strictlyAcceptable(token string) bool {
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return true
	}
	for i, part := range parts[:2] {
		b, err := base64.RawURLEncoding.Strict().DecodeString(part)
		if err != nil {
			return true
		}
		if !utf8.Valid(b) {
			return false
		}
		names, ok := memberNames(b)
		if !ok {
			return true
		}
		seen := map[string]bool{}
		for _, n := range names {
			if seen[n] || i == 0 && n == "crit" {
				return false
			}
			seen[n] = true
			for _, ours := range jwtClaimNames {
				if i == 1 && n != ours && strings.EqualFold(n, ours) {
					return false
				}
			}
		}
	}
	return true
}

// memberNames lists the top-level member names of a JSON object.
func memberNames(b []byte) ([]string, bool) {
	dec := json.NewDecoder(bytes.NewReader(b))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return nil, false
	}
	var names []string
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, false
		}
		names = append(names, tok.(string))
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return nil, false
		}
	}
	return names, true
}

// TestJWTVerifierSignatureFirst: a token with a wrong signature is refused
// for its signature, whatever its claims hold, and a token signed by a key
// outside the keyring is refused for its key.
func TestJWTVerifierSignatureFirst(t *testing.T) {
	hs, ed, es := fuzzKeys(t)
	kr, _ := newKeyring([]*signingKey{hs, ed, es})
	v := newJWTVerifier(kr, "", "", 0, time.Now)
	v.now = func() time.Time { return fuzzNow }
	_, other, _ := ed25519.GenerateKey(rand.Reader)
	for _, k := range []*signingKey{hs, ed, es} {
		h := `{"alg":"` + k.method.Alg() + `","kid":"` + k.kid + `"}`
		valid := signJWT(t, k, h, `{"sub":"alice","jti":"j1","exp":1800003600}`)
		garbage := signJWT(t, k, h, `not json`)
		tests := []struct {
			name  string
			token string
			want  error
		}{
			{"valid", valid, nil},
			{"garbage claims, valid signature", garbage, errJWTMalformed},
			{"garbage claims, forged signature", garbage[:strings.LastIndexByte(garbage, '.')+1] + b64(make([]byte, 64)), errJWTSignature},
			{"claims swapped in", strings.Replace(valid, strings.Split(valid, ".")[1], b64([]byte(`{"sub":"root","jti":"j1","exp":1800003600}`)), 1), errJWTSignature},
			{"expired", signJWT(t, k, h, `{"sub":"alice","jti":"j1","exp":1700000000}`), errJWTExpired},
			{"no kid", signJWT(t, k, `{"alg":"`+k.method.Alg()+`"}`, `{"sub":"alice","jti":"j1","exp":1800003600}`), errJWTKey},
			{"crit", signJWT(t, k, `{"alg":"`+k.method.Alg()+`","kid":"`+k.kid+`","crit":["b64"],"b64":false}`, `{"sub":"alice","jti":"j1","exp":1800003600}`), errJWTKey},
		}
		for _, tc := range tests {
			t.Run(k.method.Alg()+"/"+tc.name, func(t *testing.T) {
				if _, err := verifyClaims(v, tc.token); err != tc.want {
					t.Fatalf("got %v, want %v", err, tc.want)
				}
			})
		}
	}
	foreign, _ := asymmetricKey("ed25519", "other", other)
	token := signJWT(t, foreign, `{"alg":"EdDSA","kid":"`+ed.kid+`"}`, `{"sub":"alice","jti":"j1","exp":1800003600}`)
	if _, err := verifyClaims(v, token); err != errJWTSignature {
		t.Fatalf("a token signed by a key outside the keyring: got %v", err)
	}
}

// referenceKeyFor is how golang-jwt is told to pick a key, as our verifier
// does: by `kid`, from our keyring only, with the token's algorithm equal
// to the key's, and no `crit` header (RFC 7515 §4.1.11: we understand no
// extension).
func referenceKeyFor(kr *keyring) jwt.Keyfunc {
	return func(t *jwt.Token) (any, error) {
		if _, ok := t.Header["crit"]; ok {
			return nil, errors.New("critical extensions are not understood")
		}
		kid, _ := t.Header["kid"].(string)
		key, ok := kr.byKid[kid]
		if !ok {
			return nil, errors.New("unknown key id")
		}
		if t.Method.Alg() != key.method.Alg() {
			return nil, errors.New("algorithm does not match the key")
		}
		return key.verify, nil
	}
}

// TestJWTHeaderCache: a header is remembered only once a token with it
// verified, a remembered header answers as keyFor does (valid or forged
// signature), and no more than maxJWTHeaders are kept, so a flood of
// headers neither grows it nor pushes the real ones out.
func TestJWTHeaderCache(t *testing.T) {
	hs, ed, es := fuzzKeys(t)
	kr, _ := newKeyring([]*signingKey{hs, ed, es})
	v := newJWTVerifier(kr, "", "", 0, time.Now)
	v.now = func() time.Time { return fuzzNow }
	claims := `{"sub":"alice","jti":"j1","exp":1800003600}`
	h := `{"alg":"HS256","kid":"` + hs.kid + `"}`
	valid := signJWT(t, hs, h, claims)
	forged := valid[:strings.LastIndexByte(valid, '.')+1] + b64(make([]byte, 32))
	for range 2 {
		if _, err := verifyClaims(v, valid); err != nil {
			t.Fatalf("valid token: %v", err)
		}
		if _, err := verifyClaims(v, forged); err != errJWTSignature {
			t.Fatalf("forged token: %v", err)
		}
	}
	// The same kid with another alg is another header: refused.
	if _, err := verifyClaims(v, signJWT(t, hs, `{"alg":"EdDSA","kid":"`+hs.kid+`"}`, claims)); err != errJWTKey {
		t.Fatalf("HS256 kid with alg EdDSA: %v", err)
	}
	// Forged tokens take no place, whatever their header.
	for i := range 2 * maxJWTHeaders {
		spelled := signJWT(t, hs, fmt.Sprintf(`{"alg":"HS256","kid":"%s","f":%d}`, hs.kid, i), claims)
		forged := spelled[:strings.LastIndexByte(spelled, '.')+1] + b64(make([]byte, 32))
		if _, err := verifyClaims(v, forged); err != errJWTSignature {
			t.Fatalf("forged token %d: %v", i, err)
		}
	}
	// Headers that choose no key are not remembered.
	for i := range 2 * maxJWTHeaders {
		bad := signJWT(t, hs, fmt.Sprintf(`{"alg":"HS256","kid":"nope-%d"}`, i), claims)
		if _, err := verifyClaims(v, bad); err != errJWTUnknownKid {
			t.Fatalf("unknown kid: %v", err)
		}
	}
	if n := len(v.headers.entries); n != 1 {
		t.Fatalf("%d headers remembered, want 1 (only that of the valid token)", n)
	}
	// Headers that do choose a key, in many spellings: at most the bound.
	for i := range 2 * maxJWTHeaders {
		spelled := signJWT(t, hs, fmt.Sprintf(`{"alg":"HS256","kid":"%s","x":%d}`, hs.kid, i), claims)
		if _, err := verifyClaims(v, spelled); err != nil {
			t.Fatalf("header spelling %d: %v", i, err)
		}
	}
	if n := len(v.headers.entries); n != maxJWTHeaders {
		t.Fatalf("%d headers remembered, want the bound %d", n, maxJWTHeaders)
	}
	if _, err := verifyClaims(v, valid); err != nil {
		t.Fatalf("the first header after the flood: %v", err)
	}
}

// verifyClaims is v.verify into a new claims value.
func verifyClaims(v *jwtVerifier, raw string) (jwtClaimsSeen, error) {
	var c jwtClaimsSeen
	err := v.verify(raw, &c)
	return c, err
}
