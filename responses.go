package restauth

import (
	"errors"
	"net/http"

	"go.uber.org/zap"

	"github.com/caddy-restauth/caddy-restauth/authenticators"
	"github.com/caddy-restauth/caddy-restauth/handlers"
	"github.com/caddy-restauth/caddy-restauth/store"
)

// refuse answers a request that failed authentication or that the policy
// does not allow: err is a *authenticators.Rejection, or a store failure
// (503).
func (h *Handler) refuse(w http.ResponseWriter, r *http.Request, err error) {
	rej, isRejection := authenticators.AsRejection(err)
	switch {
	case isRejection:
		if ce := h.logger.Check(zap.DebugLevel, "request refused"); ce != nil {
			ce.Write(zap.Int("status", rej.StatusCode()), zap.String("detail", rej.Detail), zap.String("remote_ip", authenticators.ClientIP(r)))
		}
	case errors.Is(err, store.ErrUnavailable):
		// The store logs the outage once; not once per request.
		h.logger.Debug("credential check failed: store unavailable", zap.String("remote_ip", authenticators.ClientIP(r)), zap.Error(err))
	default:
		h.logger.Error("credential check failed", zap.String("remote_ip", authenticators.ClientIP(r)), zap.Error(err))
	}
	authenticators.WriteError(w, err, h.challenge)
}

// redirectToSignIn sends a browser navigation without a usable credential
// to the login_page (303) and reports whether it did. What anonymous users
// may read is not redirected. stale, if not nil, is the rejection of an
// ended session, whose Set-Cookie values expire its cookies.
func (h *Handler) redirectToSignIn(w http.ResponseWriter, r *http.Request, stale *authenticators.Rejection) bool {
	if h.LoginPage == nil || h.endpoints == nil || !handlers.IsNavigation(r) {
		return false
	}
	if h.authorize(r, nil) == nil {
		return false
	}
	if stale != nil {
		stale.AddCookies(w.Header())
	}
	return h.endpoints.RedirectToSignIn(w, r)
}
