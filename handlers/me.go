package handlers

import (
	"net/http"

	"github.com/caddy-restauth/caddy-restauth/authenticators"
	"github.com/caddy-restauth/caddy-restauth/identity"
)

// meResponse is the body of GET @me.
type meResponse struct {
	User    string   `json:"user"`
	Roles   []string `json:"roles"`
	Method  string   `json:"method"`
	TokenID string   `json:"token_id,omitempty"`
	// Issuer is the identity provider of an external JWT.
	Issuer string `json:"issuer,omitempty"`
}

// me serves GET @me: who the caller is.
func (e *Endpoints) me(w http.ResponseWriter, r *http.Request, id *identity.Identity, rest string) error {
	if err := allowMethods(r, http.MethodGet, http.MethodHead); err != nil {
		return err
	}
	if err := requireIdentity(id); err != nil {
		return err
	}
	if rest != "" {
		return authenticators.NotFound("No such endpoint.")
	}
	roles := id.Roles
	if roles == nil {
		roles = []string{}
	}
	writeJSON(w, http.StatusOK, meResponse{User: id.User, Roles: roles, Method: id.Method, TokenID: id.TokenID, Issuer: id.Issuer})
	return nil
}
