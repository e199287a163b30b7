package restauth

import (
	"net/http"
	"slices"

	"go.uber.org/zap"

	"github.com/caddy-restauth/caddy-restauth/authenticators"
)

// logFilterDocs names the documentation of the log configuration that keeps
// legacy credentials out of every Caddy log.
const logFilterDocs = `docs/security.md, "Keeping secrets out of Caddy's logs"`

// unsafeURLCredentials is the detail of the 400 for a path that still
// carries URL credentials when it reaches rest_auth.
const unsafeURLCredentials = "The /user/<name>/password/<password> credentials in the path could not be used safely; the server is missing rest_auth_url_params."

// warnLegacyMethods logs, once per load, that dotauth or url_params is
// enabled and what the site needs for it: Caddy logs the request as it
// arrived, so the credentials reach its logs unless filtered.
func (h *Handler) warnLegacyMethods(methods []string) {
	dotauth, urlParams := slices.Contains(methods, "dotauth"), slices.Contains(methods, "url_params")
	switch {
	case urlParams:
		h.logger.Warn("legacy credentials enabled: put rest_auth_url_params at the top of the site block (without it, requests with URL credentials are refused), and add the log filter of "+logFilterDocs+" to the global log options and to every site log: Caddy logs the request as it arrived, passwords included",
			zap.Bool("dotauth", dotauth), zap.Bool("url_params", urlParams))
	case dotauth:
		h.logger.Warn("legacy credentials enabled: add the log filter of "+logFilterDocs+" to the global log options and to every site log: Caddy logs the request as it arrived, the DOTAUTH header included",
			zap.Bool("dotauth", dotauth), zap.Bool("url_params", urlParams))
	}
}

// refuseURLCredentials refuses with 400 when the chain takes URL credentials but
// the path still carries them: rest_auth_url_params did not run before the
// routes, so a matcher may have decided on a path the upstream would never
// see. The credential is neither checked nor passed on.
func (h *Handler) refuseURLCredentials(r *http.Request) error {
	if !h.urlParams || !authenticators.HasURLCredentials(r) {
		return nil
	}
	if h.missingURLParamsLogged.CompareAndSwap(false, true) {
		h.logger.Error("a request carried /user/<name>/password/<password> credentials, but the site does not take them out before its routes run; add rest_auth_url_params at the top of the site block (such requests are refused with 400 until then)",
			zap.String("remote_ip", authenticators.ClientIP(r)))
	}
	return authenticators.BadRequest(unsafeURLCredentials)
}
