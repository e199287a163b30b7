package authenticators

import (
	"context"
	"errors"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/caddy-restauth/caddy-restauth/internal/monotonic"
	"github.com/caddy-restauth/caddy-restauth/store"
)

// storeOp is an operation timed in store_duration_seconds.
type storeOp int

const (
	opCreateToken storeOp = iota
	opToken
	opTokenByKeyHash
	opTokens
	opDeleteToken
	opTouchTokens
	opRevoke
	opIsRevoked
	opCreateSession
	opSession
	opUpdateSession
	opDeleteSession
	opAddFailure
	opFailures
	opSetFailures
	opResetFailures
	opSecret
	numStoreOps
)

// storeOps are the op label values of store_duration_seconds, by storeOp.
var storeOps = [numStoreOps]string{
	opCreateToken:    "create_token",
	opToken:          "token",
	opTokenByKeyHash: "token_by_key_hash",
	opTokens:         "tokens",
	opDeleteToken:    "delete_token",
	opTouchTokens:    "touch_tokens",
	opRevoke:         "revoke",
	opIsRevoked:      "is_revoked",
	opCreateSession:  "create_session",
	opSession:        "session",
	opUpdateSession:  "update_session",
	opDeleteSession:  "delete_session",
	opAddFailure:     "add_failure",
	opFailures:       "failures",
	opSetFailures:    "set_failures",
	opResetFailures:  "reset_failures",
	opSecret:         "secret",
}

// MeasuredStore is a store whose operations are timed and whose failures
// are counted in the store metrics. Methods it does not time pass through
// to the embedded store.
type MeasuredStore struct {
	store.Store
	durations [numStoreOps]prometheus.Observer
	errors    prometheus.Counter
}

// Measure wraps st, a store of the named backend (bolt, redis, memory).
// The metric children are bound here, not per operation.
func Measure(st store.Store, backend string) *MeasuredStore {
	initMetrics()
	m := &MeasuredStore{
		Store:  st,
		errors: metrics.storeErrors.WithLabelValues(backend),
	}
	for op, name := range storeOps {
		m.durations[op] = metrics.storeDuration.WithLabelValues(backend, name)
	}
	return m
}

// Unwrap is the store being measured.
func (m *MeasuredStore) Unwrap() store.Store { return m.Store }

// done records an operation that started at start and ended with err.
// A missing or already existing record is an answer, not a failure.
func (m *MeasuredStore) done(op storeOp, start monotonic.Instant, err error) {
	m.durations[op].Observe(monotonic.Since(start).Seconds())
	if err != nil && !errors.Is(err, store.ErrNotFound) && !errors.Is(err, store.ErrExists) {
		m.errors.Inc()
	}
}

// CreateToken implements store.Store, timed.
func (m *MeasuredStore) CreateToken(ctx context.Context, t store.Token) error {
	start := monotonic.Now()
	err := m.Store.CreateToken(ctx, t)
	m.done(opCreateToken, start, err)
	return err
}

// Token implements store.Store, timed.
func (m *MeasuredStore) Token(ctx context.Context, id string) (store.Token, error) {
	start := monotonic.Now()
	t, err := m.Store.Token(ctx, id)
	m.done(opToken, start, err)
	return t, err
}

// TokenByKeyHash implements store.Store, timed.
func (m *MeasuredStore) TokenByKeyHash(ctx context.Context, keyHash []byte) (store.Token, error) {
	start := monotonic.Now()
	t, err := m.Store.TokenByKeyHash(ctx, keyHash)
	m.done(opTokenByKeyHash, start, err)
	return t, err
}

// Tokens implements store.Store, timed.
func (m *MeasuredStore) Tokens(ctx context.Context, owner string) ([]store.Token, error) {
	start := monotonic.Now()
	t, err := m.Store.Tokens(ctx, owner)
	m.done(opTokens, start, err)
	return t, err
}

// DeleteToken implements store.Store, timed.
func (m *MeasuredStore) DeleteToken(ctx context.Context, id string) error {
	start := monotonic.Now()
	err := m.Store.DeleteToken(ctx, id)
	m.done(opDeleteToken, start, err)
	return err
}

// TouchTokens implements store.Store, timed.
func (m *MeasuredStore) TouchTokens(ctx context.Context, lastUsed map[string]time.Time) error {
	start := monotonic.Now()
	err := m.Store.TouchTokens(ctx, lastUsed)
	m.done(opTouchTokens, start, err)
	return err
}

