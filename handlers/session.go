package handlers

import (
	"errors"
	"mime"
	"net/http"

	"github.com/caddy-restauth/caddy-restauth/authenticators"
	"github.com/caddy-restauth/caddy-restauth/identity"
	"github.com/caddy-restauth/caddy-restauth/problem"
)

// sessionResponse is the body of a successful POST @session.
type sessionResponse struct {
	User  string   `json:"user"`
	Roles []string `json:"roles"`
}

// session serves POST @session (log in: JSON or form credentials → session
// and CSRF cookies) and DELETE @session (log out).
func (e *Endpoints) session(w http.ResponseWriter, r *http.Request, id *identity.Identity, rest string) {
	if !allowMethods(w, r, http.MethodPost, http.MethodDelete) {
		return
	}
	if r.Method == http.MethodDelete {
		e.endSession(w, r, id)
		return
	}
	if err := e.sessions.CheckLoginOrigin(r); err != nil {
		err.(*authenticators.Rejection).Write(w, e.challenge)
		return
	}
	acct, ok := e.checkCredentials(w, r)
	if !ok {
		return
	}
	if err := e.sessions.Start(w, r, acct); err != nil {
		e.storeFailed(w, err)
		return
	}
	roles := acct.Roles
	if roles == nil {
		roles = []string{}
	}
	writeJSON(w, http.StatusOK, sessionResponse{User: acct.Name, Roles: roles})
}

// endSession ends the caller's session: the store forgets it and both
// cookies are expired (204).
func (e *Endpoints) endSession(w http.ResponseWriter, r *http.Request, id *identity.Identity) {
	if !e.requireIdentity(w, id) {
		return
	}
	if id.Method != "session" {
		problem.Write(w, http.StatusBadRequest, "There is no session cookie to end.")
		return
	}
	if err := e.sessions.End(w, r); err != nil {
		e.storeFailed(w, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// checkCredentials reads credentials from the body and checks them
// (throttled). On failure it answers the request (400/413, 401, 429, 503)
// and returns false.
func (e *Endpoints) checkCredentials(w http.ResponseWriter, r *http.Request) (*identity.Account, bool) {
	name, password, ok := readCredentials(w, r)
	if !ok {
		return nil, false
	}
	return e.checkPassword(w, r, name, password)
}

// checkPassword checks a password through the throttled checker. On
// failure it answers the request (401, 429, 503) and returns false.
func (e *Endpoints) checkPassword(w http.ResponseWriter, r *http.Request, name, password string) (*identity.Account, bool) {
	acct, err := e.env.Passwords.Check(r, []byte(name), []byte(password))
	var rej *authenticators.Rejection
	switch {
	case err == nil:
		return acct, true
	case errors.Is(err, identity.ErrBadCredentials):
		problem.Unauthorized(w, e.challenge, "Invalid username or password.")
	case errors.As(err, &rej):
		rej.Write(w, e.challenge)
	default:
		e.storeFailed(w, err)
	}
	return nil, false
}

// readCredentials reads "username" (or "login") and "password" from a JSON
// body or, as `requests.post(url, data=...)` sends them, a form.
func readCredentials(w http.ResponseWriter, r *http.Request) (name, password string, ok bool) {
	mediaType, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if mediaType == "application/x-www-form-urlencoded" || mediaType == "multipart/form-data" {
		// The body is at most maxBodyBytes already (limitBody).
		if err := r.ParseMultipartForm(maxBodyBytes); err != nil && !errors.Is(err, http.ErrNotMultipart) {
			problem.Write(w, http.StatusBadRequest, "The form could not be read.")
			return "", "", false
		}
		name = r.PostForm.Get("username")
		if name == "" {
			name = r.PostForm.Get("login")
		}
		password = r.PostForm.Get("password")
	} else {
		var req loginRequest
		if !readJSON(w, r, &req) {
			return "", "", false
		}
		name, password = req.Login, req.Password
		if name == "" {
			name = req.Username
		}
	}
	if name == "" || password == "" {
		problem.Write(w, http.StatusBadRequest, `Send "username" (or "login") and "password".`)
		return "", "", false
	}
	return name, password, true
}
