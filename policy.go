package restauth

import (
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/caddy-restauth/caddy-restauth/authenticators"
	"github.com/caddy-restauth/caddy-restauth/identity"
	"github.com/caddy-restauth/caddy-restauth/problem"
)

// authorize applies the anonymous and role policy: a *Rejection when the
// request must be refused.
func (h *Handler) authorize(r *http.Request, id *identity.Identity) error {
	safe := authenticators.IsSafeMethod(r.Method)
	if id == nil {
		switch {
		case isPreflight(r), h.Anonymous == "write", h.Anonymous == "read" && safe:
			return nil
		}
		return authenticators.Invalid(problem.NoCredentials)
	}
	if !h.roleAllowed(id) {
		return authenticators.Forbidden(noAllowedRole)
	}
	if safe {
		return nil
	}
	if id.ReadOnly {
		return authenticators.Forbidden("This credential is read-only.")
	}
	if len(h.WriteRoles) > 0 && !id.HasAnyRole(h.WriteRoles) {
		return authenticators.Forbidden("You do not have a role that may modify this resource.")
	}
	return nil
}

// anonymousModes are the values of `anonymous`.
var anonymousModes = []string{"none", "read", "write"}

// checkAnonymous checks a value of `anonymous` (empty: the default, none).
func checkAnonymous(mode string) error {
	if mode != "" && !slices.Contains(anonymousModes, mode) {
		return fmt.Errorf("anonymous: %q is not one of %s", mode, strings.Join(anonymousModes, ", "))
	}
	return nil
}

// noAllowedRole is the detail of a 403 under allow_roles.
const noAllowedRole = "You do not have a role that may use this API."

// roleAllowed applies allow_roles to an authenticated identity.
func (h *Handler) roleAllowed(id *identity.Identity) bool {
	return len(h.AllowRoles) == 0 || id.HasAnyRole(h.AllowRoles)
}

// isPreflight reports whether r is a CORS preflight request, which never
// carries credentials.
func isPreflight(r *http.Request) bool {
	return r.Method == http.MethodOptions && r.Header.Get("Origin") != "" &&
		r.Header.Get("Access-Control-Request-Method") != ""
}
