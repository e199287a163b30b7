// Package storetest is the conformance suite every store.Store backend
// passes. A backend's tests call Run, and RunReopen when it persists data.
package storetest

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/caddy-restauth/caddy-restauth/internal/poll"
	"github.com/caddy-restauth/caddy-restauth/store"
)

// Short expiries are used to watch records vanish; waitFor gives them
// pollTimeout to do so.
const (
	shortTTL    = 50 * time.Millisecond
	pollTimeout = 5 * time.Second
)

// Run runs the conformance suite against the stores open returns.
//
// Every subtest calls open once with its own t and closes the store when
// it ends. open must return an empty store, independent of the stores it
// returned to other subtests; it may use t.Cleanup for anything else it
// sets up. Subtests run one after another, never in parallel.
func Run(t *testing.T, open func(t *testing.T) store.Store) {
	t.Helper()
	tests := []struct {
		name string
		fn   func(t *testing.T, s store.Store)
	}{
		{"TokenCreateGet", testTokenCreateGet},
		{"TokenCreateValidates", testTokenCreateValidates},
		{"TokenDuplicates", testTokenDuplicates},
		{"TokenNotFound", testTokenNotFound},
		{"TokensOrdering", testTokensOrdering},
		{"TokenDelete", testTokenDelete},
		{"TokenExpiry", testTokenExpiry},
		{"TouchTokens", testTouchTokens},
		{"TokenNoAliasing", testTokenNoAliasing},
		{"Revoke", testRevoke},
		{"RevokeExpiry", testRevokeExpiry},
		{"RevokeConcurrent", testRevokeConcurrent},
		{"Sessions", testSessions},
		{"SessionExpiry", testSessionExpiry},
		{"SessionNoAliasing", testSessionNoAliasing},
		{"UserSessions", testUserSessions},
		{"Failures", testFailures},
		{"FailuresExpiry", testFailuresExpiry},
		{"CheckFailures", testCheckFailures},
		{"NoFailures", testNoFailures},
		{"NotRevoked", testNotRevoked},
		{"SecretGetOrCreate", testSecretGetOrCreate},
		{"SecretConcurrent", testSecretConcurrent},
		{"Concurrent", testConcurrent},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := open(t)
			t.Cleanup(func() {
				if err := s.Close(); err != nil {
					t.Errorf("Close: %v", err)
				}
			})
			tc.fn(t, s)
		})
	}
}

// RunReopen checks that a persistent backend keeps its data when closed
// and opened again. open is called twice with the same t and must return
// the same underlying storage both times (the first time, empty).
func RunReopen(t *testing.T, open func(t *testing.T) store.Store) {
	t.Helper()
	t.Run("Reopen", func(t *testing.T) {
		ctx := t.Context()
		now := time.Now()
		s := open(t)
		tok := newToken("reopen", "alice", now)
		tok.Expires = ptr(now.Add(time.Hour))
		sess := newSession("reopen", now)
		must(t, s.CreateToken(ctx, tok))
		must(t, s.TouchTokens(ctx, map[string]time.Time{tok.ID: now}))
		tok.LastUsed = ptr(now)
		revoke(t, s, "jti-reopen", now.Add(time.Hour), true)
		must(t, s.CreateSession(ctx, sess))
		c, err := s.AddFailure(ctx, "alice", time.Hour)
		must(t, err)
		secret, err := s.Secret(ctx, "jwt", func() ([]byte, error) { return []byte("s3cret"), nil })
		must(t, err)
		must(t, s.Close())

		s = open(t)
		t.Cleanup(func() {
			if err := s.Close(); err != nil {
				t.Errorf("Close: %v", err)
			}
		})
		got, err := s.Token(ctx, tok.ID)
		must(t, err)
		checkToken(t, got, tok)
		got, err = s.TokenByKeyHash(ctx, tok.KeyHash)
		must(t, err)
		checkToken(t, got, tok)
		list, err := s.Tokens(ctx, "alice")
		must(t, err)
		checkTokenIDs(t, list, tok.ID)
		if revoked, err := s.IsRevoked(ctx, "jti-reopen"); err != nil || !revoked {
			t.Errorf("IsRevoked after reopen = %v, %v; want true", revoked, err)
		}
		gotSess, err := s.Session(ctx, sess.IDHash)
		must(t, err)
		checkSession(t, gotSess, sess)
		gotC, err := s.Failures(ctx, "alice")
		must(t, err)
		checkCounter(t, gotC, c)
		gotSecret, err := s.Secret(ctx, "jwt", func() ([]byte, error) {
			return nil, errors.New("generate called although the secret is stored")
		})
		must(t, err)
		if !bytes.Equal(gotSecret, secret) {
			t.Errorf("Secret after reopen = %q, want %q", gotSecret, secret)
		}
	})
}

func testTokenCreateGet(t *testing.T, s store.Store) {
	ctx := t.Context()
	now := time.Now()
	full := newToken("full", "alice", now)
	full.Roles = []string{"editor", "reader"}
	full.Description = "CI deploys"
	full.Expires = ptr(now.Add(time.Hour))
	full.LastUsed = ptr(now.Add(-time.Minute))
	full.WriteEnabled = true
	full.AllowedIPs = []string{"192.0.2.0/24", "2001:db8::/32"}
	minimal := newToken("minimal", "bob", now)

	for _, want := range []store.Token{full, minimal} {
		must(t, s.CreateToken(ctx, want))
		got, err := s.Token(ctx, want.ID)
		must(t, err)
		checkToken(t, got, want)
		got, err = s.TokenByKeyHash(ctx, want.KeyHash)
		must(t, err)
		checkToken(t, got, want)
	}
}

