package authenticators

import (
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"

	"github.com/caddy-restauth/caddy-restauth/cache"
	"github.com/caddy-restauth/caddy-restauth/identity"
	"github.com/caddy-restauth/caddy-restauth/internal/monotonic"
)

// Audit event names (the `event` field).
const (
	EventLoginSucceeded     = "login_succeeded"
	EventLoginFailed        = "login_failed"
	EventCredentialRejected = "credential_rejected"
	EventTokenCreated       = "token_created"
	EventTokenRevoked       = "token_revoked"
	EventSessionStarted     = "session_started"
	EventSessionEnded       = "session_ended"
	EventJWTRenewed         = "jwt_renewed"
	EventJWTRevoked         = "jwt_revoked"
	EventLockedOut          = "locked_out"
	EventUsersLoaded        = "users_loaded"
)

// auditLimitEntries bounds the per-address state of the rate limits.
const auditLimitEntries = 10000

// Audit writes the audit trail: one INFO entry per event on the logger
// `http.handlers.rest_auth.audit`, with the fields event, user, remote_ip
// and, where they apply, token_id, by and reason. It never logs a secret.
// A nil *Audit logs nothing.
type Audit struct {
	logger *zap.Logger
	// now reads the clock of the rate limits in nanoseconds: the monotonic
	// clock, half the cost of time.Now on every password request.
	now func() int64
	// names hashes the user names of attempts that name no configured
	// user (see Attempt).
	names identity.KeyedHash

	mu sync.Mutex
	// failures and successes hold, per key, when the last event was
	// written and how many were dropped since.
	failures  *cache.Bounded[auditKey, *auditLimit]
	successes *cache.Bounded[auditKey, *auditLimit]
}

// auditKey is what a rate limit counts per: a client address, and for
// successes the user too (a struct, so building it allocates nothing).
type auditKey struct {
	user, addr string
}

// auditLimit is the rate limit of one key. next and dropped are atomic so
// that an event within the limit, the common case (every request of a Basic
// client), is counted without taking the Audit's lock.
type auditLimit struct {
	next    atomic.Int64 // the Audit's clock reading from which the next event may be written
	dropped atomic.Int64
}

// NewAudit makes the audit trail of a rest_auth handler whose logger is
// handlerLogger (`http.handlers.rest_auth`).
func NewAudit(handlerLogger *zap.Logger) *Audit {
	return &Audit{
		logger:    handlerLogger.Named("audit"),
		now:       func() int64 { return int64(monotonic.Now()) },
		names:     newSubmittedNameHash(),
		failures:  cache.New[auditKey, *auditLimit](auditLimitEntries),
		successes: cache.New[auditKey, *auditLimit](auditLimitEntries),
	}
}

// Event logs event about user; r (when not nil) gives the client address.
func (a *Audit) Event(event string, r *http.Request, user string, fields ...zap.Field) {
	if a == nil {
		return
	}
	all := make([]zap.Field, 0, 3+len(fields))
	all = append(all, zap.String("event", event))
	if user != "" {
		all = append(all, zap.String("user", user))
	}
	if r != nil {
		all = append(all, zap.String("remote_ip", ClientIP(r)))
	}
	a.logger.Info(event, append(all, fields...)...)
}

// Rejected logs a credential refused on an ordinary request: at most once
// a second per client address; the entry that is written carries, in
// `dropped`, how many were left out since the previous one. A password
// method's failure is a login_failed event, any other a
// credential_rejected event.
func (a *Audit) Rejected(r *http.Request, method, reason string) {
	if a == nil {
		return
	}
	dropped, ok := a.allow(a.failures, auditKey{addr: ClientIP(r)}, time.Second)
	if !ok {
		return
	}
	event := EventCredentialRejected
	if IsPasswordMethod(method) {
		event = EventLoginFailed
	}
	a.Event(event, r, "", zap.String("method", method), zap.String("reason", reason), zap.Int("dropped", dropped))
}

// PasswordAccepted logs a password login on an ordinary request (Basic,
// DOTAUTH, URL parameters): every request carries the password again, so
// it is logged at most once a minute per user and client address (addr,
// ClientIP's).
func (a *Audit) PasswordAccepted(r *http.Request, addr, method, user string) {
	if a == nil {
		return
	}
	if _, ok := a.allow(a.successes, auditKey{user: user, addr: addr}, time.Minute); !ok {
		return
	}
	a.Event(EventLoginSucceeded, r, user, zap.String("method", method))
}

// allow reports whether an event under key may be written now (at most one
// per every), and how many were dropped since the last one written.
func (a *Audit) allow(limits *cache.Bounded[auditKey, *auditLimit], key auditKey, every time.Duration) (int, bool) {
	now := a.now()
	if l, ok := limits.Get(key); ok && now < l.next.Load() {
		l.dropped.Add(1)
		return 0, false
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	l, ok := limits.Get(key)
	if !ok {
		l = new(auditLimit)
		l.next.Store(now + int64(every))
		limits.Put(key, l)
		return 0, true
	}
	if now < l.next.Load() {
		l.dropped.Add(1)
		return 0, false
	}
	l.next.Store(now + int64(every))
	return int(l.dropped.Swap(0)), true
}

// IsPasswordMethod reports whether method takes a password on every
// request.
func IsPasswordMethod(method string) bool {
	switch method {
	case "basic", "dotauth", "url_params":
		return true
	}
	return false
}

// Audited makes p record lockouts in a and returns p.
func (p *Passwords) Audited(a *Audit) *Passwords {
	p.audit = a
	return p
}

// lockouts records the counters of a failed check by user that have just
// reached their limit: a lockout of the user from this address (scope
// user_address), of the user everywhere (user) or of the address (address).
// users tells whether user is a configured name (see Attempt).
func (a *Audit) lockouts(r *http.Request, users *identity.Directory, user string, c counters) {
	if a == nil {
		return
	}
	for _, k := range c {
		if k.count != k.limit {
			continue
		}
		switch {
		case strings.HasPrefix(k.key, keyUserAddr):
			a.Attempt(EventLockedOut, r, users, user, zap.String("scope", "user_address"))
		case strings.HasPrefix(k.key, keyUser):
			a.Attempt(EventLockedOut, r, users, user, zap.String("scope", "user"))
		default:
			a.Event(EventLockedOut, r, "", zap.String("scope", "address"))
		}
	}
}
