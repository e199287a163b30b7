package handlers

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"
	"golang.org/x/crypto/bcrypt"

	"github.com/caddy-restauth/caddy-restauth/authenticators"
	"github.com/caddy-restauth/caddy-restauth/identity"
	"github.com/caddy-restauth/caddy-restauth/store"
)

// pagePassword is alice's password in the page tests.
const pagePassword = "page-Pa55word"

// newPageEndpoints builds endpoints with the session authenticator, a
// memory store, the user alice (roles editor, member) and login_page cfg.
// Two failed passwords lock a user out.
func newPageEndpoints(t *testing.T, cfg LoginPage) *Endpoints {
	t.Helper()
	hash, err := bcrypt.GenerateFromPassword([]byte(pagePassword), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	users, err := identity.NewDirectory([]identity.User{{Name: "alice", PasswordHash: string(hash), Roles: []string{"editor", "member"}}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := caddy.NewContext(caddy.Context{Context: context.Background()})
	t.Cleanup(cancel)
	mem := &store.Memory{Name: t.Name()}
	if err := mem.Provision(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = mem.Cleanup() })
	env := authenticators.Env{
		Users:     users,
		Passwords: authenticators.NewPasswords(users, mem, authenticators.Throttle{PerUserAddress: 2}),
		Store:     mem,
		Logger:    zap.NewNop(),
		Realm:     "pages",
	}
	sess := &authenticators.Session{}
	if err := sess.Bind(env); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sess.Cleanup() })
	e := New("/", env, `Basic realm="pages"`, []authenticators.Authenticator{sess})
	if err := e.EnableLoginPage(cfg); err != nil {
		t.Fatal(err)
	}
	return e
}

// serve routes r as rest_auth would after authentication.
func serve(t *testing.T, e *Endpoints, r *http.Request, id *identity.Identity) *httptest.ResponseRecorder {
	t.Helper()
	m, ok := e.Match(r)
	if !ok {
		t.Fatalf("no endpoint at %s", r.URL.Path)
	}
	w := httptest.NewRecorder()
	e.Serve(w, r, m, id)
	return w
}

// signinPost is a sign-in form submission from this site.
func signinPost(path string, form url.Values) *http.Request {
	r := httptest.NewRequest(http.MethodPost, "http://example.com"+path, strings.NewReader(form.Encode()))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	r.Header.Set("Origin", "http://example.com")
	return r
}

const browserAccept = "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8"

func TestSafeNext(t *testing.T) {
	for _, tc := range []struct{ next, want string }{
		{"/docs/page?x=1&y=2", "/docs/page?x=1&y=2"},
		{"/", "/"},
		{"/a#frag", "/a#frag"},
		{"/%2F%2Fevil.example", "/%2F%2Fevil.example"}, // a path on this site
		{"", "/"},
		{"//evil.example", "/"},
		{"///evil.example", "/"},
		{"https://evil.example", "/"},
		{"http:evil.example", "/"},
		{"/\\evil.example", "/"},
		{"\\\\evil.example", "/"},
		{"/\t/evil.example", "/"},
		{"/\n/evil.example", "/"},
		{"javascript:alert(1)", "/"},
		{"JavaScript:alert(1)", "/"},
		{" /docs", "/"},
		{"docs", "/"},
		{"/a\x7f", "/"},
	} {
		if got := safeNext(tc.next); got != tc.want {
			t.Errorf("safeNext(%q) = %q, want %q", tc.next, got, tc.want)
		}
	}
}

func TestIsNavigation(t *testing.T) {
	for _, tc := range []struct {
		method, accept string
		want           bool
	}{
		{"GET", browserAccept, true},
		{"HEAD", browserAccept, true},
		{"GET", "text/html", true},
		{"POST", browserAccept, false},
		{"GET", "", false},
		{"GET", "*/*", false},
		{"GET", "application/json", false},
		{"GET", "application/json, text/html;q=0.5", false},
		{"GET", "text/html;q=0", false},
		{"GET", "application/json;q=0.5, text/html", true},
	} {
		r := httptest.NewRequest(tc.method, "/x", nil)
		if tc.accept != "" {
			r.Header.Set("Accept", tc.accept)
		}
		if got := IsNavigation(r); got != tc.want {
			t.Errorf("%s Accept %q: IsNavigation = %v, want %v", tc.method, tc.accept, got, tc.want)
		}
	}
}

