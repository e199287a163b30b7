package authenticators

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
)

// FuzzURLParams fuzzes the escaped request path of the url_params
// authenticator. Invariants: what findURLCredentials reports is really in
// the path; an identity comes only from segments that unescape to exactly
// alice's name and password; after TakeURLCredentials (what
// rest_auth_url_params does before any route) no /user/<u>/password/<p>
// occurrence is left in the path that goes upstream, and the request's URI
// agrees with its URL.
func FuzzURLParams(f *testing.F) {
	env := testEnv(f)
	u := &URLParams{}
	bind(f, env, u)
	for _, seed := range []string{
		"/api/user/" + fuzzUser + "/password/" + fuzzPassword + "/items",
		"/user/" + fuzzUser + "/password/" + url.PathEscape(fuzzPassword),
		"/user/al%69ce/password/" + fuzzPassword,
		"/user/" + fuzzUser + "/password/wrong/x/user/" + fuzzUser + "/password/" + fuzzPassword,
		"/user//password/x",
		"/user/a/password/",
		"/user/alice%2Fpassword%2Fsecret",
		"/files/a%2Fb/user/alice/password/s/c",
		"/user/%zz/password/x",
		"/",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, escaped string) {
		m, found := findURLCredentials(escaped)
		if found {
			if m.start < 0 || m.end > len(escaped) || m.start >= m.end ||
				escaped[m.start:m.end] != "/user/"+m.user+"/password/"+m.password {
				t.Fatalf("findURLCredentials(%q) = %+v, not an occurrence in the path", escaped, m)
			}
		}
		if !strings.HasPrefix(escaped, "/") || strings.ContainsAny(escaped, "?#") {
			return // not a path a server would hand over
		}
		// The URL as a server parses it from the request line: where the
		// raw text is no valid encoding of the path (a space, say), the
		// path that the routes and the authenticator see is the path
		// escaped anew.
		parsed, err := url.ParseRequestURI(escaped)
		if err != nil {
			return
		}
		escaped = parsed.EscapedPath()
		m, found = findURLCredentials(escaped)
		r := &http.Request{Method: http.MethodGet, Header: http.Header{}, Host: "example.com", URL: parsed}
		r.RequestURI = r.URL.RequestURI()
		r = r.WithContext(context.WithValue(context.Background(), caddyhttp.VarsCtxKey, map[string]any{}))
		if took := TakeURLCredentials(r); took != found {
			t.Fatalf("path %q: credentials found %v, but taken %v", escaped, found, took)
		}
		id, err := u.Authenticate(r)
		checkOutcome(t, id, err)
		if found != (id != nil || err != nil) {
			t.Fatalf("path %q: credentials found %v, but authenticate gave %+v, %v", escaped, found, id, err)
		}
		if id != nil {
			name, _ := url.PathUnescape(m.user)
			password, _ := url.PathUnescape(m.password)
			if name != fuzzUser || password != fuzzPassword {
				t.Fatalf("path %q authenticated with user %q", escaped, name)
			}
			checkAlice(t, id, "url_params")
		}
		if _, left := findURLCredentials(r.URL.EscapedPath()); left {
			t.Fatalf("path %q: scrubbed path %q still carries credentials", escaped, r.URL.EscapedPath())
		}
		if r.RequestURI != r.URL.RequestURI() {
			t.Fatalf("path %q: RequestURI %q, URL %q", escaped, r.RequestURI, r.URL.RequestURI())
		}
	})
}
