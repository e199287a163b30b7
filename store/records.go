package store

import (
	"bytes"
	"cmp"
	"errors"
	"fmt"
	"slices"
	"time"
)

// sweepInterval is how often backends without native TTLs delete expired
// records. Reads never depend on it: an expired record is invisible at once.
const sweepInterval = time.Minute

// cloneToken returns a deep copy of t, so that neither the caller nor the
// backend can change the other's copy through a shared slice or pointer.
func cloneToken(t Token) Token {
	t.KeyHash = bytes.Clone(t.KeyHash)
	t.Roles = slices.Clone(t.Roles)
	t.AllowedIPs = slices.Clone(t.AllowedIPs)
	t.Expires = cloneTime(t.Expires)
	t.LastUsed = cloneTime(t.LastUsed)
	return t
}

func cloneTime(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	c := *t
	return &c
}

// cloneSession returns a deep copy of s, its two hashes in one new array
// (a session read on every request costs one allocation).
func cloneSession(s Session) Session {
	if s.IDHash == nil && s.CSRFHash == nil {
		return s
	}
	buf := make([]byte, len(s.IDHash)+len(s.CSRFHash))
	n := copy(buf, s.IDHash)
	copy(buf[n:], s.CSRFHash)
	if s.IDHash != nil {
		s.IDHash = buf[:n:n]
	}
	if s.CSRFHash != nil {
		s.CSRFHash = buf[n:]
	}
	return s
}

// storedSession is a copy of s to keep: the caller's s may change.
func storedSession(s Session) *Session {
	c := cloneSession(s)
	return &c
}

// sessionExpired reports whether s has reached its deadline at now.
func sessionExpired(s Session, now time.Time) bool {
	return !now.Before(s.Deadline())
}

// counterExpired reports whether c has reached its expiry at now.
func counterExpired(c Counter, now time.Time) bool {
	return !now.Before(c.Expires)
}

// compareTokens orders tokens by creation time, oldest first, and by id
// among tokens created at the same instant, so listings are stable.
func compareTokens(a, b Token) int {
	if c := a.Created.Compare(b.Created); c != 0 {
		return c
	}
	return cmp.Compare(a.ID, b.ID)
}

// checkToken rejects a token that could not be found again: every lookup
// key must be set.
func checkToken(t Token) error {
	switch {
	case t.ID == "":
		return errors.New("token has no id")
	case len(t.KeyHash) == 0:
		return fmt.Errorf("token %s has no key hash", t.ID)
	case t.Owner == "":
		return fmt.Errorf("token %s has no owner", t.ID)
	}
	return nil
}

// checkSession rejects a session without an id hash.
func checkSession(s Session) error {
	if len(s.IDHash) == 0 {
		return errors.New("session has no id hash")
	}
	return nil
}

// checkKey rejects an empty key for the kind of record named by what.
func checkKey(what, key string) error {
	if key == "" {
		return fmt.Errorf("empty %s", what)
	}
	return nil
}

// checkWindow rejects a failure window that would expire a counter at once.
func checkWindow(window time.Duration) error {
	if window <= 0 {
		return fmt.Errorf("failure window must be positive, got %v", window)
	}
	return nil
}

// generateSecret calls generate and checks that it produced something.
func generateSecret(name string, generate func() ([]byte, error)) ([]byte, error) {
	s, err := generate()
	if err != nil {
		return nil, fmt.Errorf("generating secret %s: %w", name, err)
	}
	if len(s) == 0 {
		return nil, fmt.Errorf("generating secret %s: generator returned no bytes", name)
	}
	return s, nil
}
