package authenticators

import (
	"context"
	"crypto/tls"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/caddy-restauth/caddy-restauth/store"
)

// The fixed session of FuzzSessionCookie: ids are random in real use, fixed
// here so the seed corpus carries the valid cookie.
const (
	fuzzSessionID = "fuzz-session-id-0123456789abcdefghijklmnopq"
	fuzzCSRFToken = "fuzz-csrf-token-0123456789abcdefghijklmnopq"
)

// FuzzSessionCookie fuzzes the Cookie header, the X-CSRFToken header, the
// Origin header, the method (safe or not) and the transport (TLS or not)
// of a request to the session authenticator, with one live session of
// alice in the store. Invariants: an identity needs the real session id in
// the Cookie header; an unsafe method also needs exactly the real CSRF
// token and, over TLS, this site's Origin; anything else is absent or a
// rejection.
func FuzzSessionCookie(f *testing.F) {
	env := testEnv(f)
	s := &Session{}
	if err := s.Validate(); err != nil {
		f.Fatal(err)
	}
	bind(f, env, s)
	h, err := s.hasher.get(context.Background())
	if err != nil {
		f.Fatal(err)
	}
	now := time.Now()
	err = env.Store.CreateSession(context.Background(), store.Session{
		IDHash: h.hash(fuzzSessionID), User: fuzzUser, CSRFHash: h.hash(fuzzCSRFToken),
		Created: now, IdleExpires: now.Add(24 * time.Hour), Expires: now.Add(24 * time.Hour),
	})
	if err != nil {
		f.Fatal(err)
	}
	valid := "sessionid=" + fuzzSessionID + "; csrftoken=" + fuzzCSRFToken
	f.Add(valid, "", "", false, false)
	f.Add(valid, fuzzCSRFToken, "", true, false)
	f.Add(valid, fuzzCSRFToken, "https://example.com", true, true)
	f.Add(valid, fuzzCSRFToken, "https://evil.example", true, true)
	f.Add(valid, fuzzSessionID, "", true, false)
	f.Add(`sessionid="`+fuzzSessionID+`"`, "", "", false, false)
	f.Add("sessionid=; csrftoken=x", "x", "", true, false)
	f.Add("other=1;sessionid="+fuzzSessionID+"x", "", "", false, false)
	f.Fuzz(func(t *testing.T, cookie, csrf, origin string, unsafe, overTLS bool) {
		method := http.MethodGet
		if unsafe {
			method = http.MethodPost
		}
		r := httptest.NewRequest(method, "/", nil)
		r.Header["Cookie"] = []string{cookie}
		if csrf != "" {
			r.Header["X-Csrftoken"] = []string{csrf}
		}
		if origin != "" {
			r.Header["Origin"] = []string{origin}
		}
		if !overTLS {
			r.TLS = nil
		} else if r.TLS == nil {
			r.TLS = &tls.ConnectionState{}
		}
		id, err := s.Authenticate(r)
		checkOutcome(t, id, err)
		if id == nil {
			return
		}
		if !strings.Contains(cookie, fuzzSessionID) {
			t.Fatalf("cookie %q authenticated", cookie)
		}
		if unsafe && csrf != fuzzCSRFToken {
			t.Fatalf("a write with CSRF token %q authenticated", csrf)
		}
		if unsafe && overTLS && !strings.EqualFold(origin, "https://example.com") {
			t.Fatalf("a write over TLS from origin %q authenticated", origin)
		}
		checkAlice(t, id, "session")
	})
}
