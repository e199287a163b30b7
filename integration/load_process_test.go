package integration

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// This file checks, on the built binary, what a user sees of a config
// while Caddy reads and loads it: adapt errors, load warnings and the
// access log.

// TestBuiltBinaryAdaptNamesTheLine: `caddy adapt` on a Caddyfile with a
// mistake exits non-zero and names the file and line of the mistake.
func TestBuiltBinaryAdaptNamesTheLine(t *testing.T) {
	t.Parallel() // a Caddy process of its own: runs beside the other process tests
	p := newCaddyProcess(t, `http://127.0.0.1:{HTTP_PORT} {
	rest_auth {
		user alice hunter2
	}
	respond ok
}
`)
	config := readFile(t, p.config)
	line := 1 + strings.Count(config[:strings.Index(config, "user alice")], "\n")
	cmd := exec.Command(p.bin, "adapt", "--config", p.config)
	cmd.Env = p.env()
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	err := cmd.Run()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() == 0 {
		t.Fatalf("caddy adapt: %v, want a non-zero exit status\n%s", err, stderr.String())
	}
	want := fmt.Sprintf("%s:%d", p.config, line)
	for _, w := range []string{want, "alice", "unsupported password hash"} {
		if !strings.Contains(stderr.String(), w) {
			t.Errorf("caddy adapt stderr does not name %q:\n%s", w, stderr.String())
		}
	}
}

// TestBuiltBinaryWarnsWithoutUsers: a rest_auth block with no user at all
// loads, with a warning that says what to add.
func TestBuiltBinaryWarnsWithoutUsers(t *testing.T) {
	t.Parallel() // a Caddy process of its own: runs beside the other process tests
	p := newCaddyProcess(t, `http://127.0.0.1:{HTTP_PORT} {
	rest_auth {
		store memory
	}
	respond ok
}
`)
	p.Start()
	warning := func() (bool, string) {
		for _, line := range strings.Split(p.Log(), "\n") {
			var entry struct{ Level, Logger, Msg string }
			if json.Unmarshal([]byte(line), &entry) == nil && entry.Level == "warn" &&
				strings.HasPrefix(entry.Logger, "http.handlers.rest_auth") &&
				strings.Contains(entry.Msg, "no users configured") &&
				strings.Contains(entry.Msg, "`user <name> <hash>`") && strings.Contains(entry.Msg, "`users_file <path>`") {
				return true, ""
			}
		}
		return false, "no WARN about missing users in the log:\n" + p.Log()
	}
	eventually(t, 10*time.Second, warning)
}

// TestAccessLogNamesEndpointUser: requests to the credential endpoints
// with a credential carry the user in the access log's user_id.
func TestAccessLogNamesEndpointUser(t *testing.T) {
	t.Parallel() // a Caddy process of its own: runs beside the other process tests
	up := newUpstream(t)
	p := newCaddyProcess(t, strings.Replace(processSite(t, up, "store memory"), "\trest_auth {", "\tlog\n\trest_auth {", 1))
	p.Start()
	for _, path := range []string{"/@me", "/@tokens", "/x"} {
		resp, body := p.Do(t, "GET", path, withBasic("alice", alicePassword), "")
		if resp.StatusCode != 200 {
			t.Fatalf("GET %s: %d %s", path, resp.StatusCode, body)
		}
		eventually(t, 10*time.Second, func() (bool, string) {
			for _, line := range strings.Split(p.Log(), "\n") {
				var entry struct {
					Logger  string `json:"logger"`
					UserID  string `json:"user_id"`
					Request struct {
						URI string `json:"uri"`
					} `json:"request"`
				}
				if json.Unmarshal([]byte(line), &entry) == nil && strings.HasPrefix(entry.Logger, "http.log.access") && entry.Request.URI == path {
					return entry.UserID == "alice", fmt.Sprintf("access log entry for %s has user_id %q, want alice", path, entry.UserID)
				}
			}
			return false, "no access log entry for " + path + ":\n" + p.Log()
		})
	}
}