// Revoke implements store.Store, timed.
func (m *MeasuredStore) Revoke(ctx context.Context, jti string, until time.Time) (bool, error) {
	start := monotonic.Now()
	revoked, err := m.Store.Revoke(ctx, jti, until)
	m.done(opRevoke, start, err)
	return revoked, err
}

// IsRevoked implements store.Store, timed.
func (m *MeasuredStore) IsRevoked(ctx context.Context, jti string) (bool, error) {
	start := monotonic.Now()
	ok, err := m.Store.IsRevoked(ctx, jti)
	m.done(opIsRevoked, start, err)
	return ok, err
}

// CreateSession implements store.Store, timed.
func (m *MeasuredStore) CreateSession(ctx context.Context, s store.Session) error {
	start := monotonic.Now()
	err := m.Store.CreateSession(ctx, s)
	m.done(opCreateSession, start, err)
	return err
}

// Session implements store.Store, timed.
func (m *MeasuredStore) Session(ctx context.Context, idHash []byte) (*store.Session, error) {
	start := monotonic.Now()
	s, err := m.Store.Session(ctx, idHash)
	m.done(opSession, start, err)
	return s, err
}

// UpdateSession implements store.Store, timed.
func (m *MeasuredStore) UpdateSession(ctx context.Context, s store.Session) error {
	start := monotonic.Now()
	err := m.Store.UpdateSession(ctx, s)
	m.done(opUpdateSession, start, err)
	return err
}

// DeleteSession implements store.Store, timed.
func (m *MeasuredStore) DeleteSession(ctx context.Context, idHash []byte) error {
	start := monotonic.Now()
	err := m.Store.DeleteSession(ctx, idHash)
	m.done(opDeleteSession, start, err)
	return err
}

// AddFailure implements store.Store, timed.
func (m *MeasuredStore) AddFailure(ctx context.Context, key string, window time.Duration) (store.Counter, error) {
	start := monotonic.Now()
	c, err := m.Store.AddFailure(ctx, key, window)
	m.done(opAddFailure, start, err)
	return c, err
}

// CheckFailures implements store.CheckCounters, timed as one "failures"
// operation: the three counters of a password check, in one operation
// when the measured store can.
func (m *MeasuredStore) CheckFailures(ctx context.Context, keys [3]string) ([3]store.Counter, error) {
	start := monotonic.Now()
	c, err := store.CheckFailures(ctx, m.Store, keys)
	m.done(opFailures, start, err)
	return c, err
}

// NotRevoked implements store.RevocationFree, untimed: the measured
// store's answer from memory is not a store operation.
func (m *MeasuredStore) NotRevoked(jti string) bool {
	return store.NotRevoked(m.Store, jti)
}

// NoFailures implements store.FailureFree, untimed: the measured store's
// answer from memory is not a store operation.
func (m *MeasuredStore) NoFailures(keys [3]string) bool {
	return store.NoFailures(m.Store, keys)
}

// Failures implements store.Store, timed.
func (m *MeasuredStore) Failures(ctx context.Context, key string) (store.Counter, error) {
	start := monotonic.Now()
	c, err := m.Store.Failures(ctx, key)
	m.done(opFailures, start, err)
	return c, err
}

// SetFailures implements store.Store, timed.
func (m *MeasuredStore) SetFailures(ctx context.Context, key string, c store.Counter) error {
	start := monotonic.Now()
	err := m.Store.SetFailures(ctx, key, c)
	m.done(opSetFailures, start, err)
	return err
}

// ResetFailures implements store.Store, timed.
func (m *MeasuredStore) ResetFailures(ctx context.Context, key string) error {
	start := monotonic.Now()
	err := m.Store.ResetFailures(ctx, key)
	m.done(opResetFailures, start, err)
	return err
}

// Secret implements store.Store, timed.
func (m *MeasuredStore) Secret(ctx context.Context, name string, generate func() ([]byte, error)) ([]byte, error) {
	start := monotonic.Now()
	s, err := m.Store.Secret(ctx, name, generate)
	m.done(opSecret, start, err)
	return s, err
}

// Interface guards
var (
	_ store.Store          = (*MeasuredStore)(nil)
	_ store.FailureFree    = (*MeasuredStore)(nil)
	_ store.RevocationFree = (*MeasuredStore)(nil)
)
