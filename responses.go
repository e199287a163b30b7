package restauth

import (
	"errors"
	"net/http"

	"go.uber.org/zap"

	"github.com/caddy-restauth/caddy-restauth/authenticators"
	"github.com/caddy-restauth/caddy-restauth/store"
)

// refuse answers a request that failed authentication or that the policy
// does not allow: err is a *authenticators.Rejection, or a store failure
// (503).
func (h *Handler) refuse(w http.ResponseWriter, r *http.Request, err error) {
	var rej *authenticators.Rejection
	switch {
	case errors.As(err, &rej):
		h.logger.Debug("request refused",
			zap.Int("status", rej.StatusCode()), zap.String("detail", rej.Detail), zap.String("remote_ip", authenticators.ClientIP(r)))
	case errors.Is(err, store.ErrUnavailable):
		// The store logs the outage once; not once per request.
		h.logger.Debug("credential check failed: store unavailable", zap.String("remote_ip", authenticators.ClientIP(r)), zap.Error(err))
	default:
		h.logger.Error("credential check failed", zap.String("remote_ip", authenticators.ClientIP(r)), zap.Error(err))
	}
	authenticators.WriteError(w, err, h.challenge)
}
