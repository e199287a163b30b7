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
	base   string
	routes map[string]Route
	env    authenticators.Env
	// challenge is the WWW-Authenticate value of a no-credential 401.
	challenge string
	// issuer is the token authenticator behind @tokens (nil: not enabled).
	issuer authenticators.TokenIssuer
}

// New builds the endpoints served under prefix ("/" for the site root).
// challenge is sent with a 401 to an anonymous caller.
func New(prefix string, env authenticators.Env, challenge string) *Endpoints {
	e := &Endpoints{
		base:      strings.TrimSuffix(prefix, "/") + "/@",
		env:       env,
		challenge: challenge,
	}
	e.routes = map[string]Route{
		"me":     e.me,
		"tokens": e.tokens,
	}
	return e
}

// Match returns the route for path, if path names an endpoint.
func (e *Endpoints) Match(path string) (Route, string, bool) {
	if !strings.HasPrefix(path, e.base) {
		return nil, "", false
	}
	name, rest := path[len(e.base):], ""
	if i := strings.IndexByte(name, '/'); i >= 0 {
		name, rest = name[:i], name[i:]
	}
	route, ok := e.routes[name]
	return route, rest, ok
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
