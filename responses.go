package restauth

import (
	"errors"
	"net/http"

	"go.uber.org/zap"

	"github.com/caddy-restauth/caddy-restauth/authenticators"
	"github.com/caddy-restauth/caddy-restauth/handlers"
	"github.com/caddy-restauth/caddy-restauth/problem"
	"github.com/caddy-restauth/caddy-restauth/store"
)

// reject answers a failed authentication.
func (h *Handler) reject(w http.ResponseWriter, r *http.Request, err error) {
	var rej *authenticators.Rejection
	if !errors.As(err, &rej) {
		if errors.Is(err, store.ErrUnavailable) {
			// The store logs the outage once; not once per request.
			h.logger.Debug("credential check failed: store unavailable", zap.String("remote_ip", authenticators.ClientIP(r)), zap.Error(err))
		} else {
			h.logger.Error("credential check failed", zap.String("remote_ip", authenticators.ClientIP(r)), zap.Error(err))
		}
		problem.Write(w, http.StatusServiceUnavailable, problem.StoreUnavailable)
		return
	}
	h.logger.Debug("credential rejected",
		zap.Int("status", rej.StatusCode()), zap.String("detail", rej.Detail), zap.String("remote_ip", authenticators.ClientIP(r)))
	rej.Write(w, h.challenge)
}

// refuse answers a request the policy does not allow.
func (h *Handler) refuse(w http.ResponseWriter, r *http.Request, status int, detail string) {
	h.logger.Debug("request refused",
		zap.Int("status", status), zap.String("detail", detail), zap.String("remote_ip", authenticators.ClientIP(r)))
	if status == http.StatusUnauthorized {
		problem.Unauthorized(w, h.challenge, detail)
		return
	}
	problem.Write(w, status, detail)
}

// redirectToSignIn sends a browser navigation without a usable credential
// to the login_page (303) and reports whether it did. What anonymous users
// may read is not redirected. header holds extra response headers (the
// Set-Cookie that expires an ended session).
func (h *Handler) redirectToSignIn(w http.ResponseWriter, r *http.Request, header http.Header) bool {
	if h.LoginPage == nil || h.endpoints == nil || !handlers.IsNavigation(r) {
		return false
	}
	if status, _ := h.authorize(r, nil); status == 0 {
		return false
	}
	for k, v := range header {
		w.Header()[k] = v
	}
	return h.endpoints.RedirectToSignIn(w, r)
}
