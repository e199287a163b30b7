// Package handlers serves the credential endpoints of rest_auth (@login,
// @tokens, @session, @me, ...) under a configurable prefix.
package handlers

import (
	"net/http"
	"strings"

	"github.com/caddy-restauth/caddy-restauth/authenticators"
	"github.com/caddy-restauth/caddy-restauth/identity"
	"github.com/caddy-restauth/caddy-restauth/problem"
)

// Route serves one endpoint. rest is what follows the endpoint's name in the
// path (e.g. "/abc" for "@tokens/abc"); id is nil for an anonymous request.
type Route func(w http.ResponseWriter, r *http.Request, id *identity.Identity, rest string)

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
	// issuer is the token authenticator behind @tokens (nil: not enabled).
	issuer authenticators.TokenIssuer
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
		case authenticators.TokenIssuer:
			e.issuer = a
		}
	}
	return e
}

// JWT is the chain's JWT authenticator, or nil.
func (e *Endpoints) JWT() *authenticators.JWT { return e.jwt }

// Sessions is the chain's session authenticator, or nil.
func (e *Endpoints) Sessions() *authenticators.Session { return e.sessions }

// IsLogin reports whether r logs in with credentials in its body (POST
// @login, @session, @tokens) or is the sign-in page: an outdated
// credential the request also carries (an ended session's cookie) must
// not stand in its way.
func (e *Endpoints) IsLogin(r *http.Request) bool {
	if e.pages != nil && r.URL.Path == e.pages.signinPath {
		return true
	}
	if r.Method != http.MethodPost || !strings.HasPrefix(r.URL.Path, e.base) {
		return false
	}
	switch r.URL.Path[len(e.base):] {
	case "login", "session", "tokens":
		return true
	}
	return false
}

// IsPublic reports whether path is an endpoint anyone may read whatever
// credential the request carries (the JWKS, the pages' stylesheet and
// script).
func (e *Endpoints) IsPublic(path string) bool {
	return e.jwt != nil && (path == e.wellKnownJWKS || path == e.base+"jwks") || e.isAsset(path)
}

// Match returns the route for path, if path names an endpoint. Every route
// answers 413 to a body over 64 KiB.
func (e *Endpoints) Match(path string) (Route, string, bool) {
	if e.pages != nil {
		if path == e.pages.signinPath {
			return limitBody(e.signin), "", true
		}
		if e.isAsset(path) {
			return e.asset, "", true
		}
	}
	if !strings.HasPrefix(path, e.base) {
		if e.jwt != nil && path == e.wellKnownJWKS {
			return limitBody(e.jwks), "", true
		}
		return nil, "", false
	}
	name, rest := path[len(e.base):], ""
	if i := strings.IndexByte(name, '/'); i >= 0 {
		name, rest = name[:i], name[i:]
	}
	route, ok := e.routes[name]
	if !ok {
		return nil, "", false
	}
	return limitBody(route), rest, true
}

// requireIdentity answers 401 to an anonymous caller and reports whether
// the request may go on.
func (e *Endpoints) requireIdentity(w http.ResponseWriter, id *identity.Identity) bool {
	if id == nil {
		problem.Unauthorized(w, e.challenge, problem.NoCredentials)
		return false
	}
	return true
}

// allowMethods answers 405 unless r uses one of methods.
func allowMethods(w http.ResponseWriter, r *http.Request, methods ...string) bool {
	for _, m := range methods {
		if r.Method == m {
			return true
		}
	}
	w.Header().Set("Allow", strings.Join(methods, ", "))
	problem.Write(w, http.StatusMethodNotAllowed, "Method "+r.Method+" is not allowed here.")
	return false
}
