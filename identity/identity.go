// Package identity holds what both the authenticators and the endpoints need:
// who a request is, the configured users, and how their passwords are checked.
package identity

import (
	"slices"
	"strings"
)

// Identity is the trusted result of a successful authentication.
type Identity struct {
	// User is the authenticated user's name.
	User string
	// Roles are the roles this credential carries (for an API token, the
	// token's roles, which may be fewer than the owner's).
	Roles []string
	// RolesJoined is Roles joined by commas without spaces, as sent upstream.
	RolesJoined string
	// Method is the authenticator that accepted the credential ("basic", ...).
	Method string
	// TokenID is the id of the API token or JWT (jti) used, if any.
	TokenID string
	// ReadOnly is set for credentials that may only use safe methods.
	ReadOnly bool
	// Expires is when the credential stops working (zero: unknown or never).
	Expires int64
	// IssuedAt is when a JWT was issued, Unix seconds (zero: unknown).
	IssuedAt int64
	// Issuer is the `iss` of a token from a trusted identity provider
	// ("" for every credential of our own).
	Issuer string
	// Foreign marks a user known only to an identity provider (a trust
	// block with `users optional`): not a user of this site's directory,
	// even when the name is the same, so it owns and manages no API tokens
	// here and no logout of a local user applies to it.
	Foreign bool

	// placeholders holds User, RolesJoined, Method and TokenID converted to
	// `any` once (an empty slot is converted when asked for), and lookup is
	// Placeholder as a func value made once, so publishing them per request
	// allocates nothing.
	placeholders [4]any
	lookup       func(key string) (any, bool)
}

// New builds an identity.
func New(user string, roles []string, method, tokenID string) *Identity {
	id := &Identity{User: user, Roles: roles, RolesJoined: JoinRoles(roles), Method: method, TokenID: tokenID}
	id.placeholders = [4]any{id.User, id.RolesJoined, id.Method, id.TokenID}
	id.lookup = id.Placeholder
	return id
}

// clone is a copy of id whose placeholder lookup is its own: a copied
// lookup would still answer with id's values. (Never copy an Identity by
// value otherwise.)
func (id *Identity) clone() *Identity {
	c := *id
	c.lookup = c.Placeholder
	return &c
}

// The placeholders an identity answers.
const (
	PlaceholderUser    = "http.auth.user.id"
	PlaceholderRoles   = "http.auth.user.roles"
	PlaceholderMethod  = "http.auth.user.method"
	PlaceholderTokenID = "http.auth.user.token_id"
)

// Placeholder returns the value of the placeholder key: {http.auth.user.id},
// .roles, .method and .token_id.
func (id *Identity) Placeholder(key string) (any, bool) {
	i := -1
	switch key {
	case PlaceholderUser:
		i = 0
	case PlaceholderRoles:
		i = 1
	case PlaceholderMethod:
		i = 2
	case PlaceholderTokenID:
		i = 3
	default:
		return nil, false
	}
	if v := id.placeholders[i]; v != nil {
		return v, true
	}
	return [4]any{id.User, id.RolesJoined, id.Method, id.TokenID}[i], true
}

// PlaceholderFunc is Placeholder as a func value, made once for an identity
// built by New.
func (id *Identity) PlaceholderFunc() func(key string) (any, bool) {
	if id.lookup == nil {
		return id.Placeholder
	}
	return id.lookup
}

// HasAnyRole reports whether the identity carries at least one of roles.
func (id *Identity) HasAnyRole(roles []string) bool {
	for _, r := range roles {
		if slices.Contains(id.Roles, r) {
			return true
		}
	}
	return false
}

// JoinRoles formats roles the way they are sent upstream: comma-separated,
// no spaces.
func JoinRoles(roles []string) string {
	return strings.Join(roles, ",")
}
