package authenticators

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"go.uber.org/zap"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"

	"github.com/caddy-restauth/caddy-restauth/cache"
	"github.com/caddy-restauth/caddy-restauth/identity"
	"github.com/caddy-restauth/caddy-restauth/store"
)

func init() {
	caddy.RegisterModule(JWT{})
}

const (
	// defaultJWTTTL is Plone's default token lifetime.
	defaultJWTTTL = 12 * time.Hour
	// maxJWTBytes bounds the tokens we are willing to parse.
	maxJWTBytes = 8 << 10
	// generatedKeyName is where a generated HS256 key is kept in the store.
	generatedKeyName = "jwt-hs256-key"
)

// JWT authenticates `Authorization: Bearer <JWT>` (RFC 6750), and
// optionally a cookie, and issues the tokens of @login and @login-renew.
//
// Tokens carry `sub`, `roles`, `iat`, `exp` (always), `jti` (128 random
// bits) and `iss`/`aud` when configured; the header names the key by `kid`
// (its RFC 7638 thumbprint). Only the algorithms of the configured keys are
// accepted, and the key is chosen from the keyring by `kid` only.
type JWT struct {
	// The keyring. The first key signs; every key verifies, so a new key can
	// be put first while tokens signed by the old one keep working until
	// they expire. With no key, one HS256 key is generated on first start
	// and kept in the store.
	Keys []JWTKey `json:"keys,omitempty"`

	// Token lifetime. Default: 12h (as Plone).
	TTL caddy.Duration `json:"ttl,omitempty"`

	// If set, tokens carry this `iss` and must carry it to be accepted.
	Issuer string `json:"issuer,omitempty"`

	// If set, tokens carry this `aud` and must carry it to be accepted.
	Audience string `json:"audience,omitempty"`

	// Clock skew tolerated when checking `exp`, `nbf` and `iat`.
	Leeway caddy.Duration `json:"leeway,omitempty"`

	// Keep revoked token ids in the store so @logout and @login-renew can
	// invalidate a token before it expires. Default: true. When false,
	// tokens are stateless (Plone without store_tokens) and @logout
	// answers 501.
	Revocation *bool `json:"revocation,omitempty"`

	// Also accept the token from this cookie (as dotCMS's back-end does).
	// The cookie is a jwt credential like the header: with jwt before
	// another method in the chain, it decides even when the request also
	// carries that method's credential. An `Authorization: Bearer` JWT
	// comes before the cookie.
	Cookie string `json:"cookie,omitempty"`

	// Identity providers whose tokens are accepted too (jwt_trust.go): a
	// token whose `iss` is a trust block's issuer is checked with that
	// provider's keys only.
	Trust []JWTTrust `json:"trust,omitempty"`

	env Env
	// issuers are the trust blocks at work, by issuer.
	issuers map[string]*trustedIssuer
	// revocations is nil until Bind.
	revocations store.Revocations
	keys        *storeSecret[jwtKeySet]
	jwks        []map[string]string // the public keys of the keyring
	challenge   string
	invalid     string
	// verified remembers tokens that passed every signature and claim check,
	// by their exact text, from their second use on, so a repeated request
	// skips parsing while a token used once costs no copy. Expiry,
	// revocation and the user are still checked on every request. The cache
	// lives as long as this config: a reload (new keys, users) starts anew.
	verified *cache.BySecret[*identity.Identity]
	// logouts are the users' "not before" times (LogOutUser).
	logouts *notBefore
	// expired are the Set-Cookie values that expire the token cookie, over
	// plain HTTP ([0]) and over HTTPS ([1]).
	expired [2]string
}

// maxVerifiedTokens bounds the verified-token cache.
const maxVerifiedTokens = 10000

// CaddyModule returns the Caddy module information.
func (JWT) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  Namespace + ".jwt",
		New: func() caddy.Module { return new(JWT) },
	}
}