func TestRedirectToSignIn(t *testing.T) {
	for _, tc := range []struct {
		name, path, target, accept string
		wantLocation               string // empty: no redirect
	}{
		{"navigation", "/@signin", "/docs/a%20b?x=1&y=2", browserAccept, "/@signin?next=%2Fdocs%2Fa%2520b%3Fx%3D1%26y%3D2"},
		{"own path", "/signin", "/private", browserAccept, "/signin?next=%2Fprivate"},
		{"api client", "/@signin", "/private", "application/json", ""},
		{"curl", "/@signin", "/private", "*/*", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := LoginPage{}
			if tc.path != "/@signin" {
				cfg.Path = tc.path
			}
			e := newPageEndpoints(t, cfg)
			r := httptest.NewRequest(http.MethodGet, tc.target, nil)
			r.Header.Set("Accept", tc.accept)
			w := httptest.NewRecorder()
			got := e.RedirectToSignIn(w, r)
			if got != (tc.wantLocation != "") {
				t.Fatalf("redirected = %v, want %v", got, !got)
			}
			if !got {
				return
			}
			if w.Code != http.StatusSeeOther || w.Header().Get("Location") != tc.wantLocation {
				t.Errorf("got %d Location %q, want 303 %q", w.Code, w.Header().Get("Location"), tc.wantLocation)
			}
		})
	}
}

func TestSigninPageHeadersAndForm(t *testing.T) {
	e := newPageEndpoints(t, LoginPage{Title: "Acme <intranet>"})
	w := serve(t, e, httptest.NewRequest(http.MethodGet, "/@signin?next=%2Fdocs%3Fa%3D1", nil), nil)
	if w.Code != http.StatusOK {
		t.Fatalf("GET /@signin: %d", w.Code)
	}
	h := w.Header()
	for name, want := range map[string]string{
		"Content-Type":           "text/html; charset=utf-8",
		"X-Frame-Options":        "DENY",
		"X-Content-Type-Options": "nosniff",
		"Cache-Control":          "no-store",
	} {
		if got := h.Get(name); got != want {
			t.Errorf("%s: %q, want %q", name, got, want)
		}
	}
	csp := h.Get("Content-Security-Policy")
	for _, want := range []string{"default-src 'none'", "script-src 'self'", "frame-ancestors 'none'", "form-action 'self'"} {
		if !strings.Contains(csp, want) {
			t.Errorf("Content-Security-Policy %q lacks %q", csp, want)
		}
	}
	if strings.Contains(csp, "unsafe-inline") {
		t.Errorf("Content-Security-Policy allows inline code: %q", csp)
	}
	body := w.Body.String()
	for _, want := range []string{
		`<title>Acme &lt;intranet&gt;</title>`,
		`<label for="username">`, `id="username" name="username"`,
		`<label for="password">`, `id="password" name="password" type="password"`,
		`<form method="post" action="/@signin"`,
		`name="next" value="/docs?a=1"`,
		`href="/@account/style.css"`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("page lacks %s:\n%s", want, body)
		}
	}
	if strings.Contains(body, "<script") || strings.Contains(body, "style=") {
		t.Errorf("the sign-in page has inline script or style:\n%s", body)
	}
}

