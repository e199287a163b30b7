package authenticators

import (
	"net/http"
	"net/url"
	"strings"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"

	"github.com/caddy-restauth/caddy-restauth/identity"
)

func init() {
	caddy.RegisterModule(URLParams{})
}

// URLParams authenticates dotCMS's legacy path segments
// `/user/<name>/password/<password>`, anywhere in the path.
//
// It needs the `rest_auth_url_params` directive in the site: that handler
// runs before every route matcher, cuts the segments from the path and
// hands the credential over in a request variable, which is the only place
// this authenticator reads it. So no matcher ever decides on a path that
// still carries the segments while the upstream receives the cut one. A
// request that reaches rest_auth with the segments still in its path is
// refused (400) by the handler, never authenticated.
//
// Insecure: URLs end up in access logs, browser histories and proxies.
// This module never logs the credential, and Caddy's logs need the filter
// of docs/security.md. Runs only when named in `order`; logs a warning
// when used over plain HTTP.
type URLParams struct {
	passwords *Passwords
	warning   *plainHTTPWarning
}

// CaddyModule returns the Caddy module information.
func (URLParams) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  Namespace + ".url_params",
		New: func() caddy.Module { return new(URLParams) },
	}
}

// Bind receives the password checker.
func (u *URLParams) Bind(env Env) error {
	u.passwords = env.Passwords
	u.warning = newPlainHTTPWarning("url_params", env.Logger)
	return nil
}

// Authenticate checks the credential that rest_auth_url_params took out of
// the path. It never reads the path itself.
func (u *URLParams) Authenticate(r *http.Request) (*identity.Identity, error) {
	m, ok := caddyhttp.GetVar(r.Context(), urlCredentialsVar).(*urlCredentials)
	if !ok {
		return nil, nil
	}
	user, err1 := url.PathUnescape(m.user)
	password, err2 := url.PathUnescape(m.password)
	if err1 != nil || err2 != nil || user == "" || password == "" {
		return nil, Invalid("Malformed /user/<name>/password/<password> credentials in the path.")
	}
	u.warning.check(r)
	return checkPassword(r, u.passwords, []byte(user), []byte(password), "url_params")
}

// Scrub drops the credential that rest_auth_url_params handed over; the
// path itself was cut before any route ran.
func (u *URLParams) Scrub(r *http.Request) {
	caddyhttp.SetVar(r.Context(), urlCredentialsVar, nil)
}

// InURL marks the credential as part of the URL: it is removed even with
// keep_credentials.
func (u *URLParams) InURL() {}

// HasURLCredentials reports whether the path still carries a literal
// /user/<name>/password/<password>: rest_auth_url_params did not run
// before the routes, so matchers may have decided on it.
func HasURLCredentials(r *http.Request) bool {
	_, ok := findURLCredentials(r.URL.EscapedPath())
	return ok
}

// TakeURLCredentials cuts every /user/<name>/password/<password> occurrence
// from the request's path (Path, RawPath and RequestURI, keeping the rest
// encoded as it was) and hands the first one to the url_params
// authenticator in a request variable that only this package can read or
// write. It reports whether there was one.
func TakeURLCredentials(r *http.Request) bool {
	escaped := r.URL.EscapedPath()
	first, found := findURLCredentials(escaped)
	if !found {
		return false
	}
	for m, ok := first, true; ok; m, ok = findURLCredentials(escaped) {
		escaped = escaped[:m.start] + escaped[m.end:]
	}
	if escaped == "" {
		escaped = "/"
	}
	path, err := url.PathUnescape(escaped)
	if err != nil {
		path = "/"
		escaped = "/"
	}
	r.URL.Path = path
	r.URL.RawPath = escaped
	r.RequestURI = r.URL.RequestURI()
	caddyhttp.SetVar(r.Context(), urlCredentialsVar, &urlCredentials{user: first.user, password: first.password})
	return true
}

// urlCredentialsVar is the request variable that carries the credential
// from rest_auth_url_params to the url_params authenticator. Its value is
// an *urlCredentials: the vars directive or a client can only ever set
// strings there, which the authenticator ignores.
const urlCredentialsVar = "rest_auth.url_credentials"

// urlCredentials is one /user/<u>/password/<p> occurrence in an escaped
// path: [start, end) and the still-escaped name and password.
type urlCredentials struct {
	start, end     int
	user, password string
}

// String keeps the credential out of placeholders ({http.vars.*}) and
// anything else that formats the variable.
func (*urlCredentials) String() string { return "REDACTED" }

// GoString does the same for %#v.
func (*urlCredentials) GoString() string { return "REDACTED" }

// findURLCredentials finds the first literal "/user/<u>/password/<p>" in an
// escaped path.
func findURLCredentials(escaped string) (urlCredentials, bool) {
	for offset := 0; offset < len(escaped); {
		i := strings.Index(escaped[offset:], "/user/")
		if i < 0 {
			return urlCredentials{}, false
		}
		start := offset + i
		rest := escaped[start+len("/user/"):]
		name, after, found := strings.Cut(rest, "/")
		if found && strings.HasPrefix(after, "password/") {
			pw := after[len("password/"):]
			if j := strings.IndexByte(pw, '/'); j >= 0 {
				pw = pw[:j]
			}
			end := start + len("/user/") + len(name) + len("/password/") + len(pw)
			return urlCredentials{start: start, end: end, user: name, password: pw}, true
		}
		offset = start + 1
	}
	return urlCredentials{}, false
}

// Interface guards
var (
	_ Authenticator = (*URLParams)(nil)
	_ Binder        = (*URLParams)(nil)
	_ Scrubber      = (*URLParams)(nil)
)
