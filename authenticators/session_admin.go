package authenticators

import (
	"context"
	"encoding/hex"
	"fmt"
	"net/http"
	"time"

	"github.com/caddy-restauth/caddy-restauth/store"
)

// SessionInfo is a stored session as an operator sees it: never its id,
// only the start of the id's hash, enough to tell sessions apart.
type SessionInfo struct {
	ID       string    `json:"id"`
	Created  time.Time `json:"created"`
	LastSeen time.Time `json:"last_seen"`
	Expires  time.Time `json:"expires"`
	// ClientAddress is where the session was started from.
	ClientAddress string `json:"client_address"`
}

// userSessionStore is st's listing of sessions by user, if it has one (st
// may be wrapped, e.g. to be measured); without one, a 501.
func userSessionStore(st store.Store) (store.UserSessions, error) {
	if us, ok := unwrapStore(st).(store.UserSessions); ok {
		return us, nil
	}
	return nil, &Rejection{Status: http.StatusNotImplemented, Detail: "This store cannot list sessions by user."}
}

// unwrapStore is the backend behind st (st itself unless it is a
// MeasuredStore), for the interfaces a backend may add to store.Store.
func unwrapStore(st store.Store) store.Store {
	if m, ok := st.(interface{ Unwrap() store.Store }); ok {
		return m.Unwrap()
	}
	return st
}

// UserSessions lists the sessions of user in env's store. idle is the
// sessions' idle timeout (0 when unknown): the last use is derived from
// the idle expiry, which moves at most once a minute, so it is known to
// the minute.
func UserSessions(ctx context.Context, env Env, idle time.Duration, user string) ([]SessionInfo, error) {
	us, err := userSessionStore(env.Store)
	if err != nil {
		return nil, err
	}
	list, err := us.UserSessions(ctx, user)
	if err != nil {
		return nil, fmt.Errorf("listing sessions: %w", err)
	}
	out := make([]SessionInfo, 0, len(list))
	for _, s := range list {
		seen := s.Created
		if idle > 0 {
			if t := s.IdleExpires.Add(-idle); t.After(seen) {
				seen = t
			}
		}
		out = append(out, SessionInfo{
			ID:            hex.EncodeToString(s.IDHash)[:12],
			Created:       s.Created.UTC(),
			LastSeen:      seen.UTC(),
			Expires:       s.Deadline().UTC(),
			ClientAddress: s.ClientAddr,
		})
	}
	return out, nil
}

// EndUserSessions ends every session of user in env's store and reports
// how many there were.
func EndUserSessions(ctx context.Context, env Env, user string) (int, error) {
	us, err := userSessionStore(env.Store)
	if err != nil {
		return 0, err
	}
	n, err := us.DeleteUserSessions(ctx, user)
	if err != nil {
		return 0, fmt.Errorf("ending sessions: %w", err)
	}
	return n, nil
}

// CountStored counts the API tokens and sessions in env's store, for the
// gauges: from its sizes (store.Sizes: every backend of this module, no
// record read), else by listing them (sessions only where the store can
// list them).
func CountStored(ctx context.Context, env Env) (tokens, sessions int, err error) {
	if sizes, ok := unwrapStore(env.Store).(store.Sizes); ok {
		if tokens, sessions, err = sizes.Sizes(ctx); err != nil {
			return 0, 0, fmt.Errorf("counting tokens and sessions: %w", err)
		}
		return tokens, sessions, nil
	}
	toks, err := env.Store.Tokens(ctx, "")
	if err != nil {
		return 0, 0, fmt.Errorf("counting tokens: %w", err)
	}
	us, err := userSessionStore(env.Store)
	if err != nil {
		return len(toks), 0, nil
	}
	list, err := us.UserSessions(ctx, "")
	if err != nil {
		return 0, 0, fmt.Errorf("counting sessions: %w", err)
	}
	return len(toks), len(list), nil
}
