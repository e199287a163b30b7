package handlers

import (
	"errors"
	"net/http"
	"strings"
	"sync"

	"go.uber.org/zap"

	"github.com/caddy-restauth/caddy-restauth/authenticators"
	"github.com/caddy-restauth/caddy-restauth/identity"
)

// loginEndpoints are the endpoints that take a password in the body: the
// endpoint label of caddy_rest_auth_logins_total ("signin" is the sign-in
// page, login_page).
var loginEndpoints = []string{"login", "session", "tokens", "signin"}

// loginCounters are bound once per process, per endpoint.
var loginCounters = sync.OnceValue(func() map[string]*authenticators.LoginCounters {
	m := make(map[string]*authenticators.LoginCounters, len(loginEndpoints))
	for _, name := range loginEndpoints {
		m[name] = authenticators.NewLoginCounters(name)
	}
	return m
})

// endpointName is the name of the endpoint r addresses (login, session,
// tokens, ...).
func (e *Endpoints) endpointName(r *http.Request) string {
	name, _, _ := strings.Cut(strings.TrimPrefix(r.URL.Path, e.base), "/")
	return name
}

// loginChecked counts and audits a password login at endpoint (one of
// loginEndpoints): err is what the password check returned for user.
func (e *Endpoints) loginChecked(r *http.Request, endpoint, user string, err error) {
	outcome, reason := authenticators.OutcomeOK, ""
	var rej *authenticators.Rejection
	switch {
	case err == nil:
	case errors.Is(err, identity.ErrBadCredentials):
		outcome, reason = authenticators.OutcomeInvalid, "invalid username or password"
	case errors.As(err, &rej) && rej.StatusCode() == http.StatusTooManyRequests:
		outcome, reason = authenticators.OutcomeThrottled, rej.Detail
	default:
		reason = "store unavailable"
		outcome = authenticators.OutcomeUnavailable
	}
	if c, ok := loginCounters()[endpoint]; ok {
		c.Count(outcome)
	}
	if err == nil {
		e.env.Audit.Event(authenticators.EventLoginSucceeded, r, user, zap.String("endpoint", endpoint))
		return
	}
	e.env.Audit.Attempt(authenticators.EventLoginFailed, r, e.env.Users, user, zap.String("endpoint", endpoint), zap.String("reason", reason))
}
