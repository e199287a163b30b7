package store

import "github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"

// shorthandArg reads the optional single argument after a backend's name
// (`bolt /path`, `memory name`, `redis host:port`) into dst. The dispenser
// is on the name, or fresh before it. The block that may follow is the
// caller's.
func shorthandArg(d *caddyfile.Dispenser, dst *string) error {
	if d.Val() == "" {
		d.Next() // a fresh dispenser: step onto the backend name
	}
	if d.NextArg() {
		*dst = d.Val()
	}
	if d.NextArg() {
		return d.ArgErr()
	}
	return nil
}
