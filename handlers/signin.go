package handlers

import (
	"errors"
	"fmt"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/caddyserver/caddy/v2/modules/caddyhttp"

	"github.com/caddy-restauth/caddy-restauth/authenticators"
	"github.com/caddy-restauth/caddy-restauth/identity"
)

// LoginPage configures the browser sign-in page and the /@account page.
type LoginPage struct {
	// The path of the sign-in page. Default: `@signin` under the
	// endpoints prefix (`/@signin`).
	Path string `json:"path,omitempty"`
	// A Go html/template file that replaces the built-in sign-in page.
	// Its fields are listed in docs/signin.md. Read when the config loads.
	Template string `json:"template,omitempty"`
	// The title shown on the pages. Default: "Sign in".
	Title string `json:"title,omitempty"`
}

// Validate checks the page path.
func (p *LoginPage) Validate() error {
	if p.Path != "" && (!strings.HasPrefix(p.Path, "/") || strings.ContainsAny(p.Path, "?#\\ ")) {
		return fmt.Errorf("login_page: path %q must be a plain path starting with /, such as /signin", p.Path)
	}
	return nil
}

// signinData is what the sign-in template is executed with (documented in
// docs/signin.md).
type signinData struct {
	Title      string
	Action     string // where the form posts: the page's own path
	Next       string // where a successful sign-in goes (a checked relative path)
	Username   string // the name from a failed attempt, to fill in again
	Error      string // why the last attempt failed; empty on first view
	Stylesheet string // URL of the built-in stylesheet
}

// Messages of the sign-in form. badSignIn does not tell an unknown user
// from a wrong password.
const (
	badSignIn     = "Invalid username or password."
	missingFields = "Enter your username and password."
	foreignForm   = "This sign-in form was sent from another site; open the sign-in page of this site and try again."
	signInDown    = "Signing in is not possible right now; try again in a minute."
)

// signin serves the sign-in page: GET shows the form, POST signs in
// through the cookie session and goes to the checked `next`.
func (e *Endpoints) signin(w http.ResponseWriter, r *http.Request, id *identity.Identity, rest string) error {
	if err := allowMethods(r, http.MethodGet, http.MethodHead, http.MethodPost); err != nil {
		return err
	}
	next := safeNext(r.URL.Query().Get("next"))
	if r.Method != http.MethodPost {
		if id != nil && id.Method == "session" {
			http.Redirect(w, r, next, http.StatusSeeOther)
			return nil
		}
		e.renderSignin(w, r, http.StatusOK, signinData{Next: next})
		return nil
	}
	// The form sends next as a field; the query is kept for a form
	// without it.
	if err := r.ParseForm(); err != nil {
		e.renderSignin(w, r, http.StatusBadRequest, signinData{Next: next, Error: missingFields})
		return nil
	}
	if v, ok := r.PostForm["next"]; ok {
		next = safeNext(v[0])
	}
	data := signinData{Next: next, Username: r.PostForm.Get("username")}
	if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt != "application/x-www-form-urlencoded" {
		data.Error = missingFields
		e.renderSignin(w, r, http.StatusUnsupportedMediaType, data)
		return nil
	}
	if err := e.sessions.CheckLoginOrigin(r); err != nil {
		data.Error = foreignForm
		e.renderSignin(w, r, http.StatusForbidden, data)
		return nil
	}
	password := r.PostForm.Get("password")
	if data.Username == "" || password == "" {
		data.Error = missingFields
		e.renderSignin(w, r, http.StatusBadRequest, data)
		return nil
	}
	acct, err := e.env.Passwords.Check(r, []byte(data.Username), []byte(password))
	e.loginChecked(r, "signin", data.Username, err)
	var rej *authenticators.Rejection
	switch {
	case err == nil:
	case errors.Is(err, identity.ErrBadCredentials):
		data.Error = badSignIn
		// 200, as Django's login form answers: a 401 would need a
		// WWW-Authenticate challenge, and a Basic one makes browsers
		// pop up a password box over the form.
		e.renderSignin(w, r, http.StatusOK, data)
		return nil
	case errors.As(err, &rej) && rej.StatusCode() == http.StatusTooManyRequests:
		secs := retrySeconds(rej.RetryAfter)
		w.Header().Set("Retry-After", strconv.FormatInt(secs, 10))
		data.Error = "Too many failed sign-ins. Try again in " + humanSeconds(secs) + "."
		e.renderSignin(w, r, http.StatusTooManyRequests, data)
		return nil
	case errors.As(err, &rej):
		data.Error = rej.Detail
		e.renderSignin(w, r, rej.StatusCode(), data)
		return nil
	default:
		e.logFailure(r, "sign-in: checking the password failed", err)
		data.Error = signInDown
		e.renderSignin(w, r, http.StatusServiceUnavailable, data)
		return nil
	}
	if err := e.startSession(w, r, acct); err != nil {
		e.logFailure(r, "sign-in: starting the session failed", err)
		data.Error = signInDown
		e.renderSignin(w, r, http.StatusServiceUnavailable, data)
		return nil
	}
	http.Redirect(w, r, next, http.StatusSeeOther)
	return nil
}

