package authenticators

import (
	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
)

// durationArg parses the duration argument of option opt in an
// authenticator's Caddyfile block, with the file and line and an example in
// the error instead of Go's bare "time: invalid duration".
func durationArg(d *caddyfile.Dispenser, block, opt, arg string) (caddy.Duration, error) {
	dur, err := caddy.ParseDuration(arg)
	if err != nil {
		return 0, d.Errf("%s: %s: %q is not a duration (e.g. 30m, 2h, 90d)", block, opt, arg)
	}
	return caddy.Duration(dur), nil
}
