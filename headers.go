package restauth

import (
	"fmt"
	"net/http"

	"github.com/caddyserver/caddy/v2"

	"github.com/caddy-restauth/caddy-restauth/identity"
)

// removeSpoofedIdentity deletes every client-sent copy of the identity
// headers, including spellings that backends read as the same name: CGI
// and WSGI map `_` and `-` alike and PHP folds `.` too, so X_Remote_User
// and X.Remote.User must go (GHSA-f59h-q822-g45g, GHSA-49wc-4hcv-v58q).
//
// The first block a request passes removes the names of every rest_auth
// block of the running configuration (knownIdentityHeaders): a block in
// another route never sees this request, so it cannot remove its own.
// A later block removes only its own names: it sets them again itself,
// while the other names now carry what earlier blocks set.
func (h *Handler) removeSpoofedIdentity(r *http.Request, first bool) {
	var known []string
	if first {
		known = knownIdentityHeaders.names()
	}
	for name := range r.Header {
		if headerNamesEquivalent(name, h.userHeader) || headerNamesEquivalent(name, h.rolesHeader) ||
			equivalentToAny(name, known) {
			delete(r.Header, name)
		}
	}
}

// setIdentity publishes the identity to placeholders (Caddy's access log
// reads {http.auth.user.id} into user_id) and to the upstream headers.
func (h *Handler) setIdentity(r *http.Request, id *identity.Identity) {
	publishIdentity(r, id)
	// Fresh slices (one array, capped apart): a later handler
	// (request_header replace) may edit the values in place, which must
	// never reach a shared identity.
	values := []string{id.User, id.RolesJoined}
	r.Header[h.userHeader] = values[0:1:1]
	r.Header[h.rolesHeader] = values[1:2:2]
}

// checkIdentityHeader checks a user_header or roles_header name (empty:
// the default).
func checkIdentityHeader(name string) error {
	switch {
	case name == "":
		return nil
	case !validHeaderName(name):
		return fmt.Errorf("header name %q is not a valid HTTP header name", name)
	case isReservedHeader(name):
		return fmt.Errorf("header name %q is reserved; choose another name for the identity header", name)
	}
	return nil
}

// publishIdentity sets the {http.auth.user.*} placeholders, which Caddy's
// access log reads for its user_id field.
func publishIdentity(r *http.Request, id *identity.Identity) {
	if repl, ok := r.Context().Value(caddy.ReplacerCtxKey).(*caddy.Replacer); ok {
		user, roles, method, tokenID := id.Placeholders()
		repl.Set("http.auth.user.id", user)
		repl.Set("http.auth.user.roles", roles)
		repl.Set("http.auth.user.method", method)
		repl.Set("http.auth.user.token_id", tokenID)
	}
}

// headerNamesEquivalent compares header names case-insensitively, treating
// '-', '_' and '.' as the same character.
func headerNamesEquivalent(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(a); i++ {
		ca, cb := foldHeaderByte(a[i]), foldHeaderByte(b[i])
		if ca != cb {
			return false
		}
	}
	return true
}

// equivalentToAny reports whether name is equivalent to one of names.
func equivalentToAny(name string, names []string) bool {
	for _, n := range names {
		if headerNamesEquivalent(name, n) {
			return true
		}
	}
	return false
}

func foldHeaderByte(c byte) byte {
	switch {
	case c == '_' || c == '.':
		return '-'
	case 'A' <= c && c <= 'Z':
		return c + ('a' - 'A')
	}
	return c
}

// validHeaderName reports whether s is an RFC 9110 token.
func validHeaderName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case c == '-' || c == '_' || c == '!' || c == '#' || c == '$' || c == '%' || c == '&' ||
			c == '\'' || c == '*' || c == '+' || c == '.' || c == '^' || c == '`' || c == '|' || c == '~':
		default:
			return false
		}
	}
	return true
}

// reservedHeaders may not carry the identity: they mean something else to
// Caddy, the upstream or this handler.
var reservedHeaders = []string{"Authorization", "Cookie", "Host", "Content-Type", "Content-Length",
	"Transfer-Encoding", "Connection", "X-Forwarded-For", "X-Forwarded-Proto", "X-Forwarded-Host", "Forwarded"}

func isReservedHeader(name string) bool {
	for _, r := range reservedHeaders {
		if headerNamesEquivalent(name, r) {
			return true
		}
	}
	return false
}
