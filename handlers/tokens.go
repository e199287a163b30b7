package handlers

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/caddy-restauth/caddy-restauth/authenticators"
	"github.com/caddy-restauth/caddy-restauth/identity"
	"github.com/caddy-restauth/caddy-restauth/problem"
	"github.com/caddy-restauth/caddy-restauth/store"
)

// maxDescription bounds a token's description (NetBox: 200 characters).
const maxDescription = 200

// maxExpirationDays bounds expiration_days so the expiry stays a sane date.
const maxExpirationDays = 100 * 365

// tokenRequest is the body of POST @tokens.
type tokenRequest struct {
	// Username and Password provision a token without any other credential
	// (NetBox). dotCMS sends the login name as `user`.
	Username string `json:"username"`
	Password string `json:"password"`
	// User names the owner when an admin creates a token for someone else.
	User        string `json:"user"`
	Description string `json:"description"`
	// Expires is an RFC 3339 time; ExpirationDays (dotCMS) counts from now.
	Expires             *string  `json:"expires"`
	ExpirationDays      *int     `json:"expiration_days"`
	ExpirationDaysCamel *int     `json:"expirationDays"`
	WriteEnabled        *bool    `json:"write_enabled"`
	AllowedIPs          []string `json:"allowed_ips"`
	// Roles default to all of the owner's roles.
	Roles []string `json:"roles"`
}

// UnmarshalJSON decodes a token request, refusing unknown fields: a
// misspelt field (`expiration_day`) must not silently give a token that
// never expires.
func (req *tokenRequest) UnmarshalJSON(data []byte) error {
	type plain tokenRequest
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	return dec.Decode((*plain)(req))
}

// tokenView is a token as the endpoints show it. Key is set only in the
// answer to the request that created the token.
type tokenView struct {
	ID           string     `json:"id"`
	User         string     `json:"user"`
	Display      string     `json:"display"`
	Created      time.Time  `json:"created"`
	Expires      *time.Time `json:"expires"`
	LastUsed     *time.Time `json:"last_used"`
	WriteEnabled bool       `json:"write_enabled"`
	AllowedIPs   []string   `json:"allowed_ips"`
	Roles        []string   `json:"roles"`
	Description  string     `json:"description"`
	Key          string     `json:"key,omitempty"`
}

// tokenList is the body of GET @tokens.
type tokenList struct {
	Count   int         `json:"count"`
	Results []tokenView `json:"results"`
}

// viewToken is a stored token as the endpoints show it, with a use this
// instance recorded but has not written to the store yet.
func (e *Endpoints) viewToken(t store.Token) tokenView {
	if used, ok := e.issuer.TokenLastUsed(t.ID); ok && (t.LastUsed == nil || used.After(*t.LastUsed)) {
		t.LastUsed = &used
	}
	return tokenView{
		ID:           t.ID,
		User:         t.Owner,
		Display:      t.Display,
		Created:      t.Created.UTC(),
		Expires:      utc(t.Expires),
		LastUsed:     utc(t.LastUsed),
		WriteEnabled: t.WriteEnabled,
		AllowedIPs:   nonNil(t.AllowedIPs),
		Roles:        nonNil(t.Roles),
		Description:  t.Description,
	}
}

