package authenticators

import (
	"net"
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

// ClientIP is the client's address as Caddy resolved it (trusted proxies
// taken into account), or the connection's address when Caddy set none.
func ClientIP(r *http.Request) string {
	if ip, _ := caddyhttp.GetVar(r.Context(), caddyhttp.ClientIPVarKey).(string); ip != "" {
		return ip
	}
	if host, _, err := net.SplitHostPort(r.RemoteAddr); err == nil {
		return host
	}
	return r.RemoteAddr
}
