package authenticators

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"

	"github.com/caddyserver/caddy/v2"

	"github.com/caddy-restauth/caddy-restauth/identity"
	"github.com/caddy-restauth/caddy-restauth/store"
)

// Throttle limits failed password checks, per user and per client address,
// on every path that accepts a password.
type Throttle struct {
	// Failed checks for one user within the window before that user is
	// locked out. Default: 5.
	MaxFailures int `json:"max_failures,omitempty"`
	// Failed checks from one client address within the window before that
	// address is locked out. Default: 4 × max_failures.
	MaxAddressFailures int `json:"max_address_failures,omitempty"`
	// The window in which failures are counted. Default: 15m.
	Window caddy.Duration `json:"window,omitempty"`
	// How long a lockout lasts. During it every password check for the user
	// (or from the address) is refused with 429 and no hashing is done.
	// Default: 15m.
	Lockout caddy.Duration `json:"lockout,omitempty"`
	// Turn throttling off.
	Off bool `json:"off,omitempty"`
}

// withDefaults fills in the defaults.
func (t Throttle) withDefaults() Throttle {
	if t.MaxFailures == 0 {
		t.MaxFailures = 5
	}
	if t.MaxAddressFailures == 0 {
		t.MaxAddressFailures = 4 * t.MaxFailures
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
	if t.MaxFailures < 0 || t.MaxAddressFailures < 0 || t.Window < 0 || t.Lockout < 0 {
		return errors.New("throttle: limits and durations must not be negative")
	}
	return nil
}

// Passwords checks passwords for every path that accepts one (basic,
// dotauth, url_params, @login, @session, @tokens provisioning), with
// throttling: past the limit a check is refused with 429 before any
// password hashing is done.
type Passwords struct {
	users    *identity.Directory
	store    store.Store
	throttle Throttle
	// stripes serialise read → hash → count per user and per address in
	// this process, so parallel guesses cannot all pass the lockout check
	// before any of them is counted.
	stripes [256]sync.Mutex
	// degraded is true while throttling is off because the store fails.
	degraded atomic.Bool
	// audit records lockouts (nil: not recorded).
	audit *Audit
}

// maxNameBytes bounds user names: longer ones are refused before any
// store access (they cannot be configured users anyway).
const maxNameBytes = 256

// NewPasswords builds the password checker.
func NewPasswords(users *identity.Directory, st store.Store, t Throttle) *Passwords {
	return &Passwords{users: users, store: st, throttle: t.withDefaults()}
}

// Check verifies user's password. It returns a *Rejection with status 429
// while the user or the client address is locked out, and
// identity.ErrBadCredentials for a wrong password (unknown and disabled
// users alike). When the store fails, throttling is skipped (logged once per
// outage) and the password is checked uncounted, so Basic auth keeps
// working during a store outage.
func (p *Passwords) Check(r *http.Request, user, password []byte) (*identity.Account, error) {
	if p.throttle.Off {
		return p.users.Verify(user, password)
	}
	if len(user) > maxNameBytes {
		return nil, identity.ErrBadCredentials
	}
	ctx := r.Context()
	userKey, addrKey := "fail:user:"+string(user), "fail:addr:"+ClientIP(r)
	userFailures, err := p.lockedOut(ctx, userKey, p.throttle.MaxFailures, "this user")
	if err != nil {
		return nil, err
	}
	if _, err := p.lockedOut(ctx, addrKey, p.throttle.MaxAddressFailures, "this address"); err != nil {
		return nil, err
	}
	if acct, ok := p.users.Cached(user, password); ok {
		p.reset(ctx, userKey, userFailures)
		return acct, nil
	}

	// A password to hash: serialise per user and address, and read the
	// counters again under the locks, so concurrent guesses are counted
	// one after another.
	unlock := p.lock(userKey, addrKey)
	defer unlock()
	if userFailures, err = p.lockedOut(ctx, userKey, p.throttle.MaxFailures, "this user"); err != nil {
		return nil, err
	}
	if _, err := p.lockedOut(ctx, addrKey, p.throttle.MaxAddressFailures, "this address"); err != nil {
		return nil, err
	}
	acct, err := p.users.Verify(user, password)
	if err != nil {
		p.fail(ctx, userKey, p.throttle.MaxFailures)
		p.fail(ctx, addrKey, p.throttle.MaxAddressFailures)
		return nil, err
	}
	p.reset(ctx, userKey, userFailures)
	return acct, nil
}

// reset clears the user's counter after a success; written only when there
// is one, so a cached Basic request stays free of store writes.
func (p *Passwords) reset(ctx context.Context, userKey string, failures int) {
	if failures == 0 {
		return
	}
	if err := p.store.ResetFailures(ctx, userKey); err != nil {
		p.storeFailed(fmt.Errorf("throttle: resetting failures: %w", err))
	}
}

// storeFailed turns throttling off until the store works again, logging
// that at the first failure only.
func (p *Passwords) storeFailed(err error) {
	if p.degraded.CompareAndSwap(false, true) {
		caddy.Log().Named("rest_auth.throttle").Warn(
			"store unavailable: passwords are checked without throttling until it is back", zap.Error(err))
	}
}

// storeWorks ends a throttling outage, logging that once.
func (p *Passwords) storeWorks() {
	if p.degraded.CompareAndSwap(true, false) {
		caddy.Log().Named("rest_auth.throttle").Info("store available again: throttling resumed")
	}
}

// lock takes the stripe locks of both keys (in a fixed order) and returns
// the function that releases them.
func (p *Passwords) lock(a, b string) func() {
	i, j := stripe(a), stripe(b)
	if i > j {
		i, j = j, i
	}
	p.stripes[i].Lock()
	if j != i {
		p.stripes[j].Lock()
	}
	return func() {
		if j != i {
			p.stripes[j].Unlock()
		}
		p.stripes[i].Unlock()
	}
}

func stripe(key string) int {
	h := fnv.New32a()
	h.Write([]byte(key))
	return int(h.Sum32() % 256)
}

// lockedOut returns the failure count under key, or a 429 *Rejection when
// it has reached max. A store failure counts as no failures (logged once).
func (p *Passwords) lockedOut(ctx context.Context, key string, max int, who string) (int, error) {
	c, err := p.store.Failures(ctx, key)
	if err != nil {
		p.storeFailed(fmt.Errorf("throttle: reading failures: %w", err))
		return 0, nil
	}
	p.storeWorks()
	if c.Count < max {
		return c.Count, nil
	}
	countThrottled(key)
	return c.Count, &Rejection{
		Status:     http.StatusTooManyRequests,
		Detail:     "Too many failed logins for " + who + "; try again later.",
		RetryAfter: time.Until(c.Expires),
	}
}

// fail counts a failure and, at the limit, extends the counter to the
// lockout. A store failure is logged (once per outage): the failure goes
// uncounted.
func (p *Passwords) fail(ctx context.Context, key string, max int) {
	c, err := p.store.AddFailure(ctx, key, time.Duration(p.throttle.Window))
	if err != nil {
		p.storeFailed(fmt.Errorf("throttle: counting a failure: %w", err))
		return
	}
	if c.Count >= max {
		p.audit.lockedOut(key)
		c.Expires = time.Now().Add(time.Duration(p.throttle.Lockout))
		if err := p.store.SetFailures(ctx, key, c); err != nil {
			p.storeFailed(fmt.Errorf("throttle: starting a lockout: %w", err))
		}
	}
}

// checkPassword is the password step of the password authenticators:
// the account's identity for method, or the rejection to answer with.
func checkPassword(r *http.Request, p *Passwords, user, password []byte, method string) (*identity.Identity, error) {
	acct, err := p.Check(r, user, password)
	if errors.Is(err, identity.ErrBadCredentials) {
		return nil, Invalid("Invalid username or password.")
	}
	if err != nil {
		return nil, err
	}
	p.audit.PasswordAccepted(r, method, acct.Name)
	return acct.Identity(method), nil
}
