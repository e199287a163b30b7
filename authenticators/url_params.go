package authenticators

import (
	"net/http"
	"net/url"
	"strings"

	"github.com/caddyserver/caddy/v2"

	"github.com/caddy-restauth/caddy-restauth/identity"
)

func init() {
	caddy.RegisterModule(URLParams{})
}

// URLParams authenticates dotCMS's legacy path segments
// `/user/<name>/password/<password>`, anywhere in the path.
//
// Insecure: URLs end up in access logs, browser histories and proxies.
// The segments are always cut from the path before the request goes on
// (even with keep_credentials), this module never logs them, and Caddy's
// access log needs the filter shown in the README. Runs only when named in
// `order`; logs a warning when used over plain HTTP.
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

// Authenticate checks /user/<name>/password/<password> in the path. The
// segments are matched in the path as sent (escaped): `user` and `password`
// must be literal, so the access-log filter of the README always finds them.
func (u *URLParams) Authenticate(r *http.Request) (*identity.Identity, error) {
	m, ok := findURLCredentials(r.URL.EscapedPath())
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

// Scrub cuts every /user/<name>/password/<password> occurrence from the
// path, keeping the rest of it encoded as it was.
func (u *URLParams) Scrub(r *http.Request) {
	escaped := r.URL.EscapedPath()
	changed := false
	for {
		m, ok := findURLCredentials(escaped)
		if !ok {
			break
		}
		escaped = escaped[:m.start] + escaped[m.end:]
		changed = true
	}
	if !changed {
		return
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
}

// InURL marks the credential as part of the URL: it is removed even with
// keep_credentials.
func (u *URLParams) InURL() {}

// urlCredentials is one /user/<u>/password/<p> occurrence in an escaped
// path: [start, end) and the still-escaped name and password.
type urlCredentials struct {
	start, end     int
	user, password string
}

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
