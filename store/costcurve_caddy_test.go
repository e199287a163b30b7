//go:build linux

package store

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/caddy-restauth/caddy-restauth/internal/process"
	"github.com/caddy-restauth/caddy-restauth/internal/testusers"
)

// curveCaddy is a Caddy process (the binary go build ./cmd/caddy makes)
// serving one rest_auth site on a store, for the cost curve.
type curveCaddy struct {
	cmd     *exec.Cmd
	base    string // http://127.0.0.1:port
	admin   string // http://127.0.0.1:port of the admin API
	started time.Time
	client  *http.Client
}

// curvePort returns a loopback port nobody listens on right now.
func curvePort(b testing.TB) int {
	b.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// startCurveCaddy starts bin with a Caddyfile whose rest_auth block uses
// storeBlock, in dir; it does not wait for it to answer. The process is
// killed if the benchmark binary dies, and stopped when the benchmark ends.
func startCurveCaddy(b testing.TB, bin, dir, storeBlock string) *curveCaddy {
	b.Helper()
	users, err := filepath.Abs("../integration/testdata/users.json")
	if err != nil {
		b.Fatal(err)
	}
	port, adminPort := curvePort(b), curvePort(b)
	config := fmt.Sprintf(`{
	admin 127.0.0.1:%d
	http_port %d
	default_bind 127.0.0.1
	skip_install_trust
	persist_config off
	log {
		level ERROR
	}
}
http://127.0.0.1:%d {
	rest_auth {
		users_file %s
		%s
	}
	respond "ok" 200
}
`, adminPort, port, port, users, storeBlock)
	path := filepath.Join(dir, "Caddyfile")
	if err := os.WriteFile(path, []byte(config), 0o600); err != nil {
		b.Fatal(err)
	}
	logFile, err := os.Create(filepath.Join(dir, "caddy.log"))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = logFile.Close() })
	cmd := exec.Command(bin, "run", "--config", path, "--adapter", "caddyfile")
	cmd.Env = append(os.Environ(), "XDG_DATA_HOME="+filepath.Join(dir, "data"),
		"XDG_CONFIG_HOME="+filepath.Join(dir, "config"), "HOME="+dir)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	c := &curveCaddy{
		cmd:    cmd,
		base:   fmt.Sprintf("http://127.0.0.1:%d", port),
		admin:  fmt.Sprintf("http://127.0.0.1:%d", adminPort),
		client: &http.Client{Timeout: 10 * time.Second},
	}
	c.started = time.Now()
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(c.stop)
	return c
}

// stop ends the process (SIGTERM, then SIGKILL after ten seconds) and
// waits for it; stopping a stopped process does nothing.
func (c *curveCaddy) stop() {
	process.Stop(c.cmd, 10*time.Second)
	c.client.CloseIdleConnections()
}

