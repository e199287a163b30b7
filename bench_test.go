package restauth

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"
	"unsafe"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"

	"github.com/caddy-restauth/caddy-restauth/authenticators"
	"github.com/caddy-restauth/caddy-restauth/identity"
	"github.com/caddy-restauth/caddy-restauth/internal/redistest"
	"github.com/caddy-restauth/caddy-restauth/internal/testusers"
	"github.com/caddy-restauth/caddy-restauth/store"
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

// benchRequest is a request as Caddy hands it to a handler: with the vars
// map in its context holding the client address Caddy's server resolved
// (as its prepareRequest does), a replacer that knows the HTTP
// placeholders, and the headers an API client sends besides its
// credential (curl's and Go's together), which the handler walks for
// spoofed identity headers.
func benchRequest(header http.Header) *http.Request {
	r := httptest.NewRequest("GET", "/api/items", nil)
	host, _, _ := net.SplitHostPort(r.RemoteAddr)
	r = r.WithContext(context.WithValue(r.Context(), caddyhttp.VarsCtxKey, map[string]any{
		caddyhttp.TrustedProxyVarKey: false,
		caddyhttp.ClientIPVarKey:     host,
	}))
	caddyhttp.NewTestReplacer(r)
	r.Header.Set("User-Agent", "curl/8.14.1")
	r.Header.Set("Accept", "application/json")
	r.Header.Set("Accept-Encoding", "gzip")
	for k, v := range header {
		r.Header[k] = v
	}
	return r
}

// renewer returns what makes r a new request again for the next iteration
// of a benchmark: without the identity var a previous rest_auth block
// leaves, without the identity headers it set for the upstream (a
// client's request does not carry them; spoofed copies have their own
// test), and with the replacer as Caddy's server hands it over, without
// the lookup an authenticated request adds to it (see publishIdentity).
// The replacer's lookups are unexported; reaching them here saves
// counting a new replacer's five allocations against every request.
// Call it before r is first served.
func renewer(tb testing.TB, r *http.Request) func() {
	tb.Helper()
	own := make(map[string]bool, len(r.Header))
	for name := range r.Header {
		own[name] = true
	}
	var added []string // the headers the first serving added
	addedKnown, calls := false, 0
	vars := r.Context().Value(caddyhttp.VarsCtxKey).(map[string]any)
	repl := r.Context().Value(caddy.ReplacerCtxKey).(*caddy.Replacer)
	f := reflect.ValueOf(repl).Elem().FieldByName("providers")
	if f.Kind() != reflect.Slice {
		tb.Fatal("caddy.Replacer has no providers slice any more: update renewer")
	}
	providers := (*struct {
		data     unsafe.Pointer
		len, cap int
	})(unsafe.Pointer(f.UnsafeAddr()))
	n := providers.len
	return func() {
		// Known once r was served: at the first call if that follows a
		// serving (it left an identity), at the second one otherwise.
		calls++
		if !addedKnown && (calls == 2 || vars[identityVar] != nil) {
			for name := range r.Header {
				if !own[name] {
					added = append(added, name)
				}
			}
			addedKnown = true
		}
		for _, name := range added {
			delete(r.Header, name)
		}
		delete(vars, identityVar)
		providers.len = n
	}
}

// assertNoWrites fails the benchmark if the bolt file at path changed
// while fn ran: the hot path must not write to disk.
func assertNoWrites(b *testing.B, path string, fn func()) {
	b.Helper()
	before, err := os.Stat(path)
	if err != nil {
		b.Fatal(err)
	}
	fn()
	after, err := os.Stat(path)
	if err != nil {
		b.Fatal(err)
	}
	if !after.ModTime().Equal(before.ModTime()) || after.Size() != before.Size() {
		b.Fatalf("the store file was written during the benchmark (%v → %v)", before.ModTime(), after.ModTime())
	}
}

// serveOnce sends one request with the header through ServeHTTP and
// requires a 200: a warm-up (it also opens a bolt file, which the store
// opens on first use).
func serveOnce(b *testing.B, h *Handler, name string, value []string) {
	b.Helper()
	serve(b, h, benchRequest(http.Header{name: value}))
}

