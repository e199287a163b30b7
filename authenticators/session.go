package authenticators

import (
	"cmp"
	"context"
	"crypto/rand"
	"crypto/subtle"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"

	"github.com/caddy-restauth/caddy-restauth/cache"
	"github.com/caddy-restauth/caddy-restauth/identity"
	"github.com/caddy-restauth/caddy-restauth/store"
)

func init() {
	caddy.RegisterModule(Session{})
}

const (
	defaultIdleTimeout = 2 * time.Hour
	defaultMaxAge      = 14 * 24 * time.Hour
	// extendEvery is how often, at most, a session's idle expiry is moved.
	extendEvery = time.Minute
	// sessionSecretName is the store secret under which session ids and
	// CSRF tokens are hashed.
	sessionSecretName = "session-hmac"
)

// Session authenticates a session cookie (Django / Keystone semantics).
//
// A valid `sessionid` cookie authenticates. An unsafe method (anything but
// GET, HEAD, OPTIONS) also needs the header X-CSRFToken equal to the
// session's CSRF token (the `csrftoken` cookie) and, over HTTPS, an Origin
// or Referer of this host or of trusted_origins. Sessions are created by
// POST @session and live in the store, keyed by a hash of their id.
type Session struct {
	// Name of the session cookie. Default: sessionid.
	CookieName string `json:"cookie_name,omitempty"`
	// Name of the cookie that carries the CSRF token, readable by scripts.
	// Default: csrftoken.
	CSRFCookieName string `json:"csrf_cookie_name,omitempty"`
	// Request header that must echo the CSRF token on unsafe methods.
	// Default: X-CSRFToken.
	CSRFHeader string `json:"csrf_header,omitempty"`
	// A session unused for this long ends. Default: 2h.
	IdleTimeout caddy.Duration `json:"idle_timeout,omitempty"`
	// A session ends this long after login however much it is used.
	// Default: 14d.
	MaxAge caddy.Duration `json:"max_age,omitempty"`
	// Origins (scheme://host[:port]) besides the site's own from which
	// unsafe requests are accepted over HTTPS.
	TrustedOrigins []string `json:"trusted_origins,omitempty"`

	env Env
	// expired are the Set-Cookie values that expire the cookies, over
	// plain HTTP and over HTTPS (expiredCookies).
	expired [2][]string
	// csrfHeader is CSRFHeader in canonical form.
	csrfHeader string
	store      store.SessionStore
	hasher     *storeSecret[sessionHasher]
	extended   *cache.Bounded[string, int64] // id hash → unix nanoseconds of the last extension
	extend     chan store.Session
	stop       chan struct{}
	stopOnce   *sync.Once
	done       chan struct{}
}

// CaddyModule returns the Caddy module information.
func (Session) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  Namespace + ".session",
		New: func() caddy.Module { return new(Session) },
	}
}

// Validate checks names and durations.
func (s *Session) Validate() error {
	for _, name := range []string{s.CookieName, s.CSRFCookieName} {
		if name != "" && strings.ContainsAny(name, " ;=,\t\"") {
			return fmt.Errorf("session: cookie name %q is not a valid cookie name", name)
		}
	}
	if s.IdleTimeout < 0 || s.MaxAge < 0 {
		return errors.New("session: idle_timeout and max_age must not be negative")
	}
	for _, o := range s.TrustedOrigins {
		u, err := url.Parse(o)
		if err != nil || u.Scheme == "" || u.Host == "" || (u.Path != "" && u.Path != "/") {
			return fmt.Errorf("session: trusted origin %q must look like https://app.example.com", o)
		}
	}
	return nil
}

