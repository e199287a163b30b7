package authenticators

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
)

// testClock is a clock the test moves by hand: expiries are seen at once,
// without waiting for them.
type testClock struct {
	mu  sync.Mutex
	now time.Time
}

func newTestClock() *testClock { return &testClock{now: time.Now()} }

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *testClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// clockEnv is testEnv whose time is clock.
func clockEnv(t *testing.T, clock *testClock) Env {
	env := testEnv(t)
	env.Now = clock.Now
	return env
}

// wantOutcome fails unless Authenticate accepted r (detail "") or refused it
// with a 401 whose detail contains detail.
func wantOutcome(t *testing.T, a Authenticator, r *http.Request, detail string) {
	t.Helper()
	id, err := a.Authenticate(r)
	if detail == "" {
		if err != nil || id == nil {
			t.Fatalf("want accepted, got %v, %v", id, err)
		}
		return
	}
	var rej *Rejection
	if !errors.As(err, &rej) || rej.StatusCode() != http.StatusUnauthorized || !strings.Contains(rej.Detail, detail) {
		t.Fatalf("want 401 %q, got %v, %v", detail, id, err)
	}
}

// startSession logs alice in and returns a request that carries her
// session cookie.
func startSession(t *testing.T, s *Session, env Env) *http.Request {
	t.Helper()
	acct, ok := env.Users.Lookup(fuzzUser)
	if !ok {
		t.Fatal("no user alice")
	}
	w := httptest.NewRecorder()
	if err := s.Start(w, httptest.NewRequest(http.MethodPost, "/@session", nil), acct); err != nil {
		t.Fatal(err)
	}
	r := httptest.NewRequest(http.MethodGet, "/x", nil)
	for _, c := range w.Result().Cookies() {
		r.AddCookie(c)
	}
	return r
}

// TestSessionIdleTimeoutClock: use extends the idle expiry; without use
// the session ends. (Replaces the root TestSessionIdleTimeout, which slept.)
func TestSessionIdleTimeoutClock(t *testing.T) {
	clock := newTestClock()
	env := clockEnv(t, clock)
	s := &Session{IdleTimeout: caddy.Duration(time.Second), MaxAge: caddy.Duration(time.Hour)}
	bind(t, env, s)
	r := startSession(t, s, env)
	wantOutcome(t, s, r, "")

	// Used every 300 ms for 3 s, well past the 1 s idle timeout.
	for range 10 {
		clock.Advance(300 * time.Millisecond)
		wantOutcome(t, s, r, "")
		waitExtended(t, s, r, clock.Now())
	}
	// Left alone, it ends.
	clock.Advance(1100 * time.Millisecond)
	wantOutcome(t, s, r, "expired or ended")
}

