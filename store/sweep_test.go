package store

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/caddy-restauth/caddy-restauth/internal/monotonic"
	"github.com/caddy-restauth/caddy-restauth/internal/poll"
)

// fill stores one live and one soon-expired record of every kind.
func fill(t *testing.T, s interface {
	CreateToken(context.Context, Token) error
	Revoke(context.Context, string, time.Time) (bool, error)
	CreateSession(context.Context, Session) error
	AddFailure(context.Context, string, time.Duration) (Counter, error)
}, ttl time.Duration) {
	t.Helper()
	ctx := t.Context()
	now := time.Now()
	for _, r := range []struct {
		name string
		ttl  time.Duration
	}{{"live", time.Hour}, {"dying", ttl}} {
		exp := now.Add(r.ttl)
		_, revokeErr := s.Revoke(ctx, r.name, exp)
		steps := []error{
			s.CreateToken(ctx, Token{ID: r.name, KeyHash: []byte(r.name), Owner: r.name, Created: now, Expires: &exp}),
			revokeErr,
			s.CreateSession(ctx, Session{IDHash: []byte(r.name), Created: now, IdleExpires: exp, Expires: exp}),
		}
		_, err := s.AddFailure(ctx, r.name, r.ttl)
		steps = append(steps, err)
		if err := errors.Join(steps...); err != nil {
			t.Fatal(err)
		}
	}
}

// waitUntil polls cond for up to five seconds.
func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	poll.Until(t, what, 5*time.Second, poll.True(cond))
}

func TestMemorySweep(t *testing.T) {
	m := newMemoryBackend(10 * time.Millisecond)
	defer func() { _ = m.destroy() }()
	fill(t, m, 20*time.Millisecond)

	sizes := func() []int {
		m.mu.RLock()
		defer m.mu.RUnlock()
		return []int{len(m.tokens), len(m.byHash), len(m.revoked), len(m.sessions), len(m.counters)}
	}
	waitUntil(t, "the sweeper", func() bool {
		for _, n := range sizes() {
			if n != 1 {
				return false
			}
		}
		return true
	})
	if _, err := m.Token(t.Context(), "live"); err != nil {
		t.Errorf("the sweep removed a live token: %v", err)
	}
}

