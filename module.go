// Package restauth is a Caddy HTTP handler that gives any site the REST API
// authentication of content systems such as Plone, dotCMS and NetBox: an
// ordered chain of authenticators, an anonymous read/write policy, HTTPS
// enforcement and the endpoints that issue and revoke credentials. The
// upstream receives a trusted identity and never a password.
package restauth

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync/atomic"

	"go.uber.org/zap"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"

	"github.com/caddy-restauth/caddy-restauth/authenticators"
	"github.com/caddy-restauth/caddy-restauth/handlers"
	"github.com/caddy-restauth/caddy-restauth/identity"
	"github.com/caddy-restauth/caddy-restauth/store"
)

func init() {
	caddy.RegisterModule(Handler{})
}

// Handler authenticates REST API requests and passes a trusted identity
// upstream.
//
// For each request it: removes client-sent copies of the identity headers;
// refuses plain HTTP when require_https is set; runs the authenticator chain
// (the first credential the request carries decides, and an invalid one is
// a 401 at once); serves the credential endpoints; applies the anonymous
// and role policy; and finally sets the `{http.auth.user.*}` placeholders
// and identity headers before calling the next handler.
type Handler struct {
	// Users, in addition to those of users_file. Password hashes are as
	// printed by `caddy hash-password` (bcrypt or argon2id).
	Users []identity.User `json:"users,omitempty"`

	// A JSON file with a list of users:
	// `[{"name", "password_hash", "roles", "disabled"}]`. The file is
	// watched: within about a second of a change its users apply to every
	// credential (a disabled or removed user's Basic, JWT, token and session
	// stop working). A file that cannot be read or is invalid keeps the
	// last good users and logs an error.
	UsersFile string `json:"users_file,omitempty"`

	// The authenticator chain, in order. The first credential a request
	// carries decides. Default: basic, jwt, token, session (those that are
	// available). The legacy methods dotauth and url_params run only when
	// listed here.
	AuthenticatorsRaw []json.RawMessage `json:"authenticators,omitempty" caddy:"namespace=http.handlers.rest_auth.authenticators inline_key=method"`

	// What a request without any credential may do: `none` (default; 401),
	// `read` (GET, HEAD and OPTIONS) or `write` (everything).
	Anonymous string `json:"anonymous,omitempty"`

	// Refuse (403) any request that did not arrive over TLS, directly or
	// through one of the server's trusted proxies (X-Forwarded-Proto).
	// There is no redirect: an API client must not send credentials over
	// plain HTTP at all.
	RequireHTTPS bool `json:"require_https,omitempty"`

	// If set, only authenticated identities with one of these roles may use
	// the API at all (403 otherwise).
	AllowRoles []string `json:"allow_roles,omitempty"`

	// If set, only identities with one of these roles may use unsafe
	// methods (POST, PUT, PATCH, DELETE, ...); others get 403.
	WriteRoles []string `json:"write_roles,omitempty"`

	// The request header that carries the user's name upstream.
	// Default: X-Remote-User.
	UserHeader string `json:"user_header,omitempty"`

	// The request header that carries the roles upstream, comma-separated.
	// Default: X-Remote-Roles.
	RolesHeader string `json:"roles_header,omitempty"`

	// Keep the credentials (Authorization and the like) on the request that
	// goes upstream. By default they are removed.
	KeepCredentials bool `json:"keep_credentials,omitempty"`

	// Where the credential endpoints (@me, @login, ...) are served: a path
	// prefix such as `/api`, or `off`. Default: the site root.
	Endpoints string `json:"endpoints,omitempty"`

	// A sign-in page for browsers and an @account page where users manage
	// their API tokens (opt-in). A browser navigation without a credential
	// to a page this block protects gets 303 to the sign-in page instead of
	// the 401. Needs the session authenticator and the endpoints.
	LoginPage *handlers.LoginPage `json:"login_page,omitempty"`

	// The realm named in WWW-Authenticate challenges. Default: restauth.
	Realm string `json:"realm,omitempty"`

	// Limits on failed password checks (Basic, DOTAUTH, URL parameters,
	// @login, @session, @tokens provisioning). Default: 5 failures for one
	// user from one client address lock that user out from that address;
	// 100 for one user from all addresses lock the user out everywhere; 20
	// from one address for any users lock the address out. Failures are
	// counted within 15m and lock out for 15m (429).
	Throttle *authenticators.Throttle `json:"throttle,omitempty"`

	// Where tokens, sessions, revocations and counters are kept.
	// Default: bolt, a file in Caddy's data directory.
	StoreRaw json.RawMessage `json:"store,omitempty" caddy:"namespace=http.handlers.rest_auth.stores inline_key=backend"`

	chain       []authenticators.Authenticator
	methods     []string // the chain's method names
	scrubbers   []authenticators.Scrubber
	challenge   string
	endpoints   *handlers.Endpoints
	users       *identity.Directory
	store       store.Store
	userHeader  string
	rolesHeader string
	ownHeaders  *headerNameSet // userHeader and rolesHeader
	logger      *zap.Logger
	audit       *authenticators.Audit
	// published is what the admin API and the store gauges see of the
	// handler.
	published *handlers.Published
	// counters count requests per chain entry; the last entry counts
	// requests without a credential.
	counters []*authenticators.RequestCounters
	// unload undoes what Provision did (the modules it loaded, the header
	// names it registered), in reverse order.
	unload []context.CancelFunc
	// urlParams: the chain takes URL credentials, so a path that still
	// carries them is refused.
	urlParams bool
	// missingURLParamsLogged: the error about a missing
	// rest_auth_url_params was logged (once per load).
	missingURLParamsLogged *atomic.Bool
}

