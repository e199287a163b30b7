package authenticators

import (
	"context"
	"errors"
	"fmt"
	"maps"
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
	nbf  atomic.Pointer[map[string]int64]
	stop context.CancelFunc
}

// notBeforeKey is the store record of a user's "not before": a counter
// record whose count is the Unix second and which expires once every JWT
// issued before it has expired anyway.
func notBeforeKey(user string) string { return "nbf:user:" + user }

// loggedOut reports whether id is a JWT issued at or before its user's
// "not before" (the whole second: a token issued in the same second as the
// logout is refused too).
func (j *JWT) loggedOut(id *identity.Identity) bool {
	if j.logouts == nil {
		return false
	}
	m := j.logouts.nbf.Load()
	if m == nil {
		return false
	}
	t, ok := (*m)[id.User]
	return ok && id.IssuedAt <= t
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

// startNotBefore reads the configured users' "not before" times off the
// request path, now and every notBeforeRefresh, until Cleanup.
func (j *JWT) startNotBefore() {
	ctx, stop := context.WithCancel(context.Background())
	j.logouts = &notBefore{stop: stop}
	go func() {
		tick := time.NewTicker(notBeforeRefresh)
		defer tick.Stop()
		for {
			j.refreshNotBefore(ctx)
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
		}
	}()
}

func (j *JWT) refreshNotBefore(ctx context.Context) {
	for _, user := range j.env.Users.Names() {
		c, err := j.env.Store.Failures(ctx, notBeforeKey(user))
		if err != nil {
			if !errors.Is(err, context.Canceled) {
				j.env.Logger.Debug("jwt: reading logouts failed", zap.Error(err))
			}
			return
		}
		if c.Count > 0 {
			j.setNotBefore(user, int64(c.Count))
		}
	}
}

// stopNotBefore stops the refresh of the "not before" times (Cleanup).
func (j *JWT) stopNotBefore() {
	if j.logouts != nil {
		j.logouts.stop()
	}
}
