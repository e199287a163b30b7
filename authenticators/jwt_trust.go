package authenticators

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"

	"github.com/caddy-restauth/caddy-restauth/identity"
)

// JWTTrust accepts the tokens of one identity provider (Keycloak, Auth0,
// Entra ID, Google...): their signatures are checked with the keys the
// provider publishes (its JWKS, found by OIDC discovery), and the user and
// roles are read from their claims. A token is checked by the trust block
// whose issuer is exactly its `iss`, with that provider's keys only.
// External tokens are verified here, never issued, renewed or revoked.
type JWTTrust struct {
	// A name for the provider, used in logs.
	Name string `json:"name"`

	// The provider's issuer URL: tokens must carry it as `iss`, and
	// discovery reads <issuer>/.well-known/openid-configuration. HTTPS
	// (plain HTTP only for a loopback address).
	Issuer string `json:"issuer"`

	// The JWKS URL, to skip discovery. HTTPS (plain HTTP only for a
	// loopback address).
	JWKSURL string `json:"jwks_url,omitempty"`

	// Tokens must name one of these in `aud`. Required unless
	// AllowAnyAudience.
	Audiences []string `json:"audiences,omitempty"`

	// Accept a token whatever its `aud` (only if the provider issues
	// tokens for this API alone).
	AllowAnyAudience bool `json:"allow_any_audience,omitempty"`

	// The accepted algorithms among RS256, PS256, ES256 and EdDSA.
	// Default: those the keys of the JWKS declare (an RSA key that
	// declares none is used with RS256). Never none nor HS*.
	Algorithms []string `json:"algorithms,omitempty"`

	// The claim that names the user (a dotted path for a nested one).
	// Default: sub.
	UserClaim string `json:"user_claim,omitempty"`

	// The claim that holds the roles: a dotted path (e.g.
	// realm_access.roles) to a string or a list of strings. Default: none
	// (no roles).
	RolesClaim string `json:"roles_claim,omitempty"`

	// `optional` (default): anyone the provider vouches for, with the roles
	// of RolesClaim. `required`: the user must be one of our users (not
	// disabled), and the roles are that user's.
	Users string `json:"users,omitempty"`

	// How long the fetched keys are used before they are fetched again in
	// the background. Default: 1h.
	Refresh caddy.Duration `json:"refresh,omitempty"`

	// A PEM file of extra CA certificates to trust for the provider.
	CAFile string `json:"ca_file,omitempty"`
}

// trustAlgorithms are the algorithms a trust block may accept.
var trustAlgorithms = []string{"RS256", "PS256", "ES256", "EdDSA"}

const (
	defaultJWKSRefresh = time.Hour
	// kidRefetchInterval: a token with an unknown kid fetches the JWKS
	// again at most this often, so a flood of bogus kids costs nothing.
	kidRefetchInterval = 30 * time.Second
)

// validate checks one trust block.
func (t *JWTTrust) validate() error {
	if t.Name == "" {
		return errors.New("jwt: a trust block needs a name: `trust <name> { ... }`")
	}
	if t.Issuer == "" {
		return fmt.Errorf("jwt: trust %s: `issuer <url>` is required", t.Name)
	}
	if err := checkProviderURL(t.Issuer); err != nil {
		return fmt.Errorf("jwt: trust %s: issuer: %w", t.Name, err)
	}
	if t.JWKSURL != "" {
		if err := checkProviderURL(t.JWKSURL); err != nil {
			return fmt.Errorf("jwt: trust %s: jwks_url: %w", t.Name, err)
		}
	}
	if len(t.Audiences) == 0 && !t.AllowAnyAudience {
		return fmt.Errorf("jwt: trust %s: name the audience of this API (`audience <aud>`), or `allow_any_audience` if the provider issues tokens for it alone", t.Name)
	}
	for _, a := range t.Algorithms {
		if !slices.Contains(trustAlgorithms, a) {
			return fmt.Errorf("jwt: trust %s: algorithm %q is not accepted (want %s)", t.Name, a, strings.Join(trustAlgorithms, ", "))
		}
	}
	if t.Users != "" && t.Users != "optional" && t.Users != "required" {
		return fmt.Errorf("jwt: trust %s: want `users optional` or `users required`", t.Name)
	}
	if t.Refresh < 0 {
		return fmt.Errorf("jwt: trust %s: refresh must not be negative", t.Name)
	}
	for _, path := range []string{t.UserClaim, t.RolesClaim} {
		if path != "" && slices.Contains(strings.Split(path, "."), "") {
			return fmt.Errorf("jwt: trust %s: claim path %q has an empty part", t.Name, path)
		}
	}
	return nil
}

