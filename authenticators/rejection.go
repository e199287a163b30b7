package authenticators

import (
	"errors"
	"net/http"
	"time"

	"github.com/caddy-restauth/caddy-restauth/problem"
)

// Rejection is the answer to a credential that is present but not
// acceptable. Its Detail is shown to the client, so it must never contain
// the credential.
type Rejection struct {
	// Status is the HTTP status (401 when zero).
	Status int
	// Detail explains the refusal to the client.
	Detail string
	// Challenge replaces the handler's WWW-Authenticate challenges on a 401
	// (e.g. `Bearer realm="api", error="invalid_token"`).
	Challenge string
	// RetryAfter is sent with a 429.
	RetryAfter time.Duration
	// Stale marks a credential that is merely outdated (a session cookie
	// whose session ended): the login endpoints ignore it, so a browser
	// with an old cookie can log in again.
	Stale bool
	// Header holds extra response headers (e.g. Allow on a 405).
	Header http.Header
	// SetCookie holds Set-Cookie values sent with the response (those
	// that expire a dead session's cookies so the browser stops sending
	// them): a field of its own, so that refusing a dead session makes no
	// header map.
	SetCookie []string
	// ranOut marks a credential that was good and has run out (an expired
	// or revoked JWT); see JWT.markStale.
	ranOut bool
}

func (r *Rejection) Error() string { return r.Detail }

// StatusCode is the HTTP status of the rejection.
func (r *Rejection) StatusCode() int {
	if r.Status == 0 {
		return http.StatusUnauthorized
	}
	return r.Status
}

// AddCookies adds the rejection's Set-Cookie values to h.
func (r *Rejection) AddCookies(h http.Header) {
	if len(r.SetCookie) > 0 {
		h["Set-Cookie"] = append(h["Set-Cookie"], r.SetCookie...)
	}
}

// Invalid rejects a present-but-invalid credential with 401.
func Invalid(detail string) *Rejection {
	return &Rejection{Status: http.StatusUnauthorized, Detail: detail}
}

// Forbidden rejects an authenticated request with 403.
func Forbidden(detail string) *Rejection {
	return &Rejection{Status: http.StatusForbidden, Detail: detail}
}

// BadRequest refuses a request whose content is wrong with 400.
func BadRequest(detail string) *Rejection {
	return &Rejection{Status: http.StatusBadRequest, Detail: detail}
}

// NotFound refuses a request for something that does not exist with 404.
func NotFound(detail string) *Rejection {
	return &Rejection{Status: http.StatusNotFound, Detail: detail}
}

// Write answers the request with the rejection as a problem. challenge is
// the WWW-Authenticate value of a 401 whose rejection names none.
func (r *Rejection) Write(w http.ResponseWriter, challenge string) {
	for k, v := range r.Header {
		w.Header()[k] = v
	}
	r.AddCookies(w.Header())
	switch status := r.StatusCode(); status {
	case http.StatusUnauthorized:
		if r.Challenge != "" {
			challenge = r.Challenge
		}
		problem.Unauthorized(w, challenge, r.Detail)
	case http.StatusTooManyRequests:
		problem.TooManyRequests(w, r.RetryAfter, r.Detail)
	default:
		problem.Write(w, status, r.Detail)
	}
}

// AsRejection is the *Rejection in err's chain, if any (errors.As, with a
// type assertion first: err is a bare *Rejection on the request path, and
// errors.As's reflection is not free).
func AsRejection(err error) (*Rejection, bool) {
	if rej, ok := err.(*Rejection); ok {
		return rej, true
	}
	var rej *Rejection
	ok := errors.As(err, &rej)
	return rej, ok
}

// WriteError answers a request refused with err: a *Rejection as itself
// (challenge as for Write), any other error as a store failure (503). It is
// the one place a refusal is written.
func WriteError(w http.ResponseWriter, err error, challenge string) {
	if rej, ok := AsRejection(err); ok {
		rej.Write(w, challenge)
		return
	}
	problem.Write(w, http.StatusServiceUnavailable, problem.StoreUnavailable)
}
