package storetest

import (
	"errors"
	"testing"
	"time"

	"github.com/caddy-restauth/caddy-restauth/store"
)

// testUserSessions checks listing and ending a user's sessions, for
// backends that implement store.UserSessions (all of this module's do).
func testUserSessions(t *testing.T, s store.Store) {
	us, ok := s.(store.UserSessions)
	if !ok {
		t.Fatalf("%T does not implement store.UserSessions", s)
	}
	ctx := t.Context()
	now := time.Now()
	session := func(name, user string, created time.Time) store.Session {
		sess := newSession(name, created)
		sess.User = user
		return sess
	}
	older := session("alice-1", "alice", now.Add(-time.Minute))
	newer := session("alice-2", "alice", now)
	bob := session("bob-1", "bob", now)
	ended := session("alice-ended", "alice", now)
	ended.IdleExpires = now.Add(-time.Millisecond)
	for _, sess := range []store.Session{newer, older, bob, ended} {
		must(t, s.CreateSession(ctx, sess))
	}

	list, err := us.UserSessions(ctx, "alice")
	must(t, err)
	if len(list) != 2 {
		t.Fatalf("UserSessions(alice) = %d sessions, want 2 (the ended one not listed)", len(list))
	}
	checkSession(t, &list[0], older)
	checkSession(t, &list[1], newer)
	all, err := us.UserSessions(ctx, "")
	must(t, err)
	if len(all) != 3 {
		t.Errorf("UserSessions(\"\") = %d sessions, want 3", len(all))
	}

	n, err := us.DeleteUserSessions(ctx, "alice")
	must(t, err)
	if n != 2 {
		t.Errorf("DeleteUserSessions(alice) = %d, want 2", n)
	}
	for _, sess := range []store.Session{older, newer} {
		if _, err := s.Session(ctx, sess.IDHash); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("Session(%s) after DeleteUserSessions = %v, want ErrNotFound", sess.User, err)
		}
	}
	got, err := s.Session(ctx, bob.IDHash)
	must(t, err)
	checkSession(t, got, bob)
	if n, err := us.DeleteUserSessions(ctx, "alice"); err != nil || n != 0 {
		t.Errorf("DeleteUserSessions(alice) again = %d, %v; want 0, nil", n, err)
	}
	if _, err := us.DeleteUserSessions(ctx, ""); err == nil {
		t.Error("DeleteUserSessions(\"\") must fail: it would end everyone's sessions")
	}
}
