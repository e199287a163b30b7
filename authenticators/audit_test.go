package authenticators

import (
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"
)

// TestAuditRateLimits: failed credentials from one address are logged at
// most once a second, the next entry counting those left out; password
// successes at most once a minute per user and address.
func TestAuditRateLimits(t *testing.T) {
	core, logs := observer.New(zapcore.InfoLevel)
	a := NewAudit(zap.New(core).Named("http.handlers.rest_auth"))
	clock := time.Unix(1_000_000, 0)
	a.now = func() int64 { return clock.UnixNano() }
	req := httptest.NewRequest("GET", "/", nil)
	req.RemoteAddr = "192.0.2.1:1234"
	other := httptest.NewRequest("GET", "/", nil)
	other.RemoteAddr = "192.0.2.2:1234"

	steps := []struct {
		after  time.Duration
		do     func()
		logged bool
	}{
		{0, func() { a.Rejected(req, "jwt", "The token is invalid.") }, true},
		{300 * time.Millisecond, func() { a.Rejected(req, "jwt", "The token is invalid.") }, false},
		{300 * time.Millisecond, func() { a.Rejected(req, "basic", "Invalid username or password.") }, false},
		{0, func() { a.Rejected(other, "token", "Invalid token.") }, true},
		{500 * time.Millisecond, func() { a.Rejected(req, "basic", "Invalid username or password.") }, true},
		{0, func() { a.PasswordAccepted(req, ClientIP(req), "basic", "alice") }, true},
		{30 * time.Second, func() { a.PasswordAccepted(req, ClientIP(req), "basic", "alice") }, false},
		{0, func() { a.PasswordAccepted(req, ClientIP(req), "basic", "bob") }, true},
		{31 * time.Second, func() { a.PasswordAccepted(req, ClientIP(req), "basic", "alice") }, true},
	}
	for i, s := range steps {
		clock = clock.Add(s.after)
		before := logs.Len()
		s.do()
		if got := logs.Len() > before; got != s.logged {
			t.Fatalf("step %d: logged %t, want %t", i, got, s.logged)
		}
	}
	entries := logs.All()
	if entries[0].LoggerName != "http.handlers.rest_auth.audit" {
		t.Errorf("logger = %q", entries[0].LoggerName)
	}
	third := entries[2].ContextMap()
	if third["event"] != EventLoginFailed || third["method"] != "basic" || third["dropped"] != int64(2) || third["remote_ip"] != "192.0.2.1" {
		t.Errorf("entry after the dropped ones = %v", third)
	}
	if first := entries[0].ContextMap(); first["event"] != EventCredentialRejected || first["dropped"] != int64(0) {
		t.Errorf("first entry = %v", first)
	}
}

// TestAuditHidesUnknownNames: an attempt names a configured user (enabled
// or disabled) by name, and any other name, which may be a password typed
// into the name field, only by a keyed hash that is the same for the same
// name. Lockouts of an unknown name are logged the same way.
func TestAuditHidesUnknownNames(t *testing.T) {
	core, logs := observer.New(zapcore.InfoLevel)
	a := NewAudit(zap.New(core).Named("http.handlers.rest_auth"))
	users := testEnv(t).Users
	req := httptest.NewRequest("POST", "/@login", nil)
	req.RemoteAddr = "192.0.2.1:1234"
	const typed = "Tr0ub4dor&3-typed-as-a-name"

	a.Attempt(EventLoginFailed, req, users, fuzzUser, zap.String("endpoint", "login"))
	a.Attempt(EventLoginFailed, req, users, "carol", zap.String("endpoint", "login"))
	a.Attempt(EventLoginFailed, req, users, typed, zap.String("endpoint", "login"))
	a.Attempt(EventLoginFailed, req, users, typed, zap.String("endpoint", "login"))
	a.Attempt(EventLoginFailed, req, users, "mallory", zap.String("endpoint", "login"))
	a.Attempt(EventLoginFailed, req, nil, fuzzUser, zap.String("endpoint", "login"))

	var entries []map[string]any
	for _, e := range logs.All() {
		entries = append(entries, e.ContextMap())
	}
	for i, want := range []string{fuzzUser, "carol"} {
		if entries[i]["user"] != want || entries[i]["user_known"] != nil || entries[i]["user_hash"] != nil {
			t.Errorf("entry %d = %v, want user %q", i, entries[i], want)
		}
	}
	for i := 2; i < len(entries); i++ {
		e := entries[i]
		hash, _ := e["user_hash"].(string)
		if _, ok := e["user"]; ok || e["user_known"] != false || len(hash) != 2*submittedNameHashBytes || e["endpoint"] != "login" || e["remote_ip"] != "192.0.2.1" {
			t.Errorf("entry %d = %v, want user_known false and a user_hash", i, e)
		}
	}
	if entries[2]["user_hash"] != entries[3]["user_hash"] {
		t.Errorf("one name hashed twice: %v and %v", entries[2]["user_hash"], entries[3]["user_hash"])
	}
	if entries[2]["user_hash"] == entries[4]["user_hash"] {
		t.Errorf("two names share the hash %v", entries[2]["user_hash"])
	}

	// Guesses for the typed name until it is locked out from this address.
	logs.TakeAll()
	p := newTestPasswords(t, Throttle{PerUserAddress: 2, PerUser: 100, PerAddress: 1000}).Audited(a)
	for range 2 {
		if _, err := p.Check(req, []byte(typed), []byte("x")); err == nil {
			t.Fatal("an unknown user's guess passed")
		}
	}
	lockouts := logs.FilterField(zap.String("event", EventLockedOut)).All()
	if len(lockouts) != 1 || lockouts[0].ContextMap()["user_known"] != false || lockouts[0].ContextMap()["scope"] != "user_address" {
		t.Fatalf("lockout entries = %v, want one of an unknown user", lockouts)
	}
	for _, e := range logs.All() {
		for k, v := range e.ContextMap() {
			if s, ok := v.(string); ok && strings.Contains(s, "Tr0ub4dor") {
				t.Errorf("%s entry logs the typed name in %s", e.Message, k)
			}
		}
	}
}