// Bind starts the idle-expiry extender. The hashing key is read from (or
// created in) the store on first need, so that Caddy loads while the
// store is down.
func (s *Session) Bind(env Env) error {
	s.env, s.store = env, env.Store
	s.CookieName = cmp.Or(s.CookieName, "sessionid")
	s.CSRFCookieName = cmp.Or(s.CSRFCookieName, "csrftoken")
	s.CSRFHeader = cmp.Or(s.CSRFHeader, "X-CSRFToken")
	s.csrfHeader = http.CanonicalHeaderKey(s.CSRFHeader)
	s.formatExpiredCookies()
	if s.IdleTimeout == 0 {
		s.IdleTimeout = caddy.Duration(defaultIdleTimeout)
	}
	if s.MaxAge == 0 {
		s.MaxAge = caddy.Duration(defaultMaxAge)
	}
	for i, o := range s.TrustedOrigins {
		s.TrustedOrigins[i] = strings.TrimSuffix(strings.ToLower(o), "/")
	}
	s.hasher = newStoreSecret(env.Store, sessionSecretName, randomBytes32, newSessionHasher)
	s.extended = cache.New[string, int64](100000)
	s.extend = make(chan store.Session, 1024)
	s.stop = make(chan struct{})
	s.stopOnce = new(sync.Once)
	s.done = make(chan struct{})
	go s.extender()
	return nil
}

// Cleanup stops the extender once its queue is written.
func (s *Session) Cleanup() error {
	if s.stop != nil {
		s.stopOnce.Do(func() { close(s.stop) })
		<-s.done
	}
	return nil
}

// extender moves idle expiries in the store, off the request path.
func (s *Session) extender() {
	defer close(s.done)
	write := func(sess store.Session) {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := s.store.UpdateSession(ctx, sess); err != nil && !errors.Is(err, store.ErrNotFound) {
			s.env.Logger.Warn("session: extending idle expiry failed", zap.Error(err))
		}
	}
	for {
		select {
		case sess := <-s.extend:
			write(sess)
		case <-s.stop:
			for {
				select {
				case sess := <-s.extend:
					write(sess)
				default:
					return
				}
			}
		}
	}
}

// Authenticate checks the session cookie and, for unsafe methods, the CSRF
// token and the Origin.
func (s *Session) Authenticate(r *http.Request) (*identity.Identity, error) {
	sid, ok := cookieValue(r, s.CookieName)
	if !ok {
		return nil, nil
	}
	h, err := s.hasher.get(r.Context())
	if err != nil {
		return nil, fmt.Errorf("session: %w", err)
	}
	sum, remembered := h.Lookup(sid)
	// ended answers a session that is over, and forgets its id.
	ended := func(detail string) error {
		if remembered {
			h.Forget(sid)
		}
		return s.dead(detail, r)
	}
	sess, err := s.store.Session(r.Context(), sum[:])
	if errors.Is(err, store.ErrNotFound) {
		return nil, ended("The session has expired or ended; log in again.")
	}
	if err != nil {
		return nil, fmt.Errorf("session: reading: %w", err)
	}
	now := s.env.Clock()()
	if !now.Before(sess.Deadline()) {
		return nil, ended("The session has expired or ended; log in again.")
	}
	acct, ok := s.env.Users.Lookup(sess.User)
	if !ok {
		return nil, ended("The session's user no longer exists or is disabled.")
	}
	if !IsSafeMethod(r.Method) {
		if err := s.checkWrite(r, sess, h); err != nil {
			return nil, err
		}
	}
	s.maybeExtend(sess, now)
	if !remembered {
		h.Remember(sid, sum)
	}
	return acct.Identity("session"), nil
}

// checkWrite applies Django's rules for unsafe methods: Origin (or Referer)
// over HTTPS, then the CSRF token.
func (s *Session) checkWrite(r *http.Request, sess *store.Session, h *sessionHasher) error {
	if ArrivedOverTLS(r) {
		if err := checkOrigin(r, s.TrustedOrigins); err != nil {
			return err
		}
	}
	token := r.Header.Get(s.csrfHeader)
	if token == "" {
		return Forbidden("CSRF token missing: send the " + s.CSRFHeader + " header with the csrftoken cookie's value.")
	}
	if sum := h.Sum(token); subtle.ConstantTimeCompare(sum[:], sess.CSRFHash) != 1 {
		return Forbidden("CSRF token incorrect.")
	}
	return nil
}

