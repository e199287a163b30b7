package restauth

import (
	"encoding/json"
	"net/http"

	"github.com/caddyserver/caddy/v2"

	"github.com/caddy-restauth/caddy-restauth/authenticators"
	"github.com/caddy-restauth/caddy-restauth/identity"
)

// defaultOrder is the chain when `order` is not given. The legacy methods
// dotauth and url_params are never in it: they run only when named.
var defaultOrder = []string{"basic", "jwt", "token", "session"}

// legacyMethods are insecure methods kept for dotCMS compatibility.
var legacyMethods = []string{"url_params", "dotauth"}

// authenticate runs the chain: the first authenticator that finds its
// kind of credential decides. An Authorization header that no
// authenticator claims (an unknown scheme, or a malformed one) is an
// invalid credential, never a reason to treat the request as anonymous;
// so is an empty or repeated one. The int is the index in the chain of
// the authenticator that decided, -1 when none did.
func (h *Handler) authenticate(r *http.Request) (*identity.Identity, int, error) {
	if err := authenticators.SingleCredentialHeader(r.Header, "Authorization"); err != nil {
		return nil, -1, err
	}
	for i, a := range h.chain {
		id, err := a.Authenticate(r)
		if err != nil || id != nil {
			return id, i, err
		}
	}
	if v := r.Header["Authorization"]; len(v) > 0 && v[0] != "" { // Get, without canonicalising a canonical name
		return nil, -1, authenticators.Invalid("The Authorization header is malformed or uses a scheme this API does not accept.")
	}
	return nil, -1, nil
}

// isAuthenticator reports whether an authenticator module of that name is
// compiled in.
func isAuthenticator(name string) bool {
	_, err := caddy.GetModule(authenticators.Namespace + "." + name)
	return err == nil
}

// availableDefaults are the default methods whose modules are compiled in.
func availableDefaults() []string {
	var names []string
	for _, m := range defaultOrder {
		if isAuthenticator(m) {
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
