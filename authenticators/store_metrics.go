package authenticators

import (
	"context"
	"errors"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/caddy-restauth/caddy-restauth/store"
)

// storeOps are the op label values of store_duration_seconds.
var storeOps = []string{
	"create_token", "token", "token_by_key_hash", "tokens", "delete_token", "touch_tokens",
	"revoke", "is_revoked",
	"create_session", "session", "update_session", "delete_session",
	"add_failure", "failures", "set_failures", "reset_failures",
	"secret",
}

// MeasuredStore is a store whose operations are timed and whose failures
// are counted in the store metrics. Methods it does not time pass through
// to the embedded store.
type MeasuredStore struct {
	store.Store
	durations map[string]prometheus.Observer
	errors    prometheus.Counter
}

// Measure wraps st, a store of the named backend (bolt, redis, memory).
// The metric children are bound here, not per operation.
func Measure(st store.Store, backend string) *MeasuredStore {
	initMetrics()
	m := &MeasuredStore{
		Store:     st,
		durations: make(map[string]prometheus.Observer, len(storeOps)),
		errors:    metrics.storeErrors.WithLabelValues(backend),
	}
	for _, op := range storeOps {
		m.durations[op] = metrics.storeDuration.WithLabelValues(backend, op)
	}
	return m
}

// Unwrap is the store being measured.
func (m *MeasuredStore) Unwrap() store.Store { return m.Store }

// done records an operation that started at start and ended with err.
// A missing or already existing record is an answer, not a failure.
func (m *MeasuredStore) done(op string, start time.Time, err error) {
	m.durations[op].Observe(time.Since(start).Seconds())
	if err != nil && !errors.Is(err, store.ErrNotFound) && !errors.Is(err, store.ErrExists) {
		m.errors.Inc()
	}
}

// CreateToken implements store.Store, timed.
func (m *MeasuredStore) CreateToken(ctx context.Context, t store.Token) error {
	start := time.Now()
	err := m.Store.CreateToken(ctx, t)
	m.done("create_token", start, err)
	return err
}

// Token implements store.Store, timed.
func (m *MeasuredStore) Token(ctx context.Context, id string) (store.Token, error) {
	start := time.Now()
	t, err := m.Store.Token(ctx, id)
	m.done("token", start, err)
	return t, err
}

// TokenByKeyHash implements store.Store, timed.
func (m *MeasuredStore) TokenByKeyHash(ctx context.Context, keyHash []byte) (store.Token, error) {
	start := time.Now()
	t, err := m.Store.TokenByKeyHash(ctx, keyHash)
	m.done("token_by_key_hash", start, err)
	return t, err
}

// Tokens implements store.Store, timed.
func (m *MeasuredStore) Tokens(ctx context.Context, owner string) ([]store.Token, error) {
	start := time.Now()
	t, err := m.Store.Tokens(ctx, owner)
	m.done("tokens", start, err)
	return t, err
}

// DeleteToken implements store.Store, timed.
func (m *MeasuredStore) DeleteToken(ctx context.Context, id string) error {
	start := time.Now()
	err := m.Store.DeleteToken(ctx, id)
	m.done("delete_token", start, err)
	return err
}

// TouchTokens implements store.Store, timed.
func (m *MeasuredStore) TouchTokens(ctx context.Context, lastUsed map[string]time.Time) error {
	start := time.Now()
	err := m.Store.TouchTokens(ctx, lastUsed)
	m.done("touch_tokens", start, err)
	return err
}

// Revoke implements store.Store, timed.
func (m *MeasuredStore) Revoke(ctx context.Context, jti string, until time.Time) (bool, error) {
	start := time.Now()
	revoked, err := m.Store.Revoke(ctx, jti, until)
	m.done("revoke", start, err)
	return revoked, err
}

// IsRevoked implements store.Store, timed.
func (m *MeasuredStore) IsRevoked(ctx context.Context, jti string) (bool, error) {
	start := time.Now()
	ok, err := m.Store.IsRevoked(ctx, jti)
	m.done("is_revoked", start, err)
	return ok, err
}

// CreateSession implements store.Store, timed.
func (m *MeasuredStore) CreateSession(ctx context.Context, s store.Session) error {
	start := time.Now()
	err := m.Store.CreateSession(ctx, s)
	m.done("create_session", start, err)
	return err
}

// Session implements store.Store, timed.
func (m *MeasuredStore) Session(ctx context.Context, idHash []byte) (store.Session, error) {
	start := time.Now()
	s, err := m.Store.Session(ctx, idHash)
	m.done("session", start, err)
	return s, err
}

// UpdateSession implements store.Store, timed.
func (m *MeasuredStore) UpdateSession(ctx context.Context, s store.Session) error {
	start := time.Now()
	err := m.Store.UpdateSession(ctx, s)
	m.done("update_session", start, err)
	return err
}

// DeleteSession implements store.Store, timed.
func (m *MeasuredStore) DeleteSession(ctx context.Context, idHash []byte) error {
	start := time.Now()
	err := m.Store.DeleteSession(ctx, idHash)
	m.done("delete_session", start, err)
	return err
}

// AddFailure implements store.Store, timed.
func (m *MeasuredStore) AddFailure(ctx context.Context, key string, window time.Duration) (store.Counter, error) {
	start := time.Now()
	c, err := m.Store.AddFailure(ctx, key, window)
	m.done("add_failure", start, err)
	return c, err
}

// Failures implements store.Store, timed.
func (m *MeasuredStore) Failures(ctx context.Context, key string) (store.Counter, error) {
	start := time.Now()
	c, err := m.Store.Failures(ctx, key)
	m.done("failures", start, err)
	return c, err
}

// SetFailures implements store.Store, timed.
func (m *MeasuredStore) SetFailures(ctx context.Context, key string, c store.Counter) error {
	start := time.Now()
	err := m.Store.SetFailures(ctx, key, c)
	m.done("set_failures", start, err)
	return err
}

// ResetFailures implements store.Store, timed.
func (m *MeasuredStore) ResetFailures(ctx context.Context, key string) error {
	start := time.Now()
	err := m.Store.ResetFailures(ctx, key)
	m.done("reset_failures", start, err)
	return err
}

// Secret implements store.Store, timed.
func (m *MeasuredStore) Secret(ctx context.Context, name string, generate func() ([]byte, error)) ([]byte, error) {
	start := time.Now()
	s, err := m.Store.Secret(ctx, name, generate)
	m.done("secret", start, err)
	return s, err
}
