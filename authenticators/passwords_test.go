package authenticators

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"golang.org/x/crypto/bcrypt"

	"github.com/caddy-restauth/caddy-restauth/identity"
	"github.com/caddy-restauth/caddy-restauth/internal/poll"
	"github.com/caddy-restauth/caddy-restauth/store"
)

func newTestPasswords(t *testing.T, th Throttle) *Passwords {
	t.Helper()
	return newTestPasswordsIn(t, th, &store.Memory{Name: t.Name()})
}

// testStore is a store module a test provisions itself.
type testStore interface {
	store.Store
	caddy.Provisioner
	caddy.CleanerUpper
}

// newTestPasswordsIn is newTestPasswords over st, provisioned here.
func newTestPasswordsIn(t *testing.T, th Throttle, st testStore) *Passwords {
	t.Helper()
	hash, err := bcrypt.GenerateFromPassword([]byte("right"), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	dir, err := identity.NewDirectory([]identity.User{{Name: "alice", PasswordHash: string(hash)}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := caddy.NewContext(caddy.Context{Context: context.Background()})
	t.Cleanup(cancel)
	if err := st.Provision(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Cleanup() })
	return NewPasswords(dir, st, th)
}

// TestThrottleHoldsUnderConcurrency: 50 parallel wrong guesses for one user
// get exactly per_user_address password checks; the rest are refused with 429
// before hashing.
func TestThrottleHoldsUnderConcurrency(t *testing.T) {
	p := newTestPasswords(t, Throttle{PerUserAddress: 5, PerUser: 100, PerAddress: 1000})
	var mu sync.Mutex
	checked, throttled := 0, 0
	var wg sync.WaitGroup
	for i := 0; i < 50; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := p.Check(httptest.NewRequest("GET", "/", nil), []byte("alice"), []byte("wrong"))
			var rej *Rejection
			mu.Lock()
			defer mu.Unlock()
			switch {
			case errors.Is(err, identity.ErrBadCredentials):
				checked++
			case errors.As(err, &rej) && rej.StatusCode() == 429:
				throttled++
			default:
				t.Errorf("unexpected result: %v", err)
			}
		}()
	}
	wg.Wait()
	if checked != 5 || throttled != 45 {
		t.Fatalf("checked %d, throttled %d; want 5 and 45", checked, throttled)
	}
}

// TestThrottleRefusesHugeNames: an over-long name is refused before any
// store access (it could not be a key of every store).
func TestThrottleRefusesHugeNames(t *testing.T) {
	p := newTestPasswords(t, Throttle{})
	_, err := p.Check(httptest.NewRequest("GET", "/", nil), []byte(strings.Repeat("a", 40000)), []byte("x"))
	if !errors.Is(err, identity.ErrBadCredentials) {
		t.Fatalf("err = %v, want ErrBadCredentials", err)
	}
}

// TestLockoutCoversCachedPasswords: a password verified before (no hashing
// needed) is still refused while its user is locked out from the address,
// so a locked-out guesser never learns by a 200 that a guess is right; from
// another address it works.
func TestLockoutCoversCachedPasswords(t *testing.T) {
	p := newTestPasswords(t, Throttle{PerUserAddress: 3, PerUser: 100, PerAddress: 1000})
	from := func(addr string) *http.Request {
		r := httptest.NewRequest("GET", "/", nil)
		r.RemoteAddr = addr + ":1234"
		return r
	}
	if _, err := p.Check(from("192.0.2.1"), []byte("alice"), []byte("right")); err != nil {
		t.Fatalf("first check: %v", err)
	}
	for range 3 {
		if _, err := p.Check(from("192.0.2.1"), []byte("alice"), []byte("wrong")); !errors.Is(err, identity.ErrBadCredentials) {
			t.Fatalf("wrong guess: %v", err)
		}
	}
	var rej *Rejection
	if _, err := p.Check(from("192.0.2.1"), []byte("alice"), []byte("right")); !errors.As(err, &rej) || rej.StatusCode() != http.StatusTooManyRequests {
		t.Fatalf("cached right password during the lockout: %v, want 429", err)
	}
	if _, err := p.Check(from("198.51.100.7"), []byte("alice"), []byte("right")); err != nil {
		t.Fatalf("right password from another address: %v", err)
	}
}

