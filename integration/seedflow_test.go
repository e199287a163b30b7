package integration

import (
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
)

// runSeedFlow runs one of the seed's client scripts against the in-process
// Caddy and checks it reached its end.
func runSeedFlow(t *testing.T, done string, name string, args ...string) {
	t.Helper()
	up := newUpstream(t)
	startCaddy(t, siteConfig(t, "", up.addr()))
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil || !strings.Contains(string(out), done) {
		t.Fatalf("%s: %v\n%s", name, err, out)
	}
	if up.received(t).Get("X-Remote-User") != "alice" {
		t.Errorf("upstream user %q, want alice", up.received(t).Get("X-Remote-User"))
	}
}

// TestKeystoneCurlFlow runs the Keystone seed's curl commands (cookie jar,
// X-CSRFToken from the jar) as written, URLs changed.
func TestKeystoneCurlFlow(t *testing.T) {
	runSeedFlow(t, "KEYSTONE CURL FLOW OK", "bash", testdataPath(t, "seedflows/keystone.sh"), fmt.Sprintf("http://localhost:%d", httpPort))
}

// TestKeystonePythonFlow runs the Keystone seed's Python requests flow as
// written, URLs changed (Debian's python3-requests, installed by .ci/run).
func TestKeystonePythonFlow(t *testing.T) {
	// The python3 on PATH, as a reader running the example would.
	python, err := exec.LookPath("python3")
	if err == nil {
		err = exec.Command(python, "-c", "import requests").Run()
	}
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("python3 with requests is not on PATH (%v); .ci/run installs python3-requests", err)
		}
		t.Skipf("python3 with requests is not on PATH (%v; apt-get install python3-requests); under CI this test fails instead", err)
	}
	runSeedFlow(t, "KEYSTONE PYTHON FLOW OK", python, testdataPath(t, "seedflows/keystone.py"), fmt.Sprintf("http://localhost:%d", httpPort))
}