func testTokenCreateValidates(t *testing.T, s store.Store) {
	ctx := t.Context()
	now := time.Now()
	for name, mutate := range map[string]func(*store.Token){
		"no id":       func(tok *store.Token) { tok.ID = "" },
		"no key hash": func(tok *store.Token) { tok.KeyHash = nil },
		"no owner":    func(tok *store.Token) { tok.Owner = "" },
	} {
		tok := newToken("invalid", "alice", now)
		mutate(&tok)
		if err := s.CreateToken(ctx, tok); err == nil {
			t.Errorf("CreateToken with %s: no error", name)
		}
	}
	list, err := s.Tokens(ctx, "")
	must(t, err)
	checkTokenIDs(t, list)
}

func testTokenDuplicates(t *testing.T, s store.Store) {
	ctx := t.Context()
	now := time.Now()
	orig := newToken("dup", "alice", now)
	must(t, s.CreateToken(ctx, orig))

	sameID := newToken("dup", "bob", now)
	sameID.KeyHash = []byte("another key hash")
	sameHash := newToken("other", "bob", now)
	sameHash.KeyHash = orig.KeyHash
	for name, tok := range map[string]store.Token{"same id": sameID, "same key hash": sameHash} {
		if err := s.CreateToken(ctx, tok); !errors.Is(err, store.ErrExists) {
			t.Errorf("CreateToken with the %s = %v, want ErrExists", name, err)
		}
	}
	got, err := s.Token(ctx, "dup")
	must(t, err)
	checkToken(t, got, orig)
	if _, err := s.Token(ctx, "other"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Token(other) after a rejected create = %v, want ErrNotFound", err)
	}
	if _, err := s.TokenByKeyHash(ctx, sameID.KeyHash); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("TokenByKeyHash of a rejected create = %v, want ErrNotFound", err)
	}
	list, err := s.Tokens(ctx, "bob")
	must(t, err)
	checkTokenIDs(t, list)

	// An expired token no longer holds its id or key hash.
	old := newToken("old", "alice", now)
	old.Expires = ptr(now.Add(-time.Second))
	must(t, s.CreateToken(ctx, old))
	reuse := newToken("old", "bob", now)
	must(t, s.CreateToken(ctx, reuse))
	got, err = s.Token(ctx, "old")
	must(t, err)
	checkToken(t, got, reuse)
	for owner, want := range map[string][]string{"alice": {"dup"}, "bob": {"old"}} {
		list, err := s.Tokens(ctx, owner)
		must(t, err)
		if got := tokenIDs(list); !slices.Equal(got, want) {
			t.Errorf("Tokens(%s) after reusing an expired id = %v, want %v", owner, got, want)
		}
	}

	expired := newToken("expired", "alice", now)
	expired.Expires = ptr(now.Add(-time.Second))
	must(t, s.CreateToken(ctx, expired))
	sameHashLive := newToken("live", "alice", now)
	sameHashLive.KeyHash = expired.KeyHash
	must(t, s.CreateToken(ctx, sameHashLive))
	got, err = s.TokenByKeyHash(ctx, expired.KeyHash)
	must(t, err)
	checkToken(t, got, sameHashLive)
}

func testTokenNotFound(t *testing.T, s store.Store) {
	ctx := t.Context()
	must(t, s.CreateToken(ctx, newToken("present", "alice", time.Now())))
	if _, err := s.Token(ctx, "absent"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Token(absent) = %v, want ErrNotFound", err)
	}
	for _, h := range [][]byte{[]byte("absent"), nil} {
		if _, err := s.TokenByKeyHash(ctx, h); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("TokenByKeyHash(%q) = %v, want ErrNotFound", h, err)
		}
	}
	if err := s.DeleteToken(ctx, "absent"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("DeleteToken(absent) = %v, want ErrNotFound", err)
	}
	list, err := s.Tokens(ctx, "nobody")
	must(t, err)
	checkTokenIDs(t, list)
}

func testTokensOrdering(t *testing.T, s store.Store) {
	ctx := t.Context()
	base := time.Now().Add(-time.Hour)
	// Inserted out of order; owners whose names prefix one another must not
	// see each other's tokens.
	for _, tc := range []struct {
		id, owner string
		age       time.Duration
	}{
		{"c", "alice", 3}, {"a", "alice", 1}, {"e", "al", 5},
		{"b", "bob", 2}, {"d", "alice2", 4}, {"f", "bob", 6},
	} {
		must(t, s.CreateToken(ctx, newToken(tc.id, tc.owner, base.Add(tc.age*time.Second))))
	}
	for _, tc := range []struct {
		owner string
		want  []string
	}{
		{"", []string{"a", "b", "c", "d", "e", "f"}},
		{"alice", []string{"a", "c"}},
		{"al", []string{"e"}},
		{"alice2", []string{"d"}},
		{"bob", []string{"b", "f"}},
		{"carol", nil},
	} {
		list, err := s.Tokens(ctx, tc.owner)
		must(t, err)
		if got := tokenIDs(list); !slices.Equal(got, tc.want) {
			t.Errorf("Tokens(%q) = %v, want %v", tc.owner, got, tc.want)
		}
	}
}

