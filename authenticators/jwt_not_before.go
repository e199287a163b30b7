package authenticators

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"

	"github.com/caddy-restauth/caddy-restauth/identity"
	"github.com/caddy-restauth/caddy-restauth/store"
)

// notBeforeRefresh is how often a JWT authenticator re-reads the users'
// "not before" times from the store, to learn of a logout done through
// another Caddy instance sharing the store.
const notBeforeRefresh = 30 * time.Second

// notBefore holds, per user, the time before which every JWT issued to the
// user is refused (set when an operator logs the user out everywhere). The
// request path reads an immutable map through an atomic pointer: no store
// I/O, no lock.
type notBefore struct {
	nbf atomic.Pointer[map[string]int64]
	// loaded is set once the times have been read from the store: until
	// then a JWT cannot be checked against them, and is refused as a
	// store outage (503), never let through.
	loaded atomic.Bool
	loadMu sync.Mutex
	// loadFailures counts failed loads, the last one's error in loadErr.
	loadFailures atomic.Uint64
	loadErr      atomic.Pointer[error]
	stop         context.CancelFunc
}

// notBeforeKey is the store record of a user's "not before": a counter
// record whose count is the Unix second and which expires once every JWT
// issued before it has expired anyway.
func notBeforeKey(user string) string { return "nbf:user:" + user }

// loggedOut reports whether id is a JWT issued at or before its user's
// "not before" (the whole second: a token issued in the same second as the
// logout is refused too; one without iat is refused while the logout
// lasts). Until the times have been read from the store once, it reads
// them itself, and fails (a store outage) when it cannot: a restart while
// the store is slow must not let a logged-out user's JWT through.
func (j *JWT) loggedOut(ctx context.Context, id *identity.Identity) (bool, error) {
	if j.logouts == nil {
		return false, nil
	}
	if !j.logouts.loaded.Load() {
		if err := j.loadNotBefore(ctx); err != nil {
			return false, fmt.Errorf("jwt: reading the users' logouts: %w", err)
		}
	}
	m := j.logouts.nbf.Load()
	if m == nil {
		return false, nil
	}
	t, ok := (*m)[id.User]
	return ok && id.IssuedAt <= t, nil
}

// checkLoggedOut is nil unless id's user was logged out after id was
// issued (a rejection) or the logouts cannot be read (a store failure).
func (j *JWT) checkLoggedOut(ctx context.Context, id *identity.Identity) error {
	out, err := j.loggedOut(ctx, id)
	switch {
	case err != nil:
		return err
	case out:
		return j.ranOut(detailJWTRevoked)
	}
	return nil
}

// loadNotBefore reads the times from the store unless that was done
// already, and marks them loaded. Requests that waited for a load that
// failed share its error rather than each trying again in turn (in a
// Redis hang each try takes the store's timeouts). The load is not
// cancelled with the request that runs it: its outcome is shared.
func (j *JWT) loadNotBefore(ctx context.Context) error {
	return j.loadNotBeforeAfter(ctx, j.logouts.loadFailures.Load())
}

// loadNotBeforeAfter is loadNotBefore for a request that saw failed
// loads fail before it waited for its turn.
func (j *JWT) loadNotBeforeAfter(ctx context.Context, failed uint64) error {
	j.logouts.loadMu.Lock()
	defer j.logouts.loadMu.Unlock()
	if j.logouts.loaded.Load() {
		return nil
	}
	if j.logouts.loadFailures.Load() != failed {
		return *j.logouts.loadErr.Load()
	}
	if err := j.refreshNotBefore(context.WithoutCancel(ctx)); err != nil {
		j.logouts.loadErr.Store(&err)
		j.logouts.loadFailures.Add(1)
		return err
	}
	j.logouts.loaded.Store(true)
	return nil
}

// LogOutUser refuses every JWT issued to user up to now, here at once and,
// through the store, in every instance sharing it within notBeforeRefresh.
func (j *JWT) LogOutUser(ctx context.Context, user string, now time.Time) error {
	sec := now.Unix()
	if err := j.env.Store.SetFailures(ctx, notBeforeKey(user), store.Counter{
		Count:   int(sec),
		Expires: now.Add(time.Duration(j.TTL) + time.Duration(j.Leeway) + time.Second),
	}); err != nil {
		return fmt.Errorf("jwt: storing %s's logout: %w", user, err)
	}
	j.setNotBefore(user, sec)
	return nil
}

func (j *JWT) setNotBefore(user string, sec int64) {
	for {
		old := j.logouts.nbf.Load()
		next := map[string]int64{}
		if old != nil {
			next = maps.Clone(*old)
		}
		if next[user] >= sec {
			return
		}
		next[user] = sec
		if j.logouts.nbf.CompareAndSwap(old, &next) {
			return
		}
	}
}

// startNotBefore re-reads the configured users' "not before" times off the
// request path every notBeforeRefresh, until Cleanup, once a request has
// read them first (loggedOut). Nothing is read at start: a config that is
// provisioned but never serves (`caddy validate`) must not open the store,
// which for bolt means taking its file's lock from the running Caddy.
func (j *JWT) startNotBefore() {
	ctx, stop := context.WithCancel(context.Background())
	j.logouts = &notBefore{stop: stop}
	go func() {
		tick := time.NewTicker(notBeforeRefresh)
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
			// A failed read is logged there; the times read before stay
			// in force.
			if j.logouts.loaded.Load() {
				_ = j.refreshNotBefore(ctx)
			}
		}
	}()
}

// refreshNotBefore reads every configured user's "not before" from the
// store into memory.
func (j *JWT) refreshNotBefore(ctx context.Context) error {
	for _, user := range j.env.Users.Names() {
		c, err := j.env.Store.Failures(ctx, notBeforeKey(user))
		if err != nil {
			if !errors.Is(err, context.Canceled) {
				j.env.Logger.Debug("jwt: reading logouts failed", zap.Error(err))
			}
			return err
		}
		if c.Count > 0 {
			j.setNotBefore(user, int64(c.Count))
		}
	}
	return nil
}

// stopNotBefore stops the refresh of the "not before" times (Cleanup).
func (j *JWT) stopNotBefore() {
	if j.logouts != nil {
		j.logouts.stop()
	}
}
