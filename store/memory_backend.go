package store

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"sync"
	"time"
)

// memoryBackend keeps every record in maps guarded by one lock. Records are
// copied on the way in and on the way out, so no caller shares its slices.
type memoryBackend struct {
	mu       sync.RWMutex
	tokens   map[string]Token     // by id
	byHash   map[string]string    // key hash → token id
	revoked  map[string]time.Time // jti → end of the revocation
	sessions map[string]*Session  // by id hash; read-only, replaced on update
	counters map[string]Counter   // by key

	// secretMu serialises Secret so that generate runs once per name
	// without holding mu (and so stalling every other call) meanwhile.
	secretMu sync.Mutex
	secrets  map[string][]byte

	// now tells the time that decides expiries (time.Now unless a test
	// moves it).
	now     func() time.Time
	sweeper *sweeper
	// sweepChunk is memorySweepChunk unless a test lowers it; onSweepPause,
	// when set, is called at each pause of a sweep, without the lock.
	sweepChunk   int
	onSweepPause func()
}

// newMemoryBackend returns an empty backend whose sweeper deletes expired
// records every interval until destroy is called.
func newMemoryBackend(interval time.Duration) *memoryBackend {
	m := &memoryBackend{
		tokens:   make(map[string]Token),
		byHash:   make(map[string]string),
		revoked:  make(map[string]time.Time),
		sessions: make(map[string]*Session),
		counters: make(map[string]Counter),
		secrets:  make(map[string][]byte),
		now:      time.Now,
	}
	m.sweeper = startSweeper(interval, func() time.Time { return m.now() }, func(_ <-chan struct{}, now time.Time) { m.sweep(now) })
	return m
}

// memorySweepChunk is how many records the sweep examines before it
// releases the lock for a moment, so that no call waits behind a sweep of
// a large store.
const memorySweepChunk = 1024

// sweep deletes every record expired at now.
func (m *memoryBackend) sweep(now time.Time) {
	m.mu.Lock()
	defer m.mu.Unlock()
	chunk := m.sweepChunk
	if chunk <= 0 {
		chunk = memorySweepChunk
	}
	examined := 0
	// pause lets waiting callers in after every chunk. A map may be
	// changed while it is ranged over: a record added meanwhile may or may
	// not be seen, one deleted meanwhile is not.
	pause := func() {
		if examined++; examined%chunk == 0 {
			m.mu.Unlock()
			if m.onSweepPause != nil {
				m.onSweepPause()
			}
			m.mu.Lock()
		}
	}
	for id, t := range m.tokens {
		if t.Expired(now) {
			m.deleteToken(t)
			delete(m.tokens, id)
		}
		pause()
	}
	for jti, until := range m.revoked {
		if !now.Before(until) {
			delete(m.revoked, jti)
		}
		pause()
	}
	for k, s := range m.sessions {
		if sessionExpired(*s, now) {
			delete(m.sessions, k)
		}
		pause()
	}
	for k, c := range m.counters {
		if counterExpired(c, now) {
			delete(m.counters, k)
		}
		pause()
	}
}

// destroy stops the sweeper and drops every record.
func (m *memoryBackend) destroy() error {
	m.sweeper.halt()
	m.mu.Lock()
	clear(m.tokens)
	clear(m.byHash)
	clear(m.revoked)
	clear(m.sessions)
	clear(m.counters)
	m.mu.Unlock()
	m.secretMu.Lock()
	clear(m.secrets)
	m.secretMu.Unlock()
	return nil
}

// deleteToken removes t and its key hash index entry; mu must be held.
func (m *memoryBackend) deleteToken(t Token) {
	delete(m.tokens, t.ID)
	if m.byHash[string(t.KeyHash)] == t.ID {
		delete(m.byHash, string(t.KeyHash))
	}
}