// get sends GET /api with header and returns the status.
func (c *curveCaddy) get(header http.Header) (int, error) {
	req, err := http.NewRequest("GET", c.base+"/api", nil)
	if err != nil {
		return 0, err
	}
	req.Header = header
	resp, err := c.client.Do(req)
	if err != nil {
		return 0, err
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode, nil
}

// untilStatus polls GET /api with header until it answers want, and
// returns the time since the process was started.
func (c *curveCaddy) untilStatus(b testing.TB, header http.Header, want int) time.Duration {
	b.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for {
		code, err := c.get(header)
		if err == nil && code == want {
			return time.Since(c.started)
		}
		if c.cmd.ProcessState != nil || time.Now().After(deadline) {
			b.Fatalf("caddy did not answer %d: last status %d, error %v", want, code, err)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// curveCredentials are alice's credentials of every kind.
type curveCredentials struct {
	tokenKey, jwt, sessionID string
}

// header returns the request header carrying the credential of kind.
func (cr curveCredentials) header(kind recordKind) http.Header {
	switch kind {
	case kindSession:
		return http.Header{"Cookie": {"sessionid=" + cr.sessionID}}
	case kindRevocation: // a JWT request looks its jti up among the revoked
		return http.Header{"Authorization": {"Bearer " + cr.jwt}}
	default:
		return http.Header{"Authorization": {"Token " + cr.tokenKey}}
	}
}

// login obtains alice's API token, JWT and session from the endpoints.
func (c *curveCaddy) login(b testing.TB) curveCredentials {
	b.Helper()
	post := func(path, field string) (map[string]any, []*http.Cookie) {
		body, _ := json.Marshal(map[string]string{field: "alice", "password": testusers.AlicePassword})
		resp, err := c.client.Post(c.base+path, "application/json", bytes.NewReader(body))
		if err != nil {
			b.Fatal(err)
		}
		defer resp.Body.Close()
		var out map[string]any
		if err := json.NewDecoder(resp.Body).Decode(&out); err != nil || resp.StatusCode/100 != 2 {
			b.Fatalf("POST %s: status %d, %v", path, resp.StatusCode, err)
		}
		return out, resp.Cookies()
	}
	var cr curveCredentials
	tok, _ := post("/@tokens", "username")
	jwt, _ := post("/@login", "login")
	cr.tokenKey, _ = tok["key"].(string)
	cr.jwt, _ = jwt["token"].(string)
	_, cookies := post("/@session", "username")
	for _, ck := range cookies {
		if ck.Name == "sessionid" {
			cr.sessionID = ck.Value
		}
	}
	if cr.tokenKey == "" || cr.jwt == "" || cr.sessionID == "" {
		b.Fatal("a login endpoint answered without its credential")
	}
	return cr
}

// latencies sends n GET /api requests with header, one after another,
// each of which must answer 200, and returns their durations.
func (c *curveCaddy) latencies(b testing.TB, header http.Header, n int) []time.Duration {
	b.Helper()
	out := make([]time.Duration, n)
	for i := range out {
		start := time.Now()
		code, err := c.get(header)
		out[i] = time.Since(start)
		if err != nil || code != http.StatusOK {
			b.Fatalf("request %d: status %d, %v", i, code, err)
		}
	}
	return out
}

// memory returns the Go heap in use (from the admin API's heap profile,
// which, unlike /metrics, counts nothing in the store) and the resident
// set size of the process, in bytes.
func (c *curveCaddy) memory(b testing.TB) (heap, rss float64) {
	b.Helper()
	c.adminGet(b, "/debug/pprof/heap?debug=1", func(line string) {
		if v, ok := strings.CutPrefix(line, "# HeapInuse = "); ok {
			heap, _ = strconv.ParseFloat(v, 64)
		}
	})
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", c.cmd.Process.Pid))
	if err != nil {
		b.Fatal(err)
	}
	for line := range strings.SplitSeq(string(status), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, _ := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 64)
			rss = kb * 1024
		}
	}
	if heap == 0 || rss == 0 {
		b.Fatal("no heap (HeapInuse) or RSS (VmRSS) figure")
	}
	return heap, rss
}

// scrape fetches /metrics from the admin API, which counts the tokens and
// sessions in the store for the caddy_rest_auth_tokens and
// caddy_rest_auth_sessions gauges, and returns how long that took and the
// counts it published.
func (c *curveCaddy) scrape(b testing.TB) (took time.Duration, tokens, sessions float64) {
	b.Helper()
	start := time.Now()
	c.adminGet(b, "/metrics", func(line string) {
		if v, ok := strings.CutPrefix(line, "caddy_rest_auth_tokens "); ok {
			tokens, _ = strconv.ParseFloat(v, 64)
		}
		if v, ok := strings.CutPrefix(line, "caddy_rest_auth_sessions "); ok {
			sessions, _ = strconv.ParseFloat(v, 64)
		}
	})
	return time.Since(start), tokens, sessions
}

// adminGet sends GET path to the admin API and passes each line of the
// answer to line.
func (c *curveCaddy) adminGet(b testing.TB, path string, line func(string)) {
	b.Helper()
	client := &http.Client{Timeout: time.Minute}
	resp, err := client.Get(c.admin + path)
	if err != nil {
		b.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b.Fatalf("GET %s on the admin API: status %d", path, resp.StatusCode)
	}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		line(sc.Text())
	}
	if err := sc.Err(); err != nil {
		b.Fatal(err)
	}
}
