// Package admin adds rest_auth to Caddy's admin endpoint (the module
// admin.api.rest_auth: tokens, sessions and logging users out) and to its
// command line (`caddy rest-auth`, which talks to that endpoint).
package admin

import (
	"net/http"
	"slices"
	"strings"

	"github.com/caddyserver/caddy/v2"

	"github.com/caddy-restauth/caddy-restauth/handlers"
	"github.com/caddy-restauth/caddy-restauth/problem"
)

func init() {
	caddy.RegisterModule(API{})
}

// base is the path under which the routes are served.
const base = "/rest_auth/"

// API serves the rest_auth routes of Caddy's admin endpoint, with the
// endpoint's usual origin and access rules. It acts on the stores of the
// rest_auth handlers of the running config:
//
//	GET    /rest_auth/tokens[?user=<name>]
//	POST   /rest_auth/tokens
//	DELETE /rest_auth/tokens/<id>
//	GET    /rest_auth/sessions?user=<name>
//	DELETE /rest_auth/sessions?user=<name>
//	POST   /rest_auth/users/<name>/logout
//
// With several stores, `?store=<location>` picks one.
type API struct{}

// CaddyModule returns the Caddy module information.
func (API) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "admin.api.rest_auth",
		New: func() caddy.Module { return new(API) },
	}
}

// Routes returns the admin routes.
func (a *API) Routes() []caddy.AdminRoute {
	return []caddy.AdminRoute{{Pattern: base, Handler: caddy.AdminHandlerFunc(a.serve)}}
}

// serve routes a request under /rest_auth/.
func (a *API) serve(w http.ResponseWriter, r *http.Request) error {
	w.Header().Set("Cache-Control", "no-store")
	parts := strings.Split(strings.TrimPrefix(r.URL.Path, base), "/")
	target, sharing, ok := selectStore(w, r)
	if !ok {
		return nil
	}
	e := target.Endpoints
	var err error
	switch {
	case len(parts) == 1 && parts[0] == "tokens":
		if allow(w, r, http.MethodGet, http.MethodPost) {
			if r.Method == http.MethodPost {
				err = e.AdminCreateToken(w, r, base+"tokens/")
			} else {
				err = e.AdminListTokens(w, r)
			}
		}
	case len(parts) == 2 && parts[0] == "tokens" && parts[1] != "":
		if allow(w, r, http.MethodDelete) {
			err = e.AdminRevokeToken(w, r, parts[1])
		}
	case len(parts) == 1 && parts[0] == "sessions":
		if allow(w, r, http.MethodGet, http.MethodDelete) {
			if r.Method == http.MethodDelete {
				err = e.AdminEndSessions(w, r)
			} else {
				err = e.AdminListSessions(w, r)
			}
		}
	case len(parts) == 3 && parts[0] == "users" && parts[1] != "" && parts[2] == "logout":
		if allow(w, r, http.MethodPost) {
			err = e.AdminLogOut(w, r, parts[1], sharing)
		}
	default:
		problem.Write(w, http.StatusNotFound, "No such rest_auth admin route; see docs/operations.md.")
	}
	if err != nil {
		e.WriteAdminError(w, err)
	}
	return nil
}

// selectStore picks the store named by ?store=, or the only one. It
// returns the newest handler using that store and every handler sharing
// it (their JWT authenticators all learn of a logout).
func selectStore(w http.ResponseWriter, r *http.Request) (*handlers.Published, []*handlers.Endpoints, bool) {
	groups := handlers.Locations()
	if len(groups) == 0 {
		problem.Write(w, http.StatusNotFound, "No rest_auth handler is loaded.")
		return nil, nil, false
	}
	locations := make([]string, 0, len(groups))
	for l := range groups {
		locations = append(locations, l)
	}
	slices.Sort(locations)
	name := r.URL.Query().Get("store")
	if name == "" {
		if len(groups) > 1 {
			problem.Write(w, http.StatusBadRequest, "Several stores are in use; pick one with ?store=: "+strings.Join(locations, ", ")+".")
			return nil, nil, false
		}
		name = locations[0]
	}
	group, ok := groups[name]
	if !ok {
		problem.Write(w, http.StatusNotFound, "No rest_auth handler uses the store "+name+"; stores in use: "+strings.Join(locations, ", ")+".")
		return nil, nil, false
	}
	sharing := make([]*handlers.Endpoints, 0, len(group))
	for _, p := range group {
		sharing = append(sharing, p.Endpoints)
	}
	return group[len(group)-1], sharing, true
}

// allow answers 405 unless r uses one of methods.
func allow(w http.ResponseWriter, r *http.Request, methods ...string) bool {
	if slices.Contains(methods, r.Method) {
		return true
	}
	w.Header().Set("Allow", strings.Join(methods, ", "))
	problem.Write(w, http.StatusMethodNotAllowed, "Method "+r.Method+" is not allowed here.")
	return false
}

// Interface guards
var (
	_ caddy.AdminRouter = (*API)(nil)
)
