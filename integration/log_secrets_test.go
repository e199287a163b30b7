package integration

import (
	"encoding/base64"
	"io/fs"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// secretsLogFilter is the filter of docs/security.md, "Keeping secrets out
// of Caddy's logs", for the global default logger and every site log.
const secretsLogFilter = `format filter {
			request>uri regexp "/password/[^/?]*" "/password/REDACTED"
			request>headers>Dotauth delete
			request>headers>X-Csrftoken delete
		}`

// TestNoCaddyLogHoldsLegacySecrets runs a built Caddy with the documented
// log configuration, url_params, dotauth and sessions, sends good and bad
// legacy credentials, some of them to a dead upstream (502, logged by
// http.log.error with the request as it arrived), and then reads every
// file and stream the process wrote: no password, DOTAUTH value or CSRF
// token may appear. Loading logs exactly one warning naming the filter.
func TestNoCaddyLogHoldsLegacySecrets(t *testing.T) {
	t.Parallel() // a Caddy process of its own: runs beside the other process tests
	up := newUpstream(t)
	p := newCaddyProcess(t, "")
	accessLog := filepath.Join(p.dir, "logs", "access.log")
	p.WithGlobalOptions(`log default {
		`+secretsLogFilter+`
	}`, `http://127.0.0.1:{HTTP_PORT} {
	rest_auth_url_params
	log {
		output file `+accessLog+`
		`+secretsLogFilter+`
	}
	rest_auth {
		users_file `+testdataPath(t, "users.json")+`
		store memory
		order url_params dotauth basic session
	}
	handle /dead/* {
		reverse_proxy 127.0.0.1:`+strconv.Itoa(freePort(t))+`
	}
	handle {
		reverse_proxy `+up.addr()+`
	}
}
`)
	p.Start()

	dot := base64.StdEncoding.EncodeToString([]byte("alice:" + alicePassword))
	login := url.Values{"username": {"alice"}, "password": {alicePassword}}.Encode()
	resp, _ := p.Do(t, "POST", "/@session", map[string]string{"Content-Type": "application/x-www-form-urlencoded"}, login)
	var sid, csrf string
	for _, c := range resp.Cookies() {
		switch c.Name {
		case "sessionid":
			sid = c.Value
		case "csrftoken":
			csrf = c.Value
		}
	}
	if resp.StatusCode != 200 || sid == "" || csrf == "" {
		t.Fatalf("@session login: %d, cookies %v", resp.StatusCode, resp.Cookies())
	}
	session := map[string]string{"Cookie": "sessionid=" + sid + "; csrftoken=" + csrf, "X-CSRFToken": csrf}

	requests := []struct {
		method, path string
		headers      map[string]string
		status       int
	}{
		{"GET", "/api/user/alice/password/" + alicePassword + "/items?x=1", nil, 200},
		{"GET", "/user/alice/password/guess-" + alicePassword + "/z", nil, 401},
		{"GET", "/y", map[string]string{"DOTAUTH": dot}, 200},
		{"PATCH", "/y", session, 200},
		{"GET", "/dead/user/alice/password/" + alicePassword + "/x", nil, 502},
		{"GET", "/dead/x", map[string]string{"DOTAUTH": dot}, 502},
		{"PATCH", "/dead/x", session, 502},
	}
	for _, r := range requests {
		if resp, body := p.Do(t, r.method, r.path, r.headers, ""); resp.StatusCode != r.status {
			t.Fatalf("%s %s: %d %s, want %d", r.method, r.path, resp.StatusCode, body, r.status)
		}
	}
	if up.received(t).Get("X-Csrftoken") != "" {
		t.Error("the X-CSRFToken header reached the upstream")
	}

	// The access log has a line per request (the login too), stderr an
	// error entry per 502; then the process stops and flushes.
	eventually(t, 10*time.Second, func() (bool, string) {
		data, _ := os.ReadFile(accessLog)
		lines := strings.Count(string(data), "\n")
		errors := strings.Count(p.Log(), `"logger":"http.log.error`)
		return lines >= len(requests)+1 && errors >= 3, string(data) + p.Log()
	})
	p.Stop()

	secrets := map[string]string{"password": alicePassword, "DOTAUTH": dot, "session id": sid, "CSRF token": csrf}
	written := map[string]string{"stdout and stderr": p.Log()}
	err := filepath.WalkDir(p.dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := os.ReadFile(path)
		written[path] = string(data)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	for where, text := range written {
		for what, secret := range secrets {
			if strings.Contains(text, secret) {
				t.Errorf("the %s is in %s", what, where)
			}
		}
	}
	if !strings.Contains(written[accessLog], "/password/REDACTED") {
		t.Errorf("the access log shows no filtered URI:\n%s", written[accessLog])
	}
	for _, line := range strings.Split(p.Log(), "\n") {
		if strings.Contains(line, `"logger":"http.log.error`) && strings.Contains(line, "/dead/user/") && !strings.Contains(line, "/password/REDACTED") {
			t.Errorf("an error log entry without the filtered URI: %s", line)
		}
	}
	if n := strings.Count(p.Log(), "legacy credentials enabled"); n != 1 {
		t.Errorf("%d warnings about the legacy credentials at load, want 1:\n%s", n, p.Log())
	}
	if !strings.Contains(p.Log(), "Keeping secrets out of Caddy") {
		t.Errorf("the warning does not name the log filter's docs:\n%s", p.Log())
	}
}

// TestCSRFHeaderIsACredential: the X-CSRFToken header of a session write
// does not reach the upstream, unless keep_credentials.
func TestCSRFHeaderIsACredential(t *testing.T) {
	for _, keep := range []bool{false, true} {
		t.Run(map[bool]string{false: "default", true: "keep_credentials"}[keep], func(t *testing.T) {
			up := newUpstream(t)
			options := ""
			if keep {
				options = "keep_credentials"
			}
			tester := startCaddy(t, siteConfig(t, options, up.addr()))
			csrf := cookieNamed(sessionLogin(t, tester, httpBase, "alice", alicePassword), "csrftoken").Value
			resp, body := call(t, tester, "PATCH", httpBase+"/x", map[string]string{"X-CSRFToken": csrf}, "")
			if resp.StatusCode != http.StatusOK || up.received(t).Get("X-Remote-User") != "alice" {
				t.Fatalf("session write: %d %s", resp.StatusCode, body)
			}
			if got := up.received(t).Get("X-CSRFToken"); (got == csrf) != keep {
				t.Errorf("upstream X-CSRFToken = %q with keep_credentials=%v", got, keep)
			}
		})
	}
}
