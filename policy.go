package restauth

import (
	"errors"
	"net/http"

	"go.uber.org/zap"

	"github.com/caddyserver/caddy/v2/modules/caddyhttp"

	"github.com/caddy-restauth/caddy-restauth/authenticators"
	"github.com/caddy-restauth/caddy-restauth/identity"
	"github.com/caddy-restauth/caddy-restauth/problem"
)

// authorize applies the anonymous and role policy. It returns a non-zero
// status (and its detail) when the request must be refused.
func (h *Handler) authorize(r *http.Request, id *identity.Identity) (int, string) {
	safe := isSafeMethod(r.Method)
	if id == nil {
		switch {
		case isPreflight(r), h.Anonymous == "write", h.Anonymous == "read" && safe:
			return 0, ""
		}
		return http.StatusUnauthorized, problem.NoCredentials
	}
	if len(h.AllowRoles) > 0 && !id.HasAnyRole(h.AllowRoles) {
		return http.StatusForbidden, "You do not have a role that may use this API."
	}
	if safe {
		return 0, ""
	}
	if id.ReadOnly {
		return http.StatusForbidden, "This credential is read-only."
	}
	if len(h.WriteRoles) > 0 && !id.HasAnyRole(h.WriteRoles) {
		return http.StatusForbidden, "You do not have a role that may modify this resource."
	}
	return 0, ""
}

// isSafeMethod reports whether m only reads (RFC 9110 §9.2.1, as the
// anonymous `read` policy defines it).
func isSafeMethod(m string) bool {
	return m == http.MethodGet || m == http.MethodHead || m == http.MethodOptions
}

// isPreflight reports whether r is a CORS preflight request, which never
// carries credentials.
func isPreflight(r *http.Request) bool {
	return r.Method == http.MethodOptions && r.Header.Get("Origin") != "" &&
		r.Header.Get("Access-Control-Request-Method") != ""
}

// arrivedOverTLS reports whether the client's connection used TLS, directly
// or, according to X-Forwarded-Proto, through a trusted proxy.
func arrivedOverTLS(r *http.Request) bool {
	if r.TLS != nil {
		return true
	}
	trusted, _ := caddyhttp.GetVar(r.Context(), caddyhttp.TrustedProxyVarKey).(bool)
	return trusted && r.Header.Get("X-Forwarded-Proto") == "https"
}

// reject answers a failed authentication.
func (h *Handler) reject(w http.ResponseWriter, r *http.Request, err error) {
	var rej *authenticators.Rejection
	if !errors.As(err, &rej) {
		h.logger.Error("credential check failed", zap.String("remote_ip", clientIP(r)), zap.Error(err))
		problem.Write(w, http.StatusServiceUnavailable, "The credential store is unavailable; try again later.")
		return
	}
	status := rej.StatusCode()
	h.logger.Debug("credential rejected",
		zap.Int("status", status), zap.String("detail", rej.Detail), zap.String("remote_ip", clientIP(r)))
	switch status {
	case http.StatusUnauthorized:
		challenge := rej.Challenge
		if challenge == "" {
			challenge = h.challenge
		}
		problem.Unauthorized(w, challenge, rej.Detail)
	case http.StatusTooManyRequests:
		problem.TooManyRequests(w, rej.RetryAfter, rej.Detail)
	default:
		problem.Write(w, status, rej.Detail)
	}
}

// refuse answers a request the policy does not allow.
func (h *Handler) refuse(w http.ResponseWriter, r *http.Request, status int, detail string) {
	h.logger.Debug("request refused",
		zap.Int("status", status), zap.String("detail", detail), zap.String("remote_ip", clientIP(r)))
	if status == http.StatusUnauthorized {
		problem.Unauthorized(w, h.challenge, detail)
		return
	}
	problem.Write(w, status, detail)
}

// clientIP is the client address as Caddy resolved it (trusted proxies
// taken into account).
func clientIP(r *http.Request) string {
	ip, _ := caddyhttp.GetVar(r.Context(), caddyhttp.ClientIPVarKey).(string)
	return ip
}
