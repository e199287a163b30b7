package authenticators

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"net/http"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"

	"github.com/caddy-restauth/caddy-restauth/identity"
	"github.com/caddy-restauth/caddy-restauth/store"
)

func init() {
	caddy.RegisterModule(Token{})
}

// tokenSecretName is the store secret under which token keys are hashed.
const tokenSecretName = "token-hmac"

// defaultFlushInterval is how often recorded uses are written by default.
const defaultFlushInterval = 10 * time.Second

// minFlushInterval keeps the background writer from spinning.
const minFlushInterval = 10 * time.Millisecond

// Details of the token rejections.
const (
	detailInvalidToken = "Invalid or expired token."
	detailTokenOwner   = "The token's user no longer exists or is disabled."
	detailTokenAddress = "This token may not be used from your address."
)

// Token authenticates long-lived API tokens (NetBox, dotCMS):
// `Authorization: Token <key>`, or `Authorization: Bearer <key>` when the
// key carries the `rat_` prefix (any other Bearer value is left to the jwt
// authenticator).
//
// Keys are `rat_<id>.<secret>` with 256 random bits; the store keeps only
// their HMAC-SHA256 under a server secret. A token carries a subset of its
// owner's roles and may be read-only, bound to networks and expire. Its
// last use is recorded at most once a minute per token, written to the
// store in batches off the request path.
type Token struct {
	// Members of these roles may create, list and revoke tokens of any
	// user through @tokens. Default: admin.
	AdminRoles []string `json:"admin_roles,omitempty"`

	// The longest lifetime a token may be given, e.g. `365d`. Requests for
	// a later expiry are refused (400). Default: unbounded.
	MaxTTL caddy.Duration `json:"max_ttl,omitempty"`

	// The lifetime of a token whose request names no expiry, e.g. `90d`.
	// Default: never expire (or max_ttl, when that is set).
	DefaultTTL caddy.Duration `json:"default_ttl,omitempty"`

	// How often recorded token uses (last_used) are written to the store.
	// Default: 10s.
	FlushInterval caddy.Duration `json:"flush_interval,omitempty"`

	users  *identity.Directory
	store  store.TokenStore
	now    func() time.Time
	logger *zap.Logger
	// audit records created and revoked tokens (nil: not recorded).
	audit     *Audit
	hasher    *storeSecret[keyHasher]
	challenge string // the Bearer challenge of a rejected prefixed Bearer key
	bearer    string // the Bearer challenge announced on every 401

	cache *tokenCache
	uses  *usageLog

	stop     chan struct{}
	stopped  chan struct{}
	stopOnce *sync.Once
}

// CaddyModule returns the Caddy module information.
func (Token) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  Namespace + ".token",
		New: func() caddy.Module { return new(Token) },
	}
}

// Provision fills in defaults.
func (t *Token) Provision(caddy.Context) error {
	if len(t.AdminRoles) == 0 {
		t.AdminRoles = []string{"admin"}
	}
	if t.FlushInterval == 0 {
		t.FlushInterval = caddy.Duration(defaultFlushInterval)
	}
	return nil
}

// Validate checks the lifetimes and role names.
func (t *Token) Validate() error {
	for _, r := range t.AdminRoles {
		if err := identity.ValidateRole(r); err != nil {
			return fmt.Errorf("token: admin_roles: %w", err)
		}
	}
	switch {
	case t.MaxTTL < 0:
		return fmt.Errorf("token: max_ttl %v must be positive", time.Duration(t.MaxTTL))
	case t.DefaultTTL < 0:
		return fmt.Errorf("token: default_ttl %v must be positive", time.Duration(t.DefaultTTL))
	case t.MaxTTL > 0 && t.DefaultTTL > t.MaxTTL:
		return fmt.Errorf("token: default_ttl %v is longer than max_ttl %v; lower default_ttl or raise max_ttl",
			time.Duration(t.DefaultTTL), time.Duration(t.MaxTTL))
	case t.FlushInterval < 0:
		return fmt.Errorf("token: flush_interval %v must be positive", time.Duration(t.FlushInterval))
	case t.FlushInterval > 0 && t.FlushInterval < caddy.Duration(minFlushInterval):
		return fmt.Errorf("token: flush_interval %v is too short; use at least %v (default %v)",
			time.Duration(t.FlushInterval), minFlushInterval, defaultFlushInterval)
	}
	return nil
}

