package authenticators

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/caddyserver/caddy/v2"

	"github.com/caddy-restauth/caddy-restauth/identity"
	"github.com/caddy-restauth/caddy-restauth/store"
)

// Throttle limits failed password checks on every path that accepts a
// password. Failures are counted per (user, client address), per user
// across all addresses, and per client address across all users; a check is
// refused with 429 while any of the three is at its limit. The client
// address is Caddy's client IP (trusted_proxies are respected).
//
// The tight limit is per (user, client address): an attacker guessing from
// one address locks out only that address for that user, and the real user
// logging in from elsewhere is not locked out. The per-user ceiling across
// all addresses is much higher (NIST SP 800-63B §5.2.2 allows up to 100
// consecutive failures) and stops guessing spread over many addresses.
type Throttle struct {
	// Failed checks for one user from one client address within the window
	// before that user is locked out from that address. Default: 5.
	PerUserAddress int `json:"per_user_address,omitempty"`
	// Failed checks for one user from all addresses together within the
	// window before that user is locked out everywhere. Default: 100.
	PerUser int `json:"per_user,omitempty"`
	// Failed checks from one client address, for any users, within the
	// window before that address is locked out. Default: 20.
	PerAddress int `json:"per_address,omitempty"`
	// The window in which failures are counted. Default: 15m.
	Window caddy.Duration `json:"window,omitempty"`
	// How long a lockout lasts. During it every password check it covers
	// is refused with 429 and no hashing is done. Default: 15m.
	Lockout caddy.Duration `json:"lockout,omitempty"`
	// Turn throttling off.
	Off bool `json:"off,omitempty"`
}

// Default throttling limits.
const (
	DefaultPerUserAddress = 5
	DefaultPerUser        = 100
	DefaultPerAddress     = 20
)

// withDefaults fills in the defaults.
func (t Throttle) withDefaults() Throttle {
	if t.PerUserAddress == 0 {
		t.PerUserAddress = DefaultPerUserAddress
	}
	if t.PerUser == 0 {
		t.PerUser = DefaultPerUser
	}
	if t.PerAddress == 0 {
		t.PerAddress = DefaultPerAddress
	}
	if t.Window == 0 {
		t.Window = caddy.Duration(15 * time.Minute)
	}
	if t.Lockout == 0 {
		t.Lockout = caddy.Duration(15 * time.Minute)
	}
	return t
}

// Validate checks the limits.
func (t Throttle) Validate() error {
	if t.PerUserAddress < 0 || t.PerUser < 0 || t.PerAddress < 0 || t.Window < 0 || t.Lockout < 0 {
		return errors.New("throttle: limits and durations must not be negative")
	}
	d := t.withDefaults()
	if d.PerUser < d.PerUserAddress {
		return fmt.Errorf("throttle: per_user (%d) must not be lower than per_user_address (%d): the ceiling across all addresses would lock the user out first", d.PerUser, d.PerUserAddress)
	}
	return nil
}

// Passwords checks passwords for every path that accepts one (basic,
// dotauth, url_params, @login, @session, @tokens provisioning), with
// throttling: past the limit a check is refused with 429 before any
// password hashing is done.
type Passwords struct {
	users    *identity.Directory
	store    store.Counters
	throttle Throttle
	// now tells the time of a lockout's end.
	now func() time.Time
	// stripes serialise read → hash → count per user and per address in
	// this process, so parallel guesses cannot all pass the lockout check
	// before any of them is counted.
	stripes [256]sync.Mutex
	// degraded is true while throttling is off because the store fails.
	degraded atomic.Bool
	// stripeFailures hold, per stripe, the last counter whose store call
	// failed while a check held the stripe's lock (throttle_outage.go).
	stripeFailures [256]atomic.Pointer[counterFailure]
	// audit records lockouts (nil: not recorded).
	audit *Audit
	// keys builds the counters' keys, reusing recent ones.
	keys failureKeys
}

// NewPasswords builds the password checker.
func NewPasswords(users *identity.Directory, st store.Counters, t Throttle) *Passwords {
	return &Passwords{users: users, store: st, throttle: t.withDefaults(), now: time.Now}
}