func testTokenDelete(t *testing.T, s store.Store) {
	ctx := t.Context()
	now := time.Now()
	keep, gone := newToken("keep", "alice", now), newToken("gone", "alice", now.Add(time.Second))
	must(t, s.CreateToken(ctx, keep))
	must(t, s.CreateToken(ctx, gone))
	must(t, s.DeleteToken(ctx, gone.ID))

	if _, err := s.Token(ctx, gone.ID); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Token after delete = %v, want ErrNotFound", err)
	}
	if _, err := s.TokenByKeyHash(ctx, gone.KeyHash); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("TokenByKeyHash after delete = %v, want ErrNotFound", err)
	}
	for _, owner := range []string{"", "alice"} {
		list, err := s.Tokens(ctx, owner)
		must(t, err)
		checkTokenIDs(t, list, keep.ID)
	}
	if err := s.DeleteToken(ctx, gone.ID); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("second DeleteToken = %v, want ErrNotFound", err)
	}
	// The id and key hash are free again, even for another owner, who
	// alone lists the token.
	gone.Owner = "bob"
	must(t, s.CreateToken(ctx, gone))
	for owner, want := range map[string][]string{"alice": {keep.ID}, "bob": {gone.ID}} {
		list, err := s.Tokens(ctx, owner)
		must(t, err)
		if got := tokenIDs(list); !slices.Equal(got, want) {
			t.Errorf("Tokens(%s) after recreating a deleted id = %v, want %v", owner, got, want)
		}
	}
}

func testTokenExpiry(t *testing.T, s store.Store) {
	ctx := t.Context()
	now := time.Now()
	past := newToken("past", "alice", now)
	past.Expires = ptr(now.Add(-time.Millisecond))
	soon := newToken("soon", "alice", now)
	soon.Expires = ptr(now.Add(shortTTL))
	later := newToken("later", "alice", now.Add(time.Second))
	later.Expires = ptr(now.Add(time.Hour))
	for _, tok := range []store.Token{past, soon, later} {
		must(t, s.CreateToken(ctx, tok))
	}

	if _, err := s.Token(ctx, past.ID); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Token(expired) = %v, want ErrNotFound", err)
	}
	if _, err := s.TokenByKeyHash(ctx, past.KeyHash); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("TokenByKeyHash(expired) = %v, want ErrNotFound", err)
	}
	waitFor(t, "the short-lived token to expire", func() (bool, error) {
		_, err := s.Token(ctx, soon.ID)
		if errors.Is(err, store.ErrNotFound) {
			return true, nil
		}
		return false, err
	})
	if _, err := s.TokenByKeyHash(ctx, soon.KeyHash); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("TokenByKeyHash(expired) = %v, want ErrNotFound", err)
	}
	for _, owner := range []string{"", "alice"} {
		list, err := s.Tokens(ctx, owner)
		must(t, err)
		checkTokenIDs(t, list, later.ID)
	}
	if err := s.TouchTokens(ctx, map[string]time.Time{soon.ID: time.Now()}); err != nil {
		t.Errorf("TouchTokens(expired): %v", err)
	}
	if _, err := s.Token(ctx, soon.ID); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Token(expired) after touching it = %v, want ErrNotFound", err)
	}
}

func testTouchTokens(t *testing.T, s store.Store) {
	ctx := t.Context()
	now := time.Now()
	a, b, c := newToken("a", "alice", now), newToken("b", "alice", now), newToken("c", "alice", now)
	for _, tok := range []store.Token{a, b, c} {
		must(t, s.CreateToken(ctx, tok))
	}
	t1 := now.Add(time.Second)
	t2 := now.Add(2 * time.Second)
	must(t, s.TouchTokens(ctx, map[string]time.Time{"a": t1, "b": t2, "missing": t1}))
	must(t, s.TouchTokens(ctx, nil))

	want := map[string]*time.Time{"a": &t1, "b": &t2, "c": nil}
	checkLastUsed(t, s, want)
	if _, err := s.Token(ctx, "missing"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("TouchTokens created a missing token: %v", err)
	}

	// Never backwards: an older or equal time is ignored, a newer one kept.
	t3 := now.Add(3 * time.Second)
	must(t, s.TouchTokens(ctx, map[string]time.Time{"a": now, "b": t2, "c": t3}))
	want["c"] = &t3
	checkLastUsed(t, s, want)
	must(t, s.TouchTokens(ctx, map[string]time.Time{"a": t3}))
	want["a"] = &t3
	checkLastUsed(t, s, want)

	// Touching changes nothing else.
	got, err := s.Token(ctx, "c")
	must(t, err)
	c.LastUsed = &t3
	checkToken(t, got, c)
}

func checkLastUsed(t *testing.T, s store.Store, want map[string]*time.Time) {
	t.Helper()
	for id, w := range want {
		got, err := s.Token(t.Context(), id)
		must(t, err)
		if !equalTimePtr(got.LastUsed, w) {
			t.Errorf("token %s LastUsed = %v, want %v", id, fmtTimePtr(got.LastUsed), fmtTimePtr(w))
		}
	}
}

func testTokenNoAliasing(t *testing.T, s store.Store) {
	ctx := t.Context()
	now := time.Now()
	tok := newToken("alias", "alice", now)
	tok.Roles = []string{"editor"}
	tok.AllowedIPs = []string{"192.0.2.1/32"}
	tok.Expires = ptr(now.Add(time.Hour))
	tok.LastUsed = ptr(now)
	want := cloneToken(tok)

	must(t, s.CreateToken(ctx, tok))
	scribble(&tok) // the caller's copy after CreateToken
	got, err := s.Token(ctx, want.ID)
	must(t, err)
	checkToken(t, got, want)

	scribble(&got) // a returned copy
	got2, err := s.TokenByKeyHash(ctx, want.KeyHash)
	must(t, err)
	checkToken(t, got2, want)

	scribble(&got2)
	list, err := s.Tokens(ctx, "")
	must(t, err)
	if len(list) != 1 {
		t.Fatalf("Tokens = %d tokens, want 1", len(list))
	}
	checkToken(t, list[0], want)
	scribble(&list[0])
	list, err = s.Tokens(ctx, "alice")
	must(t, err)
	if len(list) != 1 {
		t.Fatalf("Tokens(alice) = %d tokens, want 1", len(list))
	}
	checkToken(t, list[0], want)
}

