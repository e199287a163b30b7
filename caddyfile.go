package restauth

import (
	"encoding/json"
	"slices"
	"strconv"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/caddyserver/caddy/v2/caddyconfig/httpcaddyfile"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"

	"github.com/caddy-restauth/caddy-restauth/authenticators"
	"github.com/caddy-restauth/caddy-restauth/handlers"
	"github.com/caddy-restauth/caddy-restauth/identity"
	"github.com/caddy-restauth/caddy-restauth/store"
)

func init() {
	httpcaddyfile.RegisterHandlerDirective("rest_auth", parseCaddyfile)
	// Right after basic_auth: before request_header, encode and every
	// handler that responds (reverse_proxy, file_server, ...).
	httpcaddyfile.RegisterDirectiveOrder("rest_auth", httpcaddyfile.After, "basic_auth")
}

func parseCaddyfile(h httpcaddyfile.Helper) (caddyhttp.MiddlewareHandler, error) {
	ra := new(Handler)
	err := ra.UnmarshalCaddyfile(h.Dispenser)
	return ra, err
}

// UnmarshalCaddyfile sets up the handler from Caddyfile tokens:
//
//	rest_auth [<matcher>] {
//		user <name> <hash> [<roles...>]
//		users_file <path>
//		order <methods...>
//		<method> [{ ... }]          # basic, token (alias tokens), and every other authenticator
//		anonymous none|read|write
//		require_https
//		allow_roles <roles...>
//		write_roles <roles...>
//		user_header <name>
//		roles_header <name>
//		keep_credentials
//		endpoints <prefix>|off
//		realm <name>
//		login_page [<path>] [{ path <path>; template <file>; title <text> }]
//		throttle [off] { per_user_address <n>; per_user <n>; per_address <n>; window <d>; lockout <d> }
//		store <backend> [<args...>] [{ ... }]
//	}
//
// Authenticator and store modules parse their own arguments and block: the
// dispenser is handed to them positioned on their name.
func (h *Handler) UnmarshalCaddyfile(d *caddyfile.Dispenser) error {
	d.Next() // the directive name
	if d.NextArg() {
		return d.ArgErr()
	}
	var order []string
	blocks := map[string]json.RawMessage{}
	for d.NextBlock(0) {
		switch opt := d.Val(); opt {
		case "user":
			args := d.RemainingArgs()
			if len(args) < 2 {
				return d.Err("user: want `user <name> <password hash> [<roles...>]`")
			}
			u := identity.User{Name: args[0], PasswordHash: args[1], Roles: args[2:]}
			if err := identity.ValidateUser(u); err != nil {
				return d.WrapErr(err)
			}
			if slices.ContainsFunc(h.Users, func(o identity.User) bool { return o.Name == u.Name }) {
				return d.Errf("user %q is defined more than once; keep one `user %s` line", u.Name, u.Name)
			}
			h.Users = append(h.Users, u)
		case "users_file":
			if err := oneArg(d, &h.UsersFile); err != nil {
				return err
			}
		case "order":
			if order != nil {
				return d.Err("order: given twice")
			}
			order = d.RemainingArgs()
			if len(order) == 0 {
				return d.Err("order: name at least one authenticator")
			}
			for i, m := range order {
				m = canonicalMethod(m)
				order[i] = m
				if !isAuthenticator(m) {
					return d.Errf("order: unknown authenticator %q", m)
				}
				if slices.Contains(order[:i], m) {
					return d.Errf("order: %q is listed twice", m)
				}
			}
		case "anonymous":
			if err := oneArg(d, &h.Anonymous); err != nil {
				return err
			}
			if err := checkAnonymous(h.Anonymous); err != nil {
				return d.WrapErr(err)
			}
		case "require_https":
			if d.NextArg() {
				return d.ArgErr()
			}
			h.RequireHTTPS = true
		case "allow_roles", "write_roles":
			roles := d.RemainingArgs()
			if len(roles) == 0 {
				return d.Errf("%s: name at least one role", opt)
			}
			for _, r := range roles {
				if err := identity.ValidateRole(r); err != nil {
					return d.WrapErr(err)
				}
			}
			if opt == "allow_roles" {
				h.AllowRoles = append(h.AllowRoles, roles...)
			} else {
				h.WriteRoles = append(h.WriteRoles, roles...)
			}
		case "user_header", "roles_header":
			dst := &h.UserHeader
			if opt == "roles_header" {
				dst = &h.RolesHeader
			}
			if err := oneArg(d, dst); err != nil {
				return err
			}
			if err := checkIdentityHeader(*dst); err != nil {
				return d.WrapErr(err)
			}
		case "keep_credentials":
			if d.NextArg() {
				return d.ArgErr()
			}
			h.KeepCredentials = true
		case "endpoints":
			if err := oneArg(d, &h.Endpoints); err != nil {
				return err
			}
			if err := checkEndpoints(h.Endpoints); err != nil {
				return d.WrapErr(err)
			}
			if err := h.checkLoginPageEndpoints(); err != nil {
				return d.WrapErr(err)
			}
		case "login_page":
			p, err := unmarshalLoginPage(d)
			if err != nil {
				return err
			}
			h.LoginPage = p
			if err := h.checkLoginPageEndpoints(); err != nil {
				return d.WrapErr(err)
			}
		case "realm":
			if err := oneArg(d, &h.Realm); err != nil {
				return err
			}
		case "throttle":
			t, err := unmarshalThrottle(d)
			if err != nil {
				return err
			}
			h.Throttle = t
		case "store":
			if !d.NextArg() {
				return d.Err("store: name a backend, e.g. `store bolt` or `store memory`")
			}
			raw, err := unmarshalGuest(d, store.Namespace, d.Val(), "backend", "store")
			if err != nil {
				return err
			}
			h.StoreRaw = raw
		default:
			method := canonicalMethod(opt)
			if !isAuthenticator(method) {
				return d.Errf("unknown subdirective %q", opt)
			}
			if _, dup := blocks[method]; dup {
				return d.Errf("%s: configured twice", method)
			}
			raw, err := unmarshalGuest(d, authenticators.Namespace, method, "method", "authenticator")
			if err != nil {
				return err
			}
			blocks[method] = raw
		}
	}
	return h.setChain(d, order, blocks)
}