// CaddyModule returns the Caddy module information.
func (Handler) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "http.handlers.rest_auth",
		New: func() caddy.Module { return new(Handler) },
	}
}

// Provision loads users, the store and the authenticator chain.
func (h *Handler) Provision(ctx caddy.Context) error {
	h.logger = ctx.Logger()
	if err := h.provisionOperations(ctx); err != nil {
		return err
	}
	if h.Realm == "" {
		h.Realm = "restauth"
	}
	h.userHeader = http.CanonicalHeaderKey(cmp.Or(h.UserHeader, defaultUserHeader))
	h.rolesHeader = http.CanonicalHeaderKey(cmp.Or(h.RolesHeader, defaultRolesHeader))
	h.ownHeaders = newHeaderNameSet(h.userHeader, h.rolesHeader)
	knownIdentityHeaders.add(h.userHeader, h.rolesHeader)
	h.unload = append(h.unload, func() { knownIdentityHeaders.remove(h.userHeader, h.rolesHeader) })

	users := h.Users
	var file *usersFile
	if h.UsersFile != "" {
		file = &usersFile{path: h.UsersFile, inline: h.Users, logger: h.logger, audit: h.audit}
		var err error
		if users, err = file.load(); err != nil {
			return err
		}
	}
	dir, err := identity.NewDirectory(users)
	if err != nil {
		return fmt.Errorf("users: %w", err)
	}
	h.users = dir
	h.auditUsers(len(users))
	if len(users) == 0 {
		// Every credential (password, token, JWT, session) names a
		// configured user: with none, no request can authenticate.
		h.logger.Warn("no users configured: no request can authenticate; add `user <name> <hash>` lines (hash from `caddy hash-password`) or `users_file <path>` to the rest_auth block",
			zap.String("users_file", h.UsersFile))
	}
	if file != nil {
		file.users = dir
		watchCtx, stopWatching := context.WithCancel(context.Background())
		done := make(chan struct{})
		go file.watch(watchCtx, done)
		h.unload = append(h.unload, func() { stopWatching(); <-done })
	}

	if h.StoreRaw == nil {
		h.StoreRaw = json.RawMessage(`{"backend":"bolt"}`)
	}
	// The store and the authenticators live in contexts of their own so
	// that Cleanup can unload them in order: authenticators first (the
	// token authenticator writes its last batch of uses), then the store.
	storeCtx, unloadStore := caddy.NewContext(ctx)
	h.unload = append(h.unload, unloadStore)
	mod, err := storeCtx.LoadModule(h, "StoreRaw")
	if err != nil {
		return fmt.Errorf("loading store: %w", err)
	}
	h.store = h.measure(mod)

	if len(h.AuthenticatorsRaw) == 0 {
		h.AuthenticatorsRaw = defaultChain()
	}
	authCtx, unloadAuthenticators := caddy.NewContext(ctx)
	h.unload = append(h.unload, unloadAuthenticators)
	mods, err := authCtx.LoadModule(h, "AuthenticatorsRaw")
	if err != nil {
		return fmt.Errorf("loading authenticators: %w", err)
	}
	var throttle authenticators.Throttle
	if h.Throttle != nil {
		throttle = *h.Throttle
	}
	env := authenticators.Env{
		Users:     h.users,
		Passwords: authenticators.NewPasswords(h.users, h.store, throttle).Audited(h.audit),
		Store:     h.store,
		Logger:    h.logger,
		Realm:     h.Realm,
		Audit:     h.audit,
	}
	var challenges []string
	var methods []string
	for _, m := range mods.([]any) {
		method := caddy.GetModuleName(m)
		if slices.Contains(methods, method) {
			return fmt.Errorf("authenticator %q is listed twice in the chain", method)
		}
		methods = append(methods, method)
		a := m.(authenticators.Authenticator)
		if b, ok := a.(authenticators.Binder); ok {
			if err := b.Bind(env); err != nil {
				return err
			}
		}
		if c, ok := a.(authenticators.Challenger); ok {
			for _, ch := range c.WWWAuthenticate() {
				if !slices.Contains(challenges, ch) {
					challenges = append(challenges, ch)
				}
			}
		}
		if s, ok := a.(authenticators.Scrubber); ok {
			h.scrubbers = append(h.scrubbers, s)
		}
		if _, ok := a.(*authenticators.URLParams); ok {
			h.urlParams = true
			h.missingURLParamsLogged = new(atomic.Bool)
		}
		h.chain = append(h.chain, a)
		h.counters = append(h.counters, authenticators.NewRequestCounters(method))
	}
	h.methods = methods
	h.counters = append(h.counters, authenticators.NewRequestCounters(authenticators.MethodAnonymous))
	h.challenge = strings.Join(challenges, ", ")
	h.warnLegacyMethods(methods)

	if h.Endpoints != "off" {
		h.endpoints = handlers.New(cmp.Or(h.Endpoints, "/"), env, h.challenge, h.chain)
		if h.LoginPage != nil {
			if err := h.endpoints.EnableLoginPage(*h.LoginPage); err != nil {
				return err
			}
		}
	}
	h.publish(env)
	return nil
}