// scribble changes everything a token shares by reference.
func scribble(tok *store.Token) {
	for i := range tok.KeyHash {
		tok.KeyHash[i] ^= 0xff
	}
	for i := range tok.Roles {
		tok.Roles[i] = "admin"
	}
	for i := range tok.AllowedIPs {
		tok.AllowedIPs[i] = "0.0.0.0/0"
	}
	if tok.Expires != nil {
		*tok.Expires = tok.Expires.Add(1000 * time.Hour)
	}
	if tok.LastUsed != nil {
		*tok.LastUsed = time.Time{}
	}
}

// revoke calls Revoke and checks whether it reported revoking.
func revoke(t *testing.T, s store.Store, jti string, until time.Time, want bool) {
	t.Helper()
	got, err := s.Revoke(t.Context(), jti, until)
	must(t, err)
	if got != want {
		t.Errorf("Revoke(%q, in %v) reported revoked = %v, want %v", jti, time.Until(until).Round(time.Second), got, want)
	}
}

func testRevoke(t *testing.T, s store.Store) {
	ctx := t.Context()
	now := time.Now()
	revoke(t, s, "jti-1", now.Add(time.Hour), true)
	// A revocation that would already have ended changes nothing.
	revoke(t, s, "jti-past", now.Add(-time.Second), false)
	for _, tc := range []struct {
		jti  string
		want bool
	}{{"jti-1", true}, {"jti-2", false}, {"jti-past", false}, {"", false}} {
		got, err := s.IsRevoked(ctx, tc.jti)
		must(t, err)
		if got != tc.want {
			t.Errorf("IsRevoked(%q) = %v, want %v", tc.jti, got, tc.want)
		}
	}
	// Revoking again reports "already revoked", and even with an earlier
	// end never shortens it: once a probe revoked for as short a time has
	// ended, jti-1 still is revoked.
	revoke(t, s, "jti-1", now.Add(shortTTL), false)
	revoke(t, s, "jti-1", now.Add(-time.Second), false)
	revoke(t, s, "jti-1", now.Add(2*time.Hour), false)
	revoke(t, s, "probe", now.Add(shortTTL), true)
	waitFor(t, "the probe revocation to end", func() (bool, error) {
		revoked, err := s.IsRevoked(ctx, "probe")
		return !revoked, err
	})
	if got, err := s.IsRevoked(ctx, "jti-1"); err != nil || !got {
		t.Errorf("IsRevoked after a shorter revocation = %v, %v; want true", got, err)
	}
	if _, err := s.Revoke(ctx, "", now.Add(time.Hour)); err == nil {
		t.Error("Revoke with an empty jti: no error")
	}
}

func testRevokeExpiry(t *testing.T, s store.Store) {
	ctx := t.Context()
	revoke(t, s, "short", time.Now().Add(shortTTL), true)
	revoke(t, s, "long", time.Now().Add(time.Hour), true)
	waitFor(t, "the revocation to expire", func() (bool, error) {
		revoked, err := s.IsRevoked(ctx, "short")
		return !revoked, err
	})
	if got, err := s.IsRevoked(ctx, "long"); err != nil || !got {
		t.Errorf("IsRevoked(long) = %v, %v; want true", got, err)
	}
	// An ended revocation can be made again, and this call revokes.
	revoke(t, s, "short", time.Now().Add(time.Hour), true)
	if got, err := s.IsRevoked(ctx, "short"); err != nil || !got {
		t.Errorf("IsRevoked after revoking again = %v, %v; want true", got, err)
	}
}

// testRevokeConcurrent: of many simultaneous revocations of one jti (the
// same token renewed or logged out at once) exactly one reports revoking,
// so that a token cannot be exchanged for more than one new token.
func testRevokeConcurrent(t *testing.T, s store.Store) {
	ctx := t.Context()
	const n = 32
	for round := range 3 {
		jti := fmt.Sprintf("raced-%d", round)
		until := time.Now().Add(time.Hour)
		start := make(chan struct{})
		var revoked, already atomic.Int32
		var wg sync.WaitGroup
		for range n {
			wg.Go(func() {
				<-start
				ok, err := s.Revoke(ctx, jti, until)
				switch {
				case err != nil:
					t.Errorf("Revoke(%s): %v", jti, err)
				case ok:
					revoked.Add(1)
				default:
					already.Add(1)
				}
			})
		}
		close(start)
		wg.Wait()
		if r, a := revoked.Load(), already.Load(); r != 1 || a != n-1 {
			t.Errorf("%d concurrent revocations of %s: %d reported revoked, %d already revoked; want 1 and %d", n, jti, r, a, n-1)
		}
		if got, err := s.IsRevoked(ctx, jti); err != nil || !got {
			t.Errorf("IsRevoked(%s) after the race = %v, %v; want true", jti, got, err)
		}
	}
}

func testSessions(t *testing.T, s store.Store) {
	ctx := t.Context()
	now := time.Now()
	sess := newSession("one", now)
	must(t, s.CreateSession(ctx, sess))
	got, err := s.Session(ctx, sess.IDHash)
	must(t, err)
	checkSession(t, got, sess)

	dup := newSession("one", now)
	dup.User = "mallory"
	if err := s.CreateSession(ctx, dup); !errors.Is(err, store.ErrExists) {
		t.Errorf("CreateSession with a taken id = %v, want ErrExists", err)
	}
	if err := s.CreateSession(ctx, store.Session{User: "x", Expires: now.Add(time.Hour), IdleExpires: now.Add(time.Hour)}); err == nil {
		t.Error("CreateSession without an id hash: no error")
	}

	sess.IdleExpires = now.Add(45 * time.Minute)
	sess.CSRFHash = []byte("rotated csrf")
	must(t, s.UpdateSession(ctx, sess))
	got, err = s.Session(ctx, sess.IDHash)
	must(t, err)
	checkSession(t, got, sess)

	if err := s.UpdateSession(ctx, newSession("missing", now)); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("UpdateSession(missing) = %v, want ErrNotFound", err)
	}
	if _, err := s.Session(ctx, hashOf("missing")); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Session(missing) = %v, want ErrNotFound", err)
	}

	must(t, s.DeleteSession(ctx, sess.IDHash))
	if _, err := s.Session(ctx, sess.IDHash); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Session after delete = %v, want ErrNotFound", err)
	}
	if err := s.UpdateSession(ctx, sess); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("UpdateSession after delete = %v, want ErrNotFound", err)
	}
	must(t, s.DeleteSession(ctx, sess.IDHash))
	must(t, s.DeleteSession(ctx, hashOf("never existed")))
}