// Validate checks the configuration that does not need the store.
func (j *JWT) Validate() error {
	if j.TTL < 0 || j.Leeway < 0 {
		return errors.New("jwt: ttl and leeway must not be negative")
	}
	if j.Cookie != "" && strings.ContainsAny(j.Cookie, " ;=,\t") {
		return fmt.Errorf("jwt: cookie name %q is not a valid cookie name", j.Cookie)
	}
	return validateTrust(j.Trust, j.Issuer)
}

// Bind builds the keyring of the configured keys. With no key configured,
// the generated key is read from (or created in) the store on first need,
// so that Caddy loads while the store is down.
func (j *JWT) Bind(env Env) error {
	j.env, j.revocations = env, env.Store
	if j.TTL == 0 {
		j.TTL = caddy.Duration(defaultJWTTTL)
	}
	repl := caddy.NewReplacer()
	var keys []*signingKey
	for _, k := range j.Keys {
		key, err := loadKey(k, repl.ReplaceKnown(k.Secret, ""))
		if err != nil {
			return err
		}
		keys = append(keys, key)
	}
	if len(keys) > 0 {
		kr, err := newKeyring(keys)
		if err != nil {
			return err
		}
		j.keys = presetSecret(j.newKeySet(kr))
		j.jwks = kr.publicJWKs()
	} else {
		j.keys = newStoreSecret(env.Store, generatedKeyName, func() ([]byte, error) {
			env.Logger.Info("jwt: no key configured; generated an HS256 key and stored it (configure `key` to choose your own)")
			return randomBytes32()
		}, func(secret []byte) (*jwtKeySet, error) {
			kr, err := newKeyring([]*signingKey{hmacKey(secret)})
			if err != nil {
				return nil, err
			}
			return j.newKeySet(kr), nil
		})
		j.jwks = []map[string]string{} // a shared secret is never published
	}
	j.verified = cache.NewBySecretOnSecondSight[*identity.Identity](maxVerifiedTokens)
	if err := j.bindTrust(env); err != nil {
		return err
	}
	j.startNotBefore()
	if j.Cookie != "" {
		for i, secure := range []bool{false, true} {
			c := &http.Cookie{Name: j.Cookie, Value: "", Path: "/", MaxAge: -1, HttpOnly: true, Secure: secure, SameSite: http.SameSiteLaxMode}
			j.expired[i] = c.String()
		}
	}
	j.challenge = fmt.Sprintf(`Bearer realm=%q`, env.Realm)
	j.invalid = fmt.Sprintf(`Bearer realm=%q, error="invalid_token"`, env.Realm)
	return nil
}

// jwtKeySet is a keyring and the verifier that accepts its tokens only.
type jwtKeySet struct {
	*keyring
	verifier *jwtVerifier
}

// newKeySet builds the verifier for kr and the configured claims.
func (j *JWT) newKeySet(kr *keyring) *jwtKeySet {
	return &jwtKeySet{keyring: kr, verifier: newJWTVerifier(kr, j.Issuer, j.Audience, time.Duration(j.Leeway), j.env.Clock())}
}

// RevocationEnabled reports whether tokens can be invalidated.
func (j *JWT) RevocationEnabled() bool { return j.Revocation == nil || *j.Revocation }

// jwtClaims are the claims of our tokens.
type jwtClaims struct {
	Roles []string `json:"roles,omitempty"`
	jwt.RegisteredClaims
}

// Authenticate checks a Bearer JWT (or the configured cookie).
func (j *JWT) Authenticate(r *http.Request) (*identity.Identity, error) {
	raw, fromCookie, ok := j.credential(r)
	if !ok {
		return nil, nil
	}
	// Before anything reads it (the issuer is peeked first).
	if len(raw) > maxJWTBytes {
		return nil, j.reject("The token is too large.")
	}
	var id *identity.Identity
	var err error
	if t, seen := j.trusted(raw); t != nil {
		id, err = t.verifyExternal(r.Context(), j, raw, seen)
	} else {
		id, err = j.verify(r.Context(), raw)
	}
	if err == nil && fromCookie && !IsSafeMethod(r.Method) {
		// A browser sends the cookie with cross-site requests too: a write
		// must come from this site's own pages.
		if rej := checkOrigin(r, nil); rej != nil {
			return nil, rej
		}
	}
	if fromCookie {
		j.markStale(r, err)
	}
	return id, err
}

