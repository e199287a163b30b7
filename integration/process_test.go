package integration

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/caddy-restauth/caddy-restauth/internal/process"
)

// This file runs Caddy as a real process (built from ./cmd/caddy, the same
// binary xcaddy would build), for tests that restart or reload it.

var (
	binaryOnce sync.Once
	binaryPath string
	binaryErr  error
)

// caddyBinary builds ../cmd/caddy once per test run.
func caddyBinary(t *testing.T) string {
	t.Helper()
	binaryOnce.Do(func() {
		dir, err := os.MkdirTemp("", "restauth-caddy-")
		if err != nil {
			binaryErr = err
			return
		}
		binaryPath = filepath.Join(dir, "caddy")
		cmd := exec.Command("go", "build", "-o", binaryPath, "../cmd/caddy")
		out, err := cmd.CombinedOutput()
		if err != nil {
			binaryErr = fmt.Errorf("go build ./cmd/caddy: %v\n%s", err, out)
		}
	})
	if binaryErr != nil {
		t.Fatal(binaryErr)
	}
	return binaryPath
}

// caddyProcess is one running Caddy process with its own data directory.
type caddyProcess struct {
	t          *testing.T
	bin        string
	dir        string // XDG_DATA_HOME / XDG_CONFIG_HOME live here
	config     string // Caddyfile path
	adminAddr  string
	cmd        *exec.Cmd
	log        *bytes.Buffer
	logMu      sync.Mutex
	HTTPPort   int
	HTTPSPort  int
	BaseURL    string
	stopCalled bool
	// globalOptions are added to the global options block.
	globalOptions string
}

// freePort asks the kernel for an unused loopback port.
func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// newCaddyProcess prepares a Caddy process. site is the Caddyfile without
// global options; {HTTP_PORT} in it is replaced by the process's port.
func newCaddyProcess(t *testing.T, site string) *caddyProcess {
	t.Helper()
	p := &caddyProcess{
		t:         t,
		bin:       caddyBinary(t),
		dir:       t.TempDir(),
		HTTPPort:  freePort(t),
		HTTPSPort: freePort(t),
		log:       new(bytes.Buffer),
	}
	p.adminAddr = fmt.Sprintf("127.0.0.1:%d", freePort(t))
	p.BaseURL = fmt.Sprintf("http://127.0.0.1:%d", p.HTTPPort)
	p.config = filepath.Join(p.dir, "Caddyfile")
	p.WriteConfig(site)
	t.Cleanup(p.Stop)
	return p
}

// WithGlobalOptions adds options (e.g. `log default { ... }`) to the
// global options block and rewrites the Caddyfile with site.
func (p *caddyProcess) WithGlobalOptions(options, site string) *caddyProcess {
	p.globalOptions = options
	p.WriteConfig(site)
	return p
}

// WriteConfig writes the Caddyfile (used by Start and Reload).
func (p *caddyProcess) WriteConfig(site string) {
	p.t.Helper()
	global := fmt.Sprintf(`{
	admin %s
	http_port %d
	https_port %d
	default_bind 127.0.0.1
	skip_install_trust
	grace_period 1s
	%s
}
`, p.adminAddr, p.HTTPPort, p.HTTPSPort, p.globalOptions)
	site = strings.ReplaceAll(site, "{HTTP_PORT}", fmt.Sprint(p.HTTPPort))
	if err := os.WriteFile(p.config, []byte(global+site), 0o600); err != nil {
		p.t.Fatal(err)
	}
}

func (p *caddyProcess) env() []string {
	return append(os.Environ(),
		"XDG_DATA_HOME="+filepath.Join(p.dir, "data"),
		"XDG_CONFIG_HOME="+filepath.Join(p.dir, "config"),
		"HOME="+p.dir,
	)
}

// Start runs `caddy run` and waits until it answers.
func (p *caddyProcess) Start() {
	p.t.Helper()
	p.cmd = exec.Command(p.bin, "run", "--config", p.config, "--adapter", "caddyfile")
	p.cmd.Env = p.env()
	p.cmd.Stdout = p.logWriter()
	p.cmd.Stderr = p.logWriter()
	if err := p.cmd.Start(); err != nil {
		p.t.Fatal(err)
	}
	p.waitReady()
}

type lockedWriter struct{ p *caddyProcess }

func (w lockedWriter) Write(b []byte) (int, error) {
	w.p.logMu.Lock()
	defer w.p.logMu.Unlock()
	return w.p.log.Write(b)
}

func (p *caddyProcess) logWriter() lockedWriter { return lockedWriter{p} }

// Log is everything the process has written so far.
func (p *caddyProcess) Log() string {
	p.logMu.Lock()
	defer p.logMu.Unlock()
	return p.log.String()
}

// waitReady polls the HTTP port until Caddy answers, with a deadline.
func (p *caddyProcess) waitReady() {
	p.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	// Any answer will do, a redirect to HTTPS included.
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	for {
		resp, err := client.Get(p.BaseURL + "/")
		if err == nil {
			resp.Body.Close()
			return
		}
		if p.cmd.ProcessState != nil || time.Now().After(deadline) {
			p.t.Fatalf("caddy did not start: %v\n%s", err, p.Log())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Reload loads the current Caddyfile into the running process.
func (p *caddyProcess) Reload() {
	p.t.Helper()
	cmd := exec.Command(p.bin, "reload", "--config", p.config, "--adapter", "caddyfile", "--address", p.adminAddr)
	cmd.Env = p.env()
	if out, err := cmd.CombinedOutput(); err != nil {
		p.t.Fatalf("caddy reload: %v\n%s\n%s", err, out, p.Log())
	}
}

// Stop ends the process gracefully and waits for it.
func (p *caddyProcess) Stop() { process.Stop(p.cmd, 15*time.Second) }

// Restart stops the process and starts it again with the same data.
func (p *caddyProcess) Restart() {
	p.t.Helper()
	p.Stop()
	p.Start()
}

// Do sends a request to the process and returns the response and its body.
func (p *caddyProcess) Do(t *testing.T, method, path string, headers map[string]string, body string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(method, p.BaseURL+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", method, path, err, p.Log())
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: reading the body: %v", method, path, err)
	}
	return resp, string(data)
}

// processSite is a site on the process's port running rest_auth with the
// test users and the given options in front of up.
func processSite(t *testing.T, up *upstream, options string) string {
	return `http://127.0.0.1:{HTTP_PORT} {
	rest_auth {
		users_file ` + testdataPath(t, "users.json") + `
		` + options + `
	}
	reverse_proxy ` + up.addr() + `
}
`
}