func TestSigninPost(t *testing.T) {
	for _, tc := range []struct {
		name     string
		form     url.Values
		origin   string // empty: this site
		status   int
		location string
		message  string
	}{
		{"good", url.Values{"username": {"alice"}, "password": {pagePassword}, "next": {"/docs?a=1"}}, "", 303, "/docs?a=1", ""},
		{"no next", url.Values{"username": {"alice"}, "password": {pagePassword}}, "", 303, "/", ""},
		{"network path", url.Values{"username": {"alice"}, "password": {pagePassword}, "next": {"//evil.example"}}, "", 303, "/", ""},
		{"absolute", url.Values{"username": {"alice"}, "password": {pagePassword}, "next": {"https://evil.example"}}, "", 303, "/", ""},
		{"backslash", url.Values{"username": {"alice"}, "password": {pagePassword}, "next": {"/\\evil.example"}}, "", 303, "/", ""},
		{"javascript", url.Values{"username": {"alice"}, "password": {pagePassword}, "next": {"javascript:alert(1)"}}, "", 303, "/", ""},
		{"wrong password", url.Values{"username": {"alice"}, "password": {"nope"}}, "", 200, "", badSignIn},
		{"unknown user", url.Values{"username": {"mallory"}, "password": {"nope"}}, "", 200, "", badSignIn},
		{"no password", url.Values{"username": {"alice"}}, "", 400, "", missingFields},
		{"foreign form", url.Values{"username": {"alice"}, "password": {pagePassword}}, "https://evil.example", 403, "", "another site"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newPageEndpoints(t, LoginPage{})
			r := signinPost("/@signin", tc.form)
			if tc.origin != "" {
				r.Header.Set("Origin", tc.origin)
			}
			w := serve(t, e, r, nil)
			if w.Code != tc.status {
				t.Fatalf("status %d, want %d; body %s", w.Code, tc.status, w.Body)
			}
			if got := w.Header().Get("Location"); got != tc.location {
				t.Errorf("Location %q, want %q", got, tc.location)
			}
			cookies := w.Header().Values("Set-Cookie")
			if tc.status == http.StatusSeeOther {
				if len(cookies) != 2 || !strings.HasPrefix(cookies[0], "sessionid=") {
					t.Errorf("cookies after sign-in: %q", cookies)
				}
				return
			}
			if len(cookies) != 0 {
				t.Errorf("a failed sign-in set cookies: %q", cookies)
			}
			body := w.Body.String()
			if !strings.Contains(body, `role="alert"`) || !strings.Contains(body, tc.message) {
				t.Errorf("page does not say %q:\n%s", tc.message, body)
			}
			if strings.Contains(body, "nope") || strings.Contains(body, pagePassword) {
				t.Error("the page repeats the password")
			}
			if name := tc.form.Get("username"); name != "" && !strings.Contains(body, `value="`+name+`"`) {
				t.Errorf("the username %q is not filled in again", name)
			}
		})
	}
}

// TestSigninThrottled: once locked out, even the right password gets the
// form again with when to retry.
func TestSigninThrottled(t *testing.T) {
	e := newPageEndpoints(t, LoginPage{})
	for range 2 {
		serve(t, e, signinPost("/@signin", url.Values{"username": {"alice"}, "password": {"nope"}}), nil)
	}
	w := serve(t, e, signinPost("/@signin", url.Values{"username": {"alice"}, "password": {pagePassword}}), nil)
	if w.Code != http.StatusTooManyRequests || w.Header().Get("Retry-After") == "" {
		t.Fatalf("locked out: %d Retry-After %q, want 429 with Retry-After", w.Code, w.Header().Get("Retry-After"))
	}
	if !strings.Contains(w.Body.String(), "Try again in") {
		t.Errorf("the page does not say when to retry:\n%s", w.Body)
	}
}

// TestSigninSignedIn: a signed-in browser that opens the page goes on to
// next at once.
func TestSigninSignedIn(t *testing.T) {
	e := newPageEndpoints(t, LoginPage{})
	id := identity.New("alice", nil, "session", "")
	w := serve(t, e, httptest.NewRequest(http.MethodGet, "/@signin?next=%2Fdocs", nil), id)
	if w.Code != http.StatusSeeOther || w.Header().Get("Location") != "/docs" {
		t.Errorf("got %d %q, want 303 /docs", w.Code, w.Header().Get("Location"))
	}
}

func TestSigninTemplate(t *testing.T) {
	e := newPageEndpoints(t, LoginPage{Path: "/signin", Template: "testdata/signin/custom.html", Title: "Acme"})
	w := serve(t, e, signinPost("/signin", url.Values{"username": {"alice"}, "password": {"nope"}, "next": {"/x"}}), nil)
	body := w.Body.String()
	for _, want := range []string{"<h1>Custom Acme</h1>", badSignIn, `action="/signin"`, `value="/x"`, `value="alice"`, `href="/@account/style.css"`} {
		if !strings.Contains(body, want) {
			t.Errorf("custom page lacks %s:\n%s", want, body)
		}
	}
	if w.Header().Get("Content-Security-Policy") == "" {
		t.Error("a custom page lost the Content-Security-Policy")
	}
}