// setChain builds the ordered authenticator list from `order` and the
// configured blocks.
func (h *Handler) setChain(d *caddyfile.Dispenser, order []string, blocks map[string]json.RawMessage) error {
	if order == nil {
		if len(blocks) == 0 {
			return nil // the default chain, filled in at Provision
		}
		for m := range blocks {
			if slices.Contains(legacyMethods, m) {
				return d.Errf("%s is an insecure legacy method and runs only when named in `order`", m)
			}
		}
		order = availableDefaults()
	}
	for m := range blocks {
		if !slices.Contains(order, m) {
			return d.Errf("%s is configured but not listed in `order`", m)
		}
	}
	for _, m := range order {
		raw, ok := blocks[m]
		if !ok {
			raw = json.RawMessage(`{"method":"` + m + `"}`)
		}
		h.AuthenticatorsRaw = append(h.AuthenticatorsRaw, raw)
	}
	return nil
}

// unmarshalThrottle parses
//
//	throttle [off] {
//		per_user_address <n>
//		per_user <n>
//		per_address <n>
//		window <duration>
//		lockout <duration>
//	}
func unmarshalThrottle(d *caddyfile.Dispenser) (*authenticators.Throttle, error) {
	t := new(authenticators.Throttle)
	if d.NextArg() {
		if d.Val() != "off" || d.NextArg() {
			return nil, d.Err("throttle: the only argument is `off`")
		}
		t.Off = true
	}
	for nesting := d.Nesting(); d.NextBlock(nesting); {
		opt := d.Val()
		var arg string
		if !d.AllArgs(&arg) {
			return nil, d.ArgErr()
		}
		switch opt {
		case "per_user_address", "per_user", "per_address":
			n, err := strconv.Atoi(arg)
			if err != nil || n < 1 {
				return nil, d.Errf("throttle: %s must be a positive whole number, not %q", opt, arg)
			}
			switch opt {
			case "per_user_address":
				t.PerUserAddress = n
			case "per_user":
				t.PerUser = n
			default:
				t.PerAddress = n
			}
		case "max_failures", "max_address_failures":
			return nil, d.Errf("throttle: %s was replaced by per_user_address (per user and client address), per_user (per user across all addresses) and per_address", opt)
		case "window", "lockout":
			dur, err := caddy.ParseDuration(arg)
			if err != nil || dur <= 0 {
				return nil, d.Errf("throttle: %s must be a positive duration, not %q", opt, arg)
			}
			if opt == "window" {
				t.Window = caddy.Duration(dur)
			} else {
				t.Lockout = caddy.Duration(dur)
			}
		default:
			return nil, d.Errf("throttle: unknown option %q", opt)
		}
	}
	if err := t.Validate(); err != nil {
		return nil, d.Err(err.Error())
	}
	return t, nil
}

