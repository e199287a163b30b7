package authenticators

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/hmac"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"hash"
	"math"
	"math/big"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/golang-jwt/jwt/v5"
)

// jwtVerifier checks the compact JWS tokens the jwt authenticator accepts,
// without golang-jwt on the request path: the signature is checked before
// any claim is decoded (a forged token costs one HMAC or one signature
// check), the header is read by a small parser that knows alg, kid and crit,
// and the claims by a scanner that knows the claims we use, without
// reflection. Its decisions and claims are those of golang-jwt's
// ParseWithClaims with WithValidMethods (the keys' algorithms),
// WithExpirationRequired, WithIssuedAt, WithLeeway, WithIssuer,
// WithAudience and WithStrictDecoding, the key chosen by kid (jwt.go's
// keyFor); jwt_verify_fuzz_test.go holds it to that. It is stricter in
// what golang-jwt lets through silently: a `crit` header (RFC 7515
// §4.1.11: we understand no extension), a key given twice in the header or
// the claims (golang-jwt keeps the last), a claim name that only matches
// ours when case is ignored, and invalid UTF-8. For a trust block
// (jwt_trust.go, jwks.go) the same verifier holds the provider's keys,
// RS256 and PS256 among them, and also reads the user and roles from the
// claims the block names.
type jwtVerifier struct {
	byKid  map[string]*jwtVerifyKey
	issuer string
	// audiences: the token's aud must name one of them (none: no check).
	audiences []string
	leeway    time.Duration
	now       func() time.Time
	// external is set for the keys of a trusted identity provider: the
	// roles claim is not ours, and the user and roles come from the claims
	// the trust block names (jwt_trust.go).
	external *externalClaims
	// fullClaims also collects aud and roles, which the request path does
	// not use (the differential fuzz target compares them).
	fullClaims bool
	// headers remembers which key the encoded headers seen before chose.
	headers jwtHeaderCache
}

// jwtHeaderCache maps the encoded header of a token, as sent, to the key
// keyFor chose for it. The tokens of one key mostly share one header (the
// same alg, kid and typ), so a never-seen or forged token skips decoding
// and scanning it. keyFor is a function of the header's text, so a
// remembered answer is the answer; only the headers of tokens whose
// signature verified are remembered (a forger cannot take the places),
// and at most maxJWTHeaders of them, never evicted.
type jwtHeaderCache struct {
	mu      sync.RWMutex
	entries map[string]*jwtVerifyKey
}

// maxJWTHeaders bounds jwtHeaderCache.
const maxJWTHeaders = 64

func (c *jwtHeaderCache) lookup(encoded string) (*jwtVerifyKey, bool) {
	c.mu.RLock()
	k, ok := c.entries[encoded]
	c.mu.RUnlock()
	return k, ok
}

func (c *jwtHeaderCache) remember(encoded string, k *jwtVerifyKey) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.entries == nil {
		c.entries = make(map[string]*jwtVerifyKey)
	}
	if len(c.entries) < maxJWTHeaders {
		c.entries[strings.Clone(encoded)] = k
	}
}

// jwtVerifyKey is one key of the keyring, ready to verify.
type jwtVerifyKey struct {
	alg  string
	macs *sync.Pool // of *jwtMAC, for HS256
	ed   ed25519.PublicKey
	ec   *ecdsa.PublicKey
	rsa  *rsa.PublicKey // RS256, or PS256 when pss
	pss  bool
	// rs256 is rsa prepared for RS256 (rs256_key.go).
	rs256 *rs256Key
}

// jwtMAC is a reusable HMAC-SHA256 with the key already absorbed, and a
// buffer for the signing input.
type jwtMAC struct {
	h   hash.Hash
	buf []byte
}

// jwtClaimsSeen are the claims of a verified token.
type jwtClaimsSeen struct {
	Subject, ID, Issuer            string
	Audience, Roles                []string // only with fullClaims
	ExpiresAt, NotBefore, IssuedAt time.Time
	HasExp, HasNbf, HasIat         bool
	// audienceMatched: a configured audience is among aud.
	audienceMatched bool
	// User and ExternalRoles are read from the claims a trust block names.
	User          string
	ExternalRoles []string
}

var (
	errJWTMalformed = errors.New("jwt: malformed token")
	errJWTKey       = errors.New("jwt: unknown key id or algorithm")
	// errJWTUnknownKid: the header is sound but names a kid we do not have.
	errJWTUnknownKid = errors.New("jwt: unknown key id")
	errJWTSignature  = errors.New("jwt: signature does not verify")
	errJWTClaims     = errors.New("jwt: claims do not validate")
	errJWTExpired    = errors.New("jwt: token has expired")
)

