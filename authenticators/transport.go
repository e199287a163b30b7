package authenticators

import (
	"net/http"
	"strings"

	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
)

// ArrivedOverTLS reports whether the client's connection used TLS, directly
// or, according to X-Forwarded-Proto, through one of the server's trusted
// proxies. A client cannot claim HTTPS by sending the header itself.
func ArrivedOverTLS(r *http.Request) bool {
	if r.TLS != nil {
		return true
	}
	trusted, _ := caddyhttp.GetVar(r.Context(), caddyhttp.TrustedProxyVarKey).(bool)
	if !trusted {
		return false
	}
	// The first proxy's view of the client's scheme comes first.
	proto, _, _ := strings.Cut(r.Header.Get("X-Forwarded-Proto"), ",")
	return strings.EqualFold(strings.TrimSpace(proto), "https")
}

// IsSafeMethod reports whether m only reads: GET, HEAD and OPTIONS. The
// anonymous `read` policy allows exactly these, and a session needs no
// CSRF token for them.
func IsSafeMethod(m string) bool {
	return m == http.MethodGet || m == http.MethodHead || m == http.MethodOptions
}