// bucketSizes counts the keys of every bucket holding expiring records.
func bucketSizes(t *testing.T, db *bolt.DB) map[string]int {
	t.Helper()
	sizes := make(map[string]int)
	err := db.View(func(tx *bolt.Tx) error {
		for _, name := range [][]byte{bucketTokens, bucketTokenHashes, bucketTokenOwners, bucketRevoked, bucketSessions, bucketFailures} {
			sizes[string(name)] = tx.Bucket(name).Stats().KeyN
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return sizes
}

func TestBoltSweep(t *testing.T) {
	b, err := openBolt(filepath.Join(t.TempDir(), "sweep.db"), time.Second, 10*time.Millisecond, zap.NewNop())
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = b.destroy() }()
	fill(t, b, 20*time.Millisecond)

	waitUntil(t, "the sweeper", func() bool {
		for _, n := range bucketSizes(t, b.db.Load()) {
			if n != 1 {
				return false
			}
		}
		return true
	})
	if _, err := b.Token(t.Context(), "live"); err != nil {
		t.Errorf("the sweep removed a live token: %v", err)
	}
	if _, err := b.TokenByKeyHash(t.Context(), []byte("live")); err != nil {
		t.Errorf("the sweep removed a live token's index: %v", err)
	}

	// A sweep as of later removes the rest, index entries included.
	if err := b.sweep(time.Now().Add(2 * time.Hour)); err != nil {
		t.Fatal(err)
	}
	for name, n := range bucketSizes(t, b.db.Load()) {
		if n != 0 {
			t.Errorf("bucket %s has %d keys after sweeping everything", name, n)
		}
	}
}

// TestBoltReadsDoNotWrite checks that the request path (token, revocation,
// session and counter reads, live or expired) never commits a write.
func TestBoltReadsDoNotWrite(t *testing.T) {
	b, err := openBolt(filepath.Join(t.TempDir(), "reads.db"), time.Second, time.Hour, zap.NewNop())
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = b.destroy() }()
	fill(t, b, time.Millisecond)
	waitUntil(t, "the short records to expire", func() bool {
		ok, err := b.IsRevoked(t.Context(), "dying")
		return err == nil && !ok
	})

	stats := b.db.Load().Stats()
	writes := stats.TxStats.GetWrite()
	if writes == 0 {
		t.Fatal("the writes made by fill were not counted; the check would prove nothing")
	}
	ctx := t.Context()
	for _, name := range []string{"live", "dying", "absent"} {
		_, _ = b.Token(ctx, name)
		_, _ = b.TokenByKeyHash(ctx, []byte(name))
		_, _ = b.IsRevoked(ctx, name)
		_, _ = b.Session(ctx, []byte(name))
		_, _ = b.Failures(ctx, name)
	}
	if _, err := b.Tokens(ctx, ""); err != nil {
		t.Fatal(err)
	}
	stats = b.db.Load().Stats()
	if got := stats.TxStats.GetWrite(); got != writes {
		t.Errorf("reads wrote %d pages", got-writes)
	}
}

// TestBoltLockedFile: provisioning never takes the file's lock (so
// `caddy validate` beside a running Caddy works); an operation on a file
// another process holds fails as a store outage, logged once. Operations
// that waited for the failed first try share its outcome. The file is
// tried again at most once a second, on the monotonic clock, with one try
// of the lock: the operations in between do not try, and the first one
// after it opens the file once the other process let go.
func TestBoltLockedFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "locked.db")
	other, err := bolt.Open(path, 0o600, nil) // another process, in effect
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()

	ctx, cancel := caddy.NewContext(caddy.Context{Context: context.Background()})
	defer cancel()
	b := &Bolt{Path: path, openTimeout: 200 * time.Millisecond}
	if err := b.Provision(ctx); err != nil {
		t.Fatalf("Provision of a locked file: %v", err)
	}
	defer func() { _ = b.Cleanup() }()
	core, logs := observer.New(zapcore.InfoLevel)
	b.logger = zap.New(core)
	clock := monotonic.Now()
	b.monoNow = func() monotonic.Instant { return clock }
	var tries atomic.Int64
	b.onOpenTry = func() { tries.Add(1) }
	wantUnavailable := func(what string, err error) {
		t.Helper()
		if !errors.Is(err, berrors.ErrTimeout) || !errors.Is(err, ErrUnavailable) {
			t.Errorf("%s: error = %v, want a timeout and ErrUnavailable", what, err)
		} else if want := "opening token store " + path + ": timeout"; !strings.Contains(err.Error(), want) {
			t.Errorf("%s: error = %q, want it to contain %q", what, err, want)
		}
	}

	// A burst of operations at the first use: one try, every one answered.
	errs := make(chan error, 5)
	for range cap(errs) {
		go func() { _, err := b.Token(t.Context(), "t1"); errs <- err }()
	}
	for range cap(errs) {
		wantUnavailable("an operation of the first burst", <-errs)
	}
	if n := tries.Load(); n != 1 {
		t.Errorf("the first burst tried to open the file %d times, want 1", n)
	}

	// Retries try the lock once, however long the first try may wait.
	b.timeout = time.Hour
	for i := range 3 {
		clock += monotonic.Instant(boltOpenRetry) // the next try is due
		_, err = b.Token(t.Context(), "t1")
		wantUnavailable(fmt.Sprintf("retry %d", i), err)
		_, err = b.Token(t.Context(), "t1") // not due
		wantUnavailable(fmt.Sprintf("after retry %d", i), err)
	}
	if n := tries.Load(); n != 4 {
		t.Errorf("%d tries to open the file, want 4 (the first and one a second)", n)
	}
	if errs := logs.FilterLevelExact(zapcore.ErrorLevel).Len(); errs != 1 {
		t.Errorf("%d errors logged for one outage, want 1: %v", errs, logs.All())
	}

	if err := other.Close(); err != nil {
		t.Fatal(err)
	}
	clock += monotonic.Instant(boltOpenRetry) - 1 // the next try is not due yet
	if _, err := b.Token(t.Context(), "t1"); !errors.Is(err, ErrUnavailable) {
		t.Errorf("before the next try is due: %v, want ErrUnavailable", err)
	}
	clock++
	if _, err := b.Token(t.Context(), "t1"); !errors.Is(err, ErrNotFound) {
		t.Errorf("after the lock was released: %v, want ErrNotFound", err)
	}
	if logs.FilterMessage("opened token store").Len() != 1 {
		t.Errorf("the open is not logged: %v", logs.All())
	}
}