func testSessionExpiry(t *testing.T, s store.Store) {
	ctx := t.Context()
	now := time.Now()
	idle := newSession("idle", now)
	idle.IdleExpires = now.Add(shortTTL) // idle deadline first
	absolute := newSession("absolute", now)
	absolute.Expires = now.Add(shortTTL) // absolute deadline first
	past := newSession("past", now)
	past.IdleExpires = now.Add(-time.Millisecond)
	live := newSession("live", now)
	for _, sess := range []store.Session{idle, absolute, past, live} {
		must(t, s.CreateSession(ctx, sess))
	}
	if _, err := s.Session(ctx, past.IDHash); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Session(expired) = %v, want ErrNotFound", err)
	}
	for _, sess := range []store.Session{idle, absolute} {
		waitFor(t, fmt.Sprintf("session %s to expire", sess.User), func() (bool, error) {
			_, err := s.Session(ctx, sess.IDHash)
			if errors.Is(err, store.ErrNotFound) {
				return true, nil
			}
			return false, err
		})
		if err := s.UpdateSession(ctx, sess); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("UpdateSession(expired %s) = %v, want ErrNotFound", sess.User, err)
		}
	}
	got, err := s.Session(ctx, live.IDHash)
	must(t, err)
	checkSession(t, got, live)

	// An expired session's id hash is free again.
	fresh := newSession("idle", time.Now())
	must(t, s.CreateSession(ctx, fresh))
	got, err = s.Session(ctx, fresh.IDHash)
	must(t, err)
	checkSession(t, got, fresh)
}

func testSessionNoAliasing(t *testing.T, s store.Store) {
	ctx := t.Context()
	sess := newSession("alias", time.Now())
	want := newSession("alias", sess.Created)
	must(t, s.CreateSession(ctx, sess))
	sess.IDHash[0] ^= 0xff
	sess.CSRFHash[0] ^= 0xff
	got, err := s.Session(ctx, want.IDHash)
	must(t, err)
	checkSession(t, got, want)
	// What Session returns is read-only (a store may share it with its
	// cache), so it is not modified here; but a caller appending to its
	// hashes must get a new array, never write into a shared one.
	if cap(got.IDHash) != len(got.IDHash) || cap(got.CSRFHash) != len(got.CSRFHash) {
		t.Errorf("Session's hashes have room to append into (cap %d/%d, len %d/%d)",
			cap(got.IDHash), cap(got.CSRFHash), len(got.IDHash), len(got.CSRFHash))
	}

	// Neither is the session given to UpdateSession kept, after a read
	// that may have cached the session.
	update := newSession("alias", sess.Created)
	update.IdleExpires = update.IdleExpires.Add(time.Minute)
	want.IdleExpires = update.IdleExpires
	must(t, s.UpdateSession(ctx, update))
	_, err = s.Session(ctx, want.IDHash)
	must(t, err)
	update.CSRFHash[0] ^= 0xff
	update.IDHash[0] ^= 0xff
	got, err = s.Session(ctx, want.IDHash)
	must(t, err)
	checkSession(t, got, want)
}

func testFailures(t *testing.T, s store.Store) {
	ctx := t.Context()
	c, err := s.Failures(ctx, "alice")
	must(t, err)
	if c.Count != 0 {
		t.Errorf("Failures of a new key = %+v, want count 0", c)
	}

	before := time.Now()
	first, err := s.AddFailure(ctx, "alice", time.Hour)
	must(t, err)
	after := time.Now()
	if first.Count != 1 || first.Expires.Before(before.Add(time.Hour)) || first.Expires.After(after.Add(time.Hour)) {
		t.Errorf("first AddFailure = %+v, want count 1 expiring an hour from now", first)
	}
	second, err := s.AddFailure(ctx, "alice", 2*time.Hour)
	must(t, err)
	checkCounter(t, second, store.Counter{Count: 2, Expires: first.Expires})
	got, err := s.Failures(ctx, "alice")
	must(t, err)
	checkCounter(t, got, second)
	other, err := s.Failures(ctx, "bob")
	must(t, err)
	if other.Count != 0 {
		t.Errorf("Failures(bob) = %+v, want count 0", other)
	}

	lockout := store.Counter{Count: 10, Expires: time.Now().Add(24 * time.Hour)}
	must(t, s.SetFailures(ctx, "alice", lockout))
	got, err = s.Failures(ctx, "alice")
	must(t, err)
	checkCounter(t, got, lockout)
	third, err := s.AddFailure(ctx, "alice", time.Minute)
	must(t, err)
	checkCounter(t, third, store.Counter{Count: 11, Expires: lockout.Expires})

	must(t, s.ResetFailures(ctx, "alice"))
	got, err = s.Failures(ctx, "alice")
	must(t, err)
	if got.Count != 0 {
		t.Errorf("Failures after reset = %+v, want count 0", got)
	}
	must(t, s.ResetFailures(ctx, "never failed"))
	restart, err := s.AddFailure(ctx, "alice", time.Hour)
	must(t, err)
	if restart.Count != 1 {
		t.Errorf("AddFailure after reset = %+v, want count 1", restart)
	}

	if _, err := s.AddFailure(ctx, "alice", 0); err == nil {
		t.Error("AddFailure with a zero window: no error")
	}
}