// serve sends r through ServeHTTP and requires a 200.
func serve(b *testing.B, h *Handler, r *http.Request) {
	b.Helper()
	w := httptest.NewRecorder()
	if err := h.ServeHTTP(w, r, noopNext); err != nil || w.Code != 200 {
		b.Fatalf("warm-up: status %d err %v body %s", w.Code, err, w.Body)
	}
}

// serveLoop runs ServeHTTP b.N times, restoring the credential header that
// the handler removes before the request goes upstream.
func serveLoop(b *testing.B, h *Handler, name string, value []string) {
	r := benchRequest(http.Header{name: value})
	renew := renewer(b, r)
	serve(b, h, r)
	w := httptest.NewRecorder()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		renew()
		r.Header[name] = value
		if err := h.ServeHTTP(w, r, noopNext); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkBasicCached is a request with Basic credentials whose password
// was verified before (no hashing), through ServeHTTP with a no-op next,
// with the default store (bolt): the three failure counters are checked
// without a read transaction, since none exists.
func BenchmarkBasicCached(b *testing.B) {
	dbPath := filepath.Join(b.TempDir(), "bench.db")
	h := &Handler{
		Users:    []identity.User{{Name: "alice", PasswordHash: testusers.AliceHash, Roles: []string{"editor", "member"}}},
		StoreRaw: json.RawMessage(`{"backend":"bolt","path":"` + dbPath + `"}`),
	}
	provisionHandler(b, h)
	basic := []string{testusers.BasicHeader("alice", testusers.AlicePassword)}
	serveOnce(b, h, "Authorization", basic)
	assertNoWrites(b, dbPath, func() { serveLoop(b, h, "Authorization", basic) })
}

// BenchmarkAnonymousRead is an anonymous GET allowed by `anonymous read`:
// the cost of having the handler in front of a public route.
func BenchmarkAnonymousRead(b *testing.B) {
	h := &Handler{Anonymous: "read"}
	provisionHandler(b, h)
	serveLoop(b, h, "Accept", []string{"application/json"})
}

// BenchmarkJWTValid is a request with a valid HS256 token through ServeHTTP
// with revocation on and the bolt store (the revocation check is a read
// transaction; nothing is written).
func BenchmarkJWTValid(b *testing.B) {
	dbPath := filepath.Join(b.TempDir(), "bench.db")
	h := &Handler{
		Users:             []identity.User{{Name: "alice", PasswordHash: testusers.AliceHash, Roles: []string{"editor", "member"}}},
		AuthenticatorsRaw: []json.RawMessage{json.RawMessage(`{"method":"jwt","keys":[{"algorithm":"hs256","secret":"0123456789abcdef0123456789abcdef-bench"}]}`)},
		StoreRaw:          json.RawMessage(`{"backend":"bolt","path":"` + dbPath + `"}`),
	}
	provisionHandler(b, h)
	acct, _ := h.users.Lookup("alice")
	token, _, err := h.endpoints.JWT().Issue(b.Context(), acct)
	if err != nil {
		b.Fatal(err)
	}
	serveOnce(b, h, "Authorization", []string{"Bearer " + token})
	assertNoWrites(b, dbPath, func() { serveLoop(b, h, "Authorization", []string{"Bearer " + token}) })
}

// BenchmarkSessionValid is a GET with a valid session cookie through
// ServeHTTP with the bolt store: one read transaction, no write.
func BenchmarkSessionValid(b *testing.B) {
	dbPath := filepath.Join(b.TempDir(), "bench.db")
	h := &Handler{
		Users:             []identity.User{{Name: "alice", PasswordHash: testusers.AliceHash, Roles: []string{"editor", "member"}}},
		AuthenticatorsRaw: []json.RawMessage{json.RawMessage(`{"method":"session"}`)},
		StoreRaw:          json.RawMessage(`{"backend":"bolt","path":"` + dbPath + `"}`),
	}
	provisionHandler(b, h)
	sid := benchSession(b, h)
	assertNoWrites(b, dbPath, func() { serveLoop(b, h, "Cookie", []string{"sessionid=" + sid}) })
}

// benchSession logs alice in through the handler's session authenticator
// and returns the session id.
func benchSession(b *testing.B, h *Handler) string {
	b.Helper()
	login := httptest.NewRecorder()
	acct, _ := h.users.Lookup("alice")
	if err := h.endpoints.Sessions().Start(login, httptest.NewRequest("POST", "/@session", nil), acct); err != nil {
		b.Fatal(err)
	}
	for _, c := range login.Result().Cookies() {
		if c.Name == "sessionid" {
			return c.Value
		}
	}
	b.Fatal("no session cookie")
	return ""
}

// wrongPasswordLoop sends a wrong Basic password b.N times and expects
// status each time.
func wrongPasswordLoop(b *testing.B, h *Handler, status int) {
	r := benchRequest(nil)
	renew := renewer(b, r)
	wrong := []string{testusers.BasicHeader("alice", "wrong")}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		renew()
		r.Header["Authorization"] = wrong
		w := httptest.NewRecorder()
		if err := h.ServeHTTP(w, r, noopNext); err != nil || w.Code != status {
			b.Fatalf("status %d, want %d", w.Code, status)
		}
	}
}

