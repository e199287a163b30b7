// Command caddy is Caddy with the standard modules and rest_auth compiled
// in: what `xcaddy build --with github.com/caddy-restauth/caddy-restauth`
// produces, buildable with plain `go build ./cmd/caddy` (the tests use it to
// restart and reload a real Caddy process).
package main

import (
	caddycmd "github.com/caddyserver/caddy/v2/cmd"

	_ "github.com/caddyserver/caddy/v2/modules/standard"

	_ "github.com/caddy-restauth/caddy-restauth"
)

func main() {
	caddycmd.Main()
}