// Bind receives the users and the store and starts writing recorded uses.
// The server secret keys are hashed under is read from (or created in) the
// store on first need, so that Caddy loads while the store is down.
func (t *Token) Bind(env Env) error {
	if env.Users == nil || env.Store == nil {
		return errors.New("token: needs the handler's users and store")
	}
	t.users, t.store, t.logger, t.now = env.Users, env.Store, env.Logger, env.Clock()
	t.audit = env.Audit
	if t.logger == nil {
		t.logger = zap.NewNop()
	}
	t.hasher = newStoreSecret(env.Store, tokenSecretName, randomBytes32, func(secret []byte) (*keyHasher, error) {
		return newKeyHasher(secret), nil
	})
	t.challenge = fmt.Sprintf(`Bearer realm=%q, error="invalid_token"`, env.Realm)
	t.bearer = fmt.Sprintf(`Bearer realm=%q`, env.Realm)
	interval := time.Duration(t.FlushInterval)
	if interval <= 0 {
		interval = defaultFlushInterval
	}
	t.cache, t.uses = new(tokenCache), new(usageLog)
	t.stop, t.stopped, t.stopOnce = make(chan struct{}), make(chan struct{}), new(sync.Once)
	go t.flushEvery(interval)
	return nil
}

// Authenticate checks a Token (or prefixed Bearer) key.
func (t *Token) Authenticate(r *http.Request) (*identity.Identity, error) {
	key, bearer, ok := tokenCredential(r.Header["Authorization"])
	if !ok {
		return nil, nil
	}
	keyID, ok := parseKey(key)
	if !ok {
		return nil, t.reject(bearer, detailInvalidToken)
	}
	hasher, err := t.hasher.get(r.Context())
	if err != nil {
		return nil, fmt.Errorf("token: %w", err)
	}
	sum, remembered := hasher.Lookup(key)
	now := t.now()
	e, stale := t.cache.get(*sum, now)
	if e == nil {
		var err error
		if e, err = t.fetch(r.Context(), sum, keyID, stale, now); err != nil {
			return nil, err
		}
	}
	switch {
	case e == nil, e.expired(now):
		return nil, t.reject(bearer, detailInvalidToken)
	case e.id == nil:
		return nil, t.reject(bearer, detailTokenOwner)
	case len(e.allowed) > 0 && !e.allows(clientAddr(r)):
		return nil, Forbidden(detailTokenAddress)
	}
	t.uses.record(e, now)
	if !remembered {
		hasher.Remember(key, sum)
	}
	return e.id, nil
}

// tokenCredential returns the key of `Token <key>`, or of `Bearer <key>`
// when the key has our prefix.
func tokenCredential(header []string) (key string, bearer, ok bool) {
	if key, ok := authorization(header, "Token"); ok {
		return key, false, true
	}
	if key, ok := authorization(header, "Bearer"); ok && strings.HasPrefix(key, TokenPrefix) {
		return key, true, true
	}
	// The scheme without a key is a Token credential too, and invalid.
	if len(header) > 0 && strings.EqualFold(strings.TrimSpace(header[0]), "Token") {
		return "", false, true
	}
	return "", false, false
}

// fetch reads the token with key hash sum from the store and caches it. It
// returns nil (no error) when there is no such token.
func (t *Token) fetch(ctx context.Context, sum *[32]byte, keyID string, stale *tokenEntry, now time.Time) (*tokenEntry, error) {
	epoch := revocationEpoch.Load()
	rec, err := t.store.TokenByKeyHash(ctx, sum[:])
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("token: looking up key: %w", err)
	}
	if rec.ID != keyID || subtle.ConstantTimeCompare(rec.KeyHash, sum[:]) != 1 {
		return nil, nil
	}
	e := &tokenEntry{tokenID: rec.ID, fetched: now, epoch: epoch}
	if rec.Expires != nil {
		e.expires = *rec.Expires
	}
	for _, s := range rec.AllowedIPs {
		p, err := ParseNetwork(s)
		if err != nil {
			// Fail closed: a record that cannot be read allows nobody.
			t.logger.Error("token has an unreadable allowed_ips entry", zap.String("token_id", rec.ID), zap.Error(err))
			p = netip.Prefix{}
		}
		e.allowed = append(e.allowed, p)
	}
	if acct, ok := t.users.Lookup(rec.Owner); ok {
		id := identity.New(acct.Name, intersectRoles(rec.Roles, acct.Roles), "token", rec.ID)
		id.ReadOnly = !rec.WriteEnabled
		if rec.Expires != nil {
			id.Expires = rec.Expires.Unix()
		}
		e.id = id
	}
	if stale != nil && stale.tokenID == rec.ID {
		e.usage = stale.usage
	} else {
		e.usage = new(tokenUsage)
		if rec.LastUsed != nil {
			e.usage.last.Store(rec.LastUsed.UnixNano())
		}
	}
	t.cache.put(*sum, e)
	return e, nil
}