func testFailuresExpiry(t *testing.T, s store.Store) {
	ctx := t.Context()
	_, err := s.AddFailure(ctx, "short", shortTTL)
	must(t, err)
	must(t, s.SetFailures(ctx, "set", store.Counter{Count: 5, Expires: time.Now().Add(shortTTL)}))
	must(t, s.SetFailures(ctx, "stale", store.Counter{Count: 5, Expires: time.Now().Add(-time.Second)}))
	if c, err := s.Failures(ctx, "stale"); err != nil || c.Count != 0 {
		t.Errorf("Failures(stale) = %+v, %v; want count 0", c, err)
	}
	for _, key := range []string{"short", "set"} {
		waitFor(t, "counter "+key+" to expire", func() (bool, error) {
			c, err := s.Failures(ctx, key)
			return c.Count == 0, err
		})
	}
	c, err := s.AddFailure(ctx, "short", time.Hour)
	must(t, err)
	if c.Count != 1 || time.Until(c.Expires) < 59*time.Minute {
		t.Errorf("AddFailure after expiry = %+v, want a new counter of 1 for an hour", c)
	}
}

// testCheckFailures: the three counters of a password check, read in one
// operation, are what Failures answers for each key, in order: a live
// counter, none, an expired one, an empty key.
func testCheckFailures(t *testing.T, s store.Store) {
	ctx := t.Context()
	none, err := store.CheckFailures(ctx, s, [3]string{"check:ua", "check:u", "check:a"})
	must(t, err)
	if none != [3]store.Counter{} {
		t.Errorf("CheckFailures with no counters = %+v, want all zero", none)
	}
	live := store.Counter{Count: 4, Expires: time.Now().Add(time.Hour)}
	must(t, s.SetFailures(ctx, "check:u", live))
	must(t, s.SetFailures(ctx, "check:stale", store.Counter{Count: 9, Expires: time.Now().Add(-time.Second)}))
	for _, keys := range [][3]string{
		{"check:ua", "check:u", "check:a"},
		{"check:u", "", "check:stale"},
		{"check:stale", "check:a", "check:u"},
	} {
		got, err := store.CheckFailures(ctx, s, keys)
		must(t, err)
		for i, k := range keys {
			want := store.Counter{}
			if k == "check:u" {
				want = live
			}
			if k != "" {
				one, err := s.Failures(ctx, k)
				must(t, err)
				checkCounter(t, one, want)
			}
			if want.Count == 0 {
				if got[i].Count != 0 {
					t.Errorf("CheckFailures(%q)[%d] = %+v, want count 0", keys, i, got[i])
				}
				continue
			}
			checkCounter(t, got[i], want)
		}
	}
}

// testNoFailures: the in-memory answer that a password check's counters
// do not exist (store.FailureFree) is given once they have been read, and
// never while one of them is live: not right after a failure is counted or
// a lockout set, whichever of the three keys it is.
func testNoFailures(t *testing.T, s store.Store) {
	ff, ok := s.(store.FailureFree)
	if !ok {
		t.Fatalf("%T does not answer from memory (store.FailureFree): every password check would cost a store read", s)
	}
	ctx := t.Context()
	keys := [3]string{"nf:ua", "nf:u", "nf:a"}
	known := func(what string) {
		t.Helper()
		poll.Until(t, "NoFailures "+what, pollTimeout, func() (bool, string) {
			_, err := store.CheckFailures(ctx, s, keys)
			must(t, err)
			return ff.NoFailures(keys), "false"
		})
	}
	known("with no counters")
	if !ff.NoFailures([3]string{"", "nf:u", ""}) {
		t.Errorf("NoFailures with empty keys = false, want true")
	}
	for i, k := range keys {
		_, err := s.AddFailure(ctx, k, time.Hour)
		must(t, err)
		if ff.NoFailures(keys) {
			t.Errorf("NoFailures right after a failure under keys[%d] = true", i)
		}
		got, err := store.CheckFailures(ctx, s, keys)
		must(t, err)
		if got[i].Count != 1 || ff.NoFailures(keys) {
			t.Errorf("after a failure under keys[%d]: CheckFailures = %+v, NoFailures = %v; want count 1 and false", i, got, ff.NoFailures(keys))
		}
		must(t, s.ResetFailures(ctx, k))
		known(fmt.Sprintf("after keys[%d] was reset", i))
		must(t, s.SetFailures(ctx, k, store.Counter{Count: 5, Expires: time.Now().Add(time.Hour)}))
		if ff.NoFailures(keys) {
			t.Errorf("NoFailures right after a lockout under keys[%d] = true", i)
		}
		must(t, s.SetFailures(ctx, k, store.Counter{}))
		known(fmt.Sprintf("after keys[%d]'s lockout was lifted", i))
	}
}

