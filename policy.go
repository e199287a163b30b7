package restauth

import (
	"net/http"
	"strings"

	"github.com/caddyserver/caddy/v2/modules/caddyhttp"

	"github.com/caddy-restauth/caddy-restauth/identity"
	"github.com/caddy-restauth/caddy-restauth/problem"
)

// authorize applies the anonymous and role policy. It returns a non-zero
// status (and its detail) when the request must be refused.
func (h *Handler) authorize(r *http.Request, id *identity.Identity) (int, string) {
	safe := isSafeMethod(r.Method)
	if id == nil {
		switch {
		case isPreflight(r), h.Anonymous == "write", h.Anonymous == "read" && safe:
			return 0, ""
		}
		return http.StatusUnauthorized, problem.NoCredentials
	}
	if !h.roleAllowed(id) {
		return http.StatusForbidden, noAllowedRole
	}
	if safe {
		return 0, ""
	}
	if id.ReadOnly {
		return http.StatusForbidden, "This credential is read-only."
	}
	if len(h.WriteRoles) > 0 && !id.HasAnyRole(h.WriteRoles) {
		return http.StatusForbidden, "You do not have a role that may modify this resource."
	}
	return 0, ""
}

// noAllowedRole is the detail of a 403 under allow_roles.
const noAllowedRole = "You do not have a role that may use this API."

// roleAllowed applies allow_roles to an authenticated identity.
func (h *Handler) roleAllowed(id *identity.Identity) bool {
	return len(h.AllowRoles) == 0 || id.HasAnyRole(h.AllowRoles)
}

// isSafeMethod reports whether m only reads (RFC 9110 §9.2.1, as the
// anonymous `read` policy defines it).
func isSafeMethod(m string) bool {
	return m == http.MethodGet || m == http.MethodHead || m == http.MethodOptions
}

// isPreflight reports whether r is a CORS preflight request, which never
// carries credentials.
func isPreflight(r *http.Request) bool {
	return r.Method == http.MethodOptions && r.Header.Get("Origin") != "" &&
		r.Header.Get("Access-Control-Request-Method") != ""
}

// arrivedOverTLS reports whether the client's connection used TLS, directly
// or, according to X-Forwarded-Proto, through a trusted proxy.
func arrivedOverTLS(r *http.Request) bool {
	if r.TLS != nil {
		return true
	}
	trusted, _ := caddyhttp.GetVar(r.Context(), caddyhttp.TrustedProxyVarKey).(bool)
	if !trusted {
		return false
	}
	// The first proxy's view of the client's scheme comes first.
	proto, _, _ := strings.Cut(r.Header.Get("X-Forwarded-Proto"), ",")
	return strings.EqualFold(strings.TrimSpace(proto), "https")
}
