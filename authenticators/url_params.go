package authenticators

import (
	"net/http"
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

// Authenticate checks /user/<name>/password/<password> in the path.
func (u *URLParams) Authenticate(r *http.Request) (*identity.Identity, error) {
	start, _, user, password, ok := findURLCredentials(r.URL.Path)
	if !ok {
		if start >= 0 {
			return nil, Invalid("Malformed /user/<name>/password/<password> credentials in the path.")
		}
		return nil, nil
	}
	u.warning.check(r)
	return checkPassword(r, u.passwords, []byte(user), []byte(password), "url_params")
}

// Scrub cuts the credential segments from the path.
func (u *URLParams) Scrub(r *http.Request) {
	start, end, _, _, _ := findURLCredentials(r.URL.Path)
	if start < 0 {
		return
	}
	path := r.URL.Path[:start] + r.URL.Path[end:]
	if path == "" {
		path = "/"
	}
	r.URL.Path = path
	r.URL.RawPath = ""
	r.RequestURI = r.URL.RequestURI()
}

// InURL marks the credential as part of the URL: it is removed even with
// keep_credentials.
func (u *URLParams) InURL() {}

// findURLCredentials locates "/user/<u>/password/<p>" in path. start is -1
// when there is no "/user/" segment followed by "/password/"; ok is false
// when the segments are there but a name or password is empty.
func findURLCredentials(path string) (start, end int, user, password string, ok bool) {
	for offset := 0; ; {
		i := strings.Index(path[offset:], "/user/")
		if i < 0 {
			return -1, -1, "", "", false
		}
		start = offset + i
		rest := path[start+len("/user/"):]
		name, after, found := strings.Cut(rest, "/")
		if found && strings.HasPrefix(after, "password/") {
			pw := after[len("password/"):]
			if j := strings.IndexByte(pw, '/'); j >= 0 {
				pw = pw[:j]
			}
			end = start + len("/user/") + len(name) + len("/password/") + len(pw)
			return start, end, name, pw, name != "" && pw != ""
		}
		offset = start + 1
	}
}

// Interface guards
var (
	_ Authenticator = (*URLParams)(nil)
	_ Binder        = (*URLParams)(nil)
	_ Scrubber      = (*URLParams)(nil)
)