// markStale marks the rejection of a token cookie that has merely run
// out (expired, revoked) as stale, like an ended session's cookie: the
// login endpoints ignore it, so a browser that still sends it can log in
// again, and the answer expires the cookie (Path=/), so that the browser
// stops sending it. Everywhere else it is a 401 as before.
func (j *JWT) markStale(r *http.Request, err error) {
	if rej, ok := AsRejection(err); ok && rej.ranOut {
		rej.Stale = true
		rej.SetCookie = j.expiredCookie(r)
	}
}

// expiredCookie is the Set-Cookie value that expires the token cookie (a
// new slice each time; formatted at Bind).
func (j *JWT) expiredCookie(r *http.Request) []string {
	if ArrivedOverTLS(r) {
		return []string{j.expired[1]}
	}
	return []string{j.expired[0]}
}

// The details of a token that has run out.
const (
	detailJWTExpired = "The token has expired."
	detailJWTRevoked = "The token has been revoked."
)

// credential finds the token: a Bearer value that is not an API token key
// (those are the token authenticator's), else the cookie. The cookie does
// not yield to an Authorization header of another kind: like every
// credential, it decides when jwt comes first in the chain.
func (j *JWT) credential(r *http.Request) (raw string, fromCookie, ok bool) {
	if v, ok := authorization(r.Header["Authorization"], "Bearer"); ok && !isAPITokenKey(v) {
		return v, false, true
	}
	if j.Cookie != "" {
		if v, ok := cookieValue(r, j.Cookie); ok {
			return v, true, true
		}
	}
	return "", false, false
}

// verify checks a token's signature and claims (or finds it verified
// before), then its expiry, revocation and user.
func (j *JWT) verify(ctx context.Context, raw string) (*identity.Identity, error) {
	id, cached := j.verified.Get(raw)
	if !cached {
		var err error
		if id, err = j.parse(ctx, raw); err != nil {
			return nil, err
		}
	}
	if j.env.Clock()().Unix() >= id.Expires+int64(time.Duration(j.Leeway)/time.Second) {
		j.verified.Delete(raw)
		return nil, j.ranOut(detailJWTExpired)
	}
	if err := j.checkLoggedOut(ctx, id); err != nil {
		return nil, err
	}
	if j.RevocationEnabled() && !store.NotRevoked(j.revocations, id.TokenID) {
		revoked, err := j.revocations.IsRevoked(ctx, id.TokenID)
		if err != nil {
			return nil, fmt.Errorf("jwt: checking revocation: %w", err)
		}
		if revoked {
			j.verified.Delete(raw)
			return nil, j.ranOut(detailJWTRevoked)
		}
	}
	acct, ok := j.env.Users.Lookup(id.User)
	if !ok {
		return nil, j.reject("The token's user no longer exists or is disabled.")
	}
	if fresh, changed := withCurrentRoles(id, acct); changed {
		id, cached = fresh, false
	}
	if !cached {
		j.verified.Put(raw, id)
	}
	return id, nil
}

