package integration

import (
	"bufio"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/caddy-restauth/caddy-restauth/internal/testusers"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// scrapeMetrics reads the admin endpoint's /metrics and parses it with
// Prometheus's own text parser.
func scrapeMetrics(t *testing.T, adminAddr string) map[string]*dto.MetricFamily {
	t.Helper()
	resp, err := http.Get("http://" + adminAddr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /metrics: %d", resp.StatusCode)
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("parsing /metrics: %v", err)
	}
	return families
}

// metricValue is the value of the counter, gauge or histogram (its sample
// count) in family with exactly these labels; found is false when there
// is no such series.
func metricValue(families map[string]*dto.MetricFamily, family string, labels map[string]string) (value float64, found bool) {
	f, ok := families[family]
	if !ok {
		return 0, false
	}
next:
	for _, m := range f.GetMetric() {
		if len(m.GetLabel()) != len(labels) {
			continue
		}
		for _, l := range m.GetLabel() {
			if labels[l.GetName()] != l.GetValue() {
				continue next
			}
		}
		switch {
		case m.Counter != nil:
			return m.Counter.GetValue(), true
		case m.Gauge != nil:
			return m.Gauge.GetValue(), true
		case m.Histogram != nil:
			return float64(m.Histogram.GetSampleCount()), true
		}
	}
	return 0, false
}

// auditEvents are the entries of the audit logger in a Caddy log, decoded.
func auditEvents(t *testing.T, log string) []map[string]any {
	t.Helper()
	var events []map[string]any
	sc := bufio.NewScanner(strings.NewReader(log))
	sc.Buffer(make([]byte, 0, 64*1024), 1024*1024)
	for sc.Scan() {
		var entry map[string]any
		if json.Unmarshal(sc.Bytes(), &entry) != nil || entry["logger"] != "http.handlers.rest_auth.audit" {
			continue
		}
		events = append(events, entry)
	}
	return events
}

// findEvent returns the first audit event whose fields include want.
func findEvent(events []map[string]any, want map[string]any) map[string]any {
next:
	for _, e := range events {
		for k, v := range want {
			if e[k] != v {
				continue next
			}
		}
		return e
	}
	return nil
}

// TestOperationsMetricsAndAudit drives every kind of credential through a
// real Caddy process and checks what an operator sees: the series on the
// admin /metrics and the audit log entries.
func TestOperationsMetricsAndAudit(t *testing.T) {
	const typedName = "Pa55word-typed-into-the-name-field"
	up := newUpstream(t)
	p := newCaddyProcess(t, processSite(t, up, `throttle {
			per_user_address 2
		}`))
	p.Start()

	basic := func(user, password string) map[string]string {
		return map[string]string{"Authorization": testusers.BasicHeader(user, password)}
	}
	jsonBody := map[string]string{"Content-Type": "application/json"}
	steps := []struct {
		name    string
		method  string
		path    string
		headers map[string]string
		body    string
		status  int
	}{
		{"basic ok", "GET", "/", basic("alice", alicePassword), "", 200},
		{"basic wrong password", "GET", "/", basic("alice", "not-her-password"), "", 401},
		{"anonymous", "GET", "/", nil, "", 401},
		{"login ok", "POST", "/@login", jsonBody, `{"login":"alice","password":"` + alicePassword + `"}`, 200},
		{"login wrong", "POST", "/@login", jsonBody, `{"login":"dave","password":"wrong-secret-1"}`, 401},
		// A password typed into the name field, twice: the name is no user's.
		{"login unknown name", "POST", "/@login", jsonBody, `{"login":"` + typedName + `","password":"x"}`, 401},
		{"login unknown name again", "POST", "/@login", jsonBody, `{"login":"` + typedName + `","password":"x"}`, 401},
		{"bob wrong 1", "GET", "/", basic("bob", "wrong-secret-2"), "", 401},
		{"bob wrong 2", "GET", "/", basic("bob", "wrong-secret-3"), "", 401},
		{"bob locked out", "GET", "/", basic("bob", bobPassword), "", 429},
	}
	for _, s := range steps {
		resp, body := p.Do(t, s.method, s.path, s.headers, s.body)
		if resp.StatusCode != s.status {
			t.Fatalf("%s: %d %s, want %d", s.name, resp.StatusCode, body, s.status)
		}
	}

	// A token created and revoked by its owner.
	resp, body := p.Do(t, "POST", "/@tokens", basic("alice", alicePassword), "")
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("create token: %d %s", resp.StatusCode, body)
	}
	var tok struct{ ID, Key string }
	if err := json.Unmarshal([]byte(body), &tok); err != nil {
		t.Fatal(err)
	}
	if resp, body = p.Do(t, "DELETE", "/@tokens/"+tok.ID, basic("alice", alicePassword), ""); resp.StatusCode != http.StatusNoContent {
		t.Fatalf("revoke token: %d %s", resp.StatusCode, body)
	}

	// A session started and ended.
	resp, body = p.Do(t, "POST", "/@session", jsonBody, `{"username":"alice","password":"`+alicePassword+`"}`)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("session login: %d %s", resp.StatusCode, body)
	}
	sid, csrf := cookieNamed(resp, "sessionid"), cookieNamed(resp, "csrftoken")
	if sid == nil || csrf == nil {
		t.Fatalf("session cookies: %v", resp.Cookies())
	}
	cookies := map[string]string{"Cookie": "sessionid=" + sid.Value + "; csrftoken=" + csrf.Value, "X-CSRFToken": csrf.Value}
	if resp, body = p.Do(t, "DELETE", "/@session", cookies, ""); resp.StatusCode != http.StatusNoContent {
		t.Fatalf("session logout: %d %s", resp.StatusCode, body)
	}

	families := scrapeMetrics(t, p.adminAddr)
	for _, c := range []struct {
		family string
		labels map[string]string
		want   float64
	}{
		{"caddy_rest_auth_requests_total", map[string]string{"method": "basic", "outcome": "ok"}, 3},
		{"caddy_rest_auth_requests_total", map[string]string{"method": "basic", "outcome": "invalid"}, 3},
		{"caddy_rest_auth_requests_total", map[string]string{"method": "basic", "outcome": "throttled"}, 1},
		{"caddy_rest_auth_requests_total", map[string]string{"method": "session", "outcome": "ok"}, 1},
		// The harness's readiness probe is one more anonymous request.
		{"caddy_rest_auth_requests_total", map[string]string{"method": "anonymous", "outcome": "forbidden"}, 2},
		{"caddy_rest_auth_logins_total", map[string]string{"endpoint": "login", "outcome": "ok"}, 1},
		{"caddy_rest_auth_logins_total", map[string]string{"endpoint": "login", "outcome": "invalid"}, 3},
		{"caddy_rest_auth_logins_total", map[string]string{"endpoint": "session", "outcome": "ok"}, 1},
		{"caddy_rest_auth_throttled_total", map[string]string{"scope": "user"}, 1},
		{"caddy_rest_auth_store_errors_total", map[string]string{"backend": "bolt"}, 0},
		{"caddy_rest_auth_store_duration_seconds", map[string]string{"backend": "bolt", "op": "create_token"}, 1},
		{"caddy_rest_auth_store_duration_seconds", map[string]string{"backend": "bolt", "op": "delete_session"}, 1},
	} {
		got, ok := metricValue(families, c.family, c.labels)
		if !ok || got != c.want {
			t.Errorf("%s%v = %v (present %t), want %v", c.family, c.labels, got, ok, c.want)
		}
	}

	log := p.Log()
	for _, secret := range []string{typedName, alicePassword, bobPassword, "not-her-password", "wrong-secret-1", "wrong-secret-2", tok.Key, sid.Value, csrf.Value} {
		if strings.Contains(log, secret) {
			t.Errorf("the log contains a secret (%.6s…)", secret)
		}
	}
	events := auditEvents(t, log)
	for _, want := range []map[string]any{
		{"event": "login_succeeded", "user": "alice", "method": "basic", "remote_ip": "127.0.0.1"},
		{"event": "login_failed", "method": "basic", "reason": "Invalid username or password."},
		{"event": "login_succeeded", "user": "alice", "endpoint": "login"},
		{"event": "login_failed", "user": "dave", "endpoint": "login"},
		{"event": "locked_out", "user": "bob", "scope": "user_address"},
		{"event": "login_failed", "user_known": false, "endpoint": "login"},
		{"event": "locked_out", "user_known": false, "scope": "user_address"},
		{"event": "token_created", "user": "alice", "by": "alice", "token_id": tok.ID},
		{"event": "token_revoked", "user": "alice", "by": "alice", "token_id": tok.ID},
		{"event": "session_started", "user": "alice", "remote_ip": "127.0.0.1"},
		{"event": "session_ended", "user": "alice"},
		{"event": "users_loaded", "users_file": testdataPath(t, "users.json")},
	} {
		if e := findEvent(events, want); e == nil {
			t.Errorf("no audit event %v in %v", want, events)
		} else if e["level"] != "info" {
			t.Errorf("audit event %v has level %v, want info", want, e["level"])
		}
	}
}