// unmarshalLoginPage parses
//
//	login_page [<path>] {
//		path <path>
//		template <file>
//		title <text>
//	}
func unmarshalLoginPage(d *caddyfile.Dispenser) (*handlers.LoginPage, error) {
	p := new(handlers.LoginPage)
	if d.NextArg() {
		p.Path = d.Val()
		if d.NextArg() {
			return nil, d.Err("login_page: the only argument is the page's path")
		}
	}
	for nesting := d.Nesting(); d.NextBlock(nesting); {
		opt := d.Val()
		var dst *string
		switch opt {
		case "path":
			dst = &p.Path
		case "template":
			dst = &p.Template
		case "title":
			dst = &p.Title
		default:
			return nil, d.Errf("login_page: unknown option %q (path, template, title)", opt)
		}
		if *dst != "" {
			return nil, d.Errf("login_page: %s given twice", opt)
		}
		if err := oneArg(d, dst); err != nil {
			return nil, err
		}
	}
	if err := p.Validate(); err != nil {
		return nil, d.WrapErr(err)
	}
	return p, nil
}

// methodAliases are other spellings of authenticator blocks: the issue
// tracker and the NetBox docs speak of a `tokens` block.
var methodAliases = map[string]string{"tokens": "token"}

// canonicalMethod resolves an alias to the authenticator's name.
func canonicalMethod(name string) string {
	if m, ok := methodAliases[name]; ok {
		return m
	}
	return name
}

// unmarshalGuest loads the module name (the current token, or what it is an
// alias of) from namespace, lets it parse its own arguments and block, and
// returns its JSON with the inline key set.
func unmarshalGuest(d *caddyfile.Dispenser, namespace, name, inlineKey, kind string) (json.RawMessage, error) {
	info, err := caddy.GetModule(namespace + "." + name)
	if err != nil {
		return nil, d.Errf("unknown %s %q", kind, name)
	}
	mod := info.New()
	if u, ok := mod.(caddyfile.Unmarshaler); ok {
		if err := u.UnmarshalCaddyfile(d); err != nil {
			return nil, err
		}
	} else if d.NextArg() || d.NextBlock(d.Nesting()) {
		return nil, d.Errf("%s %q takes no options", kind, name)
	}
	// Authenticators check their options without touching the disk or the
	// store (relations such as default_ttl within max_ttl): run those
	// checks now, so a mistake fails `caddy adapt` at the end of its block.
	if v, ok := mod.(caddy.Validator); ok && namespace == authenticators.Namespace {
		if err := v.Validate(); err != nil {
			return nil, d.WrapErr(err)
		}
	}
	return caddyconfig.JSONModuleObject(mod, inlineKey, name, nil), nil
}

// oneArg reads exactly one argument into dst.
func oneArg(d *caddyfile.Dispenser, dst *string) error {
	if !d.NextArg() {
		return d.ArgErr()
	}
	*dst = d.Val()
	if d.NextArg() {
		return d.ArgErr()
	}
	return nil
}

// Interface guard
var _ caddyfile.Unmarshaler = (*Handler)(nil)