// validateTrust checks the trust blocks together: each issuer once, and
// none that is our own.
func validateTrust(trust []JWTTrust, ownIssuer string) error {
	seen := map[string]bool{}
	for i := range trust {
		t := &trust[i]
		if err := t.validate(); err != nil {
			return err
		}
		if seen[t.Issuer] {
			return fmt.Errorf("jwt: issuer %s is trusted twice; one trust block per issuer", t.Issuer)
		}
		if t.Issuer == ownIssuer {
			return fmt.Errorf("jwt: trust %s: issuer %s is the issuer of our own tokens", t.Name, t.Issuer)
		}
		seen[t.Issuer] = true
	}
	return nil
}

// externalClaims reads the user and roles of an external token.
type externalClaims struct {
	userPath  []string
	rolesPath []string
}

// decode reads the claims at userPath and rolesPath.
func (e *externalClaims) decode(b []byte, text string, c *jwtClaimsSeen) error {
	s := jsonScanner{b: b, text: text}
	found, err := s.path(e.userPath)
	if err != nil {
		return err
	}
	if !found || s.peek() != '"' {
		return errJWTClaims
	}
	if c.User, err = s.strValue(); err != nil {
		return err
	}
	// The provider's names go upstream in headers and are matched as
	// ours are: they must be valid as ours must (no comma inside a role
	// that an upstream would split into two, no line break).
	if identity.ValidateName(c.User) != nil {
		return errJWTClaims
	}
	if e.rolesPath == nil {
		return nil
	}
	s = jsonScanner{b: b, text: text}
	if found, err = s.path(e.rolesPath); err != nil || !found {
		return err
	}
	if err := s.stringOrList(&c.ExternalRoles); err != nil {
		return err
	}
	for _, r := range c.ExternalRoles {
		if identity.ValidateRole(r) != nil {
			return errJWTClaims
		}
	}
	return nil
}

// path moves to the value at a dotted path of member names, reporting
// whether it is there.
func (s *jsonScanner) path(names []string) (bool, error) {
	for _, name := range names {
		if s.peek() != '{' {
			return false, nil
		}
		found, err := s.member(name, true)
		if err != nil || !found {
			return false, err
		}
	}
	return true, nil
}

// member moves to the value of member name of the object at hand. With
// unique, the whole object is read and a second member of that name makes
// it malformed (parsers differ on which of two would count); without, the
// first one is taken (for the issuer peek, which only routes: the
// verification refuses a top-level member given twice).
func (s *jsonScanner) member(name string, unique bool) (bool, error) {
	value := -1
	more, err := s.openObject()
	for err == nil && more {
		var key []byte
		if key, err = s.key(); err != nil {
			break
		}
		if string(key) == name {
			if !unique {
				return true, nil
			}
			if value >= 0 {
				return false, errJWTMalformed
			}
			value = s.i
		}
		if err = s.skip(1); err != nil {
			break
		}
		more, err = s.next('}')
	}
	if err != nil || value < 0 {
		return false, err
	}
	s.i = value
	return true, nil
}

// stringOrList reads a string, a list of strings, or null.
func (s *jsonScanner) stringOrList(out *[]string) error {
	switch s.peek() {
	case 'n':
		return s.literal("null")
	case '"':
		v, err := s.strValue()
		*out = append(*out, v)
		return err
	case '[':
		s.i++
		if s.peek() == ']' {
			return nil
		}
		for {
			if s.peek() != '"' {
				return errJWTClaims
			}
			v, err := s.strValue()
			if err != nil {
				return err
			}
			*out = append(*out, v)
			switch s.peek() {
			case ',':
				s.i++
			case ']':
				return nil
			default:
				return errJWTMalformed
			}
		}
	}
	return errJWTClaims
}