// CreateToken implements Store.
func (m *memoryBackend) CreateToken(_ context.Context, t Token) error {
	if err := checkToken(t); err != nil {
		return fmt.Errorf("creating token: %w", err)
	}
	now := m.now()
	m.mu.Lock()
	defer m.mu.Unlock()
	if old, ok := m.tokens[t.ID]; ok {
		if !old.Expired(now) {
			return fmt.Errorf("creating token %s: %w", t.ID, ErrExists)
		}
		m.deleteToken(old)
	}
	if old, ok := m.tokens[m.byHash[string(t.KeyHash)]]; ok {
		if !old.Expired(now) {
			return fmt.Errorf("creating token %s: key hash: %w", t.ID, ErrExists)
		}
		m.deleteToken(old)
	}
	t = cloneToken(t)
	m.tokens[t.ID] = t
	m.byHash[string(t.KeyHash)] = t.ID
	return nil
}

// Token implements Store.
func (m *memoryBackend) Token(_ context.Context, id string) (Token, error) {
	m.mu.RLock()
	t, ok := m.tokens[id]
	m.mu.RUnlock()
	if !ok || t.Expired(m.now()) {
		return Token{}, ErrNotFound
	}
	return cloneToken(t), nil
}

// TokenByKeyHash implements Store.
func (m *memoryBackend) TokenByKeyHash(_ context.Context, keyHash []byte) (Token, error) {
	m.mu.RLock()
	t, ok := m.tokens[m.byHash[string(keyHash)]]
	m.mu.RUnlock()
	if !ok || t.Expired(m.now()) {
		return Token{}, ErrNotFound
	}
	return cloneToken(t), nil
}

// Tokens implements Store.
func (m *memoryBackend) Tokens(_ context.Context, owner string) ([]Token, error) {
	now := m.now()
	var out []Token
	m.mu.RLock()
	for _, t := range m.tokens {
		if (owner == "" || t.Owner == owner) && !t.Expired(now) {
			out = append(out, cloneToken(t))
		}
	}
	m.mu.RUnlock()
	slices.SortFunc(out, compareTokens)
	return out, nil
}

// DeleteToken implements Store.
func (m *memoryBackend) DeleteToken(_ context.Context, id string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	t, ok := m.tokens[id]
	if !ok {
		return ErrNotFound
	}
	m.deleteToken(t)
	if t.Expired(m.now()) {
		return ErrNotFound
	}
	return nil
}

// TouchTokens implements Store.
func (m *memoryBackend) TouchTokens(_ context.Context, lastUsed map[string]time.Time) error {
	if len(lastUsed) == 0 {
		return nil
	}
	now := m.now()
	m.mu.Lock()
	defer m.mu.Unlock()
	for id, used := range lastUsed {
		t, ok := m.tokens[id]
		if !ok || t.Expired(now) || (t.LastUsed != nil && !used.After(*t.LastUsed)) {
			continue
		}
		t.LastUsed = &used
		m.tokens[id] = t
	}
	return nil
}

