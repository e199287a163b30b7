// Command spincaddy is Caddy with the standard modules, rest_auth and one
// more handler, bench_spin, for scripts/bench-http-floor.sh: bench_spin
// keeps the CPU busy for a set time on every request and does nothing
// else, so a bare Caddy with it in the route shows what the over-HTTP
// comparison of scripts/bench-http.sh makes of a handler of known cost.
// It is a benchmark tool, never part of the plugin.
//
//	{
//		order bench_spin before respond
//	}
//	http://127.0.0.1:8080 {
//		bench_spin 1us    # 0: a handler that does nothing
//		respond "ok" 200
//	}
package main

import (
	"fmt"
	"net/http"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/caddyserver/caddy/v2/caddyconfig/httpcaddyfile"
	caddycmd "github.com/caddyserver/caddy/v2/cmd"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"

	_ "github.com/caddyserver/caddy/v2/modules/standard"

	_ "github.com/caddy-restauth/caddy-restauth"
	"github.com/caddy-restauth/caddy-restauth/internal/monotonic"
)

func init() {
	caddy.RegisterModule(Spin{})
	httpcaddyfile.RegisterHandlerDirective("bench_spin", parseSpin)
}

// Spin keeps the CPU busy for Duration on every request, then calls the
// next handler (at once with Duration 0).
type Spin struct {
	// Duration is how long each request spins.
	Duration caddy.Duration `json:"duration,omitempty"`
}

// CaddyModule returns the Caddy module information.
func (Spin) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "http.handlers.bench_spin",
		New: func() caddy.Module { return new(Spin) },
	}
}

// ServeHTTP spins, reading the monotonic clock, until Duration passed; with
// Duration 0 it only calls the next handler: a no-op handler.
func (s Spin) ServeHTTP(w http.ResponseWriter, r *http.Request, next caddyhttp.Handler) error {
	if s.Duration > 0 {
		start := monotonic.Now()
		for monotonic.Since(start) < time.Duration(s.Duration) {
		}
	}
	return next.ServeHTTP(w, r)
}

// UnmarshalCaddyfile reads `bench_spin <duration>`.
func (s *Spin) UnmarshalCaddyfile(d *caddyfile.Dispenser) error {
	d.Next()
	var arg string
	if !d.Args(&arg) {
		return d.ArgErr()
	}
	dur, err := caddy.ParseDuration(arg)
	if err != nil || dur < 0 {
		return d.Errf("bench_spin: %q is not a duration (e.g. 1us, or 0 for a no-op handler)", arg)
	}
	s.Duration = caddy.Duration(dur)
	return nil
}

func parseSpin(h httpcaddyfile.Helper) (caddyhttp.MiddlewareHandler, error) {
	s := new(Spin)
	if err := s.UnmarshalCaddyfile(h.Dispenser); err != nil {
		return nil, fmt.Errorf("bench_spin: %w", err)
	}
	return s, nil
}

func main() {
	caddycmd.Main()
}

// Interface guards
var (
	_ caddyhttp.MiddlewareHandler = Spin{}
	_ caddyfile.Unmarshaler       = (*Spin)(nil)
)
