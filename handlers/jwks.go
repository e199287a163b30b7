package handlers

import (
	"net/http"

	"github.com/caddy-restauth/caddy-restauth/identity"
)

// jwks serves GET @jwks and /.well-known/jwks.json: the public keys of the
// asymmetric keys, so upstreams can verify tokens themselves. Public.
func (e *Endpoints) jwks(w http.ResponseWriter, r *http.Request, id *identity.Identity, rest string) error {
	if err := allowMethods(r, http.MethodGet, http.MethodHead); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"keys": e.jwt.PublicJWKs()})
	return nil
}
