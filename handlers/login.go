package handlers

import (
	"net/http"
	"time"

	"go.uber.org/zap"

	"github.com/caddy-restauth/caddy-restauth/authenticators"
	"github.com/caddy-restauth/caddy-restauth/identity"
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
func (e *Endpoints) login(w http.ResponseWriter, r *http.Request, id *identity.Identity, rest string) error {
	if err := allowMethods(r, http.MethodPost); err != nil {
		return err
	}
	acct, err := e.checkCredentials(w, r)
	if err != nil {
		return err
	}
	return e.issue(w, r, acct)
}

// loginRenew serves POST @login-renew: a valid Bearer JWT in, a new one
// out; the old one is revoked when revocation is on. A concurrent request
// that revoked the token first wins (401), so that a token is renewed once.
func (e *Endpoints) loginRenew(w http.ResponseWriter, r *http.Request, id *identity.Identity, rest string) error {
	if err := allowMethods(r, http.MethodPost); err != nil {
		return err
	}
	if err := requireJWT(id); err != nil {
		return err
	}
	if err := ownToken(id); err != nil {
		return err
	}
	acct, ok := e.env.Users.Lookup(id.User)
	if !ok {
		return authenticators.Invalid("The token's user no longer exists or is disabled.")
	}
	if e.jwt.RevocationEnabled() {
		if err := e.jwt.Revoke(r.Context(), id); err != nil {
			return err
		}
	}
	e.env.Audit.Event(authenticators.EventJWTRenewed, r, id.User, zap.String("token_id", id.TokenID))
	return e.issue(w, r, acct)
}

// logout serves POST @logout: a session is ended; a Bearer JWT is revoked
// (204), once only. Without revocation a token cannot be invalidated (501,
// as Plone says).
func (e *Endpoints) logout(w http.ResponseWriter, r *http.Request, id *identity.Identity, rest string) error {
	if err := allowMethods(r, http.MethodPost); err != nil {
		return err
	}
	if err := requireIdentity(id); err != nil {
		return err
	}
	if err := ownToken(id); err != nil {
		return err
	}
	switch {
	case id.Method == "session" && e.sessions != nil:
		return e.endSession(w, r, id)
	case id.Method == "jwt" && e.jwt != nil:
		if !e.jwt.RevocationEnabled() {
			return &authenticators.Rejection{Status: http.StatusNotImplemented,
				Detail: "Tokens are not stored on the server (jwt revocation off), so this token cannot be invalidated; it stays valid until it expires."}
		}
		if err := e.jwt.Revoke(r.Context(), id); err != nil {
			return err
		}
		e.env.Audit.Event(authenticators.EventJWTRevoked, r, id.User, zap.String("token_id", id.TokenID), zap.String("by", id.User))
		w.WriteHeader(http.StatusNoContent)
		return nil
	}
	return authenticators.BadRequest("@logout ends a session (cookie) or revokes a JWT (Authorization: Bearer).")
}

// ownToken refuses with 400 a token from an identity provider: such
// tokens are verified here, never renewed or revoked.
func ownToken(id *identity.Identity) error {
	if id.Issuer == "" {
		return nil
	}
	return authenticators.BadRequest("This token comes from the identity provider " + id.Issuer + ": it is verified here, never renewed or revoked; renew it or log out at the provider.")
}

// requireJWT refuses an anonymous caller with 401 and a caller that did
// not authenticate with a JWT with 400.
func requireJWT(id *identity.Identity) error {
	if err := requireIdentity(id); err != nil {
		return err
	}
	if id.Method != "jwt" {
		return authenticators.BadRequest("This endpoint needs the JWT in an `Authorization: Bearer` header.")
	}
	return nil
}

func (e *Endpoints) issue(w http.ResponseWriter, r *http.Request, acct *identity.Account) error {
	token, expires, err := e.jwt.Issue(r.Context(), acct)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, tokenResponse{Token: token, Expires: expires})
	return nil
}