// trusted returns the trust block of the token's issuer, if any: the one
// that verified it before, else the one its `iss` names. When one verified
// it before, seen is what it found, for verifyExternal.
func (j *JWT) trusted(raw string) (t *trustedIssuer, seen verifiedBefore) {
	if len(j.issuers) == 0 {
		return nil, seen
	}
	for _, t := range j.issuers {
		if keys := t.keys.Load(); keys != nil {
			if id, ok := keys.verified.Get(raw); ok {
				return t, verifiedBefore{keys, id}
			}
		}
	}
	return j.peekIssuer(raw), seen
}

// verifiedBefore is the identity a provider's keys verified a token to
// before (zero: none).
type verifiedBefore struct {
	keys *jwksKeys
	id   *identity.Identity
}

// peekIssuer returns the trust block named by the `iss` of a token, without
// checking the token: it only chooses the keys that check it. nil when the
// token has no iss, is malformed, or its iss is no trust block's.
//
// The claims' first chunk is decoded and scanned for the top-level iss
// member, where providers put it, so a large token costs a small decode;
// when it is not there (or is cut), the rest is decoded and the whole
// scanned once more: never more than two scans. (A second iss member later
// on makes the token invalid when it is verified.)
func (j *JWT) peekIssuer(raw string) *trustedIssuer {
	dot1 := strings.IndexByte(raw, '.')
	if dot1 < 0 {
		return nil
	}
	dot2 := strings.IndexByte(raw[dot1+1:], '.')
	if dot2 < 0 {
		return nil
	}
	encoded := raw[dot1+1 : dot1+1+dot2]
	bufp := jwtBuffers.Get().(*[]byte)
	defer jwtBuffers.Put(bufp)
	// One buffer: the claims' text, then the decoded claims.
	need := len(encoded) + jwtB64.DecodedLen(len(encoded))
	if cap(*bufp) < need {
		*bufp = make([]byte, 0, need)
	}
	buf := append((*bufp)[:0], encoded...)
	text, out := buf, buf[len(encoded):need]
	decoded := 0 // bytes of out decoded so far, from the first len(text[:read]) characters
	for read := 0; read < len(text); {
		// The first chunk (whole 4-character groups), then all the rest:
		// at most two scans, whatever the token holds.
		next := len(text)
		if read == 0 {
			next = min(peekChunk, len(text))
		}
		n, err := jwtB64.Decode(out[decoded:], text[read:next])
		if err != nil {
			return nil
		}
		decoded += n
		read = next
		complete := read == len(text)
		s := jsonScanner{b: out[:decoded]}
		found, err := s.member("iss", false)
		switch {
		case err != nil && complete:
			return nil // malformed
		case err != nil:
			continue // cut short: decode more
		case !found:
			return nil // the whole object has no iss
		}
		switch c := s.peek(); {
		case c == 0 && !complete:
			continue // cut right before the value
		case c != '"':
			return nil // not a string
		}
		iss, err := s.str()
		switch {
		case err != nil && complete:
			return nil
		case err != nil:
			continue // the string is cut
		}
		return j.issuers[string(iss)]
	}
	return nil
}

// peekChunk is how many characters of the claims peekIssuer decodes first
// (a multiple of 4).
const peekChunk = 256

