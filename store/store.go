// Package store keeps what must outlive a request: API tokens, revoked JWT
// ids, sessions, failed-login counters and generated secrets. Every backend
// implements Store and passes the conformance suite in store/storetest.
package store

import (
	"context"
	"errors"
	"time"
)

// Namespace is the Caddy module namespace of store backends.
const Namespace = "http.handlers.rest_auth.stores"

// ErrNotFound is returned when a record does not exist or has expired.
var ErrNotFound = errors.New("not found")

// ErrExists is returned by Create methods when the key is already taken.
var ErrExists = errors.New("already exists")

// Store is the persistence contract shared by every backend: the role
// interfaces below, which consumers take one by one (the throttle needs
// Counters only), and Close.
//
// Records with an expiry are invisible once expired (Get returns
// ErrNotFound) and are removed by the backend itself, through native TTLs or
// a periodic sweep. All methods are safe for concurrent use.
type Store interface {
	TokenStore
	SessionStore
	Revocations
	Counters
	Secrets

	// Close releases the backend's resources.
	Close() error
}

// TokenStore keeps API tokens.
type TokenStore interface {
	// CreateToken stores a new API token. It fails with ErrExists when a
	// token with the same ID or KeyHash is already stored.
	CreateToken(ctx context.Context, t Token) error
	// Token returns the token with this id.
	Token(ctx context.Context, id string) (Token, error)
	// TokenByKeyHash returns the token whose key hashes to keyHash.
	TokenByKeyHash(ctx context.Context, keyHash []byte) (Token, error)
	// Tokens lists the tokens of owner, or every token when owner is "",
	// ordered by creation time, oldest first.
	Tokens(ctx context.Context, owner string) ([]Token, error)
	// DeleteToken removes a token; ErrNotFound when there is none.
	DeleteToken(ctx context.Context, id string) error
	// TouchTokens records last-used times in one batch. Ids that no longer
	// exist are skipped; a time older than the stored one is ignored.
	TouchTokens(ctx context.Context, lastUsed map[string]time.Time) error
}

// Revocations keeps revoked JWT ids.
type Revocations interface {
	// Revoke marks a JWT id as revoked until the token would have expired
	// anyway; after that the record vanishes. It is one atomic "revoke
	// unless already revoked": of any number of concurrent calls for one
	// jti (in any process sharing the store) exactly one reports revoked,
	// so that a token can be exchanged (@login-renew) or ended (@logout)
	// once. It reports false when jti was already revoked (a later until
	// still extends that revocation) or until has passed.
	Revoke(ctx context.Context, jti string, until time.Time) (revoked bool, err error)
	// IsRevoked reports whether jti is revoked (and not yet past its expiry).
	IsRevoked(ctx context.Context, jti string) (bool, error)
}

// SessionStore keeps cookie sessions.
type SessionStore interface {
	// CreateSession stores a new session; ErrExists if the id hash is taken.
	CreateSession(ctx context.Context, s Session) error
	// Session returns the session whose id hashes to idHash. It is
	// read-only, byte slices included: a store may hand out the session it
	// caches, so that a known session costs no copy (to change a session,
	// copy it and call UpdateSession).
	Session(ctx context.Context, idHash []byte) (*Session, error)
	// UpdateSession replaces an existing session (e.g. to extend its idle
	// expiry); ErrNotFound when it is gone.
	UpdateSession(ctx context.Context, s Session) error
	// DeleteSession removes a session; deleting a missing one is not an error.
	DeleteSession(ctx context.Context, idHash []byte) error
}

// Counters keeps failed-login counters.
type Counters interface {
	// AddFailure increments the failure counter under key. A new counter
	// starts at 1 and expires after window; an existing one keeps its expiry.
	AddFailure(ctx context.Context, key string, window time.Duration) (Counter, error)
	// Failures returns the live counter under key (Count 0 when none).
	Failures(ctx context.Context, key string) (Counter, error)
	// SetFailures overwrites the counter under key (e.g. to extend a lockout).
	SetFailures(ctx context.Context, key string, c Counter) error
	// ResetFailures deletes the counter under key.
	ResetFailures(ctx context.Context, key string) error
}

// CheckCounters is implemented by stores that read the failure counters
// of one password check (per user and address, per user, per address) in
// one operation. Use CheckFailures, which falls back to one Failures per
// key.
type CheckCounters interface {
	// CheckFailures returns the live counters under keys, in order (Count
	// 0 when none, and for an empty key).
	CheckFailures(ctx context.Context, keys [3]string) ([3]Counter, error)
}

