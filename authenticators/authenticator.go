// Package authenticators holds the Authenticator interface of the rest_auth
// chain and one implementation per credential kind.
//
// Authenticators are Caddy guest modules in the namespace
// `http.handlers.rest_auth.authenticators`, so third parties can add their
// own; the JSON config names them with the inline key `method`.
package authenticators

import (
	"net/http"
	"time"

	"go.uber.org/zap"

	"github.com/caddy-restauth/caddy-restauth/identity"
	"github.com/caddy-restauth/caddy-restauth/store"
)

// Namespace is the Caddy module namespace of authenticators.
const Namespace = "http.handlers.rest_auth.authenticators"

// Authenticator inspects a request for one kind of credential.
//
// It answers one of three things:
//   - absent: (nil, nil), the request carries no credential of this kind and
//     the chain tries the next authenticator;
//   - valid: (identity, nil), the chain stops;
//   - invalid: (nil, err), a credential of this kind is present but wrong,
//     expired or revoked. The request is refused at once (a *Rejection sets
//     the status; any other error is a 503 because a backend failed).
type Authenticator interface {
	Authenticate(r *http.Request) (*identity.Identity, error)
}

// Env is what the rest_auth handler shares with its authenticators.
type Env struct {
	// Users are the configured accounts.
	Users *identity.Directory
	// Passwords checks passwords, with throttling; every path that accepts
	// a password goes through it.
	Passwords *Passwords
	// Store keeps tokens, sessions, revocations and counters.
	Store store.Store
	// Logger is the handler's logger.
	Logger *zap.Logger
	// Realm names the protected space in challenges.
	Realm string
	// Audit is the audit trail (nil: none).
	Audit *Audit
	// Now tells the time that decides expiries (sessions, tokens, JWTs,
	// lockouts). Nil means time.Now; tests set it to move time instead of
	// waiting for it.
	Now func() time.Time
}

// Clock is env.Now, or time.Now when that is nil.
func (env Env) Clock() func() time.Time {
	if env.Now == nil {
		return time.Now
	}
	return env.Now
}

// Binder is implemented by authenticators that need the handler's shared
// environment. Bind is called once, after Provision.
type Binder interface {
	Bind(env Env) error
}

// Challenger is implemented by authenticators that announce themselves in
// the WWW-Authenticate header of a 401: one entry per challenge (e.g.
// `Bearer realm="api"`, `Token`). The handler drops duplicates.
type Challenger interface {
	WWWAuthenticate() []string
}

// Scrubber is implemented by authenticators that remove their credential
// from the request before it goes upstream.
type Scrubber interface {
	Scrub(r *http.Request)
}

// URLCredential is implemented by Scrubbers whose credential is part of the
// URL: their Scrub runs even with keep_credentials, because the path goes
// upstream and into logs.
type URLCredential interface {
	Scrubber
	InURL()
}