// CheckLoginOrigin refuses a login from a foreign page (login CSRF: a
// cross-site form would log the victim into the attacker's account). A
// request without Origin (a script, curl) passes.
func (s *Session) CheckLoginOrigin(r *http.Request) error {
	origin := r.Header.Get("Origin")
	if origin == "" {
		return nil
	}
	if trustedOrigin(r, origin, s.TrustedOrigins) {
		return nil
	}
	return Forbidden("Origin checking failed: " + quoteForDetail(origin) + " may not log in here.")
}

// maybeExtend queues an idle-expiry extension at most once a minute (or
// every half idle_timeout, when that is shorter).
func (s *Session) maybeExtend(sess *store.Session, now time.Time) {
	idle := time.Duration(s.IdleTimeout)
	step := min(extendEvery, idle/2)
	if sess.IdleExpires.Sub(now) > idle-step {
		return // extended less than a step ago
	}
	key := string(sess.IDHash)
	if last, ok := s.extended.Get(key); ok && now.Sub(time.Unix(0, last)) < step {
		return // already queued
	}
	s.extended.Put(key, now.UnixNano())
	extended := *sess // the store's own is read-only
	extended.IdleExpires = now.Add(idle)
	select {
	case s.extend <- extended:
	default: // the extender is behind; a later request will try again
	}
}

// Start creates a session for acct and sets its cookies on w. A session the
// request already carries is ended first: a login always gets a new id
// (no session fixation).
func (s *Session) Start(w http.ResponseWriter, r *http.Request, acct *identity.Account) error {
	h, err := s.hasher.get(r.Context())
	if err != nil {
		return fmt.Errorf("session: %w", err)
	}
	if sid, ok := cookieValue(r, s.CookieName); ok {
		if err := s.delete(r.Context(), h, sid); err != nil {
			return fmt.Errorf("session: ending the previous session: %w", err)
		}
	}
	id, err := randomToken()
	if err != nil {
		return err
	}
	csrf, err := randomToken()
	if err != nil {
		return err
	}
	now := s.env.Clock()().UTC()
	sess := store.Session{
		IDHash:      h.hash(id),
		User:        acct.Name,
		CSRFHash:    h.hash(csrf),
		Created:     now,
		IdleExpires: now.Add(time.Duration(s.IdleTimeout)),
		Expires:     now.Add(time.Duration(s.MaxAge)),
		ClientAddr:  ClientIP(r),
	}
	if err := s.store.CreateSession(r.Context(), sess); err != nil {
		return fmt.Errorf("session: storing: %w", err)
	}
	secure := ArrivedOverTLS(r)
	http.SetCookie(w, &http.Cookie{Name: s.CookieName, Value: id, Path: "/", Expires: sess.Expires,
		HttpOnly: true, Secure: secure, SameSite: http.SameSiteLaxMode})
	http.SetCookie(w, &http.Cookie{Name: s.CSRFCookieName, Value: csrf, Path: "/", Expires: sess.Expires,
		Secure: secure, SameSite: http.SameSiteLaxMode})
	return nil
}

// delete removes the session with id sid from the store, and its id from
// memory.
func (s *Session) delete(ctx context.Context, h *sessionHasher, sid string) error {
	if err := s.store.DeleteSession(ctx, h.hash(sid)); err != nil {
		return err
	}
	h.Forget(sid)
	return nil
}

// End deletes the request's session and expires both cookies.
func (s *Session) End(w http.ResponseWriter, r *http.Request) error {
	if sid, ok := cookieValue(r, s.CookieName); ok {
		h, err := s.hasher.get(r.Context())
		if err != nil {
			return fmt.Errorf("session: %w", err)
		}
		if err := s.delete(r.Context(), h, sid); err != nil {
			return fmt.Errorf("session: deleting: %w", err)
		}
	}
	w.Header()["Set-Cookie"] = append(w.Header()["Set-Cookie"], s.expiredCookies(r)...)
	return nil
}

// dead rejects a session that no longer exists, expiring its cookies so the
// browser stops sending them (and a new login is not blocked by them).
func (s *Session) dead(detail string, r *http.Request) *Rejection {
	rej := Invalid(detail)
	rej.Stale = true
	rej.SetCookie = s.expiredCookies(r)
	return rej
}