// Check verifies user's password. It returns a *Rejection with status 429
// while the user is locked out from the client address (or everywhere), or
// the client address is, and identity.ErrBadCredentials for a wrong password
// (unknown and disabled users alike). When the store fails, throttling is
// skipped (logged once per outage) and the password is checked uncounted,
// so Basic auth keeps working during a store outage.
func (p *Passwords) Check(r *http.Request, user, password []byte) (*identity.Account, error) {
	return p.checkFrom(r, ClientIP(r), user, password)
}

// checkFrom is Check for a request from the client address addr.
func (p *Passwords) checkFrom(r *http.Request, addr string, user, password []byte) (*identity.Account, error) {
	if p.throttle.Off {
		return p.users.Verify(user, password)
	}
	if len(user) > identity.MaxNameBytes { // before any store access: no configured user's
		return nil, identity.ErrBadCredentials
	}
	// A password verified before needs no hashing, but is refused like any
	// other while a lockout covers it: otherwise a locked-out guesser would
	// still learn (by a 200) when a guess is right.
	if acct, ok := p.users.Cached(user, password); ok {
		c := p.countersFor(acct.NameHash, addr)
		if _, err := p.lockedOut(r, &c); err != nil {
			return nil, err
		}
		p.reset(r, c)
		return acct, nil
	}
	return p.checkHashing(r, user, password, addr)
}

// checkHashing is Check for a password not verified before. A function of
// its own, so that the frame of a cached password's check stays small: a
// deep stack makes a server's goroutines grow theirs again after every GC
// shrank them.
func (p *Passwords) checkHashing(r *http.Request, user, password []byte, addr string) (*identity.Account, error) {
	c := p.countersFor(identity.NameHash(user), addr)
	read, err := p.lockedOut(r, &c)
	if err != nil {
		return nil, err
	}
	if read {
		// A password to hash: serialise per counter, and read the
		// counters again under the locks, so concurrent guesses are
		// counted one after another. A check that waited for the locks
		// while the store failed under another one skips the store: it
		// would wait for it as long, and the next one behind it too.
		before := p.failuresOf(c)
		unlock := p.lock(c)
		if p.failedSince(c, before) {
			unlock()
			return p.users.Verify(user, password)
		}
		read, err = p.lockedOut(r, &c)
		if !read {
			p.failedUnder(c[:]...) // one call for the three counters
		}
		if err != nil || read {
			defer unlock()
		} else {
			unlock()
		}
		if err != nil {
			return nil, err
		}
	}
	// When the store could not be read, throttling is off for this check
	// (logged once): the password is checked without the locks, which
	// would hold up this user's and address's other checks while the
	// store keeps failing, and a wrong one is still counted, stopping at
	// the first write that fails.
	acct, err := p.users.Verify(user, password)
	if err != nil {
		ctx := storeContext(r)
		for i := range c {
			if !p.fail(ctx, &c[i]) {
				if read {
					p.failedUnder(c[i])
				}
				break // the store is down: the others would wait for it too
			}
		}
		p.audit.lockouts(r, p.users, string(user), c)
		return nil, err
	}
	if failed, ok := p.reset(r, c); !ok && read { // no counts when unread: no write
		p.failedUnder(failed)
	}
	return acct, nil
}

// counter is one failure counter a password check is subject to.
type counter struct {
	key   string
	limit int
	// who names what is locked out, for the 429 detail.
	who string
	// resets is true when a successful check clears the counter.
	resets bool
	// count is the count last read.
	count int
}

// counters are the three counters of one check: per (user, address), per
// user, per address.
type counters [3]counter

// countersFor makes the counters of a check by the user whose
// identity.NameHash is name, from addr; their keys share one string,
// reused while that user keeps coming from that address (failureKeys).
func (p *Passwords) countersFor(name, addr string) counters {
	k := p.keys.get(name, addr)
	return counters{
		{key: k.keys[:k.userAt], limit: p.throttle.PerUserAddress, who: "this user from this address", resets: true},
		{key: k.keys[k.userAt:k.addrAt], limit: p.throttle.PerUser, who: "this user", resets: true},
		{key: k.keys[k.addrAt:], limit: p.throttle.PerAddress, who: "this address"},
	}
}

// storeContext is the context of a password check's store operations: the
// request's values without its cancellation. Go's server cancels a
// request's context when the client closes its side of the connection,
// and still answers it; a guess sent that way must still be counted, and
// its lockout check must not fail as a store outage would (which skips
// throttling). The stores bound their operations themselves (redis's I/O
// timeouts; bolt reads memory and a local file).
func storeContext(r *http.Request) context.Context {
	return context.WithoutCancel(r.Context())
}