// BenchmarkWrongPasswordUnthrottled is the cost of checking a wrong
// password (bcrypt cost 10): what every throttled attempt saves.
func BenchmarkWrongPasswordUnthrottled(b *testing.B) {
	h := &Handler{
		Users:    []identity.User{{Name: "alice", PasswordHash: testusers.AliceHash}},
		Throttle: &authenticators.Throttle{Off: true},
	}
	provisionHandler(b, h)
	wrongPasswordLoop(b, h, http.StatusUnauthorized)
}

// BenchmarkThrottledAttempt is a wrong password for a locked-out user: 429
// without any password hashing.
func BenchmarkThrottledAttempt(b *testing.B) {
	h := &Handler{Users: []identity.User{{Name: "alice", PasswordHash: testusers.AliceHash}}}
	provisionHandler(b, h)
	for i := 0; i < 5; i++ { // reach the limit
		r := benchRequest(http.Header{"Authorization": {testusers.BasicHeader("alice", "wrong")}})
		h.ServeHTTP(httptest.NewRecorder(), r, noopNext)
	}
	wrongPasswordLoop(b, h, http.StatusTooManyRequests)
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

// BenchmarkTokenBogus is a request with a well-formed API token key that
// names no token (bolt store): the key is hashed, the hash is not among the
// stored ones (known in memory: no read transaction), 401.
func BenchmarkTokenBogus(b *testing.B) {
	h, key, _ := boltTokenHandler(b, filepath.Join(b.TempDir(), "t.db"))
	atDefaultLogLevel(h)
	bogus := key[:len(key)-4] + "AAAA"
	headerLoop(b, h, "Authorization", [][]string{{"Token " + bogus}}, http.StatusUnauthorized)
}

// BenchmarkSessionUnknown is a request with a session cookie that names
// no session (bolt store): the id is hashed, the hash is not among the
// stored ones (no read transaction), 401 with the cookies expired.
func BenchmarkSessionUnknown(b *testing.B) {
	h := &Handler{
		Users:             []identity.User{{Name: "alice", PasswordHash: testusers.AliceHash, Roles: []string{"editor", "member"}}},
		AuthenticatorsRaw: []json.RawMessage{json.RawMessage(`{"method":"session"}`)},
		StoreRaw:          json.RawMessage(`{"backend":"bolt","path":"` + filepath.Join(b.TempDir(), "bench.db") + `"}`),
	}
	provisionHandler(b, h)
	atDefaultLogLevel(h)
	benchSession(b, h) // a real session exists; the cookie names another
	headerLoop(b, h, "Cookie", [][]string{{"sessionid=0123456789abcdefghijklmnopqrstuvwxyzABCDEFG"}}, http.StatusUnauthorized)
}

// redisStoreRaw is the JSON of a redis store on srv.
func redisStoreRaw(srv *redistest.Server) json.RawMessage {
	return json.RawMessage(`{"backend":"redis","address":"` + srv.Addr() + `"}`)
}

// warmRedisCache gives the redis store's invalidation subscription time to
// come up, so that the measured loop sees the steady state.
func warmRedisCache(b *testing.B, fn func()) {
	b.Helper()
	deadline := time.Now().Add(2 * time.Second)
	for time.Now().Before(deadline) {
		fn()
		time.Sleep(10 * time.Millisecond)
	}
}

// BenchmarkTokenValidRedis is BenchmarkTokenValid with the redis store:
// the token record comes from the authenticator's cache, re-read every
// 800 ms from the redis store's local cache.
func BenchmarkTokenValidRedis(b *testing.B) {
	srv := redistest.Start(b)
	h := &Handler{
		Users:    []identity.User{{Name: "alice", PasswordHash: testusers.AliceHash, Roles: []string{"editor", "member"}}},
		StoreRaw: redisStoreRaw(srv),
		AuthenticatorsRaw: []json.RawMessage{
			json.RawMessage(`{"method":"token","flush_interval":"1h"}`),
		},
	}
	provisionHandler(b, h)
	key, err := h.chain[0].(*authenticators.Token).NewTokenKey(context.Background())
	if err != nil {
		b.Fatal(err)
	}
	err = h.store.CreateToken(context.Background(), store.Token{
		ID: key.ID, KeyHash: key.Hash, Display: key.Display, Owner: "alice",
		Roles: []string{"editor", "member"}, Created: time.Now().UTC(), WriteEnabled: true,
	})
	if err != nil {
		b.Fatal(err)
	}
	warmRedisCache(b, func() { _, _ = h.store.TokenByKeyHash(context.Background(), key.Hash) })
	serveLoop(b, h, "Authorization", []string{"Token " + key.Key})
}

// BenchmarkBasicCachedRedis is BenchmarkBasicCached with the redis
// store: the three failure counters come from the store's local cache.
func BenchmarkBasicCachedRedis(b *testing.B) {
	srv := redistest.Start(b)
	h := &Handler{
		Users:    []identity.User{{Name: "alice", PasswordHash: testusers.AliceHash, Roles: []string{"editor", "member"}}},
		StoreRaw: redisStoreRaw(srv),
	}
	provisionHandler(b, h)
	basic := []string{testusers.BasicHeader("alice", testusers.AlicePassword)}
	serveOnce(b, h, "Authorization", basic)
	warmRedisCache(b, func() { serveOnce(b, h, "Authorization", basic) })
	serveLoop(b, h, "Authorization", basic)
}

// BenchmarkJWTValidRedis is BenchmarkJWTValid with the redis store: the
// revocation check is answered by the store's local cache.
func BenchmarkJWTValidRedis(b *testing.B) {
	srv := redistest.Start(b)
	h := &Handler{
		Users:             []identity.User{{Name: "alice", PasswordHash: testusers.AliceHash, Roles: []string{"editor", "member"}}},
		AuthenticatorsRaw: []json.RawMessage{json.RawMessage(`{"method":"jwt","keys":[{"algorithm":"hs256","secret":"0123456789abcdef0123456789abcdef-bench"}]}`)},
		StoreRaw:          redisStoreRaw(srv),
	}
	provisionHandler(b, h)
	acct, _ := h.users.Lookup("alice")
	token, _, err := h.endpoints.JWT().Issue(context.Background(), acct)
	if err != nil {
		b.Fatal(err)
	}
	warmRedisCache(b, func() {})
	serveLoop(b, h, "Authorization", []string{"Bearer " + token})
}

// BenchmarkSessionValidRedis is BenchmarkSessionValid with the redis
// store: the session comes from the store's local cache.
func BenchmarkSessionValidRedis(b *testing.B) {
	srv := redistest.Start(b)
	h := &Handler{
		Users:             []identity.User{{Name: "alice", PasswordHash: testusers.AliceHash, Roles: []string{"editor", "member"}}},
		AuthenticatorsRaw: []json.RawMessage{json.RawMessage(`{"method":"session"}`)},
		StoreRaw:          redisStoreRaw(srv),
	}
	provisionHandler(b, h)
	sid := benchSession(b, h)
	warmRedisCache(b, func() {})
	serveLoop(b, h, "Cookie", []string{"sessionid=" + sid})
}
