package store

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/redis/go-redis/v9"
	bolt "go.etcd.io/bbolt"
)

// UserSessions is implemented by stores that can find sessions by user:
// what an operator needs to see and end a user's sessions. It is not on
// the request path.
type UserSessions interface {
	// UserSessions lists the live sessions of user (every live session
	// when user is ""), oldest first.
	UserSessions(ctx context.Context, user string) ([]Session, error)
	// DeleteUserSessions ends every session of user and returns how many
	// there were.
	DeleteUserSessions(ctx context.Context, user string) (int, error)
}

// sortSessions orders sessions oldest first.
func sortSessions(list []Session) {
	slices.SortFunc(list, func(a, b Session) int {
		if c := a.Created.Compare(b.Created); c != 0 {
			return c
		}
		return bytes.Compare(a.IDHash, b.IDHash)
	})
}

// UserSessions implements UserSessions.
func (m *memoryBackend) UserSessions(_ context.Context, user string) ([]Session, error) {
	now := m.now()
	m.mu.RLock()
	var list []Session
	for _, s := range m.sessions {
		if (user == "" || s.User == user) && !sessionExpired(*s, now) {
			list = append(list, cloneSession(*s))
		}
	}
	m.mu.RUnlock()
	sortSessions(list)
	return list, nil
}

// DeleteUserSessions implements UserSessions.
func (m *memoryBackend) DeleteUserSessions(_ context.Context, user string) (int, error) {
	if err := checkKey("user", user); err != nil {
		return 0, err
	}
	now := m.now()
	m.mu.Lock()
	defer m.mu.Unlock()
	n := 0
	for k, s := range m.sessions {
		if s.User == user {
			if !sessionExpired(*s, now) {
				n++
			}
			delete(m.sessions, k)
		}
	}
	return n, nil
}

// UserSessions implements UserSessions.
func (b *boltBackend) UserSessions(ctx context.Context, user string) ([]Session, error) {
	now := b.now()
	var list []Session
	err := b.view(ctx, func(tx *bolt.Tx) error {
		return tx.Bucket(bucketSessions).ForEach(func(k, v []byte) error {
			s, err := decodeSession(k, v)
			if err == nil && (user == "" || s.User == user) && !sessionExpired(s, now) {
				list = append(list, s)
			}
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("listing sessions: %w", err)
	}
	sortSessions(list)
	return list, nil
}

// DeleteUserSessions implements UserSessions.
func (b *boltBackend) DeleteUserSessions(ctx context.Context, user string) (int, error) {
	if err := checkKey("user", user); err != nil {
		return 0, err
	}
	now := b.now()
	n := 0
	err := b.update(ctx, func(tx *bolt.Tx, w *boltWrites) error {
		bucket := tx.Bucket(bucketSessions)
		var doomed [][]byte
		err := bucket.ForEach(func(k, v []byte) error {
			s, err := decodeSession(k, v)
			if err == nil && s.User == user {
				if !sessionExpired(s, now) {
					n++
				}
				doomed = append(doomed, bytes.Clone(k))
			}
			return nil
		})
		if err != nil {
			return err
		}
		for _, k := range doomed {
			if err := w.delete(tx, bucketSessions, k); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("deleting sessions of %s: %w", user, err)
	}
	return n, nil
}

// redisSessions visits every session stored under the prefix (a SCAN: for
// operators, not for requests).
func (b *redisBackend) redisSessions(ctx context.Context, visit func(key string, s Session)) error {
	prefix := b.key("s", "")
	keys, err := b.conn.scan(ctx, escapeGlob(prefix)+"*")
	if err := b.do("listing sessions", err); err != nil {
		return err
	}
	now := b.now()
	for _, key := range keys {
		idHash, err := hex.DecodeString(strings.TrimPrefix(key, prefix))
		if err != nil {
			continue
		}
		v, err := b.conn.client.Get(ctx, key).Bytes()
		if errors.Is(err, redis.Nil) {
			continue // gone since the scan saw it
		}
		if err := b.do("reading session", err); err != nil {
			return err
		}
		s, err := decodeSession(idHash, v)
		if err != nil || sessionExpired(s, now) {
			continue
		}
		visit(key, s)
	}
	return nil
}

// UserSessions implements UserSessions.
func (b *redisBackend) UserSessions(ctx context.Context, user string) ([]Session, error) {
	var list []Session
	err := b.redisSessions(ctx, func(_ string, s Session) {
		if user == "" || s.User == user {
			list = append(list, s)
		}
	})
	if err != nil {
		return nil, err
	}
	sortSessions(list)
	return list, nil
}

// DeleteUserSessions implements UserSessions.
func (b *redisBackend) DeleteUserSessions(ctx context.Context, user string) (int, error) {
	if err := checkKey("user", user); err != nil {
		return 0, err
	}
	var keys []string
	err := b.redisSessions(ctx, func(key string, s Session) {
		if s.User == user {
			keys = append(keys, key)
		}
	})
	if err != nil {
		return 0, err
	}
	n := 0
	for _, key := range keys {
		deleted, err := b.deleteSessionKey(ctx, key)
		if err != nil {
			return n, err
		}
		if deleted {
			n++
		}
	}
	return n, nil
}

// Interface guards
var (
	_ UserSessions = (*memoryBackend)(nil)
	_ UserSessions = (*boltBackend)(nil)
	_ UserSessions = (*redisBackend)(nil)
)