// Cleanup unloads the authenticators, then the store they use, and
// withdraws the block's identity header names.
func (h *Handler) Cleanup() error {
	for i := len(h.unload) - 1; i >= 0; i-- {
		h.unload[i]()
	}
	h.unload = nil
	return nil
}

// Validate checks the configuration for mistakes a user can fix.
func (h *Handler) Validate() error {
	if h.Throttle != nil {
		if err := h.Throttle.Validate(); err != nil {
			return err
		}
	}
	if err := checkAnonymous(h.Anonymous); err != nil {
		return err
	}
	if err := checkEndpoints(h.Endpoints); err != nil {
		return err
	}
	if err := h.checkLoginPageEndpoints(); err != nil {
		return err
	}
	if h.LoginPage != nil {
		if err := h.LoginPage.Validate(); err != nil {
			return err
		}
	}
	for _, name := range []string{h.UserHeader, h.RolesHeader} {
		if err := checkIdentityHeader(name); err != nil {
			return err
		}
	}
	if headerNamesEquivalent(h.userHeader, h.rolesHeader) {
		return fmt.Errorf("user_header and roles_header must differ")
	}
	for _, roles := range [][]string{h.AllowRoles, h.WriteRoles} {
		for _, r := range roles {
			if err := identity.ValidateRole(r); err != nil {
				return err
			}
		}
	}
	return nil
}

// checkEndpoints checks the endpoints prefix (empty: the site root).
func checkEndpoints(prefix string) error {
	if prefix != "" && prefix != "off" && !strings.HasPrefix(prefix, "/") {
		return fmt.Errorf("endpoints: %q must be a path starting with / (or off)", prefix)
	}
	return nil
}

