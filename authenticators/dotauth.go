package authenticators

import (
	"cmp"
	"net/http"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"

	"github.com/caddy-restauth/caddy-restauth/identity"
)

func init() {
	caddy.RegisterModule(DotAuth{})
}

// DotAuth authenticates dotCMS's legacy header `DOTAUTH: base64(user:pass)`.
//
// Insecure: base64 is no encryption, and Caddy's access log records the
// header unless a log filter deletes it (see the README). Runs only when
// named in `order`; logs a warning when used over plain HTTP.
type DotAuth struct {
	// The header name. Default: DOTAUTH.
	Header string `json:"header,omitempty"`

	passwords *Passwords
	warning   *plainHTTPWarning
}

// CaddyModule returns the Caddy module information.
func (DotAuth) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  Namespace + ".dotauth",
		New: func() caddy.Module { return new(DotAuth) },
	}
}

// Bind receives the password checker.
func (a *DotAuth) Bind(env Env) error {
	a.Header = http.CanonicalHeaderKey(cmp.Or(a.Header, "DOTAUTH"))
	a.passwords = env.Passwords
	a.warning = newPlainHTTPWarning("dotauth", env.Logger)
	return nil
}

// Authenticate checks the DOTAUTH header. An empty or repeated header is
// refused, never taken as absent.
func (a *DotAuth) Authenticate(r *http.Request) (*identity.Identity, error) {
	if err := SingleCredentialHeader(r.Header, a.Header); err != nil {
		return nil, err
	}
	v := r.Header.Get(a.Header)
	if v == "" {
		return nil, nil
	}
	a.warning.check(r)
	var buf userPassBuffer
	user, password, ok := decodeUserPass(&buf, v)
	if !ok {
		return nil, Invalid("Malformed " + a.Header + " credentials.")
	}
	return checkPassword(r, a.passwords, user, password, "dotauth")
}

// Scrub removes the header.
func (a *DotAuth) Scrub(r *http.Request) { r.Header.Del(a.Header) }

// UnmarshalCaddyfile parses `dotauth [{ header <name> }]`.
func (a *DotAuth) UnmarshalCaddyfile(d *caddyfile.Dispenser) error {
	if d.NextArg() {
		return d.ArgErr()
	}
	for nesting := d.Nesting(); d.NextBlock(nesting); {
		if d.Val() != "header" {
			return d.Errf("dotauth: unknown option %q", d.Val())
		}
		if !d.AllArgs(&a.Header) {
			return d.ArgErr()
		}
	}
	return nil
}

// Interface guards
var (
	_ Authenticator         = (*DotAuth)(nil)
	_ Binder                = (*DotAuth)(nil)
	_ Scrubber              = (*DotAuth)(nil)
	_ caddyfile.Unmarshaler = (*DotAuth)(nil)
)