// expiredCookies are the Set-Cookie values that expire both cookies (a
// new slice each time; the values are formatted once, at Bind).
func (s *Session) expiredCookies(r *http.Request) []string {
	if ArrivedOverTLS(r) {
		return slices.Clone(s.expired[1])
	}
	return slices.Clone(s.expired[0])
}

// formatExpiredCookies formats the Set-Cookie values of expiredCookies,
// over plain HTTP ([0]) and over HTTPS ([1]).
func (s *Session) formatExpiredCookies() {
	s.expired = [2][]string{}
	for i, secure := range []bool{false, true} {
		for _, c := range []*http.Cookie{
			{Name: s.CookieName, Value: "", Path: "/", MaxAge: -1, HttpOnly: true, Secure: secure, SameSite: http.SameSiteLaxMode},
			{Name: s.CSRFCookieName, Value: "", Path: "/", MaxAge: -1, Secure: secure, SameSite: http.SameSiteLaxMode},
		} {
			s.expired[i] = append(s.expired[i], c.String())
		}
	}
}

// sessionHasher is HMAC-SHA256 under the store's session key: ids and
// CSRF tokens are stored only as hashes.
// The sums of ids that proved valid are remembered (identity.MemoizedHash).
type sessionHasher struct{ identity.MemoizedHash }

func newSessionHasher(key []byte) (*sessionHasher, error) {
	return &sessionHasher{identity.NewMemoizedHash(key)}, nil
}

// hash is the HMAC of v.
func (h *sessionHasher) hash(v string) []byte {
	sum := h.Sum(v)
	return sum[:]
}

// Scrub removes the session cookies and the CSRF header from the upstream
// request: the CSRF token is a credential too.
func (s *Session) Scrub(r *http.Request) {
	removeCookies(r, s.CookieName, s.CSRFCookieName)
	delete(r.Header, s.csrfHeader)
}

// UnmarshalCaddyfile parses
//
//	session {
//		cookie <name>
//		csrf_cookie <name>
//		csrf_header <name>
//		idle_timeout <duration>
//		max_age <duration>
//		trusted_origins <origins...>
//	}
func (s *Session) UnmarshalCaddyfile(d *caddyfile.Dispenser) error {
	if d.NextArg() {
		return d.ArgErr()
	}
	for nesting := d.Nesting(); d.NextBlock(nesting); {
		opt := d.Val()
		args := d.RemainingArgs()
		if len(args) == 0 || (opt != "trusted_origins" && len(args) != 1) {
			return d.ArgErr()
		}
		switch opt {
		case "cookie":
			s.CookieName = args[0]
		case "csrf_cookie":
			s.CSRFCookieName = args[0]
		case "csrf_header":
			s.CSRFHeader = args[0]
		case "idle_timeout", "max_age":
			dur, err := durationArg(d, "session", opt, args[0])
			if err != nil {
				return err
			}
			if opt == "idle_timeout" {
				s.IdleTimeout = dur
			} else {
				s.MaxAge = dur
			}
		case "trusted_origins":
			s.TrustedOrigins = append(s.TrustedOrigins, args...)
		default:
			return d.Errf("session: unknown option %q", opt)
		}
	}
	return nil
}

// quoteForDetail quotes a client-sent value for a problem detail, cut short.
func quoteForDetail(v string) string {
	if len(v) > 100 {
		v = v[:100] + "…"
	}
	return fmt.Sprintf("%q", v)
}

// randomToken is 256 bits from crypto/rand, base64url.
func randomToken() (string, error) {
	b, err := randomBytes32()
	if err != nil {
		return "", fmt.Errorf("generating a random token: %w", err)
	}
	return b64(b), nil
}

func randomBytes32() ([]byte, error) {
	b := make([]byte, 32)
	_, err := rand.Read(b)
	return b, err
}

// Interface guards
var (
	_ Authenticator         = (*Session)(nil)
	_ Binder                = (*Session)(nil)
	_ Scrubber              = (*Session)(nil)
	_ caddy.Validator       = (*Session)(nil)
	_ caddy.CleanerUpper    = (*Session)(nil)
	_ caddyfile.Unmarshaler = (*Session)(nil)
)