// FailureFree is implemented by stores that can tell from memory, with no
// I/O, that a password check's failure counters do not exist: bolt from
// its set of keys with counters, redis from its client-side cache. The
// common case, a user with no failed logins, then costs no store
// operation (and is not timed as one, as a cached API token is not).
type FailureFree interface {
	// NoFailures reports that none of keys (empty ones are skipped) has a
	// live failure counter. False means it cannot tell without reading the
	// store, not that a counter exists. An implementation may remember
	// keys by their strings' addresses (redis does), so they must be
	// ordinary strings, never unsafe.String over bytes that change later.
	NoFailures(keys [3]string) bool
}

// NoFailures reports that s knows from memory that none of keys has a
// failure counter (see FailureFree); false when it cannot tell.
func NoFailures(s Counters, keys [3]string) bool {
	ff, ok := s.(FailureFree)
	return ok && ff.NoFailures(keys)
}

// RevocationFree is implemented by stores that can tell from memory, with
// no I/O, that a JWT id is not revoked: bolt from its set of revoked ids,
// redis from its client-side cache, memory from its map. The common case,
// a JWT that was never revoked, then costs no store operation (and is not
// timed as one).
type RevocationFree interface {
	// NotRevoked reports that jti is not revoked. False means it cannot
	// tell without reading the store, not that jti is revoked.
	NotRevoked(jti string) bool
}

// NotRevoked reports that s knows from memory that jti is not revoked (see
// RevocationFree); false when it cannot tell.
func NotRevoked(s Revocations, jti string) bool {
	rf, ok := s.(RevocationFree)
	return ok && rf.NotRevoked(jti)
}

// CheckFailures reads the failure counters of one password check from s:
// in one operation when s is a CheckCounters, else key by key. (Arrays,
// not slices: nothing a password check reads is allocated for it.)
func CheckFailures(ctx context.Context, s Counters, keys [3]string) ([3]Counter, error) {
	if cc, ok := s.(CheckCounters); ok {
		return cc.CheckFailures(ctx, keys)
	}
	var out [3]Counter
	for i, k := range keys {
		c, err := s.Failures(ctx, k)
		if err != nil {
			return [3]Counter{}, err
		}
		out[i] = c
	}
	return out, nil
}

// Secrets keeps generated server secrets.
type Secrets interface {
	// Secret returns the secret stored under name, or, when there is none,
	// stores the result of generate and returns it. Concurrent callers (even
	// in other processes sharing the store) all get the same value.
	Secret(ctx context.Context, name string, generate func() ([]byte, error)) ([]byte, error)
}

// Token is an API token as stored: never the key itself, only its hash.
type Token struct {
	ID           string     `json:"id"`
	KeyHash      []byte     `json:"key_hash"`
	Display      string     `json:"display"`
	Owner        string     `json:"owner"`
	Roles        []string   `json:"roles,omitempty"`
	Description  string     `json:"description,omitempty"`
	Created      time.Time  `json:"created"`
	Expires      *time.Time `json:"expires,omitempty"` // nil: never
	LastUsed     *time.Time `json:"last_used,omitempty"`
	WriteEnabled bool       `json:"write_enabled"`
	AllowedIPs   []string   `json:"allowed_ips,omitempty"`
}

// Expired reports whether the token has an expiry at or before now.
func (t Token) Expired(now time.Time) bool {
	return t.Expires != nil && !now.Before(*t.Expires)
}

// Session is a cookie session as stored: keyed by a hash of its id.
type Session struct {
	IDHash   []byte    `json:"id_hash"`
	User     string    `json:"user"`
	CSRFHash []byte    `json:"csrf_hash"`
	Created  time.Time `json:"created"`
	// IdleExpires is when the session ends unless it is used again.
	IdleExpires time.Time `json:"idle_expires"`
	// Expires is the absolute end of the session, however much it is used.
	Expires time.Time `json:"expires"`
	// ClientAddr is the client address the session was started from.
	ClientAddr string `json:"client_addr,omitempty"`
}

// Deadline is the earlier of the idle and the absolute expiry.
func (s Session) Deadline() time.Time {
	if s.IdleExpires.Before(s.Expires) {
		return s.IdleExpires
	}
	return s.Expires
}

// Counter is a failed-login counter.
type Counter struct {
	Count   int       `json:"count"`
	Expires time.Time `json:"expires"`
}
