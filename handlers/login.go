package handlers

import (
	"errors"
	"net/http"
	"time"

	"go.uber.org/zap"

	"github.com/caddy-restauth/caddy-restauth/authenticators"
	"github.com/caddy-restauth/caddy-restauth/identity"
	"github.com/caddy-restauth/caddy-restauth/problem"
	"github.com/caddy-restauth/caddy-restauth/store"
)

// loginRequest is the body of POST @login (Plone: "login"; NetBox and
// Django: "username").
type loginRequest struct {
	Login    string `json:"login"`
	Username string `json:"username"`
	Password string `json:"password"`
}

// tokenResponse is the body of @login and @login-renew.
type tokenResponse struct {
	Token   string    `json:"token"`
	Expires time.Time `json:"expires"`
}

// login serves POST @login: credentials in, a signed JWT out.
func (e *Endpoints) login(w http.ResponseWriter, r *http.Request, id *identity.Identity, rest string) {
	if !allowMethods(w, r, http.MethodPost) {
		return
	}
	acct, ok := e.checkCredentials(w, r)
	if !ok {
		return
	}
	e.issue(w, r, acct)
}

// loginRenew serves POST @login-renew: a valid Bearer JWT in, a new one
// out; the old one is revoked when revocation is on.
func (e *Endpoints) loginRenew(w http.ResponseWriter, r *http.Request, id *identity.Identity, rest string) {
	if !allowMethods(w, r, http.MethodPost) || !e.requireJWT(w, id) {
		return
	}
	acct, ok := e.env.Users.Lookup(id.User)
	if !ok {
		problem.Unauthorized(w, e.challenge, "The token's user no longer exists or is disabled.")
		return
	}
	if e.jwt.RevocationEnabled() && !e.revokeJWT(w, r, id) {
		return
	}
	e.issue(w, r, acct)
}

// logout serves POST @logout: a session is ended; a Bearer JWT is revoked
// (204). Without revocation a token cannot be invalidated (501, as Plone
// says).
func (e *Endpoints) logout(w http.ResponseWriter, r *http.Request, id *identity.Identity, rest string) {
	if !allowMethods(w, r, http.MethodPost) || !e.requireIdentity(w, id) {
		return
	}
	switch {
	case id.Method == "session" && e.sessions != nil:
		e.endSession(w, r, id)
	case id.Method == "jwt" && e.jwt != nil:
		if !e.jwt.RevocationEnabled() {
			problem.Write(w, http.StatusNotImplemented,
				"Tokens are not stored on the server (jwt revocation off), so this token cannot be invalidated; it stays valid until it expires.")
			return
		}
		if e.revokeJWT(w, r, id) {
			w.WriteHeader(http.StatusNoContent)
		}
	default:
		problem.Write(w, http.StatusBadRequest, "@logout ends a session (cookie) or revokes a JWT (Authorization: Bearer).")
	}
}

// revokeJWT revokes the request's JWT. When it cannot, it answers the
// request and returns false: 401 when a concurrent request revoked the
// token first (so that a token is renewed or logged out once only), 503
// when the store failed.
func (e *Endpoints) revokeJWT(w http.ResponseWriter, r *http.Request, id *identity.Identity) bool {
	err := e.jwt.Revoke(r.Context(), id)
	var rej *authenticators.Rejection
	switch {
	case err == nil:
		return true
	case errors.As(err, &rej):
		rej.Write(w, e.challenge)
	default:
		e.storeFailed(w, err)
	}
	return false
}

// requireJWT answers 401 to an anonymous caller and 400 to a caller that
// did not authenticate with a JWT.
func (e *Endpoints) requireJWT(w http.ResponseWriter, id *identity.Identity) bool {
	if !e.requireIdentity(w, id) {
		return false
	}
	if id.Method != "jwt" {
		problem.Write(w, http.StatusBadRequest, "This endpoint needs the JWT in an `Authorization: Bearer` header.")
		return false
	}
	return true
}

func (e *Endpoints) issue(w http.ResponseWriter, r *http.Request, acct *identity.Account) {
	token, expires, err := e.jwt.Issue(r.Context(), acct)
	if errors.Is(err, store.ErrUnavailable) {
		e.storeFailed(w, err)
		return
	}
	if err != nil {
		e.env.Logger.Error("issuing a token failed", zap.Error(err))
		problem.Write(w, http.StatusInternalServerError, "The token could not be issued.")
		return
	}
	writeJSON(w, http.StatusOK, tokenResponse{Token: token, Expires: expires})
}

// storeFailed answers a request whose store operation failed.
func (e *Endpoints) storeFailed(w http.ResponseWriter, err error) {
	e.env.Logger.Error("store operation failed", zap.Error(err))
	problem.Write(w, http.StatusServiceUnavailable, problem.StoreUnavailable)
}