// retrySeconds rounds a wait up to whole seconds, at least one.
func retrySeconds(d time.Duration) int64 {
	return max(1, int64((d+time.Second-1)/time.Second))
}

// humanSeconds says a wait in minutes or seconds.
func humanSeconds(secs int64) string {
	switch {
	case secs >= 120:
		return strconv.FormatInt((secs+59)/60, 10) + " minutes"
	case secs == 1:
		return "1 second"
	}
	return strconv.FormatInt(secs, 10) + " seconds"
}

// safeNext returns next if it is a path on this site, else "/". Anything
// a browser could read as another origin is refused: a scheme
// (`https:`, `javascript:`), a network path (`//host`), backslashes
// (`/\host`, which browsers treat as `//host`) and control characters
// (browsers drop tabs and newlines, turning `/\t/host` into `//host`).
func safeNext(next string) string {
	if !strings.HasPrefix(next, "/") || strings.HasPrefix(next, "//") {
		return "/"
	}
	for _, c := range next {
		if c == '\\' || c < 0x20 || c == 0x7f {
			return "/"
		}
	}
	u, err := url.Parse(next)
	if err != nil || u.Scheme != "" || u.Host != "" || u.Opaque != "" || u.User != nil {
		return "/"
	}
	return next
}

// RedirectToSignIn answers a browser navigation without a usable
// credential with 303 to the sign-in page, `next` naming the page asked
// for, and reports whether it did. Other requests (API clients, scripts,
// unsafe methods) are left for the 401.
func (e *Endpoints) RedirectToSignIn(w http.ResponseWriter, r *http.Request) bool {
	if e.pages == nil || !IsNavigation(r) {
		return false
	}
	uri := r.URL.RequestURI()
	if orig, ok := r.Context().Value(caddyhttp.OriginalRequestCtxKey).(http.Request); ok && orig.URL != nil {
		uri = orig.URL.RequestURI() // before any rewrite or stripped prefix
	}
	w.Header().Set("Cache-Control", "no-store")
	http.Redirect(w, r, mountPrefix(r)+e.pages.signinPath+"?next="+url.QueryEscape(uri), http.StatusSeeOther)
	return true
}

// IsNavigation reports whether r is a browser loading a page: GET or HEAD
// whose Accept header prefers text/html (to application/json and to
// anything else it names). A client that accepts anything (`*/*`, as curl
// and fetch send) is not a browser navigation.
func IsNavigation(r *http.Request) bool {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		return false
	}
	html, best := -1.0, -1.0
	for part := range strings.SplitSeq(r.Header.Get("Accept"), ",") {
		media, params, err := mime.ParseMediaType(strings.TrimSpace(part))
		if err != nil {
			continue
		}
		q := 1.0
		if v, ok := params["q"]; ok {
			if q, err = strconv.ParseFloat(v, 64); err != nil {
				continue
			}
		}
		switch media {
		case "text/html":
			html = max(html, q)
		case "application/xhtml+xml", "*/*", "text/*":
		default:
			best = max(best, q)
		}
	}
	return html > 0 && html >= best
}