func utc(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC()
	return &u
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// tokens serves @tokens and @tokens/{id}.
func (e *Endpoints) tokens(w http.ResponseWriter, r *http.Request, id *identity.Identity, rest string) {
	if e.issuer == nil {
		problem.Write(w, http.StatusNotFound, "API tokens are not enabled: the token authenticator is not in the chain.")
		return
	}
	if rest == "" || rest == "/" {
		if !allowMethods(w, r, http.MethodGet, http.MethodHead, http.MethodPost) {
			return
		}
		if r.Method == http.MethodPost {
			e.createToken(w, r, id)
			return
		}
		e.listTokens(w, r, id)
		return
	}
	if !allowMethods(w, r, http.MethodGet, http.MethodHead, http.MethodDelete) || !e.requireIdentity(w, id) {
		return
	}
	tokenID := strings.TrimPrefix(rest, "/")
	if strings.Contains(tokenID, "/") {
		problem.Write(w, http.StatusNotFound, "No such endpoint.")
		return
	}
	if r.Method == http.MethodDelete {
		e.revokeToken(w, r, id, tokenID)
		return
	}
	tok, ok := e.ownedToken(w, r, id, tokenID)
	if ok {
		writeJSON(w, http.StatusOK, e.viewToken(tok))
	}
}

// isTokenAdmin reports whether id manages every user's tokens.
func (e *Endpoints) isTokenAdmin(id *identity.Identity) bool {
	return id.HasAnyRole(e.issuer.TokenAdminRoles())
}

// createToken serves POST @tokens.
func (e *Endpoints) createToken(w http.ResponseWriter, r *http.Request, id *identity.Identity) {
	var req tokenRequest
	// An empty body asks for a token with every default.
	if r.ContentLength != 0 && !readJSON(w, r, &req) {
		return
	}
	owner, available, ok := e.tokenOwner(w, r, id, &req)
	if !ok {
		return
	}
	now := time.Now().UTC()
	roles, status, detail := tokenRoles(req.Roles, owner, available)
	if status != 0 {
		problem.Write(w, status, detail)
		return
	}
	expires, status, detail := e.tokenExpiry(&req, now)
	if status != 0 {
		problem.Write(w, status, detail)
		return
	}
	tok, status, detail := newTokenRecord(&req, owner, roles, expires, now)
	if status != 0 {
		problem.Write(w, status, detail)
		return
	}
	e.storeToken(w, r, id, tok)
}

// tokenOwner decides whose token POST @tokens creates and which roles it
// may carry. It answers the request itself when it may not go on.
func (e *Endpoints) tokenOwner(w http.ResponseWriter, r *http.Request, id *identity.Identity, req *tokenRequest) (string, []string, bool) {
	if req.Password != "" || req.Username != "" {
		// NetBox provisioning: the password in the body is the credential.
		if id != nil {
			problem.Write(w, http.StatusBadRequest, "Send a username and password or an Authorization header, not both.")
			return "", nil, false
		}
		login := req.Username
		if login == "" {
			login, req.User = req.User, "" // dotCMS names the login `user`
		}
		if req.User != "" && req.User != login {
			problem.Write(w, http.StatusBadRequest, "With a username and password, a token is created for that user only; leave out user.")
			return "", nil, false
		}
		acct, ok := e.checkPassword(w, r, login, req.Password)
		if !ok {
			return "", nil, false
		}
		return acct.Name, acct.Roles, true
	}
	if !e.requireIdentity(w, id) {
		return "", nil, false
	}
	switch {
	case id.Method == "token":
		problem.Write(w, http.StatusForbidden, "An API token cannot create API tokens; authenticate with a password.")
		return "", nil, false
	case id.ReadOnly:
		problem.Write(w, http.StatusForbidden, "This credential is read-only.")
		return "", nil, false
	case req.User == "" || req.User == id.User:
		return id.User, id.Roles, true
	case !e.isTokenAdmin(id):
		problem.Write(w, http.StatusForbidden, "Only members of the token admin roles ("+
			identity.JoinRoles(e.issuer.TokenAdminRoles())+") may create tokens for other users.")
		return "", nil, false
	}
	acct, ok := e.env.Users.Lookup(req.User)
	if !ok {
		problem.Write(w, http.StatusBadRequest, "User "+strconv.Quote(req.User)+" does not exist or is disabled.")
		return "", nil, false
	}
	return acct.Name, acct.Roles, true
}

// tokenRoles checks the requested roles against those the owner has.
// Without a request, the token gets all of them.
func tokenRoles(requested []string, owner string, available []string) ([]string, int, string) {
	if requested == nil {
		return slices.Clone(available), 0, ""
	}
	roles := make([]string, 0, len(requested))
	for _, role := range requested {
		if !slices.Contains(available, role) {
			return nil, http.StatusForbidden, "User " + strconv.Quote(owner) + " does not have the role " + strconv.Quote(role) +
				"; a token can only carry roles its user has."
		}
		if !slices.Contains(roles, role) {
			roles = append(roles, role)
		}
	}
	return roles, 0, ""
}

// tokenExpiry computes the expiry from expires or expiration_days, the
// default lifetime and max_ttl. nil means never.
func (e *Endpoints) tokenExpiry(req *tokenRequest, now time.Time) (*time.Time, int, string) {
	days := req.ExpirationDays
	if req.ExpirationDaysCamel != nil {
		if days != nil {
			return nil, http.StatusBadRequest, "Give expiration_days or expirationDays, not both."
		}
		days = req.ExpirationDaysCamel
	}
	if req.Expires != nil && days != nil {
		return nil, http.StatusBadRequest, "Give expires or expiration_days, not both."
	}
	defaultTTL, maxTTL := e.issuer.TokenLifetimes()
	var exp time.Time
	switch {
	case req.Expires != nil:
		t, err := time.Parse(time.RFC3339, *req.Expires)
		if err != nil {
			return nil, http.StatusBadRequest, "expires must be an RFC 3339 time such as 2030-01-31T12:00:00Z."
		}
		exp = t.UTC()
	case days != nil:
		if *days <= 0 || *days > maxExpirationDays {
			return nil, http.StatusBadRequest, "expiration_days must be a whole number of days from 1 to 36500."
		}
		exp = now.AddDate(0, 0, *days)
	case defaultTTL > 0:
		exp = now.Add(defaultTTL)
	default:
		return nil, 0, "" // never
	}
	if !exp.After(now) {
		return nil, http.StatusBadRequest, "The expiry is in the past."
	}
	if maxTTL > 0 && exp.After(now.Add(maxTTL)) {
		return nil, http.StatusBadRequest, "The expiry is beyond the longest token lifetime allowed here (max_ttl): " +
			"at most " + now.Add(maxTTL).Format(time.RFC3339) + "."
	}
	return &exp, 0, ""
}

// newTokenRecord checks the remaining fields and builds the record to store
// (without its key).
func newTokenRecord(req *tokenRequest, owner string, roles []string, expires *time.Time, now time.Time) (store.Token, int, string) {
	if len([]rune(req.Description)) > maxDescription {
		return store.Token{}, http.StatusBadRequest, "description is longer than 200 characters."
	}
	var networks []string
	for _, s := range req.AllowedIPs {
		p, err := authenticators.ParseNetwork(s)
		if err != nil {
			return store.Token{}, http.StatusBadRequest, "allowed_ips: " + err.Error() + "."
		}
		if n := p.String(); !slices.Contains(networks, n) {
			networks = append(networks, n)
		}
	}
	return store.Token{
		Owner:        owner,
		Roles:        roles,
		Description:  req.Description,
		Created:      now,
		Expires:      expires,
		WriteEnabled: req.WriteEnabled == nil || *req.WriteEnabled,
		AllowedIPs:   networks,
	}, 0, ""
}

// storeToken gives tok a new key, stores it and answers 201 with the key.
func (e *Endpoints) storeToken(w http.ResponseWriter, r *http.Request, caller *identity.Identity, tok store.Token) {
	key, err := e.issuer.NewTokenKey(r.Context())
	if err == nil {
		tok.ID, tok.KeyHash, tok.Display = key.ID, key.Hash, key.Display
		err = e.env.Store.CreateToken(r.Context(), tok)
	}
	if err != nil {
		e.storeFailed(w, fmt.Errorf("creating token: %w", err))
		return
	}
	by := tok.Owner
	if caller != nil {
		by = caller.User
	}
	e.env.Logger.Info("API token created",
		zap.String("token_id", tok.ID), zap.String("user", tok.Owner), zap.String("by", by))
	view := e.viewToken(tok)
	view.Key = key.Key
	w.Header().Set("Location", e.base+"tokens/"+tok.ID)
	writeJSON(w, http.StatusCreated, view)
}

// listTokens serves GET @tokens: the caller's tokens, or for an admin
// every token (or those of ?user=).
func (e *Endpoints) listTokens(w http.ResponseWriter, r *http.Request, id *identity.Identity) {
	if !e.requireIdentity(w, id) {
		return
	}
	owner := r.URL.Query().Get("user")
	if !e.isTokenAdmin(id) {
		if owner != "" && owner != id.User {
			problem.Write(w, http.StatusForbidden, "Only members of the token admin roles may list other users' tokens.")
			return
		}
		owner = id.User
	}
	toks, err := e.env.Store.Tokens(r.Context(), owner)
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

// ownedToken reads the token tokenID when id may manage it, and answers
// the request itself otherwise: 404 when there is no such token, 403 when
// it belongs to another user and id is not an admin.
func (e *Endpoints) ownedToken(w http.ResponseWriter, r *http.Request, id *identity.Identity, tokenID string) (store.Token, bool) {
	tok, err := e.env.Store.Token(r.Context(), tokenID)
	if errors.Is(err, store.ErrNotFound) {
		problem.Write(w, http.StatusNotFound, "No such token.")
		return store.Token{}, false
	}
	if err != nil {
		e.storeFailed(w, fmt.Errorf("reading token: %w", err))
		return store.Token{}, false
	}
	if tok.Owner != id.User && !e.isTokenAdmin(id) {
		problem.Write(w, http.StatusForbidden, "This token belongs to another user; only its owner or a token admin may manage it.")
		return store.Token{}, false
	}
	return tok, true
}

// revokeToken serves DELETE @tokens/{id}.
func (e *Endpoints) revokeToken(w http.ResponseWriter, r *http.Request, id *identity.Identity, tokenID string) {
	if id.ReadOnly {
		problem.Write(w, http.StatusForbidden, "This credential is read-only.")
		return
	}
	tok, ok := e.ownedToken(w, r, id, tokenID)
	if !ok {
		return
	}
	err := e.env.Store.DeleteToken(r.Context(), tok.ID)
	if errors.Is(err, store.ErrNotFound) {
		problem.Write(w, http.StatusNotFound, "No such token.")
		return
	}
	if err != nil {
		e.storeFailed(w, fmt.Errorf("deleting token: %w", err))
		return
	}
	e.issuer.TokenRevoked(tok.ID)
	e.env.Logger.Info("API token revoked",
		zap.String("token_id", tok.ID), zap.String("user", tok.Owner), zap.String("by", id.User))
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusNoContent)
}