// jwtB64 is base64url without padding, canonical only.
var jwtB64 = base64.RawURLEncoding.Strict()

// jwtBuffers holds the decoding buffers of one verification.
var jwtBuffers = sync.Pool{New: func() any { b := make([]byte, 0, 1024); return &b }}

func newJWTVerifier(kr *keyring, issuer, audience string, leeway time.Duration, now func() time.Time) *jwtVerifier {
	v := &jwtVerifier{
		byKid:  make(map[string]*jwtVerifyKey, len(kr.keys)),
		issuer: issuer,
		leeway: leeway,
		now:    now,
	}
	if audience != "" {
		v.audiences = []string{audience}
	}
	for _, k := range kr.keys {
		vk := &jwtVerifyKey{alg: k.method.Alg()}
		switch pub := k.verify.(type) {
		case []byte:
			vk.macs = &sync.Pool{New: func() any { return &jwtMAC{h: hmac.New(sha256.New, pub)} }}
		case ed25519.PublicKey:
			vk.ed = pub
		case *ecdsa.PublicKey:
			vk.ec = pub
		}
		v.byKid[k.kid] = vk
	}
	return v
}

// verify checks raw and decodes its claims into *c (the caller's copy:
// a never-seen token's verification is the deepest stack a request reaches
// in rest_auth, and in a live server a stack that crosses its size after a
// GC shrank it is copied to a bigger one). The error is one of the errJWT*
// values; errJWTExpired when the token is sound but has expired. After an
// error *c may hold part of the claims: it must not be used.
func (v *jwtVerifier) verify(raw string, c *jwtClaimsSeen) error {
	dot1 := strings.IndexByte(raw, '.')
	if dot1 < 0 {
		return errJWTMalformed
	}
	dot2 := strings.IndexByte(raw[dot1+1:], '.')
	if dot2 < 0 {
		return errJWTMalformed
	}
	dot2 += dot1 + 1
	if strings.IndexByte(raw[dot2+1:], '.') >= 0 {
		return errJWTMalformed
	}

	bufp := jwtBuffers.Get().(*[]byte)
	defer jwtBuffers.Put(bufp)
	// One buffer: the token's text (base64 decoding reads bytes), then the
	// decoded header, signature and claims.
	buf := append((*bufp)[:0], raw...)
	need := len(raw) + jwtB64.DecodedLen(len(raw))
	if cap(buf) < need {
		buf = append(make([]byte, 0, need), raw...)
	}
	*bufp = buf
	text := buf[:len(raw)]
	scratch := buf[len(raw):need]

	key, known := v.headers.lookup(raw[:dot1])
	if !known {
		header, err := jwtDecode(scratch, text[:dot1])
		if err != nil {
			return err
		}
		scratch = scratch[len(header):]
		if key, err = v.keyFor(header); err != nil {
			return err
		}
	}
	sig, err := jwtDecode(scratch, text[dot2+1:])
	if err != nil {
		return err
	}
	scratch = scratch[len(sig):]
	if !key.verify(text[:dot2], sig) {
		return errJWTSignature
	}
	if !known {
		// Only now: a forged token's header must not take a place.
		v.headers.remember(raw[:dot1], key)
	}
	claims, err := jwtDecode(scratch, text[dot1+1:dot2])
	if err != nil {
		return err
	}
	// The claims as one string: the claim strings are taken from it.
	claimsText := string(claims)
	if err := v.decodeClaims(claims, claimsText, c); err != nil {
		return err
	}
	if v.external != nil {
		if err := v.external.decode(claims, claimsText, c); err != nil {
			return err
		}
	}
	return v.validate(c)
}

func jwtDecode(dst, src []byte) ([]byte, error) {
	n, err := jwtB64.Decode(dst, src)
	if err != nil {
		return nil, errJWTMalformed
	}
	return dst[:n:n], nil
}