// TestLockoutReadTimedWhenItReachesTheStore: a password check of a user
// with no failures is answered from the store's memory and is not timed
// as a store operation (as a cached API token is not); once a failure
// exists, the check reads the store and the "failures" histogram counts
// it.
func TestLockoutReadTimedWhenItReachesTheStore(t *testing.T) {
	p := newTestPasswords(t, Throttle{})
	p.store = Measure(p.store.(store.Store), "test_lockout_read")
	reads := timedStoreOps(t, "test_lockout_read", "failures")
	check := func(password string) error {
		_, err := p.Check(httptest.NewRequest("GET", "/", nil), []byte("alice"), []byte(password))
		return err
	}
	for range 2 { // hashed, then cached
		if err := check("right"); err != nil {
			t.Fatal(err)
		}
	}
	if n := reads(); n != 0 {
		t.Fatalf("failures reads timed with no failures = %d, want 0", n)
	}
	if err := check("wrong"); !errors.Is(err, identity.ErrBadCredentials) {
		t.Fatalf("wrong password: %v", err)
	}
	before := reads()
	if err := check("right"); err != nil { // cached, but the address has a failure
		t.Fatal(err)
	}
	if n := reads() - before; n != 1 {
		t.Fatalf("failures reads timed for a cached password with a failure on record = %d, want 1", n)
	}
}

// failingAdds is a store whose AddFailure fails while fail is set.
type failingAdds struct {
	store.Store
	fail atomic.Bool
}

// NoFailures answers from the store's memory, as the store would.
func (f *failingAdds) NoFailures(keys [3]string) bool { return store.NoFailures(f.Store, keys) }

func (f *failingAdds) AddFailure(ctx context.Context, key string, window time.Duration) (store.Counter, error) {
	if f.fail.Load() {
		return store.Counter{}, store.ErrUnavailable
	}
	return f.Store.AddFailure(ctx, key, window)
}

// TestThrottleOutageEnds: a store failure turns throttling off (logged
// once), and the next check the store answers, from memory included, turns
// it back on, so that the next outage is logged again.
func TestThrottleOutageEnds(t *testing.T) {
	p := newTestPasswords(t, Throttle{})
	st := &failingAdds{Store: p.store.(store.Store)}
	p.store = st
	check := func(password string) error {
		_, err := p.Check(httptest.NewRequest("GET", "/", nil), []byte("alice"), []byte(password))
		return err
	}
	st.fail.Store(true)
	if err := check("wrong"); !errors.Is(err, identity.ErrBadCredentials) {
		t.Fatalf("wrong password: %v", err)
	}
	st.fail.Store(false)
	if !p.degraded.Load() {
		t.Fatal("a failure to count a failed login did not turn throttling off")
	}
	if err := check("right"); err != nil { // no counter exists: answered from memory
		t.Fatal(err)
	}
	if p.degraded.Load() {
		t.Fatal("throttling still off after the store answered a check")
	}
}

// downCounters is a store whose failure counters are down (as a hung
// Redis is, each operation taking its time out), counting the operations
// tried.
type downCounters struct {
	store.Store
	ops atomic.Int64
}

func (d *downCounters) down() error { d.ops.Add(1); return store.ErrUnavailable }

func (d *downCounters) Failures(context.Context, string) (store.Counter, error) {
	return store.Counter{}, d.down()
}

func (d *downCounters) AddFailure(context.Context, string, time.Duration) (store.Counter, error) {
	return store.Counter{}, d.down()
}
func (d *downCounters) SetFailures(context.Context, string, store.Counter) error { return d.down() }
func (d *downCounters) ResetFailures(context.Context, string) error              { return d.down() }

// TestThrottleOutageCostsOneStoreOperation: while the store is down, a
// password check tries it once for the lockout read and, for a wrong
// password, once more to count it; no second read under the locks and no
// further counting, each of which would wait for the store again. When
// only the read fails, a wrong password is still counted under all three
// counters.
func TestThrottleOutageCostsOneStoreOperation(t *testing.T) {
	p := newTestPasswords(t, Throttle{})
	req := httptest.NewRequest("GET", "/", nil)
	healthy := p.store.(store.Store)
	down := &downCounters{Store: healthy}
	p.store = down
	for _, tc := range []struct {
		user, password string
		want           error
		ops            int64
	}{
		{"alice", "wrong", identity.ErrBadCredentials, 2},
		{"nobody", "wrong", identity.ErrBadCredentials, 2},
		{"alice", "right", nil, 1},
		{"alice", "right", nil, 1}, // cached now
	} {
		before := down.ops.Load()
		if _, err := p.Check(req, []byte(tc.user), []byte(tc.password)); !errors.Is(err, tc.want) {
			t.Fatalf("%s/%s while the store is down: %v, want %v", tc.user, tc.password, err, tc.want)
		}
		if n := down.ops.Load() - before; n != tc.ops {
			t.Errorf("%s/%s while the store is down: %d store operations, want %d", tc.user, tc.password, n, tc.ops)
		}
	}

	p.store = &failingReads{Store: healthy}
	if _, err := p.Check(req, []byte("alice"), []byte("wrong again")); !errors.Is(err, identity.ErrBadCredentials) {
		t.Fatalf("wrong password while reads fail: %v", err)
	}
	c := p.countersFor(identity.NameHash([]byte("alice")), ClientIP(req))
	for _, k := range c {
		if got, err := healthy.Failures(t.Context(), k.key); err != nil || got.Count != 1 {
			t.Errorf("counter %s after a wrong password whose read failed = %+v, %v; want 1", k.key, got, err)
		}
	}

	adds := &failingAdds{Store: healthy}
	adds.fail.Store(true)
	counted := &countingAdds{failingAdds: adds}
	p.store = counted
	if _, err := p.Check(req, []byte("alice"), []byte("wrong again")); !errors.Is(err, identity.ErrBadCredentials) {
		t.Fatalf("wrong password while counting fails: %v", err)
	}
	if n := counted.adds.Load(); n != 1 {
		t.Errorf("counting tried %d times while it fails, want 1", n)
	}
}

