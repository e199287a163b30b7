package authenticators

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// TokenIssuer is what the @tokens endpoints need from the authenticator
// that accepts API tokens: new keys hashed the way it looks them up, its
// policy, and a way to make a revocation take effect at once.
type TokenIssuer interface {
	// NewTokenKey generates a key and the hash to store it under. Its
	// error wraps store.ErrUnavailable when the hashing secret cannot be
	// read from the store.
	NewTokenKey(ctx context.Context) (NewKey, error)
	// TokenAdminRoles are the roles that manage every user's tokens.
	TokenAdminRoles() []string
	// TokenLifetimes are the lifetime of a token whose request names no
	// expiry and the longest one allowed (zero: never, and unbounded).
	TokenLifetimes() (defaultTTL, maxTTL time.Duration)
	// TokenRevoked is called after a token was deleted from the store, so
	// that no cached copy of it is accepted any more.
	TokenRevoked(id string)
	// TokenLastUsed is a use of the token recorded by this authenticator
	// that may not have been written to the store yet.
	TokenLastUsed(id string) (time.Time, bool)
}

// NewTokenKey implements TokenIssuer.
func (t *Token) NewTokenKey(ctx context.Context) (NewKey, error) {
	if t.hasher == nil {
		return NewKey{}, errors.New("token: not bound to a store")
	}
	hasher, err := t.hasher.get(ctx)
	if err != nil {
		return NewKey{}, fmt.Errorf("token: %w", err)
	}
	return hasher.generate()
}

// TokenAdminRoles implements TokenIssuer.
func (t *Token) TokenAdminRoles() []string { return t.AdminRoles }

// TokenLifetimes implements TokenIssuer. Without default_ttl, a bounded
// token lives as long as max_ttl allows.
func (t *Token) TokenLifetimes() (defaultTTL, maxTTL time.Duration) {
	defaultTTL, maxTTL = time.Duration(t.DefaultTTL), time.Duration(t.MaxTTL)
	if defaultTTL == 0 {
		defaultTTL = maxTTL
	}
	return defaultTTL, maxTTL
}

// TokenRevoked implements TokenIssuer: it invalidates the cached records of
// every token authenticator in the process, since several rest_auth blocks
// may share one store.
func (t *Token) TokenRevoked(string) { revocationEpoch.Add(1) }

// TokenLastUsed implements TokenIssuer.
func (t *Token) TokenLastUsed(id string) (time.Time, bool) {
	if t.uses == nil {
		return time.Time{}, false
	}
	return t.uses.lastUsed(id)
}
