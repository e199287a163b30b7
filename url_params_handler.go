package restauth

import (
	"context"
	"net/http"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/httpcaddyfile"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"

	"github.com/caddy-restauth/caddy-restauth/authenticators"
)

func init() {
	caddy.RegisterModule(URLParamsHandler{})
	httpcaddyfile.RegisterDirective("rest_auth_url_params", parseURLParamsDirective)
	// First of all: before tracing, map, vars, rewrite, handle and every
	// matcher of the site's routes.
	httpcaddyfile.RegisterDirectiveOrder("rest_auth_url_params", httpcaddyfile.Before, "tracing")
}

// URLParamsHandler takes dotCMS's `/user/<name>/password/<password>`
// segments out of the path before any route or matcher of the site sees
// the request, and hands the credential to the `url_params` authenticator
// of rest_auth in a request variable that no configuration or client can
// set. Without it, rest_auth refuses (400) requests whose path carries such
// segments instead of authenticating them.
//
// It also rewrites Caddy's record of the original request, so that
// `{http.request.orig_uri}` and the error routes see the cut path.
type URLParamsHandler struct{}

// CaddyModule returns the Caddy module information.
func (URLParamsHandler) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "http.handlers.rest_auth_url_params",
		New: func() caddy.Module { return new(URLParamsHandler) },
	}
}

// ServeHTTP cuts the segments, then calls the next handler.
func (URLParamsHandler) ServeHTTP(w http.ResponseWriter, r *http.Request, next caddyhttp.Handler) error {
	if authenticators.TakeURLCredentials(r) {
		forgetOriginalURI(r)
	}
	return next.ServeHTTP(w, r)
}

// forgetOriginalURI replaces the path in Caddy's copy of the request as it
// arrived (read by the {http.request.orig_uri*} placeholders and restored
// before error routes run) with the cut one. The request is updated in
// place: Caddy's server and its placeholders hold this very pointer.
func forgetOriginalURI(r *http.Request) {
	orig, ok := r.Context().Value(caddyhttp.OriginalRequestCtxKey).(http.Request)
	if !ok || orig.URL == nil {
		return
	}
	u := *orig.URL
	u.Path, u.RawPath = r.URL.Path, r.URL.RawPath
	*orig.URL = u
	orig.RequestURI = r.RequestURI
	*r = *r.WithContext(context.WithValue(r.Context(), caddyhttp.OriginalRequestCtxKey, orig))
}

// parseURLParamsDirective parses `rest_auth_url_params`: no arguments and
// no matcher, because it must see every request of the site.
func parseURLParamsDirective(h httpcaddyfile.Helper) ([]httpcaddyfile.ConfigValue, error) {
	h.Next() // the directive name
	if h.NextArg() {
		return nil, h.Errf("rest_auth_url_params takes no arguments and no matcher: put it, alone, at the top of the site block")
	}
	if h.NextBlock(0) {
		return nil, h.Errf("rest_auth_url_params takes no block")
	}
	return h.NewRoute(nil, URLParamsHandler{}), nil
}

// Interface guards
var _ caddyhttp.MiddlewareHandler = URLParamsHandler{}
