package authenticators

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/caddy-restauth/caddy-restauth/store"
)

// slowStore is a store whose failure counters cannot be read while down
// (a Redis still paused, say, when Caddy restarts).
type slowStore struct {
	store.Store
	down atomic.Bool
}

func (s *slowStore) Failures(ctx context.Context, key string) (store.Counter, error) {
	if s.down.Load() {
		return store.Counter{}, fmt.Errorf("reading %s: %w", key, store.ErrUnavailable)
	}
	return s.Store.Failures(ctx, key)
}

// TestJWTLogoutSurvivesASlowStoreAtStart: an operator logged alice out
// everywhere; Caddy restarts while the store cannot be read. Her old JWT
// is refused as a store outage (503), never let through, until the logouts
// are read; then it is refused as revoked, and a JWT issued after the
// logout works.
func TestJWTLogoutSurvivesASlowStoreAtStart(t *testing.T) {
	clock := newTestClock()
	env := clockEnv(t, clock)
	first := testJWT(t, env)
	acct, _ := env.Users.Lookup(fuzzUser)
	old, _, err := first.Issue(context.Background(), acct)
	if err != nil {
		t.Fatal(err)
	}
	if err := first.LogOutUser(context.Background(), fuzzUser, clock.Now()); err != nil {
		t.Fatal(err)
	}

	// The restart: a new authenticator on the same store, unreadable.
	slow := &slowStore{Store: env.Store}
	slow.down.Store(true)
	env.Store = slow
	restarted := testJWT(t, env)
	request := func(token string) *http.Request {
		r := httptest.NewRequest(http.MethodGet, "/x", nil)
		r.Header.Set("Authorization", "Bearer "+token)
		return r
	}
	for range 3 {
		id, err := restarted.Authenticate(request(old))
		if id != nil || !errors.Is(err, store.ErrUnavailable) {
			t.Fatalf("while the store is down: %v, %v; want a store outage", id, err)
		}
	}
	slow.down.Store(false)
	wantOutcome(t, restarted, request(old), detailJWTRevoked)
	clock.Advance(time.Second) // issued after the logout
	fresh, _, err := restarted.Issue(context.Background(), acct)
	if err != nil {
		t.Fatal(err)
	}
	wantOutcome(t, restarted, request(fresh), "")
}

// readCountingStore counts the failure-counter reads of a slowStore and,
// like bolt and redis, fails a read whose context is done.
type readCountingStore struct {
	*slowStore
	reads atomic.Int64
}

func (s *readCountingStore) Failures(ctx context.Context, key string) (store.Counter, error) {
	s.reads.Add(1)
	if err := ctx.Err(); err != nil {
		return store.Counter{}, err
	}
	return s.slowStore.Failures(ctx, key)
}

// TestJWTLogoutLoadShared: requests that waited for a load of the logouts
// that failed share its error instead of each reading the store again in
// turn; a request that comes after it tries again; and the load is not
// cancelled with the request that runs it.
func TestJWTLogoutLoadShared(t *testing.T) {
	env := testEnv(t)
	counting := &readCountingStore{slowStore: &slowStore{Store: env.Store}}
	counting.down.Store(true)
	env.Store = counting
	j := testJWT(t, env)
	ctx := t.Context()

	waited := j.logouts.loadFailures.Load() // a request waiting for its turn
	if err := j.loadNotBefore(ctx); !errors.Is(err, store.ErrUnavailable) {
		t.Fatalf("load while the store is down: %v", err)
	}
	reads := counting.reads.Load()
	if err := j.loadNotBeforeAfter(ctx, waited); !errors.Is(err, store.ErrUnavailable) {
		t.Fatalf("the waiting request: %v, want the load's error", err)
	}
	if n := counting.reads.Load() - reads; n != 0 {
		t.Errorf("the waiting request read the store %d times, want 0 (shared the failure)", n)
	}
	if err := j.loadNotBefore(ctx); !errors.Is(err, store.ErrUnavailable) || counting.reads.Load() == reads {
		t.Errorf("a later request: %v after %d reads, want a new try", err, counting.reads.Load()-reads)
	}

	counting.down.Store(false)
	gone, cancel := context.WithCancel(ctx)
	cancel() // the client went away
	if err := j.loadNotBefore(gone); err != nil || !j.logouts.loaded.Load() {
		t.Fatalf("load for a request whose client went away: %v (loaded %t), want loaded", err, j.logouts.loaded.Load())
	}
}