// reset clears the counters a success clears; written only when they are
// not zero, so a cached Basic request stays free of store writes. ok is
// false when the store failed, on counter failed.
func (p *Passwords) reset(r *http.Request, c counters) (failed counter, ok bool) {
	for _, k := range c {
		if !k.resets || k.count == 0 {
			continue
		}
		if err := p.store.ResetFailures(storeContext(r), k.key); err != nil {
			p.storeFailed(fmt.Errorf("throttle: resetting failures: %w", err))
			return k, false // the store is down: the others would wait for it too
		}
	}
	return counter{}, true
}

// lock takes the stripe locks of the counters (in a fixed order) and
// returns the function that releases them.
func (p *Passwords) lock(c counters) func() {
	idx := make([]int, 0, len(c))
	for _, k := range c {
		idx = append(idx, stripe(k.key))
	}
	slices.Sort(idx)
	idx = slices.Compact(idx)
	for _, i := range idx {
		p.stripes[i].Lock()
	}
	return func() {
		for i := len(idx) - 1; i >= 0; i-- {
			p.stripes[idx[i]].Unlock()
		}
	}
}

// stripe is the index of key's lock among p.stripes.
func stripe(key string) int {
	return int(fnv1a(fnvOffset, key) % 256)
}

// lockedOut reads the counters (keeping their counts) and returns a 429
// *Rejection when one has reached its limit. When the store knows from
// memory that none of them exists (store.FailureFree), that is the whole
// check: no store operation. read is false when the store failed: that
// counts as no failures (logged once).
func (p *Passwords) lockedOut(r *http.Request, c *counters) (read bool, err error) {
	keys := [3]string{c[0].key, c[1].key, c[2].key}
	if store.NoFailures(p.store, keys) {
		p.storeWorks()
		for i := range c {
			c[i].count = 0
		}
		return true, nil
	}
	got, err := store.CheckFailures(storeContext(r), p.store, keys)
	if err != nil {
		p.storeFailed(fmt.Errorf("throttle: reading failures: %w", err))
		for i := range c {
			c[i].count = 0
		}
		return false, nil
	}
	p.storeWorks()
	for i := range c {
		k := &c[i]
		k.count = got[i].Count
		if got[i].Count >= k.limit {
			return true, p.throttled(k, got[i].Expires)
		}
	}
	return true, nil
}

// throttled is the 429 of a check under k's lockout, which lasts until
// expires.
func (p *Passwords) throttled(k *counter, expires time.Time) error {
	countThrottled(k.key)
	return &Rejection{
		Status:     http.StatusTooManyRequests,
		Detail:     "Too many failed logins for " + k.who + "; try again later.",
		RetryAfter: expires.Sub(p.now()),
	}
}

// fail counts a failure and, at the limit, extends the counter to the
// lockout. A store failure is logged (once per outage). fail reports false
// when the failure could not be counted; a lockout's extension that fails
// (e.g. redis's wait_replicas short of replicas, the count itself being
// written) does not stop the other counters from being counted.
func (p *Passwords) fail(ctx context.Context, k *counter) bool {
	c, err := p.store.AddFailure(ctx, k.key, time.Duration(p.throttle.Window))
	if err != nil {
		p.storeFailed(fmt.Errorf("throttle: counting a failure: %w", err))
		return false
	}
	k.count = c.Count
	if c.Count >= k.limit {
		c.Expires = p.now().Add(time.Duration(p.throttle.Lockout))
		if err := p.store.SetFailures(ctx, k.key, c); err != nil {
			p.lockoutNotStored(err)
		}
	}
	return true
}

// checkPassword is the password step of the password authenticators:
// the account's identity for method, or the rejection to answer with.
func checkPassword(r *http.Request, p *Passwords, user, password []byte, method string) (*identity.Identity, error) {
	addr := ClientIP(r) // once: it walks the request's contexts
	acct, err := p.checkFrom(r, addr, user, password)
	if errors.Is(err, identity.ErrBadCredentials) {
		return nil, Invalid("Invalid username or password.")
	}
	if err != nil {
		return nil, err
	}
	p.audit.PasswordAccepted(r, addr, method, acct.Name)
	return acct.Identity(method), nil
}
