package authenticators

import (
	"net/http"
	"net/url"
	"slices"
	"strings"
)

// checkOrigin applies Django's rule for writes authenticated by a cookie:
// the Origin header, or without one the Referer, must be this site (with
// the scheme the request arrived on) or one of trusted. A cross-site page
// cannot forge either header.
func checkOrigin(r *http.Request, trusted []string) *Rejection {
	if origin := r.Header.Get("Origin"); origin != "" {
		if !trustedOrigin(r, origin, trusted) {
			return Forbidden("Origin checking failed: " + quoteForDetail(origin) + " is not a trusted origin.")
		}
		return nil
	}
	ref, err := url.Parse(r.Header.Get("Referer"))
	if err != nil || ref.Host == "" {
		return Forbidden("Referer checking failed: no Origin or Referer on a write authenticated by a cookie.")
	}
	if !trustedOrigin(r, ref.Scheme+"://"+ref.Host, trusted) {
		return Forbidden("Referer checking failed: the Referer does not match a trusted origin.")
	}
	return nil
}

// trustedOrigin reports whether origin (scheme://host[:port]) is this site,
// as the request reached it, or one of trusted (lower-case, no slash).
func trustedOrigin(r *http.Request, origin string, trusted []string) bool {
	origin = strings.ToLower(origin)
	scheme := "http://"
	if ArrivedOverTLS(r) {
		scheme = "https://"
	}
	return origin == scheme+strings.ToLower(r.Host) || slices.Contains(trusted, origin)
}