// keyFor reads the header and picks the key: by kid from our keyring, and
// only if the header's alg is that key's algorithm.
func (v *jwtVerifier) keyFor(header []byte) (*jwtVerifyKey, error) {
	if !utf8.Valid(header) {
		return nil, errJWTMalformed
	}
	var (
		alg, kid         []byte
		algStr, kidStr   bool
		keys             jsonKeys
		s                = jsonScanner{b: header}
		err              error
		key, value       []byte
		more, hasMembers bool
	)
	if hasMembers, err = s.openObject(); err != nil {
		return nil, err
	}
	for more = hasMembers; more; {
		if key, err = s.key(); err != nil {
			return nil, err
		}
		if keys.seen(key) {
			return nil, errJWTMalformed
		}
		switch string(key) {
		case "crit":
			return nil, errJWTKey
		case "alg", "kid":
			var isStr bool
			if value, isStr, err = s.stringOrSkip(); err != nil {
				return nil, err
			}
			if key[0] == 'a' {
				alg, algStr = value, isStr
			} else {
				kid, kidStr = value, isStr
			}
		default:
			if err = s.skip(1); err != nil {
				return nil, err
			}
		}
		if more, err = s.next('}'); err != nil {
			return nil, err
		}
	}
	if err = s.end(); err != nil {
		return nil, err
	}
	if !algStr || !kidStr {
		return nil, errJWTKey
	}
	k, ok := v.byKid[string(kid)]
	if !ok {
		return nil, errJWTUnknownKid
	}
	if string(alg) != k.alg {
		return nil, errJWTKey
	}
	return k, nil
}

// verify checks sig over the signing input (header.claims, as sent).
func (k *jwtVerifyKey) verify(input, sig []byte) bool {
	switch {
	case k.macs != nil:
		m := k.macs.Get().(*jwtMAC)
		m.h.Reset()
		m.h.Write(input)
		m.buf = m.h.Sum(m.buf[:0])
		ok := hmac.Equal(sig, m.buf)
		k.macs.Put(m)
		return ok
	case k.ed != nil:
		return ed25519.Verify(k.ed, input, sig)
	case k.ec != nil:
		if len(sig) != 64 {
			return false
		}
		sum := sha256.Sum256(input)
		r := new(big.Int).SetBytes(sig[:32])
		s := new(big.Int).SetBytes(sig[32:])
		return ecdsa.Verify(k.ec, sum[:], r, s)
	case k.rs256 != nil:
		return k.rs256.verify(input, sig)
	case k.rsa != nil:
		sum := sha256.Sum256(input)
		if k.pss {
			return rsa.VerifyPSS(k.rsa, crypto.SHA256, sum[:], sig, &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthAuto}) == nil
		}
		return rsa.VerifyPKCS1v15(k.rsa, crypto.SHA256, sum[:], sig) == nil
	}
	return false
}

// jwtClaimNames are the claims the scanner reads; any other claim is
// skipped, unless it would be one of these with case ignored (as
// encoding/json matches struct fields).
var jwtClaimNames = [...]string{"exp", "nbf", "iat", "iss", "sub", "jti", "aud", "roles"}

// decodeClaims reads the claims JSON as encoding/json would into
// jwtClaims, rejecting what golang-jwt would reject.
func (v *jwtVerifier) decodeClaims(b []byte, text string, c *jwtClaimsSeen) error {
	if !utf8.Valid(b) {
		return errJWTMalformed
	}
	s := jsonScanner{b: b, text: text}
	var keys jsonKeys
	more, err := s.openObject()
	if err != nil {
		return err
	}
	for more {
		key, err := s.key()
		if err != nil {
			return err
		}
		if keys.seen(key) {
			return errJWTMalformed
		}
		switch string(key) {
		case "exp":
			c.ExpiresAt, c.HasExp, err = s.numericDate()
		case "nbf":
			c.NotBefore, c.HasNbf, err = s.numericDate()
		case "iat":
			c.IssuedAt, c.HasIat, err = s.numericDate()
		case "iss":
			c.Issuer, err = s.claimString()
		case "sub":
			c.Subject, err = s.claimString()
		case "jti":
			c.ID, err = s.claimString()
		case "aud":
			err = s.audience(c, v.audiences, v.fullClaims)
		case "roles":
			if v.external != nil {
				err = s.skip(1) // the provider's, not ours
			} else {
				err = s.roles(c, v.fullClaims)
			}
		default:
			for _, name := range jwtClaimNames {
				if bytes.EqualFold(key, []byte(name)) {
					return errJWTMalformed
				}
			}
			err = s.skip(1)
		}
		if err != nil {
			return err
		}
		if more, err = s.next('}'); err != nil {
			return err
		}
	}
	return s.end()
}

