package store

import (
	"bytes"
	"errors"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap"
)

// openTestBolt opens a bolt backend at path (no sweeps unless a test calls
// sweep) and opens its file.
func openTestBolt(t *testing.T, path string) *boltBackend {
	t.Helper()
	b, err := openBolt(path, time.Second, time.Hour, zap.NewNop())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = b.destroy() })
	if _, err := b.database(); err != nil {
		t.Fatal(err)
	}
	return b
}

// readTxs is the number of read transactions started on b's file so far.
func readTxs(b *boltBackend) int { return b.db.Load().Stats().TxN }

// TestBoltRequestPathReadsMemory: a credential check that finds nothing
// (a JWT that was never revoked, a user without failed logins, an unknown
// session id or API token key) and a session read before open no
// transaction; a revoked
// JWT, a live counter and a new session are read from the file.
func TestBoltRequestPathReadsMemory(t *testing.T) {
	b := openTestBolt(t, filepath.Join(t.TempDir(), "mem.db"))
	ctx := t.Context()
	fill(t, b, time.Hour)

	before := readTxs(b)
	for _, absent := range []string{"never-revoked", "no-failures", "unknown-session"} {
		if revoked, err := b.IsRevoked(ctx, absent); err != nil || revoked {
			t.Fatalf("IsRevoked(%s) = %v, %v", absent, revoked, err)
		}
		if c, err := b.Failures(ctx, absent); err != nil || c.Count != 0 {
			t.Fatalf("Failures(%s) = %+v, %v", absent, c, err)
		}
		if _, err := b.Session(ctx, []byte(absent)); !errors.Is(err, ErrNotFound) {
			t.Fatalf("Session(%s): %v, want ErrNotFound", absent, err)
		}
		if _, err := b.TokenByKeyHash(ctx, []byte(absent)); !errors.Is(err, ErrNotFound) {
			t.Fatalf("TokenByKeyHash(%s): %v, want ErrNotFound", absent, err)
		}
	}
	if got := readTxs(b); got != before {
		t.Errorf("absent keys started %d read transactions, want none", got-before)
	}

	if revoked, err := b.IsRevoked(ctx, "live"); err != nil || !revoked {
		t.Fatalf("IsRevoked(live) = %v, %v", revoked, err)
	}
	if c, err := b.Failures(ctx, "live"); err != nil || c.Count != 1 {
		t.Fatalf("Failures(live) = %+v, %v", c, err)
	}
	if _, err := b.Session(ctx, []byte("live")); err != nil {
		t.Fatal(err)
	}
	afterFirst := readTxs(b)
	if afterFirst != before+3 {
		t.Errorf("present keys started %d read transactions, want 3", afterFirst-before)
	}
	s, err := b.Session(ctx, []byte("live"))
	if err != nil || !bytes.Equal(s.IDHash, []byte("live")) {
		t.Fatalf("cached Session(live) = %+v, %v", s, err)
	}
	if got := readTxs(b); got != afterFirst {
		t.Errorf("a session read before started %d read transactions, want none", got-afterFirst)
	}
}

// TestBoltMemoryAfterReopen: what the file holds is known again after a
// restart (the presence sets are filled when the file is opened).
func TestBoltMemoryAfterReopen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "reopen.db")
	first, err := openBolt(path, time.Second, time.Hour, zap.NewNop())
	if err != nil {
		t.Fatal(err)
	}
	fill(t, first, time.Hour)
	if err := first.destroy(); err != nil {
		t.Fatal(err)
	}

	b := openTestBolt(t, path)
	ctx := t.Context()
	for _, name := range []string{"live", "dying"} {
		if revoked, err := b.IsRevoked(ctx, name); err != nil || !revoked {
			t.Errorf("IsRevoked(%s) after reopening = %v, %v", name, revoked, err)
		}
		if c, err := b.Failures(ctx, name); err != nil || c.Count != 1 {
			t.Errorf("Failures(%s) after reopening = %+v, %v", name, c, err)
		}
		if _, err := b.Session(ctx, []byte(name)); err != nil {
			t.Errorf("Session(%s) after reopening: %v", name, err)
		}
	}
}

