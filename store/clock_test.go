package store

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"go.uber.org/zap"
)

// TestBackendClock: the memory and bolt backends decide expiry by their
// clock, so a test moves time instead of waiting for a record to expire.
func TestBackendClock(t *testing.T) {
	backends := []struct {
		name string
		open func(t *testing.T) (Store, *func() time.Time)
	}{
		{"memory", func(t *testing.T) (Store, *func() time.Time) {
			m := newMemoryBackend(time.Hour)
			t.Cleanup(func() { _ = m.destroy() })
			return unclosed{m}, &m.now
		}},
		{"bolt", func(t *testing.T) (Store, *func() time.Time) {
			b, err := openBolt(filepath.Join(t.TempDir(), "clock.db"), time.Second, time.Hour, zap.NewNop())
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = b.destroy() })
			return unclosed{b}, &b.now
		}},
	}
	for _, be := range backends {
		t.Run(be.name, func(t *testing.T) {
			ctx := context.Background()
			st, clock := be.open(t)
			start := time.Now()
			now := start
			*clock = func() time.Time { return now }

			exp := start.Add(time.Minute)
			must := func(err error) {
				t.Helper()
				if err != nil {
					t.Fatal(err)
				}
			}
			must(st.CreateToken(ctx, Token{ID: "t1", KeyHash: []byte("h1"), Owner: "alice", Created: start, Expires: &exp}))
			must(st.CreateSession(ctx, Session{IDHash: []byte("s1"), User: "alice", Created: start, IdleExpires: exp, Expires: exp}))
			if ok, err := st.Revoke(ctx, "jti", exp); !ok || err != nil {
				t.Fatalf("Revoke: %v, %v", ok, err)
			}
			if _, err := st.AddFailure(ctx, "k", time.Minute); err != nil {
				t.Fatal(err)
			}

			now = start.Add(time.Minute - time.Second)
			if _, err := st.Token(ctx, "t1"); err != nil {
				t.Errorf("token before its expiry: %v", err)
			}
			if _, err := st.Session(ctx, []byte("s1")); err != nil {
				t.Errorf("session before its expiry: %v", err)
			}
			if revoked, _ := st.IsRevoked(ctx, "jti"); !revoked {
				t.Error("revocation gone before its end")
			}
			if c, _ := st.Failures(ctx, "k"); c.Count != 1 {
				t.Errorf("counter before its expiry: %d", c.Count)
			}

			now = start.Add(time.Minute)
			if _, err := st.Token(ctx, "t1"); !errors.Is(err, ErrNotFound) {
				t.Errorf("token at its expiry: %v, want ErrNotFound", err)
			}
			if _, err := st.Session(ctx, []byte("s1")); !errors.Is(err, ErrNotFound) {
				t.Errorf("session at its expiry: %v, want ErrNotFound", err)
			}
			if revoked, _ := st.IsRevoked(ctx, "jti"); revoked {
				t.Error("revocation outlived its end")
			}
			if c, _ := st.Failures(ctx, "k"); c.Count != 0 {
				t.Errorf("counter at its expiry: %d", c.Count)
			}
		})
	}
}

// unclosed is a backend as a Store; the test's cleanup destroys it.
type unclosed struct{ backendOps }

func (unclosed) Close() error { return nil }

// backendOps is every Store method but Close.
type backendOps interface {
	TokenStore
	SessionStore
	Revocations
	Counters
	Secrets
}