// validate applies golang-jwt's validation: exp required, nbf and iat
// with leeway, iss and aud when configured.
func (v *jwtVerifier) validate(c *jwtClaimsSeen) error {
	now := v.now()
	if !c.HasExp || !now.Before(c.ExpiresAt.Add(v.leeway)) {
		if c.HasExp {
			return errJWTExpired
		}
		return errJWTClaims
	}
	if c.HasNbf && now.Before(c.NotBefore.Add(-v.leeway)) {
		return errJWTClaims
	}
	if c.HasIat && now.Before(c.IssuedAt.Add(-v.leeway)) {
		return errJWTClaims
	}
	if v.issuer != "" && c.Issuer != v.issuer {
		return errJWTClaims
	}
	if len(v.audiences) > 0 && !c.audienceMatched {
		return errJWTClaims
	}
	return nil
}

// jsonKeys detects a member name given twice in one object.
type jsonKeys struct {
	few  [16][]byte
	n    int
	many map[string]struct{}
}

func (k *jsonKeys) seen(key []byte) bool {
	for _, prev := range k.few[:k.n] {
		if bytes.Equal(prev, key) {
			return true
		}
	}
	if k.n < len(k.few) {
		k.few[k.n] = key
		k.n++
		return false
	}
	if k.many == nil {
		k.many = map[string]struct{}{}
	}
	if _, dup := k.many[string(key)]; dup {
		return true
	}
	k.many[string(key)] = struct{}{}
	return false
}

// jsonMaxDepth is encoding/json's nesting limit.
const jsonMaxDepth = 10000

// jsonScanner reads RFC 8259 JSON as encoding/json does (the input is
// valid UTF-8: callers check that first).
type jsonScanner struct {
	b []byte
	i int
	// text is b as a string, when the caller made one: strings without
	// an escape are then taken from it without a copy (strValue).
	text string
}

func (s *jsonScanner) ws() {
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case ' ', '\t', '\n', '\r':
			s.i++
		default:
			return
		}
	}
}

// peek skips whitespace and returns the next byte (0 at the end).
func (s *jsonScanner) peek() byte {
	s.ws()
	if s.i < len(s.b) {
		return s.b[s.i]
	}
	return 0
}

// openObject reads `{` and reports whether a member follows.
func (s *jsonScanner) openObject() (bool, error) {
	if s.peek() != '{' {
		return false, errJWTMalformed
	}
	s.i++
	if s.peek() == '}' {
		s.i++
		return false, nil
	}
	return true, nil
}

// key reads a member name and its colon.
func (s *jsonScanner) key() ([]byte, error) {
	if s.peek() != '"' {
		return nil, errJWTMalformed
	}
	k, err := s.str()
	if err != nil {
		return nil, err
	}
	if s.peek() != ':' {
		return nil, errJWTMalformed
	}
	s.i++
	return k, nil
}

// next reads what follows a member or an element: `,` (true) or the
// closing `}` or `]` (false).
func (s *jsonScanner) next(closing byte) (bool, error) {
	switch s.peek() {
	case ',':
		s.i++
		return true, nil
	case closing:
		s.i++
		return false, nil
	}
	return false, errJWTMalformed
}

// end checks that only whitespace follows.
func (s *jsonScanner) end() error {
	s.ws()
	if s.i != len(s.b) {
		return errJWTMalformed
	}
	return nil
}

// str reads a string (s.b[s.i] is its quote) and returns its value: a
// slice of the input when it has no escape.
func (s *jsonScanner) str() ([]byte, error) {
	s.i++
	start := s.i
	for s.i < len(s.b) {
		switch c := s.b[s.i]; {
		case c == '"':
			s.i++
			return s.b[start : s.i-1], nil
		case c == '\\':
			return s.unescape(start)
		case c < 0x20:
			return nil, errJWTMalformed
		}
		s.i++
	}
	return nil, errJWTMalformed
}

// strValue reads a string as str does, as a string: a substring of s.text
// when the scanner has it and the string has no escape (so the claims of
// one token cost one allocation, not one per claim).
func (s *jsonScanner) strValue() (string, error) {
	start := s.i + 1
	v, err := s.str()
	if err != nil {
		return "", err
	}
	if s.text != "" && s.i-1-start == len(v) {
		return s.text[start : s.i-1], nil
	}
	return string(v), nil
}

