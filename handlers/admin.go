package handlers

import (
	"errors"
	"net/http"
	"strconv"
	"time"

	"go.uber.org/zap"

	"github.com/caddy-restauth/caddy-restauth/authenticators"
)

// AdminActor is who the audit log names (`by`) for what is done through
// Caddy's admin API.
const AdminActor = "admin_api"

// sessionList is the body of GET /rest_auth/sessions.
type sessionList struct {
	Count   int                          `json:"count"`
	Results []authenticators.SessionInfo `json:"results"`
}

// logoutRequest is the body of POST /rest_auth/users/<name>/logout.
type logoutRequest struct {
	Tokens bool `json:"tokens"`
}

// logoutResult is the answer to a user's logout.
type logoutResult struct {
	Sessions int `json:"sessions"`
	Tokens   int `json:"tokens"`
}

// tokensEnabled refuses with 404 when the chain has no token authenticator.
func (e *Endpoints) tokensEnabled() error {
	if e.tokenOps == nil {
		return authenticators.NotFound("API tokens are not enabled: the token authenticator is not in this rest_auth block's chain.")
	}
	return nil
}

// AdminListTokens serves GET /rest_auth/tokens[?user=]: every token, or
// the user's.
func (e *Endpoints) AdminListTokens(w http.ResponseWriter, r *http.Request) error {
	if err := e.tokensEnabled(); err != nil {
		return err
	}
	toks, err := e.tokenOps.ListTokens(r.Context(), authenticators.AdminAPI, r.URL.Query().Get("user"))
	if err != nil {
		return err
	}
	list := tokenList{Count: len(toks), Results: make([]TokenView, 0, len(toks))}
	for _, t := range toks {
		list.Results = append(list.Results, viewToken(t))
	}
	writeJSON(w, http.StatusOK, list)
	return nil
}

// AdminCreateToken serves POST /rest_auth/tokens: a token for "user",
// with the same fields and checks as POST @tokens. location is the path
// under which the new token's id is its address.
func (e *Endpoints) AdminCreateToken(w http.ResponseWriter, r *http.Request, location string) error {
	if err := e.tokensEnabled(); err != nil {
		return err
	}
	var req tokenRequest
	if err := readJSON(w, r, &req); err != nil {
		return err
	}
	if req.Username != "" || req.Password != "" {
		return authenticators.BadRequest("The admin API creates tokens without a password: send \"user\", not \"username\" and \"password\".")
	}
	if req.User == "" {
		return authenticators.BadRequest(`Send "user": the name of the token's owner.`)
	}
	acct, ok := e.env.Users.Lookup(req.User)
	if !ok {
		return authenticators.BadRequest("User " + strconv.Quote(req.User) + " does not exist or is disabled.")
	}
	spec, err := req.spec(acct.Name, acct.Roles)
	if err != nil {
		return err
	}
	tok, key, err := e.tokenOps.CreateToken(r.Context(), AdminActor, spec)
	if err != nil {
		return err
	}
	view := viewToken(tok)
	view.Key = key
	w.Header().Set("Location", location+tok.ID)
	writeJSON(w, http.StatusCreated, view)
	return nil
}

// AdminRevokeToken serves DELETE /rest_auth/tokens/<id>.
func (e *Endpoints) AdminRevokeToken(w http.ResponseWriter, r *http.Request, tokenID string) error {
	if err := e.tokensEnabled(); err != nil {
		return err
	}
	if err := e.tokenOps.RevokeToken(r.Context(), authenticators.AdminAPI, tokenID); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// requireUser refuses with 400 when the user parameter is missing.
func requireUser(user string) error {
	if user == "" {
		return authenticators.BadRequest("Name the user: ?user=<name>.")
	}
	return nil
}

// AdminListSessions serves GET /rest_auth/sessions?user=.
func (e *Endpoints) AdminListSessions(w http.ResponseWriter, r *http.Request) error {
	user := r.URL.Query().Get("user")
	if err := requireUser(user); err != nil {
		return err
	}
	var idle time.Duration
	if e.sessions != nil {
		idle = time.Duration(e.sessions.IdleTimeout)
	}
	list, err := authenticators.UserSessions(r.Context(), e.env, idle, user)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, sessionList{Count: len(list), Results: list})
	return nil
}

// AdminEndSessions serves DELETE /rest_auth/sessions?user=.
func (e *Endpoints) AdminEndSessions(w http.ResponseWriter, r *http.Request) error {
	user := r.URL.Query().Get("user")
	if err := requireUser(user); err != nil {
		return err
	}
	n, err := e.endSessions(r, user)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]int{"ended": n})
	return nil
}

// endSessions ends every session of user and audits it.
func (e *Endpoints) endSessions(r *http.Request, user string) (int, error) {
	n, err := authenticators.EndUserSessions(r.Context(), e.env, user)
	if err != nil {
		return 0, err
	}
	if n > 0 {
		e.env.Audit.Event(authenticators.EventSessionEnded, r, user, zap.Int("sessions", n), zap.String("by", AdminActor))
	}
	return n, nil
}

// AdminLogOut serves POST /rest_auth/users/<name>/logout: every session of
// the user ends and every JWT issued to them so far is refused (by the JWT
// authenticators of all the handlers given, which share this store); with
// {"tokens": true} their API tokens are revoked too.
func (e *Endpoints) AdminLogOut(w http.ResponseWriter, r *http.Request, user string, sharing []*Endpoints) error {
	var req logoutRequest
	if r.ContentLength != 0 {
		if err := readJSON(w, r, &req); err != nil {
			return err
		}
	}
	var res logoutResult
	var err error
	if res.Sessions, err = e.endSessions(r, user); err != nil {
		return err
	}
	now := time.Now()
	jwts := 0
	for _, other := range sharing {
		if other.jwt == nil {
			continue
		}
		if err := other.jwt.LogOutUser(r.Context(), user, now); err != nil {
			return err
		}
		jwts++
	}
	if jwts > 0 {
		e.env.Audit.Event(authenticators.EventJWTRevoked, r, user, zap.String("reason", "user logged out"), zap.String("by", AdminActor))
	}
	if req.Tokens && e.tokenOps != nil {
		toks, err := e.tokenOps.ListTokens(r.Context(), authenticators.AdminAPI, user)
		if err != nil {
			return err
		}
		for _, t := range toks {
			err := e.tokenOps.RevokeToken(r.Context(), authenticators.AdminAPI, t.ID)
			if errors.As(err, new(*authenticators.Rejection)) {
				continue // revoked meanwhile
			}
			if err != nil {
				return err
			}
			res.Tokens++
		}
	}
	writeJSON(w, http.StatusOK, res)
	return nil
}

// WriteAdminError answers an admin API request that failed with err.
func (e *Endpoints) WriteAdminError(w http.ResponseWriter, err error) {
	if !errors.As(err, new(*authenticators.Rejection)) {
		e.env.Logger.Error("admin API: store operation failed", zap.Error(err))
	}
	authenticators.WriteError(w, err, "")
}