// intersectRoles keeps the token's roles that the owner still has, so a
// role taken from the owner is taken from their tokens too.
func intersectRoles(tokenRoles, ownerRoles []string) []string {
	roles := make([]string, 0, len(tokenRoles))
	for _, r := range tokenRoles {
		if slices.Contains(ownerRoles, r) {
			roles = append(roles, r)
		}
	}
	return roles
}

// clientAddr is the client address as Caddy resolved it (trusted proxies
// and client_ip_headers taken into account).
func clientAddr(r *http.Request) netip.Addr {
	addr, err := netip.ParseAddr(ClientIP(r))
	if err != nil {
		return netip.Addr{}
	}
	return addr.WithZone("")
}

// ParseNetwork parses an allowed_ips entry: a CIDR (IPv4 or IPv6) or a bare
// address, which means that address alone (/32 or /128).
func ParseNetwork(s string) (netip.Prefix, error) {
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return netip.Prefix{}, fmt.Errorf("%q is not a CIDR network such as 192.0.2.0/24 or 2001:db8::/32", s)
		}
		return p.Masked(), nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil || a.Zone() != "" {
		return netip.Prefix{}, fmt.Errorf("%q is not an IP address or CIDR network", s)
	}
	a = a.Unmap()
	return netip.PrefixFrom(a, a.BitLen()), nil
}

func (t *Token) reject(bearer bool, detail string) *Rejection {
	rej := Invalid(detail)
	if bearer {
		rej.Challenge = t.challenge
	}
	return rej
}

// WWWAuthenticate announces the Bearer scheme (keys are accepted as
// Bearer too) and the Token scheme.
func (t *Token) WWWAuthenticate() []string { return []string{t.bearer, "Token"} }

// Scrub removes the Authorization header.
func (t *Token) Scrub(r *http.Request) { delete(r.Header, "Authorization") } // canonical: no Del needed

// flushEvery writes recorded uses every interval until Cleanup.
func (t *Token) flushEvery(interval time.Duration) {
	defer close(t.stopped)
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		select {
		case <-t.stop:
			return
		case <-tick.C:
			t.flush()
			t.cache.sweep(t.now())
		}
	}
}

// flush writes the recorded uses to the store in one batch.
func (t *Token) flush() {
	batch := t.uses.take()
	if len(batch) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := t.store.TouchTokens(ctx, batch); err != nil {
		t.logger.Warn("recording token use", zap.Int("tokens", len(batch)), zap.Error(err))
		t.uses.putBack(batch)
		return
	}
	t.uses.written(batch)
}

// Cleanup stops the background writer and writes what it has not written
// yet, so that last_used survives a reload or restart.
func (t *Token) Cleanup() error {
	if t.stop == nil {
		return nil
	}
	t.stopOnce.Do(func() {
		close(t.stop)
		<-t.stopped
		t.flush()
	})
	return nil
}

// UnmarshalCaddyfile parses
//
//	token {
//		admin_roles <roles...>
//		max_ttl <duration>
//		default_ttl <duration>
//		flush_interval <duration>
//	}
//
// Durations are Caddy durations and accept days, e.g. `90d`.
func (t *Token) UnmarshalCaddyfile(d *caddyfile.Dispenser) error {
	if d.NextArg() {
		return d.ArgErr()
	}
	nesting := d.Nesting()
	for d.NextBlock(nesting) {
		switch opt := d.Val(); opt {
		case "admin_roles":
			roles := d.RemainingArgs()
			if len(roles) == 0 {
				return d.Err("token: admin_roles: name at least one role")
			}
			t.AdminRoles = append(t.AdminRoles, roles...)
		case "max_ttl", "default_ttl", "flush_interval":
			if !d.NextArg() {
				return d.ArgErr()
			}
			dur, err := durationArg(d, "token", opt, d.Val())
			if err != nil {
				return err
			}
			if d.NextArg() {
				return d.ArgErr()
			}
			switch opt {
			case "max_ttl":
				t.MaxTTL = dur
			case "default_ttl":
				t.DefaultTTL = dur
			default:
				t.FlushInterval = dur
			}
		default:
			return d.Errf("token: unknown option %q (want admin_roles, max_ttl, default_ttl or flush_interval)", opt)
		}
	}
	return nil
}

// Interface guards
var (
	_ Authenticator         = (*Token)(nil)
	_ Binder                = (*Token)(nil)
	_ Challenger            = (*Token)(nil)
	_ Scrubber              = (*Token)(nil)
	_ TokenOps              = (*Token)(nil)
	_ caddy.Provisioner     = (*Token)(nil)
	_ caddy.Validator       = (*Token)(nil)
	_ caddy.CleanerUpper    = (*Token)(nil)
	_ caddyfile.Unmarshaler = (*Token)(nil)
)