// TestSigninPageAuditedAndCounted: a real Caddy's sign-in page (login_page)
// writes the audit events of a login (an unknown name only hashed) and
// counts its logins under endpoint "signin".
func TestSigninPageAuditedAndCounted(t *testing.T) {
	t.Parallel()
	up := newUpstream(t)
	p := newCaddyProcess(t, processSite(t, up, "login_page"))
	p.Start()
	const typedName = "Pa55word-typed-on-the-sign-in-page"
	form := func(user, password string) string {
		return url.Values{"username": {user}, "password": {password}, "next": {"/"}}.Encode()
	}
	headers := map[string]string{"Content-Type": "application/x-www-form-urlencoded", "Origin": p.BaseURL}
	for _, s := range []struct {
		user, password string
		status         int
	}{
		{"alice", "not-her-password", http.StatusOK}, // the form again, with the error
		{typedName, "x", http.StatusOK},
		{"alice", alicePassword, http.StatusSeeOther},
	} {
		req, err := http.NewRequest("POST", p.BaseURL+"/@signin", strings.NewReader(form(s.user, s.password)))
		if err != nil {
			t.Fatal(err)
		}
		for k, v := range headers {
			req.Header.Set(k, v)
		}
		if resp := noRedirects(t, req); resp.StatusCode != s.status {
			t.Fatalf("sign-in as %.5s…: %d, want %d", s.user, resp.StatusCode, s.status)
		}
	}
	events := auditEvents(t, p.Log())
	for _, want := range []map[string]any{
		{"event": "login_failed", "endpoint": "signin", "user": "alice"},
		{"event": "login_failed", "endpoint": "signin", "user_known": false},
		{"event": "login_succeeded", "endpoint": "signin", "user": "alice"},
		{"event": "session_started", "user": "alice"},
	} {
		if findEvent(events, want) == nil {
			t.Errorf("no audit event %v in %v", want, events)
		}
	}
	if strings.Contains(p.Log(), typedName) {
		t.Error("the log holds the name typed on the sign-in page")
	}
	families := scrapeMetrics(t, p.adminAddr)
	for outcome, want := range map[string]float64{"ok": 1, "invalid": 2} {
		if got, ok := metricValue(families, "caddy_rest_auth_logins_total", map[string]string{"endpoint": "signin", "outcome": outcome}); !ok || got != want {
			t.Errorf("logins_total{endpoint=signin,outcome=%s} = %v (present %t), want %v", outcome, got, ok, want)
		}
	}
}
