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
