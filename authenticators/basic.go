package authenticators

import (
	"fmt"
	"net/http"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"

	"github.com/caddy-restauth/caddy-restauth/identity"
)

func init() {
	caddy.RegisterModule(Basic{})
}

// Basic authenticates `Authorization: Basic base64(user:password)` (RFC 7617)
// against the configured users. Verified passwords are cached under a keyed
// hash, so a repeated request does no password hashing.
type Basic struct {
	// Send `WWW-Authenticate: Basic realm="...", charset="UTF-8"` on a 401,
	// for clients that wait for a challenge before sending credentials.
	// Off by default: a Basic challenge makes browsers show a password
	// dialog, which an API behind a web app must not cause.
	Challenge bool `json:"challenge,omitempty"`

	// The realm named in the Basic challenge. Default: the handler's realm.
	Realm string `json:"realm,omitempty"`

	passwords *Passwords
	challenge string
}

// CaddyModule returns the Caddy module information.
func (Basic) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  Namespace + ".basic",
		New: func() caddy.Module { return new(Basic) },
	}
}

// Bind receives the handler's users and realm.
func (b *Basic) Bind(env Env) error {
	b.passwords = env.Passwords
	if b.Challenge {
		realm := b.Realm
		if realm == "" {
			realm = env.Realm
		}
		b.challenge = fmt.Sprintf(`Basic realm=%q, charset="UTF-8"`, realm)
	}
	return nil
}

// Authenticate checks Basic credentials.
func (b *Basic) Authenticate(r *http.Request) (*identity.Identity, error) {
	encoded, ok := authorization(r.Header["Authorization"], "Basic")
	if !ok {
		return nil, nil
	}
	var buf userPassBuffer
	user, password, ok := decodeUserPass(&buf, encoded)
	if !ok {
		return nil, Invalid("Malformed Basic credentials.")
	}
	return checkPassword(r, b.passwords, user, password, "basic")
}

// WWWAuthenticate is the Basic challenge when enabled.
func (b *Basic) WWWAuthenticate() []string {
	if b.challenge == "" {
		return nil
	}
	return []string{b.challenge}
}

// UnmarshalCaddyfile parses
//
//	basic {
//		challenge
//		realm <name>
//	}
func (b *Basic) UnmarshalCaddyfile(d *caddyfile.Dispenser) error {
	if d.NextArg() {
		return d.ArgErr()
	}
	for nesting := d.Nesting(); d.NextBlock(nesting); {
		switch d.Val() {
		case "challenge":
			if d.NextArg() {
				return d.ArgErr()
			}
			b.Challenge = true
		case "realm":
			if !d.NextArg() {
				return d.ArgErr()
			}
			b.Realm = d.Val()
			if d.NextArg() {
				return d.ArgErr()
			}
		default:
			return d.Errf("basic: unknown option %q (want challenge or realm)", d.Val())
		}
	}
	return nil
}

// Interface guards
var (
	_ Authenticator         = (*Basic)(nil)
	_ Binder                = (*Basic)(nil)
	_ Challenger            = (*Basic)(nil)
	_ caddyfile.Unmarshaler = (*Basic)(nil)
)
