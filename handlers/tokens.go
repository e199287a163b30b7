package handlers

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/caddy-restauth/caddy-restauth/authenticators"
	"github.com/caddy-restauth/caddy-restauth/identity"
)

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

// TokenView is a token as the endpoints and the admin API show it. Key is
// set only in the answer to the request that created the token.
type TokenView struct {
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
	Results []TokenView `json:"results"`
}

// viewToken is a token as the endpoints show it.
func viewToken(t authenticators.TokenInfo) TokenView {
	return TokenView{
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
func (e *Endpoints) tokens(w http.ResponseWriter, r *http.Request, id *identity.Identity, rest string) error {
	if e.tokenOps == nil {
		return authenticators.NotFound("API tokens are not enabled: the token authenticator is not in the chain.")
	}
	if id != nil && id.Foreign {
		// Its name and roles are the provider's: it must not reach the
		// tokens of a local user of the same name, nor count as a token
		// admin by a role the provider hands out.
		return authenticators.Forbidden("API tokens belong to the users of this site; a user of an identity provider cannot list, create or revoke them (a trust block with `users required` makes its users this site's).")
	}
	if rest == "" || rest == "/" {
		if err := allowMethods(r, http.MethodGet, http.MethodHead, http.MethodPost); err != nil {
			return err
		}
		if r.Method == http.MethodPost {
			return e.createToken(w, r, id)
		}
		return e.listTokens(w, r, id)
	}
	if err := allowMethods(r, http.MethodGet, http.MethodHead, http.MethodDelete); err != nil {
		return err
	}
	if err := requireIdentity(id); err != nil {
		return err
	}
	tokenID := strings.TrimPrefix(rest, "/")
	if strings.Contains(tokenID, "/") {
		return authenticators.NotFound("No such endpoint.")
	}
	if r.Method == http.MethodDelete {
		if err := e.tokenOps.RevokeToken(r.Context(), id, tokenID); err != nil {
			return err
		}
		w.Header().Set("Cache-Control", "no-store")
		w.WriteHeader(http.StatusNoContent)
		return nil
	}
	tok, err := e.tokenOps.GetToken(r.Context(), id, tokenID)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, viewToken(tok))
	return nil
}

// createToken serves POST @tokens.
func (e *Endpoints) createToken(w http.ResponseWriter, r *http.Request, id *identity.Identity) error {
	var req tokenRequest
	// An empty body asks for a token with every default.
	if r.ContentLength != 0 {
		if err := readJSON(w, r, &req); err != nil {
			return err
		}
	}
	owner, available, err := e.tokenOwner(r, id, &req)
	if err != nil {
		return err
	}
	spec, err := req.spec(owner, available)
	if err != nil {
		return err
	}
	by := owner
	if id != nil {
		by = id.User
	}
	tok, key, err := e.tokenOps.CreateToken(r.Context(), by, spec)
	if err != nil {
		return err
	}
	view := viewToken(tok)
	view.Key = key
	w.Header().Set("Location", e.base+"tokens/"+tok.ID)
	writeJSON(w, http.StatusCreated, view)
	return nil
}

// spec is the request as the token authenticator takes it: the expiry
// fields, which the clients of NetBox and dotCMS name differently, become
// one.
func (req *tokenRequest) spec(owner string, available []string) (authenticators.TokenSpec, error) {
	spec := authenticators.TokenSpec{
		Owner:          owner,
		OwnerRoles:     available,
		Roles:          req.Roles,
		Description:    req.Description,
		ExpirationDays: req.ExpirationDays,
		WriteEnabled:   req.WriteEnabled == nil || *req.WriteEnabled,
		AllowedIPs:     req.AllowedIPs,
	}
	if req.ExpirationDaysCamel != nil {
		if spec.ExpirationDays != nil {
			return spec, authenticators.BadRequest("Give expiration_days or expirationDays, not both.")
		}
		spec.ExpirationDays = req.ExpirationDaysCamel
	}
	if req.Expires != nil {
		t, err := time.Parse(time.RFC3339, *req.Expires)
		if err != nil {
			return spec, authenticators.BadRequest("expires must be an RFC 3339 time such as 2030-01-31T12:00:00Z.")
		}
		spec.Expires = &t
	}
	return spec, nil
}

// tokenOwner decides whose token POST @tokens creates and which roles it
// may carry.
func (e *Endpoints) tokenOwner(r *http.Request, id *identity.Identity, req *tokenRequest) (string, []string, error) {
	if req.Password != "" || req.Username != "" {
		// NetBox provisioning: the password in the body is the credential.
		if id != nil {
			return "", nil, authenticators.BadRequest("Send a username and password or an Authorization header, not both.")
		}
		login := req.Username
		if login == "" {
			login, req.User = req.User, "" // dotCMS names the login `user`
		}
		if req.User != "" && req.User != login {
			return "", nil, authenticators.BadRequest("With a username and password, a token is created for that user only; leave out user.")
		}
		acct, err := e.checkPassword(r, login, req.Password)
		if err != nil {
			return "", nil, err
		}
		return acct.Name, acct.Roles, nil
	}
	if err := requireIdentity(id); err != nil {
		return "", nil, err
	}
	switch {
	case id.Method == "token":
		return "", nil, authenticators.Forbidden("An API token cannot create API tokens; authenticate with a password.")
	case id.ReadOnly:
		return "", nil, authenticators.Forbidden("This credential is read-only.")
	case req.User == "" || req.User == id.User:
		return id.User, id.Roles, nil
	case !e.tokenOps.IsTokenAdmin(id):
		return "", nil, authenticators.Forbidden("Only members of the token admin roles (" +
			identity.JoinRoles(e.tokenOps.TokenAdminRoles()) + ") may create tokens for other users.")
	}
	acct, ok := e.env.Users.Lookup(req.User)
	if !ok {
		return "", nil, authenticators.BadRequest("User " + strconv.Quote(req.User) + " does not exist or is disabled.")
	}
	return acct.Name, acct.Roles, nil
}

// listTokens serves GET @tokens: the caller's tokens, or for an admin
// every token (or those of ?user=).
func (e *Endpoints) listTokens(w http.ResponseWriter, r *http.Request, id *identity.Identity) error {
	if err := requireIdentity(id); err != nil {
		return err
	}
	toks, err := e.tokenOps.ListTokens(r.Context(), id, r.URL.Query().Get("user"))
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