// countingAdds counts the AddFailure calls of a failingAdds.
type countingAdds struct {
	*failingAdds
	adds atomic.Int64
}

func (c *countingAdds) AddFailure(ctx context.Context, key string, window time.Duration) (store.Counter, error) {
	c.adds.Add(1)
	return c.failingAdds.AddFailure(ctx, key, window)
}

// hangingAdds is a store whose AddFailure waits until released and then
// fails, as a hung Redis does, counting the operations of the checks
// after the first one.
type hangingAdds struct {
	store.Store
	entered, release  chan struct{}
	ops, lockoutTests atomic.Int64
}

// NoFailures answers from the store's memory, as the store would.
func (h *hangingAdds) NoFailures(keys [3]string) bool {
	h.lockoutTests.Add(1)
	return store.NoFailures(h.Store, keys)
}

func (h *hangingAdds) AddFailure(context.Context, string, time.Duration) (store.Counter, error) {
	if h.ops.Add(1) == 1 {
		close(h.entered)
		<-h.release
	}
	return store.Counter{}, store.ErrUnavailable
}

func (h *hangingAdds) CheckFailures(ctx context.Context, keys [3]string) ([3]store.Counter, error) {
	h.ops.Add(1)
	return store.CheckFailures(ctx, h.Store, keys)
}

// TestThrottleOutageDoesNotQueueChecks: a wrong guess whose counting hangs
// holds the locks of its user and address; a check of the same user and
// address waiting for them, once the counting failed, does not try the
// store again (it would wait as long, and the next one behind it too).
func TestThrottleOutageDoesNotQueueChecks(t *testing.T) {
	p := newTestPasswords(t, Throttle{})
	h := &hangingAdds{Store: p.store.(store.Store), entered: make(chan struct{}), release: make(chan struct{})}
	p.store = h
	req := httptest.NewRequest("GET", "/", nil)
	first := make(chan error, 1)
	go func() { _, err := p.Check(req, []byte("alice"), []byte("wrong")); first <- err }()
	<-h.entered // the first guess holds the locks, counting
	second := make(chan error, 1)
	go func() { _, err := p.Check(req, []byte("alice"), []byte("wrong too")); second <- err }()
	// The first guess tested for a lockout twice (before and under the
	// locks); the second's first test is next to its wait for the locks.
	poll.Until(t, "the second guess at the locks", 5*time.Second, func() (bool, string) {
		return h.lockoutTests.Load() >= 3, fmt.Sprint(h.lockoutTests.Load(), " lockout tests")
	})
	close(h.release)
	if err := <-first; !errors.Is(err, identity.ErrBadCredentials) {
		t.Fatalf("first guess: %v", err)
	}
	if err := <-second; !errors.Is(err, identity.ErrBadCredentials) {
		t.Fatalf("the guess behind it: %v", err)
	}
	if n := h.ops.Load(); n != 1 {
		t.Errorf("%d store operations, want 1 (the first guess's count): the check behind it tried the store", n)
	}
}

// failingFor is a store whose counter calls fail for checks whose keys
// hold bad (one user's name hash): a shard of a Redis Cluster down, say.
type failingFor struct {
	store.Store
	bad string
}

func (f failingFor) hit(keys ...string) bool {
	for _, k := range keys {
		if strings.Contains(k, f.bad) {
			return true
		}
	}
	return false
}

