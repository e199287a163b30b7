package handlers

import (
	"errors"
	"mime"
	"net/http"
	"strings"

	"github.com/caddy-restauth/caddy-restauth/authenticators"
	"github.com/caddy-restauth/caddy-restauth/identity"
)

// sessionResponse is the body of a successful POST @session.
type sessionResponse struct {
	User  string   `json:"user"`
	Roles []string `json:"roles"`
}

// session serves POST @session (log in: JSON or form credentials → session
// and CSRF cookies) and DELETE @session (log out).
func (e *Endpoints) session(w http.ResponseWriter, r *http.Request, id *identity.Identity, rest string) error {
	if err := allowMethods(r, http.MethodPost, http.MethodDelete); err != nil {
		return err
	}
	if r.Method == http.MethodDelete {
		return e.endSession(w, r, id)
	}
	if err := e.sessions.CheckLoginOrigin(r); err != nil {
		return err
	}
	acct, err := e.checkCredentials(w, r)
	if err != nil {
		return err
	}
	if err := e.startSession(w, r, acct); err != nil {
		return err
	}
	roles := acct.Roles
	if roles == nil {
		roles = []string{}
	}
	writeJSON(w, http.StatusOK, sessionResponse{User: acct.Name, Roles: roles})
	return nil
}

// startSession starts a session for acct (its cookies set on w) and
// audits it: @session's and the sign-in page's.
func (e *Endpoints) startSession(w http.ResponseWriter, r *http.Request, acct *identity.Account) error {
	if err := e.sessions.Start(w, r, acct); err != nil {
		return err
	}
	e.env.Audit.Event(authenticators.EventSessionStarted, r, acct.Name)
	return nil
}

// endSession ends the caller's session: the store forgets it and both
// cookies are expired (204).
func (e *Endpoints) endSession(w http.ResponseWriter, r *http.Request, id *identity.Identity) error {
	if err := requireIdentity(id); err != nil {
		return err
	}
	if id.Method != "session" {
		return authenticators.BadRequest("There is no session cookie to end.")
	}
	if err := e.sessions.End(w, r); err != nil {
		return err
	}
	e.env.Audit.Event(authenticators.EventSessionEnded, r, id.User)
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// checkCredentials reads credentials from the body and checks them
// (throttled): 400/413, 401, 429 or 503 on failure.
func (e *Endpoints) checkCredentials(w http.ResponseWriter, r *http.Request) (*identity.Account, error) {
	name, password, err := readCredentials(w, r)
	if err != nil {
		return nil, err
	}
	return e.checkPassword(r, name, password)
}

// checkPassword checks a password through the throttled checker: 401, 429
// or 503 on failure.
func (e *Endpoints) checkPassword(r *http.Request, name, password string) (*identity.Account, error) {
	acct, err := e.env.Passwords.Check(r, []byte(name), []byte(password))
	e.loginChecked(r, e.endpointName(r), name, err)
	if errors.Is(err, identity.ErrBadCredentials) {
		return nil, authenticators.Invalid("Invalid username or password.")
	}
	return acct, err
}

// readCredentials reads "username" (or "login") and "password" from a JSON
// body or, as `requests.post(url, data=...)` sends them, a form.
// jsonSentAsForm reports whether a form body was really a JSON object: a
// single field whose name starts with '{'.
func jsonSentAsForm(r *http.Request) bool {
	if len(r.PostForm) != 1 {
		return false
	}
	for k := range r.PostForm {
		return strings.HasPrefix(strings.TrimSpace(k), "{")
	}
	return false
}

func readCredentials(w http.ResponseWriter, r *http.Request) (name, password string, err error) {
	mediaType, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if mediaType == "application/x-www-form-urlencoded" || mediaType == "multipart/form-data" {
		// The body is at most maxBodyBytes already (limitBody).
		if err := r.ParseMultipartForm(maxBodyBytes); err != nil && !errors.Is(err, http.ErrNotMultipart) {
			return "", "", authenticators.BadRequest("The form could not be read.")
		}
		name = r.PostForm.Get("username")
		if name == "" {
			name = r.PostForm.Get("login")
		}
		password = r.PostForm.Get("password")
		if name == "" && password == "" && jsonSentAsForm(r) {
			return "", "", authenticators.BadRequest("The body is JSON, but its Content-Type says a form (curl -d sends that): add the header Content-Type: application/json.")
		}
	} else {
		var req loginRequest
		if err := readJSON(w, r, &req); err != nil {
			return "", "", err
		}
		name, password = req.Login, req.Password
		if name == "" {
			name = req.Username
		}
	}
	if name == "" || password == "" {
		return "", "", authenticators.BadRequest(`Send "username" (or "login") and "password".`)
	}
	return name, password, nil
}
