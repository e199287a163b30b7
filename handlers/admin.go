package handlers

import (
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/caddy-restauth/caddy-restauth/authenticators"
	"github.com/caddy-restauth/caddy-restauth/identity"
	"github.com/caddy-restauth/caddy-restauth/problem"
	"github.com/caddy-restauth/caddy-restauth/store"
)

// AdminActor is who the audit log names (`by`) for what is done through
// Caddy's admin API.
const AdminActor = "admin_api"

// adminCaller stands for the admin API where an operation wants a caller.
var adminCaller = &identity.Identity{User: AdminActor}

// sessionView is a session as the admin API shows it: never its id, only
// the start of the id's hash, enough to tell sessions apart.
type sessionView struct {
	ID       string    `json:"id"`
	Created  time.Time `json:"created"`
	LastSeen time.Time `json:"last_seen"`
	Expires  time.Time `json:"expires"`
	// ClientAddress is where the session was started from.
	ClientAddress string `json:"client_address"`
}

// sessionList is the body of GET /rest_auth/sessions.
type sessionList struct {
	Count   int           `json:"count"`
	Results []sessionView `json:"results"`
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

// tokensEnabled answers 404 when the chain has no token authenticator.
func (e *Endpoints) tokensEnabled(w http.ResponseWriter) bool {
	if e.issuer == nil {
		problem.Write(w, http.StatusNotFound, "API tokens are not enabled: the token authenticator is not in this rest_auth block's chain.")
		return false
	}
	return true
}

// AdminListTokens serves GET /rest_auth/tokens[?user=]: every token, or
// the user's.
func (e *Endpoints) AdminListTokens(w http.ResponseWriter, r *http.Request) {
	if !e.tokensEnabled(w) {
		return
	}
	toks, err := e.env.Store.Tokens(r.Context(), r.URL.Query().Get("user"))
	if err != nil {
		e.storeFailed(w, fmt.Errorf("listing tokens: %w", err))
		return
	}
	list := tokenList{Count: len(toks), Results: make([]tokenView, 0, len(toks))}
	for _, t := range toks {
		list.Results = append(list.Results, e.viewToken(t))
	}
	writeJSON(w, http.StatusOK, list)
}

// AdminCreateToken serves POST /rest_auth/tokens: a token for "user",
// with the same fields and checks as POST @tokens. location is the path
// under which the new token's id is its address.
func (e *Endpoints) AdminCreateToken(w http.ResponseWriter, r *http.Request, location string) {
	if !e.tokensEnabled(w) {
		return
	}
	var req tokenRequest
	if !readJSON(w, r, &req) {
		return
	}
	if req.Username != "" || req.Password != "" {
		problem.Write(w, http.StatusBadRequest, "The admin API creates tokens without a password: send \"user\", not \"username\" and \"password\".")
		return
	}
	if req.User == "" {
		problem.Write(w, http.StatusBadRequest, `Send "user": the name of the token's owner.`)
		return
	}
	acct, ok := e.env.Users.Lookup(req.User)
	if !ok {
		problem.Write(w, http.StatusBadRequest, "User "+strconv.Quote(req.User)+" does not exist or is disabled.")
		return
	}
	now := time.Now().UTC()
	roles, status, detail := tokenRoles(req.Roles, acct.Name, acct.Roles)
	if status != 0 {
		problem.Write(w, status, detail)
		return
	}
	expires, status, detail := e.tokenExpiry(&req, now)
	if status != 0 {
		problem.Write(w, status, detail)
		return
	}
	tok, status, detail := newTokenRecord(&req, acct.Name, roles, expires, now)
	if status != 0 {
		problem.Write(w, status, detail)
		return
	}
	e.storeToken(&locationWriter{ResponseWriter: w, from: e.base + "tokens/", to: location}, r, adminCaller, tok)
}

// locationWriter moves the Location of a created token from the site's
// @tokens to the admin API's route.
type locationWriter struct {
	http.ResponseWriter
	from, to string
}

func (lw *locationWriter) WriteHeader(status int) {
	if rest, ok := strings.CutPrefix(lw.Header().Get("Location"), lw.from); ok {
		lw.Header().Set("Location", lw.to+rest)
	}
	lw.ResponseWriter.WriteHeader(status)
}

// AdminRevokeToken serves DELETE /rest_auth/tokens/<id>.
func (e *Endpoints) AdminRevokeToken(w http.ResponseWriter, r *http.Request, tokenID string) {
	if !e.tokensEnabled(w) {
		return
	}
	tok, err := e.env.Store.Token(r.Context(), tokenID)
	if err == nil {
		err = e.env.Store.DeleteToken(r.Context(), tok.ID)
	}
	if errors.Is(err, store.ErrNotFound) {
		problem.Write(w, http.StatusNotFound, "No such token.")
		return
	}
	if err != nil {
		e.storeFailed(w, fmt.Errorf("revoking token: %w", err))
		return
	}
	e.issuer.TokenRevoked(tok.ID)
	e.env.Audit.Event(authenticators.EventTokenRevoked, r, tok.Owner, zap.String("token_id", tok.ID), zap.String("by", AdminActor))
	w.WriteHeader(http.StatusNoContent)
}

// sessionLister is st's listing of sessions by user, if it has one (st
// may be wrapped, e.g. to be measured).
func sessionLister(st store.Store) (store.UserSessions, bool) {
	if m, ok := st.(interface{ Unwrap() store.Store }); ok {
		st = m.Unwrap()
	}
	us, ok := st.(store.UserSessions)
	return us, ok
}

// userSessions is the store's session listing; without one it answers 501.
func (e *Endpoints) userSessions(w http.ResponseWriter) (store.UserSessions, bool) {
	us, ok := sessionLister(e.env.Store)
	if !ok {
		problem.Write(w, http.StatusNotImplemented, "This store cannot list sessions by user.")
	}
	return us, ok
}

// requireUser answers 400 when the user parameter is missing.
func requireUser(w http.ResponseWriter, user string) bool {
	if user == "" {
		problem.Write(w, http.StatusBadRequest, "Name the user: ?user=<name>.")
		return false
	}
	return true
}

// AdminListSessions serves GET /rest_auth/sessions?user=.
func (e *Endpoints) AdminListSessions(w http.ResponseWriter, r *http.Request) {
	user := r.URL.Query().Get("user")
	us, ok := e.userSessions(w)
	if !ok || !requireUser(w, user) {
		return
	}
	list, err := us.UserSessions(r.Context(), user)
	if err != nil {
		e.storeFailed(w, fmt.Errorf("listing sessions: %w", err))
		return
	}
	out := sessionList{Count: len(list), Results: make([]sessionView, 0, len(list))}
	for _, s := range list {
		out.Results = append(out.Results, e.viewSession(s))
	}
	writeJSON(w, http.StatusOK, out)
}

// viewSession shows s; the last use is known to the minute (the idle
// expiry is pushed forward at most once a minute).
func (e *Endpoints) viewSession(s store.Session) sessionView {
	seen := s.Created
	if e.sessions != nil {
		if t := s.IdleExpires.Add(-time.Duration(e.sessions.IdleTimeout)); t.After(seen) {
			seen = t
		}
	}
	return sessionView{
		ID:            hex.EncodeToString(s.IDHash)[:12],
		Created:       s.Created.UTC(),
		LastSeen:      seen.UTC(),
		Expires:       s.Deadline().UTC(),
		ClientAddress: s.ClientAddr,
	}
}

// AdminEndSessions serves DELETE /rest_auth/sessions?user=.
func (e *Endpoints) AdminEndSessions(w http.ResponseWriter, r *http.Request) {
	user := r.URL.Query().Get("user")
	if !requireUser(w, user) {
		return
	}
	n, ok := e.endSessions(w, r, user)
	if ok {
		writeJSON(w, http.StatusOK, map[string]int{"ended": n})
	}
}

// endSessions ends every session of user and audits it.
func (e *Endpoints) endSessions(w http.ResponseWriter, r *http.Request, user string) (int, bool) {
	us, ok := e.userSessions(w)
	if !ok {
		return 0, false
	}
	n, err := us.DeleteUserSessions(r.Context(), user)
	if err != nil {
		e.storeFailed(w, fmt.Errorf("ending sessions: %w", err))
		return 0, false
	}
	if n > 0 {
		e.env.Audit.Event(authenticators.EventSessionEnded, r, user, zap.Int("sessions", n), zap.String("by", AdminActor))
	}
	return n, true
}

// AdminLogOut serves POST /rest_auth/users/<name>/logout: every session of
// the user ends and every JWT issued to them so far is refused (by the JWT
// authenticators of all the handlers given, which share this store); with
// {"tokens": true} their API tokens are revoked too.
func (e *Endpoints) AdminLogOut(w http.ResponseWriter, r *http.Request, user string, sharing []*Endpoints) {
	var req logoutRequest
	if r.ContentLength != 0 && !readJSON(w, r, &req) {
		return
	}
	var res logoutResult
	var ok bool
	if res.Sessions, ok = e.endSessions(w, r, user); !ok {
		return
	}
	now := time.Now()
	jwts := 0
	for _, other := range sharing {
		if other.jwt == nil {
			continue
		}
		if err := other.jwt.LogOutUser(r.Context(), user, now); err != nil {
			e.storeFailed(w, err)
			return
		}
		jwts++
	}
	if jwts > 0 {
		e.env.Audit.Event(authenticators.EventJWTRevoked, r, user, zap.String("reason", "user logged out"), zap.String("by", AdminActor))
	}
	if req.Tokens && e.issuer != nil {
		toks, err := e.env.Store.Tokens(r.Context(), user)
		if err != nil {
			e.storeFailed(w, fmt.Errorf("listing tokens: %w", err))
			return
		}
		for _, t := range toks {
			err := e.env.Store.DeleteToken(r.Context(), t.ID)
			if errors.Is(err, store.ErrNotFound) {
				continue
			}
			if err != nil {
				e.storeFailed(w, fmt.Errorf("revoking token: %w", err))
				return
			}
			e.issuer.TokenRevoked(t.ID)
			e.env.Audit.Event(authenticators.EventTokenRevoked, r, user, zap.String("token_id", t.ID), zap.String("by", AdminActor))
			res.Tokens++
		}
	}
	writeJSON(w, http.StatusOK, res)
}
