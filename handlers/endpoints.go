// Package handlers serves the credential endpoints of rest_auth (@login,
// @tokens, @session, @me, ...) under a configurable prefix.
package handlers

import (
	"errors"
	"net/http"
	"slices"
	"strings"

	"go.uber.org/zap"

	"github.com/caddy-restauth/caddy-restauth/authenticators"
	"github.com/caddy-restauth/caddy-restauth/identity"
	"github.com/caddy-restauth/caddy-restauth/problem"
	"github.com/caddy-restauth/caddy-restauth/store"
)

// Route serves one endpoint. rest is what follows the endpoint's name in the
// path (e.g. "/abc" for "@tokens/abc"); id is nil for an anonymous request.
// A refusal is returned, not written: a *authenticators.Rejection, or any
// other error for a store failure (503); Serve writes it.
type Route func(w http.ResponseWriter, r *http.Request, id *identity.Identity, rest string) error

// Endpoints routes requests under a prefix to the credential endpoints.
type Endpoints struct {
	// base is the prefix followed by "/@".
	base string
	// wellKnownJWKS is the prefix followed by "/.well-known/jwks.json".
	wellKnownJWKS string
	routes        map[string]Route
	env           authenticators.Env
	// challenge is the WWW-Authenticate value of a no-credential 401.
	challenge string
	// jwt issues and revokes tokens; nil when the chain has no jwt.
	jwt *authenticators.JWT
	// sessions starts and ends cookie sessions; nil without session.
	sessions *authenticators.Session
	// tokenOps are the operations behind @tokens (nil: not enabled).
	tokenOps authenticators.TokenOps
	// pages is the sign-in and account pages (nil: login_page off).
	pages *pages
}

// New builds the endpoints served under prefix ("/" for the site root) for
// the authenticators of chain. challenge is sent with a 401 to an anonymous
// caller.
func New(prefix string, env authenticators.Env, challenge string, chain []authenticators.Authenticator) *Endpoints {
	root := strings.TrimSuffix(prefix, "/")
	e := &Endpoints{
		base:          root + "/@",
		wellKnownJWKS: root + "/.well-known/jwks.json",
		env:           env,
		challenge:     challenge,
	}
	e.routes = map[string]Route{
		"me":     e.me,
		"tokens": e.tokens, // answers 404 "not enabled" without the token authenticator
	}
	for _, a := range chain {
		switch a := a.(type) {
		case *authenticators.JWT:
			e.jwt = a
			e.routes["login"] = e.login
			e.routes["login-renew"] = e.loginRenew
			e.routes["logout"] = e.logout
			e.routes["jwks"] = e.jwks
		case *authenticators.Session:
			e.sessions = a
			e.routes["session"] = e.session
			e.routes["logout"] = e.logout
		case authenticators.TokenOps:
			e.tokenOps = a
		}
	}
	return e
}

// JWT is the chain's JWT authenticator, or nil.
func (e *Endpoints) JWT() *authenticators.JWT { return e.jwt }

// Sessions is the chain's session authenticator, or nil.
func (e *Endpoints) Sessions() *authenticators.Session { return e.sessions }

// Match is an endpoint a request path names.
type Match struct {
	route Route
	rest  string
	// Public: anyone may read it whatever credential the request carries
	// (the JWKS, the login_page stylesheet and script).
	Public bool
	// Login: the request logs in with credentials in its body (POST
	// @login, @session, @tokens) or is the sign-in page, so an outdated
	// credential it also carries (an ended session's cookie) must not
	// stand in its way.
	Login bool
}

// Match returns the endpoint r names, if any.
func (e *Endpoints) Match(r *http.Request) (Match, bool) {
	path := r.URL.Path
	if e.pages != nil {
		if path == e.pages.signinPath {
			return Match{route: e.signin, Login: true}, true
		}
		if e.isAsset(path) {
			return Match{route: e.asset, Public: true}, true
		}
	}
	if !strings.HasPrefix(path, e.base) {
		if e.jwt != nil && path == e.wellKnownJWKS {
			return Match{route: e.jwks, Public: true}, true
		}
		return Match{}, false
	}
	name, rest := path[len(e.base):], ""
	if i := strings.IndexByte(name, '/'); i >= 0 {
		name, rest = name[:i], name[i:]
	}
	route, ok := e.routes[name]
	if !ok {
		return Match{}, false
	}
	m := Match{route: route, rest: rest}
	switch name {
	case "jwks":
		m.Public = rest == ""
	case "login", "session", "tokens":
		m.Login = rest == "" && r.Method == http.MethodPost
	}
	return m, true
}

// Serve answers r with the endpoint m for the caller id (nil: anonymous).
// Every endpoint answers 413 to a body over 64 KiB. A refusal is written
// here, and only here.
func (e *Endpoints) Serve(w http.ResponseWriter, r *http.Request, m Match, id *identity.Identity) {
	err := limitBody(w, r)
	if err == nil {
		err = m.route(w, r, id, m.rest)
	}
	if err == nil {
		return
	}
	if !errors.As(err, new(*authenticators.Rejection)) {
		e.logFailure(r, "store operation failed", err)
	}
	authenticators.WriteError(w, err, e.challenge)
}

// logFailure logs err, which failed the request r, as msg. A store outage
// is logged by the store once, at its start and its end, so a request it
// fails is logged at debug level, as on ordinary requests; anything else is
// an error.
func (e *Endpoints) logFailure(r *http.Request, msg string, err error) {
	if errors.Is(err, store.ErrUnavailable) {
		e.env.Logger.Debug(msg+": store unavailable", zap.String("remote_ip", authenticators.ClientIP(r)), zap.Error(err))
		return
	}
	e.env.Logger.Error(msg, zap.Error(err))
}

// requireIdentity refuses an anonymous caller with 401.
func requireIdentity(id *identity.Identity) error {
	if id == nil {
		return authenticators.Invalid(problem.NoCredentials)
	}
	return nil
}

// allowMethods refuses with 405 unless r uses one of methods.
func allowMethods(r *http.Request, methods ...string) error {
	if slices.Contains(methods, r.Method) {
		return nil
	}
	rej := &authenticators.Rejection{
		Status: http.StatusMethodNotAllowed,
		Detail: "Method " + r.Method + " is not allowed here.",
		Header: http.Header{"Allow": {strings.Join(methods, ", ")}},
	}
	return rej
}
