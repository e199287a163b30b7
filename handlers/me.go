package handlers

import (
	"net/http"

	"github.com/caddy-restauth/caddy-restauth/identity"
	"github.com/caddy-restauth/caddy-restauth/problem"
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
func (e *Endpoints) me(w http.ResponseWriter, r *http.Request, id *identity.Identity, rest string) {
	if !allowMethods(w, r, http.MethodGet, http.MethodHead) || !e.requireIdentity(w, id) {
		return
	}
	if rest != "" {
		problem.Write(w, http.StatusNotFound, "No such endpoint.")
		return
	}
	roles := id.Roles
	if roles == nil {
		roles = []string{}
	}
	writeJSON(w, http.StatusOK, meResponse{User: id.User, Roles: roles, Method: id.Method, TokenID: id.TokenID, Issuer: id.Issuer})
}