// checkLoginPageEndpoints refuses login_page with `endpoints off`.
func (h *Handler) checkLoginPageEndpoints() error {
	if h.LoginPage != nil && h.Endpoints == "off" {
		return fmt.Errorf("login_page needs the endpoints (it signs in through them): remove `endpoints off`")
	}
	return nil
}

// ServeHTTP authenticates the request, then serves an endpoint or passes
// the request on with its identity.
//
// When several rest_auth blocks handle one request (e.g. `rest_auth @admin`
// and a catch-all `rest_auth`), the first authenticates and later ones
// reuse its outcome and apply only their own policy: the credential has
// been removed from the request by then. Every block removes spoofed
// identity headers (see removeSpoofedIdentity).
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request, next caddyhttp.Handler) error {
	// The vars map, read once: every lookup in the request's context walks
	// Caddy's chain of contexts.
	vars, _ := r.Context().Value(caddyhttp.VarsCtxKey).(map[string]any)
	prior, seen := vars[identityVar].(*identity.Identity)
	h.removeSpoofedIdentity(r, !seen)
	if err := h.refuseURLCredentials(r); err != nil {
		h.refuse(w, r, err)
		return nil
	}

	if h.RequireHTTPS && !authenticators.ArrivedOverTLS(r) {
		h.refuse(w, r, authenticators.Forbidden("HTTPS is required."))
		return nil
	}

	var endpoint handlers.Match
	isEndpoint := false
	if h.endpoints != nil {
		endpoint, isEndpoint = h.endpoints.Match(r)
	}
	if isEndpoint && endpoint.Public {
		h.endpoints.Serve(w, r, endpoint, nil)
		return nil
	}

	var id *identity.Identity
	decided := -1 // the chain entry that found the credential; -1: none
	if seen {
		if prior != anonymous {
			id = prior
		}
	} else {
		var err error
		if id, decided, err = h.authenticate(r); err != nil {
			rej, _ := authenticators.AsRejection(err)
			if rej == nil || !rej.Stale || !isEndpoint || !endpoint.Login {
				h.rejected(r, decided, err)
				if rej != nil && rej.Stale && h.redirectToSignIn(w, r, rej) {
					return nil
				}
				h.refuse(w, r, err)
				return nil
			}
			id, decided = nil, -1 // an ended session's cookie does not block a new login
		}
		if vars != nil {
			if id == nil {
				vars[identityVar] = anonymous
			} else {
				vars[identityVar] = id
			}
		}
	}

	if isEndpoint && !isPreflight(r) {
		if id != nil {
			if !seen { // the access log names who used the endpoint
				publishIdentity(r, id)
			}
			if !h.roleAllowed(id) {
				h.countOnce(seen, decided, authenticators.OutcomeForbidden)
				h.refuse(w, r, authenticators.Forbidden(noAllowedRole))
				return nil
			}
		}
		h.countOnce(seen, decided, authenticators.OutcomeOK)
		h.endpoints.Serve(w, r, endpoint, id)
		return nil
	}

	if err := h.authorize(r, id); err != nil {
		h.countOnce(seen, decided, authenticators.OutcomeForbidden)
		if id == nil && h.redirectToSignIn(w, r, nil) {
			return nil
		}
		h.refuse(w, r, err)
		return nil
	}
	h.countOnce(seen, decided, authenticators.OutcomeOK)

	if id != nil {
		h.setIdentity(r, id, !seen)
	}
	if !h.KeepCredentials {
		delete(r.Header, "Authorization")
	}
	for _, s := range h.scrubbers {
		if _, inURL := s.(authenticators.URLCredential); inURL || !h.KeepCredentials {
			s.Scrub(r)
		}
	}
	return next.ServeHTTP(w, r)
}

// identityVar is the request variable in which the first rest_auth block
// leaves its outcome for later blocks.
const identityVar = "rest_auth.identity"

// anonymous marks a request that the first block found without credential.
var anonymous = new(identity.Identity)

// Interface guards
var (
	_ caddy.Provisioner           = (*Handler)(nil)
	_ caddy.Validator             = (*Handler)(nil)
	_ caddy.CleanerUpper          = (*Handler)(nil)
	_ caddyhttp.MiddlewareHandler = (*Handler)(nil)
)