// testNotRevoked: the in-memory answer that a JWT id is not revoked is
// given for an id never revoked (once the store has read it, for a store
// that caches), and never while the id's revocation lasts, right after it
// began included. (Once a revocation ran out, a store may keep reading it
// until its record is deleted: IsRevoked answers then.)
func testNotRevoked(t *testing.T, s store.Store) {
	rf, ok := s.(store.RevocationFree)
	if !ok {
		t.Fatalf("%T does not answer from memory (store.RevocationFree): every JWT would cost a store read", s)
	}
	ctx := t.Context()
	const jti = "nr-jti"
	known := func(id, what string) {
		t.Helper()
		poll.Until(t, "NotRevoked "+what, pollTimeout, func() (bool, string) {
			_, err := s.IsRevoked(ctx, id)
			must(t, err)
			return rf.NotRevoked(id), "false"
		})
	}
	known(jti, "of an id never revoked")
	if !rf.NotRevoked("") {
		t.Error("NotRevoked of an empty id = false, want true")
	}
	revoked, err := s.Revoke(ctx, jti, time.Now().Add(time.Hour))
	must(t, err)
	if !revoked {
		t.Fatal("Revoke of a new id = false")
	}
	if rf.NotRevoked(jti) {
		t.Error("NotRevoked right after the id was revoked = true")
	}
	got, err := s.IsRevoked(ctx, jti)
	must(t, err)
	if !got || rf.NotRevoked(jti) {
		t.Errorf("while revoked: IsRevoked = %v, NotRevoked = %v; want true and false", got, rf.NotRevoked(jti))
	}
	// Another instance's revocation (the same store, for a shared one)
	// read before it began: never answered from memory once it began.
	const other = "nr-other"
	known(other, "of another id never revoked")
	_, err = s.Revoke(ctx, other, time.Now().Add(time.Hour))
	must(t, err)
	if rf.NotRevoked(other) {
		t.Error("NotRevoked of an id revoked after it was read = true")
	}
}

func testSecretGetOrCreate(t *testing.T, s store.Store) {
	ctx := t.Context()
	calls := 0
	gen := func(v string) func() ([]byte, error) {
		return func() ([]byte, error) {
			calls++
			return []byte(v), nil
		}
	}
	first, err := s.Secret(ctx, "hmac", gen("first"))
	must(t, err)
	if string(first) != "first" {
		t.Errorf("Secret = %q, want %q", first, "first")
	}
	first[0] = 'X' // must not reach the store
	again, err := s.Secret(ctx, "hmac", gen("second"))
	must(t, err)
	if string(again) != "first" || calls != 1 {
		t.Errorf("second Secret = %q after %d generate calls, want %q after 1", again, calls, "first")
	}
	other, err := s.Secret(ctx, "jwt", gen("other"))
	must(t, err)
	if string(other) != "other" {
		t.Errorf("Secret(jwt) = %q, want %q", other, "other")
	}

	boom := errors.New("entropy ran out")
	if _, err := s.Secret(ctx, "failing", func() ([]byte, error) { return nil, boom }); !errors.Is(err, boom) {
		t.Errorf("Secret with a failing generate = %v, want it wrapped", err)
	}
	if _, err := s.Secret(ctx, "empty", func() ([]byte, error) { return nil, nil }); err == nil {
		t.Error("Secret with an empty generated value: no error")
	}
	got, err := s.Secret(ctx, "failing", gen("recovered"))
	must(t, err)
	if string(got) != "recovered" {
		t.Errorf("Secret after a failed generate = %q, want %q", got, "recovered")
	}
}

func testSecretConcurrent(t *testing.T, s store.Store) {
	ctx := t.Context()
	const n = 16
	var calls atomic.Int32
	results := make([][]byte, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			results[i], errs[i] = s.Secret(ctx, "shared", func() ([]byte, error) {
				calls.Add(1)
				return fmt.Appendf(nil, "value-%d", i), nil
			})
		})
	}
	wg.Wait()
	for i := range n {
		if errs[i] != nil {
			t.Fatalf("Secret: %v", errs[i])
		}
		if !bytes.Equal(results[i], results[0]) {
			t.Errorf("caller %d got %q, caller 0 got %q", i, results[i], results[0])
		}
	}
	if got := calls.Load(); got != 1 {
		t.Errorf("generate called %d times, want 1", got)
	}
}

func testConcurrent(t *testing.T, s store.Store) {
	ctx := t.Context()
	const workers, rounds = 8, 10
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for r := range rounds {
				now := time.Now()
				id := fmt.Sprintf("w%d-r%d", w, r)
				tok := newToken(id, fmt.Sprintf("owner%d", w%3), now)
				if err := s.CreateToken(ctx, tok); err != nil {
					t.Errorf("CreateToken(%s): %v", id, err)
					return
				}
				if _, err := s.TokenByKeyHash(ctx, tok.KeyHash); err != nil {
					t.Errorf("TokenByKeyHash(%s): %v", id, err)
				}
				if err := s.TouchTokens(ctx, map[string]time.Time{id: now, "w0-r0": now}); err != nil {
					t.Errorf("TouchTokens: %v", err)
				}
				if _, err := s.Tokens(ctx, ""); err != nil {
					t.Errorf("Tokens: %v", err)
				}
				if ok, err := s.Revoke(ctx, id, now.Add(time.Hour)); err != nil || !ok {
					t.Errorf("Revoke(%s) = %v, %v; want true", id, ok, err)
				}
				if ok, err := s.IsRevoked(ctx, id); err != nil || !ok {
					t.Errorf("IsRevoked(%s) = %v, %v", id, ok, err)
				}
				sess := newSession(id, now)
				if err := s.CreateSession(ctx, sess); err != nil {
					t.Errorf("CreateSession(%s): %v", id, err)
				}
				sess.IdleExpires = now.Add(time.Hour)
				if err := s.UpdateSession(ctx, sess); err != nil {
					t.Errorf("UpdateSession(%s): %v", id, err)
				}
				if _, err := s.AddFailure(ctx, "shared", time.Hour); err != nil {
					t.Errorf("AddFailure: %v", err)
				}
				if _, err := s.Secret(ctx, "shared", func() ([]byte, error) { return []byte(id), nil }); err != nil {
					t.Errorf("Secret: %v", err)
				}
				if r%2 == 0 {
					if err := s.DeleteToken(ctx, id); err != nil {
						t.Errorf("DeleteToken(%s): %v", id, err)
					}
					if err := s.DeleteSession(ctx, sess.IDHash); err != nil {
						t.Errorf("DeleteSession(%s): %v", id, err)
					}
				}
			}
		})
	}
	wg.Wait()

	c, err := s.Failures(ctx, "shared")
	must(t, err)
	if c.Count != workers*rounds {
		t.Errorf("Failures after %d concurrent AddFailure = %d", workers*rounds, c.Count)
	}
	list, err := s.Tokens(ctx, "")
	must(t, err)
	if len(list) != workers*rounds/2 {
		t.Errorf("Tokens = %d, want %d", len(list), workers*rounds/2)
	}
	if !slices.IsSortedFunc(list, func(a, b store.Token) int { return a.Created.Compare(b.Created) }) {
		t.Errorf("Tokens not in creation order: %v", tokenIDs(list))
	}
}

