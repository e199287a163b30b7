package restauth

import (
	"encoding/json"

	"github.com/caddyserver/caddy/v2"

	"github.com/caddy-restauth/caddy-restauth/authenticators"
)

// defaultOrder is the chain when `order` is not given. The legacy methods
// dotauth and url_params are never in it: they run only when named.
var defaultOrder = []string{"basic", "jwt", "token", "session"}

// legacyMethods are insecure methods kept for dotCMS compatibility.
var legacyMethods = []string{"url_params", "dotauth"}

// availableDefaults are the default methods whose modules are compiled in.
func availableDefaults() []string {
	var names []string
	for _, m := range defaultOrder {
		if _, err := caddy.GetModule(authenticators.Namespace + "." + m); err == nil {
			names = append(names, m)
		}
	}
	return names
}

// defaultChain is the JSON of the default authenticator chain.
func defaultChain() []json.RawMessage {
	var raw []json.RawMessage
	for _, m := range availableDefaults() {
		raw = append(raw, json.RawMessage(`{"method":"`+m+`"}`))
	}
	return raw
}