// unescape reads the rest of a string with escapes, as encoding/json's
// unquote does (a lone surrogate becomes U+FFFD).
func (s *jsonScanner) unescape(start int) ([]byte, error) {
	out := append([]byte(nil), s.b[start:s.i]...)
	for s.i < len(s.b) {
		c := s.b[s.i]
		switch {
		case c == '"':
			s.i++
			return out, nil
		case c < 0x20:
			return nil, errJWTMalformed
		case c != '\\':
			out = append(out, c)
			s.i++
			continue
		}
		if s.i+1 >= len(s.b) {
			return nil, errJWTMalformed
		}
		e := s.b[s.i+1]
		s.i += 2
		switch e {
		case '"', '\\', '/':
			out = append(out, e)
		case 'b':
			out = append(out, '\b')
		case 'f':
			out = append(out, '\f')
		case 'n':
			out = append(out, '\n')
		case 'r':
			out = append(out, '\r')
		case 't':
			out = append(out, '\t')
		case 'u':
			r, ok := hex4(s.b[s.i:])
			if !ok {
				return nil, errJWTMalformed
			}
			s.i += 4
			if utf16.IsSurrogate(r) {
				if s.i+1 < len(s.b) && s.b[s.i] == '\\' && s.b[s.i+1] == 'u' {
					if r2, ok := hex4(s.b[s.i+2:]); ok {
						if dec := utf16.DecodeRune(r, r2); dec != utf8.RuneError {
							s.i += 6
							out = utf8.AppendRune(out, dec)
							continue
						}
					}
				}
				r = utf8.RuneError
			}
			out = utf8.AppendRune(out, r)
		default:
			return nil, errJWTMalformed
		}
	}
	return nil, errJWTMalformed
}

func hex4(b []byte) (rune, bool) {
	if len(b) < 4 {
		return 0, false
	}
	var r rune
	for _, c := range b[:4] {
		switch {
		case '0' <= c && c <= '9':
			c -= '0'
		case 'a' <= c && c <= 'f':
			c = c - 'a' + 10
		case 'A' <= c && c <= 'F':
			c = c - 'A' + 10
		default:
			return 0, false
		}
		r = r<<4 | rune(c)
	}
	return r, true
}

// number reads a number literal (RFC 8259 §6) and returns its text.
func (s *jsonScanner) number() ([]byte, error) {
	start := s.i
	if s.i < len(s.b) && s.b[s.i] == '-' {
		s.i++
	}
	switch {
	case s.i < len(s.b) && s.b[s.i] == '0':
		s.i++
	case s.i < len(s.b) && '1' <= s.b[s.i] && s.b[s.i] <= '9':
		s.digits()
	default:
		return nil, errJWTMalformed
	}
	if s.i < len(s.b) && s.b[s.i] == '.' {
		s.i++
		if s.digits() == 0 {
			return nil, errJWTMalformed
		}
	}
	if s.i < len(s.b) && (s.b[s.i] == 'e' || s.b[s.i] == 'E') {
		s.i++
		if s.i < len(s.b) && (s.b[s.i] == '+' || s.b[s.i] == '-') {
			s.i++
		}
		if s.digits() == 0 {
			return nil, errJWTMalformed
		}
	}
	return s.b[start:s.i], nil
}

func (s *jsonScanner) digits() int {
	start := s.i
	for s.i < len(s.b) && '0' <= s.b[s.i] && s.b[s.i] <= '9' {
		s.i++
	}
	return s.i - start
}

// literal reads true, false or null.
func (s *jsonScanner) literal(word string) error {
	if !bytes.HasPrefix(s.b[s.i:], []byte(word)) {
		return errJWTMalformed
	}
	s.i += len(word)
	return nil
}

// skip reads and discards one value nested depth deep.
func (s *jsonScanner) skip(depth int) error {
	switch s.peek() {
	case '"':
		_, err := s.str()
		return err
	case 't':
		return s.literal("true")
	case 'f':
		return s.literal("false")
	case 'n':
		return s.literal("null")
	case '{':
		if depth+1 > jsonMaxDepth {
			return errJWTMalformed
		}
		more, err := s.openObject()
		for err == nil && more {
			if _, err = s.key(); err != nil {
				break
			}
			if err = s.skip(depth + 1); err != nil {
				break
			}
			more, err = s.next('}')
		}
		return err
	case '[':
		if depth+1 > jsonMaxDepth {
			return errJWTMalformed
		}
		s.i++
		if s.peek() == ']' {
			s.i++
			return nil
		}
		for {
			if err := s.skip(depth + 1); err != nil {
				return err
			}
			if more, err := s.next(']'); err != nil || !more {
				return err
			}
		}
	default:
		_, err := s.number()
		return err
	}
}

