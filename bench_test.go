package restauth

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"

	"github.com/caddy-restauth/caddy-restauth/identity"
)

// noopNext is the next handler of the benchmarks: it does nothing.
var noopNext = caddyhttp.HandlerFunc(func(http.ResponseWriter, *http.Request) error { return nil })

// provisionHandler builds a Handler outside a server, as Caddy would.
func provisionHandler(b testing.TB, h *Handler) {
	b.Helper()
	ctx, cancel := caddy.NewContext(caddy.Context{Context: context.Background()})
	b.Cleanup(func() {
		cancel()
		_ = h.Cleanup()
	})
	if h.StoreRaw == nil {
		h.StoreRaw = json.RawMessage(`{"backend":"memory","name":"` + b.Name() + `"}`)
	}
	if err := h.Provision(ctx); err != nil {
		b.Fatal(err)
	}
	if err := h.Validate(); err != nil {
		b.Fatal(err)
	}
}

// benchRequest is a request as Caddy hands it to a handler: with a replacer
// and the vars map in its context.
func benchRequest(header http.Header) *http.Request {
	r := httptest.NewRequest("GET", "/api/items", nil)
	repl := caddy.NewReplacer()
	ctx := context.WithValue(r.Context(), caddy.ReplacerCtxKey, repl)
	ctx = context.WithValue(ctx, caddyhttp.VarsCtxKey, map[string]any{})
	r = r.WithContext(ctx)
	for k, v := range header {
		r.Header[k] = v
	}
	return r
}

// serveLoop runs ServeHTTP b.N times, restoring the credential header that
// the handler removes before the request goes upstream.
func serveLoop(b *testing.B, h *Handler, name string, value []string) {
	r := benchRequest(http.Header{name: value})
	w := httptest.NewRecorder()
	if err := h.ServeHTTP(w, r, noopNext); err != nil || w.Code != 200 {
		b.Fatalf("warm-up: status %d err %v body %s", w.Code, err, w.Body)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		r.Header[name] = value
		if err := h.ServeHTTP(w, r, noopNext); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkBasicCached is a request with Basic credentials whose password
// was verified before (no hashing), through ServeHTTP with a no-op next.
func BenchmarkBasicCached(b *testing.B) {
	h := &Handler{Users: []identity.User{{Name: "alice", PasswordHash: aliceHash, Roles: []string{"editor", "member"}}}}
	provisionHandler(b, h)
	serveLoop(b, h, "Authorization", []string{basicHeader("alice", alicePassword)})
}

// BenchmarkAnonymousRead is an anonymous GET allowed by `anonymous read`:
// the cost of having the handler in front of a public route.
func BenchmarkAnonymousRead(b *testing.B) {
	h := &Handler{Anonymous: "read"}
	provisionHandler(b, h)
	serveLoop(b, h, "Accept", []string{"application/json"})
}

// BenchmarkTokenValid is a request with a valid API token (`Authorization:
// Token rat_...`) through ServeHTTP with the bolt store: key hashing, the
// cached token record, identity headers and placeholders. It fails if the
// database file is written while it runs (last_used is recorded in memory
// and flushed off the request path).
func BenchmarkTokenValid(b *testing.B) {
	path := filepath.Join(b.TempDir(), "t.db")
	h, key, _ := boltTokenHandler(b, path)
	size, mtime := fileState(b, path)
	serveLoop(b, h, "Authorization", []string{"Token " + key})
	b.StopTimer()
	if s, m := fileState(b, path); s != size || !m.Equal(mtime) {
		b.Fatal("the database file was written on the request path")
	}
}