func (f failingFor) CheckFailures(ctx context.Context, keys [3]string) ([3]store.Counter, error) {
	if f.hit(keys[:]...) {
		return [3]store.Counter{}, store.ErrUnavailable
	}
	return store.CheckFailures(ctx, f.Store, keys)
}

func (f failingFor) AddFailure(ctx context.Context, key string, window time.Duration) (store.Counter, error) {
	if f.hit(key) {
		return store.Counter{}, store.ErrUnavailable
	}
	return f.Store.AddFailure(ctx, key, window)
}

// TestThrottleFailureElsewhereKeepsLockouts: a store call that fails for
// one check (another user's keys) lifts no lockout and stops the counting
// of no other check: a locked-out user stays locked out, cached password
// included.
func TestThrottleFailureElsewhereKeepsLockouts(t *testing.T) {
	p := newTestPasswords(t, Throttle{PerUserAddress: 2, PerUser: 100, PerAddress: 1000})
	healthy := p.store.(store.Store)
	p.store = failingFor{Store: healthy, bad: identity.NameHash([]byte("mallory"))}
	from := func(addr string) *http.Request {
		r := httptest.NewRequest("GET", "/", nil)
		r.RemoteAddr = addr + ":1234"
		return r
	}
	check := func(r *http.Request, user, password string) error {
		_, err := p.Check(r, []byte(user), []byte(password))
		return err
	}
	if err := check(from("192.0.2.1"), "alice", "right"); err != nil { // cached from now on
		t.Fatal(err)
	}
	for range 2 {
		if err := check(from("192.0.2.1"), "alice", "wrong"); !errors.Is(err, identity.ErrBadCredentials) {
			t.Fatalf("wrong password: %v", err)
		}
	}
	if err := check(from("192.0.2.2"), "mallory", "guess"); !errors.Is(err, identity.ErrBadCredentials) {
		t.Fatalf("mallory, whose store calls fail: %v", err)
	}
	var rej *Rejection
	for _, password := range []string{"right", "wrong"} {
		if err := check(from("192.0.2.1"), "alice", password); !errors.As(err, &rej) || rej.StatusCode() != http.StatusTooManyRequests {
			t.Errorf("locked-out alice, %s password, after a store failure elsewhere: %v, want 429", password, err)
		}
	}
	c := p.countersFor(identity.NameHash([]byte("alice")), "192.0.2.3")
	if err := check(from("192.0.2.3"), "alice", "wrong"); !errors.Is(err, identity.ErrBadCredentials) {
		t.Fatalf("alice from another address: %v", err)
	}
	if got, err := healthy.Failures(t.Context(), c[0].key); err != nil || got.Count != 1 {
		t.Errorf("alice's guess from another address counted %+v, %v; want 1", got, err)
	}
}

// slowFirstCount is a store whose first AddFailure waits until released
// and then counts, and whose calls for keys holding bad fail (failingFor).
type slowFirstCount struct {
	failingFor
	entered, release   chan struct{}
	adds, lockoutTests atomic.Int64
}

// NoFailures answers from the store's memory, as the store would, but
// never for bad's keys (their shard is down).
func (s *slowFirstCount) NoFailures(keys [3]string) bool {
	s.lockoutTests.Add(1)
	return !s.hit(keys[:]...) && store.NoFailures(s.Store, keys)
}

func (s *slowFirstCount) AddFailure(ctx context.Context, key string, window time.Duration) (store.Counter, error) {
	if s.adds.Add(1) == 1 {
		close(s.entered)
		<-s.release
	}
	return s.failingFor.AddFailure(ctx, key, window)
}

// TestThrottleFailureElsewhereKeepsQueuedChecksCounted: while a check
// holds the locks of a user and an address (its store calls work), another
// user's check from that address fails its store read; the check waiting
// behind the first one still goes to the store and is counted (the
// attack probe saw it skip the store and a locked-out user's password
// accepted).
func TestThrottleFailureElsewhereKeepsQueuedChecksCounted(t *testing.T) {
	p := newTestPasswords(t, Throttle{PerUserAddress: 10, PerUser: 100, PerAddress: 1000})
	healthy := p.store.(store.Store)
	s := &slowFirstCount{
		failingFor: failingFor{Store: healthy, bad: identity.NameHash([]byte("mallory"))},
		entered:    make(chan struct{}), release: make(chan struct{}),
	}
	p.store = s
	req := httptest.NewRequest("GET", "/", nil)
	guess := func(user string, done chan<- error) {
		_, err := p.Check(req, []byte(user), []byte("wrong"))
		done <- err
	}
	first, second, other := make(chan error, 1), make(chan error, 1), make(chan error, 1)
	go guess("alice", first)
	<-s.entered // alice's first guess holds the locks, counting
	go guess("alice", second)
	poll.Until(t, "alice's second guess at the locks", 5*time.Second, func() (bool, string) {
		return s.lockoutTests.Load() >= 3, fmt.Sprint(s.lockoutTests.Load(), " lockout tests")
	})
	go guess("mallory", other) // its read fails, outside the locks
	if err := <-other; !errors.Is(err, identity.ErrBadCredentials) {
		t.Fatalf("mallory: %v", err)
	}
	close(s.release)
	for _, ch := range []chan error{first, second} {
		if err := <-ch; !errors.Is(err, identity.ErrBadCredentials) {
			t.Fatalf("alice's guess: %v", err)
		}
	}
	c := p.countersFor(identity.NameHash([]byte("alice")), ClientIP(req))
	if got, err := healthy.Failures(t.Context(), c[0].key); err != nil || got.Count != 2 {
		t.Errorf("alice's guesses counted %+v, %v; want 2", got, err)
	}
}