// newToken returns a token whose key hash is derived from id.
func newToken(id, owner string, created time.Time) store.Token {
	return store.Token{
		ID:      id,
		KeyHash: hashOf("key:" + id),
		Display: "rat_" + id + "…",
		Owner:   owner,
		Created: created,
	}
}

// newSession returns a session, live for an hour, whose hashes derive from
// name.
func newSession(name string, now time.Time) store.Session {
	return store.Session{
		IDHash:      hashOf("session:" + name),
		User:        name,
		CSRFHash:    hashOf("csrf:" + name),
		Created:     now,
		IdleExpires: now.Add(30 * time.Minute),
		Expires:     now.Add(time.Hour),
		ClientAddr:  "2001:db8::" + name,
	}
}

// hashOf stands in for a real hash: distinct inputs give distinct bytes.
func hashOf(s string) []byte {
	return []byte("h(" + s + ")")
}

func cloneToken(t store.Token) store.Token {
	t.KeyHash = bytes.Clone(t.KeyHash)
	t.Roles = slices.Clone(t.Roles)
	t.AllowedIPs = slices.Clone(t.AllowedIPs)
	if t.Expires != nil {
		t.Expires = ptr(*t.Expires)
	}
	if t.LastUsed != nil {
		t.LastUsed = ptr(*t.LastUsed)
	}
	return t
}

func ptr[T any](v T) *T { return &v }

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// waitFor polls cond until it reports true, failing the test if that takes
// longer than pollTimeout or cond fails.
func waitFor(t *testing.T, what string, cond func() (bool, error)) {
	t.Helper()
	poll.Until(t, what, pollTimeout, func() (bool, string) {
		ok, err := cond()
		if err != nil {
			t.Fatalf("waiting for %s: %v", what, err)
		}
		return ok, "still not"
	})
}

func tokenIDs(list []store.Token) []string {
	var ids []string
	for _, tok := range list {
		ids = append(ids, tok.ID)
	}
	return ids
}

func checkTokenIDs(t *testing.T, list []store.Token, want ...string) {
	t.Helper()
	if got := tokenIDs(list); !slices.Equal(got, want) {
		t.Errorf("tokens = %v, want %v", got, want)
	}
}

// checkToken compares tokens field by field: times by instant (a backend
// may change their location or drop the monotonic reading) and slices by
// content (nil and empty are the same).
func checkToken(t *testing.T, got, want store.Token) {
	t.Helper()
	same := got.ID == want.ID &&
		bytes.Equal(got.KeyHash, want.KeyHash) &&
		got.Display == want.Display &&
		got.Owner == want.Owner &&
		slices.Equal(got.Roles, want.Roles) &&
		got.Description == want.Description &&
		got.Created.Equal(want.Created) &&
		equalTimePtr(got.Expires, want.Expires) &&
		equalTimePtr(got.LastUsed, want.LastUsed) &&
		got.WriteEnabled == want.WriteEnabled &&
		slices.Equal(got.AllowedIPs, want.AllowedIPs)
	if !same {
		t.Errorf("token = %s\nwant    %s", fmtToken(got), fmtToken(want))
	}
}

func fmtToken(t store.Token) string {
	return fmt.Sprintf("{ID:%s KeyHash:%x Display:%s Owner:%s Roles:%v Description:%q Created:%v Expires:%s LastUsed:%s WriteEnabled:%v AllowedIPs:%v}",
		t.ID, t.KeyHash, t.Display, t.Owner, t.Roles, t.Description, t.Created, fmtTimePtr(t.Expires), fmtTimePtr(t.LastUsed), t.WriteEnabled, t.AllowedIPs)
}

func checkSession(t *testing.T, got *store.Session, want store.Session) {
	t.Helper()
	if got == nil {
		t.Errorf("session = nil, want %+v", want)
		return
	}
	same := bytes.Equal(got.IDHash, want.IDHash) &&
		got.User == want.User &&
		bytes.Equal(got.CSRFHash, want.CSRFHash) &&
		got.Created.Equal(want.Created) &&
		got.IdleExpires.Equal(want.IdleExpires) &&
		got.Expires.Equal(want.Expires) &&
		got.ClientAddr == want.ClientAddr
	if !same {
		t.Errorf("session = %+v\nwant      %+v", got, want)
	}
}

func checkCounter(t *testing.T, got, want store.Counter) {
	t.Helper()
	if got.Count != want.Count || !got.Expires.Equal(want.Expires) {
		t.Errorf("counter = %+v, want %+v", got, want)
	}
}

func equalTimePtr(a, b *time.Time) bool {
	if a == nil || b == nil {
		return a == b
	}
	return a.Equal(*b)
}

func fmtTimePtr(t *time.Time) string {
	if t == nil {
		return "nil"
	}
	return t.String()
}