// parse checks the signature and claims of a token and builds its
// identity (with the user's configured roles).
func (j *JWT) parse(ctx context.Context, raw string) (*identity.Identity, error) {
	keys, err := j.keys.get(ctx)
	if err != nil {
		return nil, fmt.Errorf("jwt: %w", err)
	}
	var claims jwtClaimsSeen
	if err := keys.verifier.verify(raw, &claims); err != nil {
		if errors.Is(err, errJWTExpired) {
			return nil, j.ranOut(detailJWTExpired)
		}
		return nil, j.reject("The token is invalid.")
	}
	if claims.ID == "" || claims.Subject == "" {
		return nil, j.reject("The token is invalid.")
	}
	acct, ok := j.env.Users.Lookup(claims.Subject)
	if !ok {
		return nil, j.reject("The token's user no longer exists or is disabled.")
	}
	id := acct.TokenIdentity("jwt", claims.ID)
	id.Expires = claims.ExpiresAt.Unix()
	if claims.HasIat {
		id.IssuedAt = claims.IssuedAt.Unix()
	}
	return id, nil
}

// withCurrentRoles is id with the roles acct has now, and whether they
// changed (users_file) since the token was verified: a cached token always
// carries the user's current roles.
func withCurrentRoles(id *identity.Identity, acct *identity.Account) (*identity.Identity, bool) {
	if acct.RolesJoined == id.RolesJoined {
		return id, false
	}
	fresh := identity.New(acct.Name, acct.Roles, id.Method, id.TokenID)
	fresh.Issuer, fresh.Expires, fresh.IssuedAt = id.Issuer, id.Expires, id.IssuedAt
	return fresh, true
}

// ranOut is the rejection of a token that was good and has run out
// (expired, revoked): a cookie carrying it is stale (markStale).
func (j *JWT) ranOut(detail string) *Rejection {
	rej := j.reject(detail)
	rej.ranOut = true
	return rej
}

func (j *JWT) reject(detail string) *Rejection {
	rej := Invalid(detail)
	rej.Challenge = j.invalid
	return rej
}

// Issue signs a new token for acct. Its error wraps store.ErrUnavailable
// when the generated key cannot be read from the store, and is a 500
// *Rejection when the token cannot be signed.
func (j *JWT) Issue(ctx context.Context, acct *identity.Account) (token string, expires time.Time, err error) {
	keys, err := j.keys.get(ctx)
	if err != nil {
		return "", time.Time{}, fmt.Errorf("jwt: %w", err)
	}
	jti := make([]byte, 16)
	if _, err := rand.Read(jti); err != nil {
		return "", time.Time{}, j.issueFailed(fmt.Errorf("jwt: generating token id: %w", err))
	}
	now := j.env.Clock()().UTC().Truncate(time.Second)
	expires = now.Add(time.Duration(j.TTL))
	claims := jwtClaims{
		Roles: acct.Roles,
		RegisteredClaims: jwt.RegisteredClaims{
			Subject:   acct.Name,
			IssuedAt:  jwt.NewNumericDate(now),
			ExpiresAt: jwt.NewNumericDate(expires),
			ID:        b64(jti),
			Issuer:    j.Issuer,
		},
	}
	if j.Audience != "" {
		claims.Audience = jwt.ClaimStrings{j.Audience}
	}
	key := keys.signer()
	t := jwt.NewWithClaims(key.method, claims)
	t.Header["kid"] = key.kid
	token, err = t.SignedString(key.sign)
	if err != nil {
		return "", time.Time{}, j.issueFailed(fmt.Errorf("jwt: signing: %w", err))
	}
	return token, expires, nil
}

// issueFailed logs why a token could not be issued and refuses with 500.
func (j *JWT) issueFailed(err error) *Rejection {
	j.env.Logger.Error("issuing a token failed", zap.Error(err))
	return &Rejection{Status: http.StatusInternalServerError, Detail: "The token could not be issued."}
}

// Revoke invalidates the token of id (a JWT identity) until it expires.
// It is atomic: when the token was revoked already (a concurrent
// @login-renew or @logout of the same token got there first) it returns a
// rejection, so that one token is exchanged or ended once only.
func (j *JWT) Revoke(ctx context.Context, id *identity.Identity) error {
	if id.Method != "jwt" || id.TokenID == "" || id.Issuer != "" {
		return errors.New("jwt: not a JWT identity")
	}
	revoked, err := j.revocations.Revoke(ctx, id.TokenID, time.Unix(id.Expires, 0).Add(time.Duration(j.Leeway)))
	if err != nil {
		return fmt.Errorf("jwt: revoking token: %w", err)
	}
	if !revoked {
		return j.ranOut(detailJWTRevoked)
	}
	j.env.Logger.Debug("jwt: token revoked", zap.String("user", id.User), zap.String("jti", id.TokenID))
	return nil
}