// verifyExternal checks a token of a trusted provider (or finds it
// verified before), then its expiry and, with `users required`, its user.
func (t *trustedIssuer) verifyExternal(ctx context.Context, j *JWT, raw string, seen verifiedBefore) (*identity.Identity, error) {
	keys, err := t.current(ctx)
	if err != nil {
		return nil, err
	}
	id, cached := seen.id, seen.id != nil && seen.keys == keys
	if !cached {
		id, cached = keys.verified.Get(raw)
	}
	if !cached {
		var claims jwtClaimsSeen
		err := keys.verifier.verify(raw, &claims)
		if errors.Is(err, errJWTUnknownKid) {
			// The provider may have rotated its keys.
			if keys, err = t.refetchForKid(ctx, keys); err != nil {
				return nil, err
			}
			claims = jwtClaimsSeen{}
			err = keys.verifier.verify(raw, &claims)
		}
		if err != nil {
			if errors.Is(err, errJWTExpired) {
				return nil, j.ranOut(detailJWTExpired)
			}
			return nil, j.reject("The token is invalid.")
		}
		id = identity.New(claims.User, claims.ExternalRoles, "jwt", claims.ID)
		id.Issuer = claims.Issuer
		id.Expires = claims.ExpiresAt.Unix()
		if claims.HasIat {
			id.IssuedAt = claims.IssuedAt.Unix()
		}
		id.Foreign = !t.usersRequired
	}
	if j.env.Clock()().Unix() >= id.Expires+int64(time.Duration(j.Leeway)/time.Second) {
		keys.verified.Delete(raw)
		return nil, j.ranOut(detailJWTExpired)
	}
	if t.usersRequired {
		acct, ok := j.env.Users.Lookup(id.User)
		if !ok {
			return nil, j.reject("The token's user is not a user here, or is disabled.")
		}
		// The provider's user is this site's: an operator's logout of the
		// user refuses the provider's tokens issued before it too.
		if err := j.checkLoggedOut(ctx, id); err != nil {
			return nil, err
		}
		if fresh, changed := withCurrentRoles(id, acct); changed {
			id, cached = fresh, false
		}
	}
	if !cached {
		keys.verified.Put(raw, id)
	}
	return id, nil
}

// keysUnavailable answers the tokens of a provider whose keys could not be
// fetched yet.
func keysUnavailable(name string) *Rejection {
	return &Rejection{
		Status: http.StatusServiceUnavailable,
		Detail: fmt.Sprintf("The keys of identity provider %q could not be fetched yet; try again later.", name),
	}
}

// unmarshalTrust parses
//
//	trust <name> {
//		issuer <url>
//		jwks_url <url>
//		audience <aud>...
//		allow_any_audience
//		algorithms <alg>...
//		user_claim <path>
//		roles_claim <path>
//		users optional|required
//		refresh <duration>
//		ca_file <file>
//	}
func unmarshalTrust(d *caddyfile.Dispenser, name string) (JWTTrust, error) {
	t := JWTTrust{Name: name}
	for nesting := d.Nesting(); d.NextBlock(nesting); {
		opt := d.Val()
		args := d.RemainingArgs()
		switch opt {
		case "audience", "algorithms":
			if len(args) == 0 {
				return t, d.ArgErr()
			}
			if opt == "audience" {
				t.Audiences = append(t.Audiences, args...)
			} else {
				t.Algorithms = append(t.Algorithms, args...)
			}
		case "allow_any_audience":
			if len(args) != 0 {
				return t, d.ArgErr()
			}
			t.AllowAnyAudience = true
		case "refresh":
			if len(args) != 1 {
				return t, d.ArgErr()
			}
			dur, err := durationArg(d, "jwt trust", opt, args[0])
			if err != nil {
				return t, err
			}
			t.Refresh = dur
		case "issuer", "jwks_url", "user_claim", "roles_claim", "users", "ca_file":
			if len(args) != 1 {
				return t, d.ArgErr()
			}
			*map[string]*string{
				"issuer": &t.Issuer, "jwks_url": &t.JWKSURL, "user_claim": &t.UserClaim,
				"roles_claim": &t.RolesClaim, "users": &t.Users, "ca_file": &t.CAFile,
			}[opt] = args[0]
		default:
			return t, d.Errf("jwt: trust %s: unknown option %q", name, opt)
		}
	}
	if err := t.validate(); err != nil {
		return t, d.WrapErr(err)
	}
	return t, nil
}

// bindTrust starts fetching the keys of every trust block.
func (j *JWT) bindTrust(env Env) error {
	j.issuers = make(map[string]*trustedIssuer, len(j.Trust))
	for _, cfg := range j.Trust {
		t, err := newTrustedIssuer(cfg, time.Duration(j.Leeway), env.Clock(), env.Logger)
		if err != nil {
			j.closeTrust()
			return err
		}
		j.issuers[cfg.Issuer] = t
	}
	return nil
}

// Cleanup stops the background refresh of the providers' keys and of the
// users' "not before" times.
func (j *JWT) Cleanup() error {
	j.closeTrust()
	j.stopNotBefore()
	return nil
}

func (j *JWT) closeTrust() {
	for _, t := range j.issuers {
		t.close()
	}
	j.issuers = nil
}