// failingLockouts is a store whose lockout writes (SetFailures) fail, as
// redis's do with wait_replicas while a replica is missing: the count is
// written, the wait for replicas fails.
type failingLockouts struct{ store.Store }

func (f failingLockouts) SetFailures(ctx context.Context, key string, c store.Counter) error {
	if err := f.Store.SetFailures(ctx, key, c); err != nil {
		return err
	}
	return store.ErrUnavailable
}

// TestThrottleCountsPastAFailedLockout: a wrong password that reaches the
// per user and address limit, whose lockout write fails, is still counted
// per user and per address.
func TestThrottleCountsPastAFailedLockout(t *testing.T) {
	p := newTestPasswords(t, Throttle{PerUserAddress: 1, PerUser: 100, PerAddress: 1000})
	healthy := p.store.(store.Store)
	p.store = failingLockouts{Store: healthy}
	req := httptest.NewRequest("GET", "/", nil)
	if _, err := p.Check(req, []byte("alice"), []byte("wrong")); !errors.Is(err, identity.ErrBadCredentials) {
		t.Fatalf("wrong password: %v", err)
	}
	for _, k := range p.countersFor(identity.NameHash([]byte("alice")), ClientIP(req)) {
		if got, err := healthy.Failures(t.Context(), k.key); err != nil || got.Count != 1 {
			t.Errorf("counter %s = %+v, %v; want 1", k.key, got, err)
		}
	}
}

// failingReads is a store whose lockout reads fail and whose writes work.
type failingReads struct{ store.Store }

func (failingReads) Failures(context.Context, string) (store.Counter, error) {
	return store.Counter{}, store.ErrUnavailable
}

// TestThrottleCountsGuessesOfClosedRequests: a client that closes its side
// of the connection gets its request's context cancelled, and Go's server
// still answers it. Its wrong guesses are counted all the same, its
// lockout applies to its right password, and none of it is taken for a
// store outage (which would turn throttling off), with a store that
// honours cancellation (bolt) as with one that does not (memory).
func TestThrottleCountsGuessesOfClosedRequests(t *testing.T) {
	for _, tc := range []struct {
		name string
		st   func(t *testing.T) testStore
	}{
		{"bolt", func(t *testing.T) testStore {
			return &store.Bolt{Path: filepath.Join(t.TempDir(), "restauth.db")}
		}},
		{"memory", func(t *testing.T) testStore {
			return &store.Memory{Name: t.Name()}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := newTestPasswordsIn(t, Throttle{PerUserAddress: 5}, tc.st(t))
			closed := func(password string) error {
				ctx, cancel := context.WithCancel(context.Background())
				cancel()
				r := httptest.NewRequest("GET", "/", nil).WithContext(ctx)
				_, err := p.Check(r, []byte("alice"), []byte(password))
				return err
			}
			// Verified and cached on a live request first.
			if _, err := p.Check(httptest.NewRequest("GET", "/", nil), []byte("alice"), []byte("right")); err != nil {
				t.Fatal(err)
			}
			for i := range 5 {
				if err := closed("wrong"); !errors.Is(err, identity.ErrBadCredentials) {
					t.Fatalf("closed guess %d: %v, want a wrong password", i+1, err)
				}
			}
			for _, pw := range []string{"wrong", "right"} {
				var rej *Rejection
				if err := closed(pw); !errors.As(err, &rej) || rej.StatusCode() != http.StatusTooManyRequests {
					t.Errorf("closed request with %q after 5 closed failures: %v, want 429", pw, err)
				}
			}
			if p.degraded.Load() {
				t.Error("a closed request was taken for a store outage: throttling is off")
			}
		})
	}
}