// Revoke implements Store: the check and the write happen under one lock.
func (m *memoryBackend) Revoke(_ context.Context, jti string, until time.Time) (bool, error) {
	if err := checkKey("jti", jti); err != nil {
		return false, fmt.Errorf("revoking: %w", err)
	}
	now := m.now()
	if !now.Before(until) {
		return false, nil // already expired: nothing left to revoke
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	old, ok := m.revoked[jti]
	if !ok || until.After(old) {
		m.revoked[jti] = until
	}
	return !ok || !now.Before(old), nil // revoked now unless a live record was there
}

// IsRevoked implements Store.
func (m *memoryBackend) IsRevoked(_ context.Context, jti string) (bool, error) {
	m.mu.RLock()
	until, ok := m.revoked[jti]
	m.mu.RUnlock()
	return ok && m.now().Before(until), nil
}

// CreateSession implements Store.
func (m *memoryBackend) CreateSession(_ context.Context, s Session) error {
	if err := checkSession(s); err != nil {
		return fmt.Errorf("creating session: %w", err)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if old, ok := m.sessions[string(s.IDHash)]; ok && !sessionExpired(*old, m.now()) {
		return fmt.Errorf("creating session: %w", ErrExists)
	}
	m.sessions[string(s.IDHash)] = storedSession(s)
	return nil
}

// Session implements Store.
func (m *memoryBackend) Session(_ context.Context, idHash []byte) (*Session, error) {
	m.mu.RLock()
	s, ok := m.sessions[string(idHash)]
	m.mu.RUnlock()
	if !ok || sessionExpired(*s, m.now()) {
		return nil, ErrNotFound
	}
	return s, nil // read-only: a stored session is replaced, never modified
}

// UpdateSession implements Store.
func (m *memoryBackend) UpdateSession(_ context.Context, s Session) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	old, ok := m.sessions[string(s.IDHash)]
	if !ok || sessionExpired(*old, m.now()) {
		return ErrNotFound
	}
	m.sessions[string(s.IDHash)] = storedSession(s)
	return nil
}

// DeleteSession implements Store.
func (m *memoryBackend) DeleteSession(_ context.Context, idHash []byte) error {
	m.mu.Lock()
	delete(m.sessions, string(idHash))
	m.mu.Unlock()
	return nil
}

// AddFailure implements Store.
func (m *memoryBackend) AddFailure(_ context.Context, key string, window time.Duration) (Counter, error) {
	if err := checkKey("failure key", key); err != nil {
		return Counter{}, fmt.Errorf("adding failure: %w", err)
	}
	if err := checkWindow(window); err != nil {
		return Counter{}, fmt.Errorf("adding failure: %w", err)
	}
	now := m.now()
	m.mu.Lock()
	defer m.mu.Unlock()
	c, ok := m.counters[key]
	if ok && !counterExpired(c, now) {
		c.Count++
	} else {
		c = Counter{Count: 1, Expires: now.Add(window)}
	}
	m.counters[key] = c
	return c, nil
}

// Failures implements Store.
func (m *memoryBackend) Failures(_ context.Context, key string) (Counter, error) {
	m.mu.RLock()
	c, ok := m.counters[key]
	m.mu.RUnlock()
	if !ok || counterExpired(c, m.now()) {
		return Counter{}, nil
	}
	return c, nil
}

// NotRevoked implements RevocationFree: the store is memory, so it always
// knows.
func (m *memoryBackend) NotRevoked(jti string) bool {
	revoked, _ := m.IsRevoked(context.Background(), jti) // never fails
	return !revoked
}

// NoFailures implements FailureFree: the store is memory, so it always
// knows.
func (m *memoryBackend) NoFailures(keys [3]string) bool {
	now := m.now()
	m.mu.RLock()
	defer m.mu.RUnlock()
	for _, k := range keys {
		if c, ok := m.counters[k]; ok && k != "" && !counterExpired(c, now) {
			return false
		}
	}
	return true
}

// SetFailures implements Store. A counter with no count or an expiry that
// is not in the future is deleted instead.
func (m *memoryBackend) SetFailures(_ context.Context, key string, c Counter) error {
	if err := checkKey("failure key", key); err != nil {
		return fmt.Errorf("setting failures: %w", err)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if c.Count <= 0 || counterExpired(c, m.now()) {
		delete(m.counters, key)
		return nil
	}
	m.counters[key] = c
	return nil
}

// ResetFailures implements Store.
func (m *memoryBackend) ResetFailures(_ context.Context, key string) error {
	m.mu.Lock()
	delete(m.counters, key)
	m.mu.Unlock()
	return nil
}

// Secret implements Store.
func (m *memoryBackend) Secret(_ context.Context, name string, generate func() ([]byte, error)) ([]byte, error) {
	if err := checkKey("secret name", name); err != nil {
		return nil, fmt.Errorf("loading secret: %w", err)
	}
	m.secretMu.Lock()
	defer m.secretMu.Unlock()
	if s, ok := m.secrets[name]; ok {
		return bytes.Clone(s), nil
	}
	s, err := generateSecret(name, generate)
	if err != nil {
		return nil, err
	}
	m.secrets[name] = bytes.Clone(s)
	return bytes.Clone(s), nil
}