func TestEnableLoginPageErrors(t *testing.T) {
	env := authenticators.Env{Logger: zap.NewNop()}
	if err := New("/", env, "", nil).EnableLoginPage(LoginPage{}); err == nil || !strings.Contains(err.Error(), "session authenticator") {
		t.Errorf("without session: %v", err)
	}
	sess := New("/", env, "", []authenticators.Authenticator{&authenticators.Session{}})
	for file, want := range map[string]string{
		"testdata/signin/missing.html":       "reading template",
		"testdata/signin/unknown_field.html": "NoSuchField",
	} {
		if err := sess.EnableLoginPage(LoginPage{Template: file}); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("template %s: %v, want an error with %q", file, err, want)
		}
	}
}

func TestLoginPageValidate(t *testing.T) {
	for path, ok := range map[string]bool{"": true, "/signin": true, "/a/b": true, "signin": false, "/a?b": false, "/a\\b": false} {
		if err := (&LoginPage{Path: path}).Validate(); (err == nil) != ok {
			t.Errorf("path %q: %v", path, err)
		}
	}
}

func TestAccountPage(t *testing.T) {
	e := newPageEndpoints(t, LoginPage{})
	nav := httptest.NewRequest(http.MethodGet, "/@account", nil)
	nav.Header.Set("Accept", browserAccept)
	if w := serve(t, e, nav, nil); w.Code != http.StatusSeeOther || w.Header().Get("Location") != "/@signin?next=%2F%40account" {
		t.Errorf("anonymous browser: %d %q, want 303 to the sign-in page", w.Code, w.Header().Get("Location"))
	}
	if w := serve(t, e, httptest.NewRequest(http.MethodGet, "/@account", nil), nil); w.Code != http.StatusUnauthorized {
		t.Errorf("anonymous client: %d, want 401", w.Code)
	}
	id := identity.New("alice", []string{"editor", "member"}, "session", "")
	w := serve(t, e, httptest.NewRequest(http.MethodGet, "/@account", nil), id)
	if w.Code != http.StatusOK || w.Header().Get("X-Frame-Options") != "DENY" {
		t.Fatalf("signed in: %d, X-Frame-Options %q", w.Code, w.Header().Get("X-Frame-Options"))
	}
	body := w.Body.String()
	for _, want := range []string{`<strong id="user">alice</strong>`, "editor, member", `<script src="/@account/account.js" defer></script>`, `data-endpoints="/@"`, `<label for="description">`} {
		if !strings.Contains(body, want) {
			t.Errorf("account page lacks %s", want)
		}
	}
}

func TestPageAssets(t *testing.T) {
	e := newPageEndpoints(t, LoginPage{})
	for path, ctype := range map[string]string{"/@account/style.css": "text/css; charset=utf-8", "/@account/account.js": "text/javascript; charset=utf-8"} {
		r := httptest.NewRequest(http.MethodGet, path, nil)
		if m, _ := e.Match(r); !m.Public {
			t.Errorf("%s is not public", path)
		}
		w := serve(t, e, r, nil)
		if w.Code != http.StatusOK || w.Header().Get("Content-Type") != ctype || w.Body.Len() == 0 {
			t.Errorf("%s: %d %q, %d bytes", path, w.Code, w.Header().Get("Content-Type"), w.Body.Len())
		}
	}
	if m, ok := e.Match(httptest.NewRequest(http.MethodGet, "/@account/other.js", nil)); ok && m.Public {
		t.Error("an unknown asset is public")
	}
}

// stripped is r as a route in front of rest_auth leaves it after cutting
// prefix from the path (handle_path): Caddy keeps the request as it
// arrived in the context.
func stripped(r *http.Request, prefix string) *http.Request {
	orig := *r
	u := *r.URL
	u.Path = prefix + r.URL.Path
	orig.URL = &u
	return r.WithContext(context.WithValue(r.Context(), caddyhttp.OriginalRequestCtxKey, orig))
}