// TestBoltMemoryFollowsWrites: every write that ends or changes a record
// is seen by the next read, and deleted keys leave the presence sets.
func TestBoltMemoryFollowsWrites(t *testing.T) {
	b := openTestBolt(t, filepath.Join(t.TempDir(), "writes.db"))
	ctx := t.Context()
	now := time.Now()
	sess := func(id, user string) Session {
		return Session{IDHash: []byte(id), User: user, CSRFHash: []byte("csrf-" + id), Created: now,
			IdleExpires: now.Add(time.Hour), Expires: now.Add(2 * time.Hour)}
	}
	for _, s := range []Session{sess("a", "alice"), sess("b", "bob"), sess("c", "alice")} {
		if err := b.CreateSession(ctx, s); err != nil {
			t.Fatal(err)
		}
		if _, err := b.Session(ctx, s.IDHash); err != nil { // now cached
			t.Fatal(err)
		}
	}

	updated := sess("a", "alice")
	updated.IdleExpires = now.Add(90 * time.Minute)
	if err := b.UpdateSession(ctx, updated); err != nil {
		t.Fatal(err)
	}
	if got, err := b.Session(ctx, []byte("a")); err != nil || !got.IdleExpires.Equal(updated.IdleExpires) {
		t.Errorf("after UpdateSession: %+v, %v; want the new idle expiry", got, err)
	}
	if err := b.DeleteSession(ctx, []byte("b")); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Session(ctx, []byte("b")); !errors.Is(err, ErrNotFound) {
		t.Errorf("after DeleteSession: %v, want ErrNotFound", err)
	}
	if n, err := b.DeleteUserSessions(ctx, "alice"); err != nil || n != 2 {
		t.Fatalf("DeleteUserSessions = %d, %v", n, err)
	}
	for _, id := range []string{"a", "c"} {
		if _, err := b.Session(ctx, []byte(id)); !errors.Is(err, ErrNotFound) {
			t.Errorf("session %s after DeleteUserSessions: %v, want ErrNotFound", id, err)
		}
	}
	if n := b.mem.sessions.len(); n != 0 {
		t.Errorf("%d session keys left in memory after every session was deleted", n)
	}

	if _, err := b.AddFailure(ctx, "k", time.Hour); err != nil {
		t.Fatal(err)
	}
	if err := b.ResetFailures(ctx, "k"); err != nil {
		t.Fatal(err)
	}
	if c, err := b.Failures(ctx, "k"); err != nil || c.Count != 0 {
		t.Errorf("Failures after ResetFailures = %+v, %v", c, err)
	}
	if err := b.SetFailures(ctx, "k", Counter{Count: 7, Expires: now.Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	if c, err := b.Failures(ctx, "k"); err != nil || c.Count != 7 {
		t.Errorf("Failures after SetFailures = %+v, %v", c, err)
	}

	// A deleted token's key hash leaves memory; a new one is found.
	tok := Token{ID: "t", KeyHash: []byte("key-hash"), Owner: "alice", Created: now}
	if err := b.CreateToken(ctx, tok); err != nil {
		t.Fatal(err)
	}
	if _, err := b.TokenByKeyHash(ctx, tok.KeyHash); err != nil {
		t.Fatalf("TokenByKeyHash of a new token: %v", err)
	}
	if err := b.DeleteToken(ctx, tok.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := b.TokenByKeyHash(ctx, tok.KeyHash); !errors.Is(err, ErrNotFound) {
		t.Errorf("TokenByKeyHash of a deleted token: %v, want ErrNotFound", err)
	}
	if n := b.mem.keyHashes.len(); n != 0 {
		t.Errorf("%d token key hashes left in memory after the only token was deleted", n)
	}

	// The sweep deletes expired records and their keys in memory.
	fill(t, b, time.Minute)
	if _, err := b.Session(ctx, []byte("live")); err != nil { // cached
		t.Fatal(err)
	}
	if err := b.sweep(now.Add(3 * time.Hour)); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Session(ctx, []byte("live")); !errors.Is(err, ErrNotFound) {
		t.Errorf("a swept session is still found: %v", err)
	}
	for name, set := range map[string]*presence{"revoked": b.mem.revoked, "failures": b.mem.failures, "sessions": b.mem.sessions, "token key hashes": b.mem.keyHashes} {
		if n := set.len(); n != 0 {
			t.Errorf("%d %s keys left in memory after sweeping everything", n, name)
		}
	}
}

// TestBoltSessionCacheRace: a session read racing its deletion never
// leaves the deleted session readable once DeleteSession has returned,
// and a revocation is seen by every check that starts after Revoke
// returned.
func TestBoltSessionCacheRace(t *testing.T) {
	b := openTestBolt(t, filepath.Join(t.TempDir(), "race.db"))
	ctx := t.Context()
	now := time.Now()
	for round := range 50 {
		id := []byte{byte(round), 'x'}
		jti := string(id)
		s := Session{IDHash: id, User: "alice", Created: now, IdleExpires: now.Add(time.Hour), Expires: now.Add(time.Hour)}
		if err := b.CreateSession(ctx, s); err != nil {
			t.Fatal(err)
		}
		stop := make(chan struct{})
		var wg sync.WaitGroup
		for range 4 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					select {
					case <-stop:
						return
					default:
						_, _ = b.Session(ctx, id)
						_, _ = b.IsRevoked(ctx, jti)
					}
				}
			}()
		}
		if err := b.DeleteSession(ctx, id); err != nil {
			t.Fatal(err)
		}
		if _, err := b.Revoke(ctx, jti, now.Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
		for range 20 {
			if _, err := b.Session(ctx, id); !errors.Is(err, ErrNotFound) {
				t.Fatalf("round %d: deleted session read back: %v", round, err)
			}
			if revoked, err := b.IsRevoked(ctx, jti); err != nil || !revoked {
				t.Fatalf("round %d: IsRevoked after Revoke = %v, %v", round, revoked, err)
			}
		}
		close(stop)
		wg.Wait()
		if _, err := b.Session(ctx, id); !errors.Is(err, ErrNotFound) {
			t.Fatalf("round %d: deleted session cached by a racing read: %v", round, err)
		}
	}
}
