package restauth

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/caddyserver/caddy/v2/caddytest"
)

// Passwords of the users in testdata/users.json.
const (
	alicePassword = "alice-password" // roles editor, member
	bobPassword   = "bob-password"   // role viewer
	carolPassword = "carol-password" // disabled
	davePassword  = "dave-password"  // argon2id; roles admin, editor
)

const (
	httpBase  = "http://localhost:9080"
	httpsBase = "https://localhost:9443"
)

// upstream is a real backend on loopback that records what it received.
type upstream struct {
	srv  *httptest.Server
	mu   sync.Mutex
	last *http.Request
	hits int
}

func newUpstream(t *testing.T) *upstream {
	t.Helper()
	u := &upstream{}
	u.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u.mu.Lock()
		u.last = r.Clone(r.Context())
		u.hits++
		u.mu.Unlock()
		w.Header().Set("Content-Type", "text/plain")
		_, _ = io.WriteString(w, "upstream ok")
	}))
	t.Cleanup(u.srv.Close)
	return u
}

func (u *upstream) addr() string { return strings.TrimPrefix(u.srv.URL, "http://") }

// received returns the headers of the last request the upstream got.
func (u *upstream) received(t *testing.T) http.Header {
	t.Helper()
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.last == nil {
		t.Fatal("upstream received no request")
	}
	return u.last.Header
}

func (u *upstream) count() int {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.hits
}

// globalOptions keeps Caddy on loopback and on the test ports.
const globalOptions = `{
	skip_install_trust
	admin localhost:2999
	http_port 9080
	https_port 9443
	default_bind 127.0.0.1
	grace_period 1ns
	servers {
		protocols h1 h2
	}
}
`

// testdataPath is the absolute path of a fixture.
func testdataPath(t testing.TB, name string) string {
	t.Helper()
	p, err := filepath.Abs(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// siteConfig is a Caddyfile with one plain-HTTP and one HTTPS site, both
// running rest_auth with the given options in front of upstream.
func siteConfig(t testing.TB, restAuthOptions, upstreamAddr string) string {
	t.Helper()
	block := fmt.Sprintf(`rest_auth {
		users_file %s
		store memory {
			name %s
		}
		%s
	}
	reverse_proxy %s`, testdataPath(t, "users.json"), storeName(t), restAuthOptions, upstreamAddr)
	return globalOptions + fmt.Sprintf(`
http://localhost:9080 {
	%s
}
https://localhost:9443 {
	tls internal
	%s
}
`, block, block)
}

// storeName isolates each test's memory store.
func storeName(t testing.TB) string {
	return strings.NewReplacer("/", "_", " ", "_").Replace(t.Name())
}

// startCaddy loads config into the in-process Caddy and returns a client.
func startCaddy(t *testing.T, config string) *caddytest.Tester {
	t.Helper()
	tester := caddytest.NewTester(t)
	tester.InitServer(config, "caddyfile")
	return tester
}

// call sends a request and returns the response and its body.
func call(t *testing.T, tester *caddytest.Tester, method, url string, headers map[string]string, body string) (*http.Response, string) {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range headers {
		if k == "Host" {
			req.Host = v
			continue
		}
		req.Header.Set(k, v)
	}
	resp, err := tester.Client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, string(data)
}

func basicHeader(user, password string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+password))
}

func withBasic(user, password string) map[string]string {
	return map[string]string{"Authorization": basicHeader(user, password)}
}

// problemBody is an RFC 9457 problem as the handler sends it.
type problemBody struct {
	Type   string `json:"type"`
	Title  string `json:"title"`
	Status int    `json:"status"`
	Detail string `json:"detail"`
}

// assertProblem checks status, content type and the problem fields.
func assertProblem(t *testing.T, resp *http.Response, body string, status int, detailContains string) {
	t.Helper()
	if resp.StatusCode != status {
		t.Fatalf("status = %d, want %d (body %s)", resp.StatusCode, status, body)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "application/problem+json" {
		t.Fatalf("Content-Type = %q, want application/problem+json", ct)
	}
	var p problemBody
	if err := json.Unmarshal([]byte(body), &p); err != nil {
		t.Fatalf("problem body %q: %v", body, err)
	}
	if p.Status != status || p.Title == "" || p.Type == "" {
		t.Fatalf("problem = %+v, want status %d with type and title", p, status)
	}
	if !strings.Contains(p.Detail, detailContains) {
		t.Fatalf("problem detail = %q, want it to contain %q", p.Detail, detailContains)
	}
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}
