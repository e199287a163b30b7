package restauth

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/caddy-restauth/caddy-restauth/authenticators"
	"github.com/caddy-restauth/caddy-restauth/identity"
	"github.com/caddy-restauth/caddy-restauth/internal/testusers"
	"github.com/caddy-restauth/caddy-restauth/store"
)

// boltTokenHandler provisions a handler with a bolt store at path and a
// token authenticator that flushes uses only every hour, and stores a
// token for alice. It returns the token's key and id.
func boltTokenHandler(tb testing.TB, path string) (*Handler, string, string) {
	return boltTokenHandlerFlushing(tb, path, "1h")
}

// boltTokenHandlerFlushing is boltTokenHandler with the given
// flush_interval.
func boltTokenHandlerFlushing(tb testing.TB, path, flushInterval string) (*Handler, string, string) {
	tb.Helper()
	h := &Handler{
		Users:    []identity.User{{Name: "alice", PasswordHash: testusers.AliceHash, Roles: []string{"editor", "member"}}},
		StoreRaw: json.RawMessage(`{"backend":"bolt","path":"` + path + `"}`),
		AuthenticatorsRaw: []json.RawMessage{
			json.RawMessage(`{"method":"token","flush_interval":"` + flushInterval + `"}`),
		},
	}
	provisionHandler(tb, h)
	issuer := h.chain[0].(*authenticators.Token)
	key, err := issuer.NewTokenKey(context.Background())
	if err != nil {
		tb.Fatal(err)
	}
	err = h.store.CreateToken(context.Background(), store.Token{
		ID: key.ID, KeyHash: key.Hash, Display: key.Display, Owner: "alice",
		Roles: []string{"editor", "member"}, Created: time.Now().UTC(), WriteEnabled: true,
	})
	if err != nil {
		tb.Fatal(err)
	}
	return h, key.Key, key.ID
}

// fileState is what changes when a file is written.
func fileState(tb testing.TB, path string) (int64, time.Time) {
	tb.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		tb.Fatal(err)
	}
	return fi.Size(), fi.ModTime()
}

// TestTokenRequestsDoNotWriteToDisk serves many token requests through
// ServeHTTP with the bolt store and checks that the database file is not
// written; the recorded use reaches the file at Cleanup.
func TestTokenRequestsDoNotWriteToDisk(t *testing.T) {
	path := filepath.Join(t.TempDir(), "t.db")
	h, key, id := boltTokenHandler(t, path)
	size, mtime := fileState(t, path)

	for i := 0; i < 1000; i++ {
		r := benchRequest(http.Header{"Authorization": {"Token " + key}})
		w := httptest.NewRecorder()
		if err := h.ServeHTTP(w, r, noopNext); err != nil || w.Code != 200 {
			t.Fatalf("request %d: status %d err %v body %s", i, w.Code, err, w.Body)
		}
	}
	if s, m := fileState(t, path); s != size || !m.Equal(mtime) {
		t.Fatalf("the database file was written on the request path (size %d→%d, mtime %v→%v)", size, s, mtime, m)
	}

	if err := h.Cleanup(); err != nil {
		t.Fatal(err)
	}
	if _, m := fileState(t, path); m.Equal(mtime) {
		t.Fatal("Cleanup did not write the recorded use")
	}
	h2, _, _ := boltTokenHandler(t, path)
	tok, err := h2.store.Token(context.Background(), id)
	if err != nil || tok.LastUsed == nil || time.Since(*tok.LastUsed) > time.Minute {
		t.Fatalf("after Cleanup, last_used = %v (err %v), want the recorded use", tok.LastUsed, err)
	}
}

// TestTokenUseIsFlushedInBackground checks that a recorded use reaches the
// store without any further request, and only once within a minute.
func TestTokenUseIsFlushedInBackground(t *testing.T) {
	path := filepath.Join(t.TempDir(), "t.db")
	h, key, id := boltTokenHandlerFlushing(t, path, "50ms")
	serve := func() {
		t.Helper()
		w := httptest.NewRecorder()
		if err := h.ServeHTTP(w, benchRequest(http.Header{"Authorization": {"Token " + key}}), noopNext); err != nil || w.Code != 200 {
			t.Fatalf("status %d err %v", w.Code, err)
		}
	}
	serve()
	deadline := time.Now().Add(10 * time.Second)
	var first time.Time
	for {
		tok, err := h.store.Token(context.Background(), id)
		if err != nil {
			t.Fatal(err)
		}
		if tok.LastUsed != nil {
			first = *tok.LastUsed
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("last_used never reached the store")
		}
		time.Sleep(20 * time.Millisecond)
	}
	// A second use within the minute is not recorded again.
	serve()
	if err := h.Cleanup(); err != nil {
		t.Fatal(err)
	}
	h2, _, _ := boltTokenHandler(t, path)
	tok, err := h2.store.Token(context.Background(), id)
	if err != nil || tok.LastUsed == nil || !tok.LastUsed.Equal(first) {
		t.Fatalf("last_used = %v (err %v), want %v: written at most once a minute", tok.LastUsed, err, first)
	}
}
