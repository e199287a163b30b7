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
	known := h.ownHeaders
	if first {
		known = knownIdentityHeaders.set()
	}
	for name := range r.Header {
		// Own names too when first: during a reload this block's names
		// may have been withdrawn already by its own cleanup.
		if known.contains(name) || first && h.ownHeaders.contains(name) {
			delete(r.Header, name)
		}
	}
}

// setIdentity sets the upstream identity headers, and publishes the
// identity to placeholders when this block authenticated the request
// (first): a later block has the same identity, published already.
func (h *Handler) setIdentity(r *http.Request, id *identity.Identity, first bool) {
	if first {
		publishIdentity(r, id)
	}
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

// publishIdentity makes the identity answer the {http.auth.user.*}
// placeholders (Caddy's access log reads {http.auth.user.id} into user_id).
//
// The user and the roles are set on the replacer, as Caddy's basic_auth
// sets the user: the last writer wins, so a value set earlier in the route
// (a `vars http.auth.user.id`, another auth handler) never stands in for
// the authenticated identity, and one set later (a `vars` after rest_auth)
// overrides it as Caddy intends. The method and the token id are added as
// a lookup instead: Caddy's replacer takes a lock per value set, and its
// HTTP server leaves room for one more lookup, so that costs no lock and
// no allocation. Called once per request, by the block that authenticated
// it.
func publishIdentity(r *http.Request, id *identity.Identity) {
	repl, ok := r.Context().Value(caddy.ReplacerCtxKey).(*caddy.Replacer)
	if !ok {
		return
	}
	for _, key := range [...]string{identity.PlaceholderUser, identity.PlaceholderRoles} {
		v, _ := id.Placeholder(key)
		repl.Set(key, v)
	}
	repl.Map(id.PlaceholderFunc())
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