// PublicJWKs are the public keys of the asymmetric keys of the keyring.
func (j *JWT) PublicJWKs() []map[string]string { return j.jwks }

// WWWAuthenticate announces the Bearer scheme.
func (j *JWT) WWWAuthenticate() []string { return []string{j.challenge} }

// Scrub removes the token cookie (the handler removes Authorization).
func (j *JWT) Scrub(r *http.Request) {
	if j.Cookie != "" {
		removeCookies(r, j.Cookie)
	}
}

// UnmarshalCaddyfile parses
//
//	jwt {
//		key hs256 <secret>
//		key ed25519|es256 <pkcs8.pem>
//		ttl <duration>
//		issuer <iss>
//		audience <aud>
//		leeway <duration>
//		revocation on|off
//		cookie <name>
//		trust <name> { ... }
//	}
func (j *JWT) UnmarshalCaddyfile(d *caddyfile.Dispenser) error {
	if d.NextArg() {
		return d.ArgErr()
	}
	for nesting := d.Nesting(); d.NextBlock(nesting); {
		opt := d.Val()
		args := d.RemainingArgs()
		switch opt {
		case "key":
			if len(args) != 2 {
				return d.Err("jwt: want `key hs256 <secret>` or `key ed25519|es256 <file>`")
			}
			k := JWTKey{Algorithm: args[0]}
			if !slices.Contains(keyAlgorithms, k.Algorithm) {
				return d.WrapErr(unknownKeyType(k.Algorithm))
			}
			if args[0] == "hs256" {
				k.Secret = args[1]
				// A runtime placeholder ({env.X}) is known only at load.
				if !strings.Contains(k.Secret, "{") {
					if err := checkHS256Secret(k.Secret); err != nil {
						return d.WrapErr(err)
					}
				}
			} else {
				k.File = args[1]
			}
			j.Keys = append(j.Keys, k)
		case "ttl", "leeway":
			if len(args) != 1 {
				return d.ArgErr()
			}
			dur, err := durationArg(d, "jwt", opt, args[0])
			if err != nil {
				return err
			}
			if opt == "ttl" {
				j.TTL = dur
			} else {
				j.Leeway = dur
			}
		case "issuer", "audience", "cookie":
			if len(args) != 1 {
				return d.ArgErr()
			}
			switch opt {
			case "issuer":
				j.Issuer = args[0]
			case "audience":
				j.Audience = args[0]
			default:
				j.Cookie = args[0]
			}
		case "revocation":
			if len(args) != 1 || (args[0] != "on" && args[0] != "off") {
				return d.Err("jwt: want `revocation on` or `revocation off`")
			}
			on := args[0] == "on"
			j.Revocation = &on
		case "trust":
			if len(args) != 1 {
				return d.Err("jwt: want `trust <name> { issuer <url> ... }`")
			}
			t, err := unmarshalTrust(d, args[0])
			if err != nil {
				return err
			}
			j.Trust = append(j.Trust, t)
		default:
			return d.Errf("jwt: unknown option %q", opt)
		}
	}
	return nil
}

// Interface guards
var (
	_ Authenticator         = (*JWT)(nil)
	_ Binder                = (*JWT)(nil)
	_ Challenger            = (*JWT)(nil)
	_ Scrubber              = (*JWT)(nil)
	_ caddy.Validator       = (*JWT)(nil)
	_ caddy.CleanerUpper    = (*JWT)(nil)
	_ caddyfile.Unmarshaler = (*JWT)(nil)
)
