package authenticators

import (
	"net/http/httptest"
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