// stringOrSkip reads a value and returns it if it is a string.
func (s *jsonScanner) stringOrSkip() ([]byte, bool, error) {
	if s.peek() == '"' {
		v, err := s.str()
		return v, true, err
	}
	return nil, false, s.skip(1)
}

// claimString reads a string claim: a string, or null for none.
func (s *jsonScanner) claimString() (string, error) {
	switch s.peek() {
	case '"':
		return s.strValue()
	case 'n':
		return "", s.literal("null")
	}
	return "", errJWTClaims
}

// numericDate reads a NumericDate as golang-jwt does: a number, or a
// string holding one, to float64 seconds, truncated to the second; null
// for none.
func (s *jsonScanner) numericDate() (time.Time, bool, error) {
	var text []byte
	var err error
	switch c := s.peek(); {
	case c == 'n':
		return time.Time{}, false, s.literal("null")
	case c == '"':
		if text, err = s.str(); err != nil {
			return time.Time{}, false, err
		}
		n := jsonScanner{b: text}
		if _, err := n.number(); err != nil || n.i != len(text) {
			return time.Time{}, false, errJWTClaims
		}
	case c == '-' || '0' <= c && c <= '9':
		if text, err = s.number(); err != nil {
			return time.Time{}, false, err
		}
	default:
		return time.Time{}, false, errJWTClaims
	}
	f, ok := smallInteger(text)
	if !ok {
		if f, err = strconv.ParseFloat(string(text), 64); err != nil {
			return time.Time{}, false, errJWTClaims
		}
	}
	round, frac := math.Modf(f)
	return time.Unix(int64(round), int64(frac*1e9)).Truncate(jwt.TimePrecision), true, nil
}

// smallInteger converts up to 15 digits, which float64 holds exactly (as
// strconv.ParseFloat would), without allocating.
func smallInteger(text []byte) (float64, bool) {
	if len(text) == 0 || len(text) > 15 {
		return 0, false
	}
	var n int64
	for _, c := range text {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	return float64(n), true
}

// audience reads aud as golang-jwt's ClaimStrings: a string, an array of
// strings, or null. It notes whether one of want is among them.
func (s *jsonScanner) audience(c *jwtClaimsSeen, want []string, keep bool) error {
	match := func(v []byte) {
		for _, w := range want {
			if string(v) == w {
				c.audienceMatched = true
			}
		}
		if keep {
			c.Audience = append(c.Audience, string(v))
		}
	}
	switch s.peek() {
	case 'n':
		return s.literal("null")
	case '"':
		v, err := s.str()
		if err == nil {
			match(v)
		}
		return err
	case '[':
		s.i++
		if s.peek() == ']' {
			s.i++
			return nil
		}
		for {
			if s.peek() != '"' {
				// encoding/json would read the value first; any value that
				// is not a string makes the claim invalid either way.
				if err := s.skip(2); err != nil {
					return err
				}
				return errJWTClaims
			}
			v, err := s.str()
			if err != nil {
				return err
			}
			match(v)
			if more, err := s.next(']'); err != nil || !more {
				return err
			}
		}
	}
	if err := s.skip(1); err != nil {
		return err
	}
	return errJWTClaims
}

// roles reads the roles claim as encoding/json reads a []string: null, or
// an array of strings and nulls. Only kept when keep: the identity's roles
// come from the user directory, never from the token.
func (s *jsonScanner) roles(c *jwtClaimsSeen, keep bool) error {
	switch s.peek() {
	case 'n':
		if err := s.literal("null"); err != nil {
			return err
		}
		if keep {
			c.Roles = nil
		}
		return nil
	case '[':
		s.i++
		if keep {
			c.Roles = []string{}
		}
		if s.peek() == ']' {
			s.i++
			return nil
		}
		for {
			var role string
			switch s.peek() {
			case '"':
				v, err := s.str()
				if err != nil {
					return err
				}
				if keep {
					role = string(v)
				}
			case 'n':
				if err := s.literal("null"); err != nil {
					return err
				}
			default:
				if err := s.skip(2); err != nil {
					return err
				}
				return errJWTClaims
			}
			if keep {
				c.Roles = append(c.Roles, role)
			}
			if more, err := s.next(']'); err != nil || !more {
				return err
			}
		}
	}
	if err := s.skip(1); err != nil {
		return err
	}
	return errJWTClaims
}