// TestPagesUnderStrippedPrefix: under handle_path /app/*, the redirect,
// the form, the stylesheet and the account page's links all carry /app,
// since that is what the browser must request; a rewrite that does not cut
// a prefix adds nothing.
func TestPagesUnderStrippedPrefix(t *testing.T) {
	e := newPageEndpoints(t, LoginPage{})
	nav := stripped(httptest.NewRequest(http.MethodGet, "/private?x=1", nil), "/app")
	nav.Header.Set("Accept", browserAccept)
	w := httptest.NewRecorder()
	if !e.RedirectToSignIn(w, nav) || w.Header().Get("Location") != "/app/@signin?next=%2Fapp%2Fprivate%3Fx%3D1" {
		t.Errorf("redirect Location %q, want /app/@signin?next=%%2Fapp%%2Fprivate%%3Fx%%3D1", w.Header().Get("Location"))
	}

	page := serve(t, e, stripped(httptest.NewRequest(http.MethodGet, "/@signin", nil), "/app"), nil).Body.String()
	for _, want := range []string{`action="/app/@signin"`, `href="/app/@account/style.css"`} {
		if !strings.Contains(page, want) {
			t.Errorf("sign-in page lacks %s", want)
		}
	}
	id := identity.New("alice", []string{"editor"}, "session", "")
	account := serve(t, e, stripped(httptest.NewRequest(http.MethodGet, "/@account", nil), "/app"), id).Body.String()
	for _, want := range []string{`data-endpoints="/app/@"`, `src="/app/@account/account.js"`, `href="/app/@account/style.css"`} {
		if !strings.Contains(account, want) {
			t.Errorf("account page lacks %s", want)
		}
	}

	for _, tc := range []struct{ orig, now, want string }{
		{"/app/private", "/private", "/app"},
		{"/app/", "/", "/app"},
		{"/private", "/private", ""},
		{"/old/page", "/new", ""},
		{"//evil/x", "/x", ""},
	} {
		r := httptest.NewRequest(http.MethodGet, tc.now, nil)
		orig := *r
		orig.URL = &url.URL{Path: tc.orig}
		r = r.WithContext(context.WithValue(r.Context(), caddyhttp.OriginalRequestCtxKey, orig))
		if got := mountPrefix(r); got != tc.want {
			t.Errorf("mountPrefix(%s → %s) = %q, want %q", tc.orig, tc.now, got, tc.want)
		}
	}
}

// TestSigninAudited: the sign-in page's logins are audited as the login
// endpoints' are (endpoint "signin"): failures, with an unknown name only
// hashed, and a success with the session it started.
func TestSigninAudited(t *testing.T) {
	e := newPageEndpoints(t, LoginPage{})
	core, logs := observer.New(zapcore.InfoLevel)
	e.env.Audit = authenticators.NewAudit(zap.New(core))
	for _, form := range []url.Values{
		{"username": {"alice"}, "password": {"nope"}},
		{"username": {"Secret-typed-as-name"}, "password": {"nope"}},
		{"username": {"alice"}, "password": {pagePassword}},
	} {
		serve(t, e, signinPost("/@signin", form), nil)
	}
	var events []map[string]any
	for _, entry := range logs.All() {
		events = append(events, entry.ContextMap())
	}
	want := []map[string]any{
		{"event": authenticators.EventLoginFailed, "endpoint": "signin", "user": "alice"},
		{"event": authenticators.EventLoginFailed, "endpoint": "signin", "user_known": false},
		{"event": authenticators.EventLoginSucceeded, "endpoint": "signin", "user": "alice"},
		{"event": authenticators.EventSessionStarted, "user": "alice"},
	}
	if len(events) != len(want) {
		t.Fatalf("audit events %v, want %d", events, len(want))
	}
	for i, w := range want {
		for k, v := range w {
			if events[i][k] != v {
				t.Errorf("event %d = %v, want %s %v", i, events[i], k, v)
			}
		}
	}
	if _, ok := events[1]["user"]; ok {
		t.Errorf("an unknown name is logged: %v", events[1])
	}
}