// waitExtended polls the store until the session's idle expiry (extended
// off the request path) lies a full step after now.
func waitExtended(t *testing.T, s *Session, r *http.Request, now time.Time) {
	t.Helper()
	c, err := r.Cookie(s.CookieName)
	if err != nil {
		t.Fatal(err)
	}
	h, err := s.hasher.get(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	step := min(extendEvery, time.Duration(s.IdleTimeout)/2)
	for deadline := time.Now().Add(10 * time.Second); ; {
		sess, err := s.env.Store.Session(context.Background(), h.hash(c.Value))
		if err != nil {
			t.Fatal(err)
		}
		if sess.IdleExpires.Sub(now) > time.Duration(s.IdleTimeout)-step {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("idle expiry %v not extended past %v", sess.IdleExpires, now)
		}
		time.Sleep(time.Millisecond)
	}
}

// TestSessionMaxAgeClock: however much it is used, a session ends at
// max_age.
func TestSessionMaxAgeClock(t *testing.T) {
	clock := newTestClock()
	env := clockEnv(t, clock)
	s := &Session{IdleTimeout: caddy.Duration(time.Hour), MaxAge: caddy.Duration(time.Second)}
	bind(t, env, s)
	r := startSession(t, s, env)
	clock.Advance(999 * time.Millisecond)
	wantOutcome(t, s, r, "")
	clock.Advance(time.Millisecond)
	wantOutcome(t, s, r, "expired or ended")
}

// TestTokenExpiryClock: a token is refused from its expiry on.
func TestTokenExpiryClock(t *testing.T) {
	clock := newTestClock()
	env := clockEnv(t, clock)
	tok := &Token{}
	if err := tok.Provision(caddy.Context{}); err != nil {
		t.Fatal(err)
	}
	bind(t, env, tok)
	acct, _ := env.Users.Lookup(fuzzUser)
	days := 1
	_, key, err := tok.CreateToken(context.Background(), fuzzUser,
		TokenSpec{Owner: acct.Name, OwnerRoles: acct.Roles, ExpirationDays: &days, WriteEnabled: true})
	if err != nil {
		t.Fatal(err)
	}
	r := httptest.NewRequest(http.MethodGet, "/x", nil)
	r.Header.Set("Authorization", "Token "+key)
	wantOutcome(t, tok, r, "")
	clock.Advance(24*time.Hour - time.Second)
	wantOutcome(t, tok, r, "")
	clock.Advance(time.Second)
	wantOutcome(t, tok, r, "Invalid or expired token.")
}

// TestJWTExpiryClock: a JWT is refused once its lifetime and the leeway
// have passed.
func TestJWTExpiryClock(t *testing.T) {
	clock := newTestClock()
	env := clockEnv(t, clock)
	j := testJWT(t, env)
	acct, _ := env.Users.Lookup(fuzzUser)
	token, expires, err := j.Issue(context.Background(), acct)
	if err != nil {
		t.Fatal(err)
	}
	r := httptest.NewRequest(http.MethodGet, "/x", nil)
	r.Header.Set("Authorization", "Bearer "+token)
	wantOutcome(t, j, r, "")
	clock.Advance(expires.Sub(clock.Now()) + time.Duration(j.Leeway) - time.Second)
	wantOutcome(t, j, r, "")
	clock.Advance(time.Second)
	wantOutcome(t, j, r, "expired")
}

// TestJWTCookieRunOutIsStale: a token cookie that has expired is a stale
// credential (the login endpoints ignore it, so the browser can log in
// again); the same token in the Authorization header, and a forged cookie,
// are not.
func TestJWTCookieRunOutIsStale(t *testing.T) {
	clock := newTestClock()
	env := clockEnv(t, clock)
	j := testJWTWith(t, env, &JWT{Cookie: "auth_token"})
	acct, _ := env.Users.Lookup(fuzzUser)
	token, expires, err := j.Issue(context.Background(), acct)
	if err != nil {
		t.Fatal(err)
	}
	clock.Advance(expires.Sub(clock.Now()) + time.Duration(j.Leeway) + time.Second)
	for _, tc := range []struct {
		name       string
		header     string
		value      string
		wantDetail string
		wantStale  bool
	}{
		{"expired cookie", "Cookie", "auth_token=" + token, detailJWTExpired, true},
		{"expired header", "Authorization", "Bearer " + token, detailJWTExpired, false},
		{"forged cookie", "Cookie", "auth_token=" + token[:strings.LastIndexByte(token, '.')+1] + "AAAA", "The token is invalid.", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodGet, "/x", nil)
			r.Header.Set(tc.header, tc.value)
			_, err := j.Authenticate(r)
			rej, ok := AsRejection(err)
			if !ok || rej.Detail != tc.wantDetail || rej.Stale != tc.wantStale {
				t.Fatalf("Authenticate: %+v, want %q with stale %v", err, tc.wantDetail, tc.wantStale)
			}
			// A stale cookie is expired, so the browser stops sending it.
			expires := len(rej.SetCookie) == 1 && strings.HasPrefix(rej.SetCookie[0], "auth_token=; Path=/; Max-Age=0")
			if expires != tc.wantStale {
				t.Fatalf("Set-Cookie %q, want the cookie expired: %v", rej.SetCookie, tc.wantStale)
			}
		})
	}
}
