package store_test

import (
	"testing"
	"time"

	"github.com/caddy-restauth/caddy-restauth/internal/redistest"
	"github.com/caddy-restauth/caddy-restauth/store"
)

// TestSizes: every backend counts the tokens and sessions it holds, and
// drops a deleted one from the count.
func TestSizes(t *testing.T) {
	backends := map[string]store.Store{
		"memory":  provision(t, &store.Memory{Name: t.Name()}),
		"bolt":    provision(t, &store.Bolt{Path: t.TempDir() + "/sizes.db"}),
		"redis":   provision(t, &store.Redis{Address: redistest.Start(t).Addr()}),
		"cluster": provision(t, &store.Redis{Cluster: redistest.StartCluster(t).Addrs()}),
	}
	for name, st := range backends {
		t.Run(name, func(t *testing.T) {
			t.Cleanup(func() { _ = st.Close() })
			ctx := t.Context()
			now := time.Now()
			for i, id := range []string{"t1", "t2", "t3"} {
				if err := st.CreateToken(ctx, store.Token{ID: id, KeyHash: []byte{byte(i), 'k'}, Owner: "alice", Created: now}); err != nil {
					t.Fatal(err)
				}
			}
			for i := range 5 {
				s := store.Session{IDHash: []byte{byte(i), 's'}, User: "alice", Created: now, IdleExpires: now.Add(time.Hour), Expires: now.Add(time.Hour)}
				if err := st.CreateSession(ctx, s); err != nil {
					t.Fatal(err)
				}
			}
			if err := st.DeleteToken(ctx, "t2"); err != nil {
				t.Fatal(err)
			}
			if err := st.DeleteSession(ctx, []byte{0, 's'}); err != nil {
				t.Fatal(err)
			}
			tokens, sessions, err := st.(store.Sizes).Sizes(ctx)
			if err != nil || tokens != 2 || sessions != 4 {
				t.Fatalf("Sizes = %d tokens, %d sessions, %v; want 2, 4", tokens, sessions, err)
			}
		})
	}
}
