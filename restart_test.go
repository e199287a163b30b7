package restauth

import (
	"net/http"
	"testing"
)

// TestBuiltBinaryRestartAndReload runs the built Caddy binary, restarts it
// and reloads its config; Basic auth and the bolt store keep working.
func TestBuiltBinaryRestartAndReload(t *testing.T) {
	up := newUpstream(t)
	site := `http://127.0.0.1:{HTTP_PORT} {
	rest_auth {
		users_file ` + testdataPath(t, "users.json") + `
	}
	reverse_proxy ` + up.addr() + `
}
`
	p := newCaddyProcess(t, site)
	p.Start()
	check := func(stage string) {
		t.Helper()
		req, _ := http.NewRequest("GET", p.BaseURL+"/x", nil)
		req.SetBasicAuth("alice", alicePassword)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatalf("%s: %v", stage, err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 || up.received(t).Get("X-Remote-User") != "alice" {
			t.Fatalf("%s: status %d\n%s", stage, resp.StatusCode, p.Log())
		}
	}
	check("start")
	p.Reload()
	check("reload")
	p.Restart()
	check("restart")
}
