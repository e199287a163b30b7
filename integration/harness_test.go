package integration

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2/caddyconfig"
	"github.com/caddyserver/caddy/v2/caddytest"
	_ "github.com/caddyserver/caddy/v2/modules/standard"

	_ "github.com/caddy-restauth/caddy-restauth"
	"github.com/caddy-restauth/caddy-restauth/internal/poll"
	"github.com/caddy-restauth/caddy-restauth/internal/testusers"
)

// The users of testdata/users.json.
const (
	alicePassword = testusers.AlicePassword
	bobPassword   = testusers.BobPassword
	carolPassword = testusers.CarolPassword
	davePassword  = testusers.DavePassword
	aliceHash     = testusers.AliceHash
	daveHash      = testusers.DaveHash
)

// Test ports: the in-process Caddy listens on three loopback ports the
// kernel reports free when the test binary starts, so packages (and two
// test runs on one machine) run side by side. RESTAUTH_TEST_PORTS=
// "http,https,admin" sets them instead.
var httpPort, httpsPort, adminPort = testPorts()

var (
	httpBase  = fmt.Sprintf("http://localhost:%d", httpPort)
	httpsBase = fmt.Sprintf("https://localhost:%d", httpsPort)
)

func testPorts() (int, int, int) {
	if v := os.Getenv("RESTAUTH_TEST_PORTS"); v != "" {
		var ports [3]int
		fields := strings.Split(v, ",")
		for i := range ports {
			if len(fields) != len(ports) {
				panic(fmt.Sprintf("RESTAUTH_TEST_PORTS=%q: want http,https,admin", v))
			}
			n, err := strconv.Atoi(strings.TrimSpace(fields[i]))
			if err != nil {
				panic(fmt.Sprintf("RESTAUTH_TEST_PORTS=%q: %v", v, err))
			}
			ports[i] = n
		}
		return ports[0], ports[1], ports[2]
	}
	// All three listeners stay open until each has its port, so the
	// kernel hands out three different ones.
	var ports [3]int
	for i := range ports {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			panic(fmt.Sprintf("finding a free loopback port: %v", err))
		}
		defer l.Close()
		ports[i] = l.Addr().(*net.TCPAddr).Port
	}
	return ports[0], ports[1], ports[2]
}

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

// requestURI is the path and query of the last request the upstream got.
func (u *upstream) requestURI(t *testing.T) string {
	t.Helper()
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.last == nil {
		t.Fatal("upstream received no request")
	}
	return u.last.URL.RequestURI()
}

func (u *upstream) count() int {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.hits
}

// globalOptions keeps Caddy on loopback and on the test ports.
var globalOptions = globalOptionsWith("")

// globalOptionsWith adds server options (e.g. trusted_proxies).
func globalOptionsWith(serverOptions string) string {
	return fmt.Sprintf(`{
	skip_install_trust
	admin localhost:%d
	http_port %d
	https_port %d
	default_bind 127.0.0.1
	grace_period 1ns
	servers {
		protocols h1 h2
		%s
	}
}
`, adminPort, httpPort, httpsPort, serverOptions)
}

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
// running rest_auth with the given options in front of upstream (and
// rest_auth_url_params, as the docs ask of every site with url_params).
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
%s {
	rest_auth_url_params
	%s
}
%s {
	tls internal
	rest_auth_url_params
	%s
}
`, httpBase, block, httpsBase, block)
}

// storeName isolates each test's memory store.
func storeName(t testing.TB) string {
	return strings.NewReplacer("/", "_", " ", "_").Replace(t.Name())
}

// startCaddy loads config into the in-process Caddy and returns a client.
func startCaddy(t *testing.T, config string) *caddytest.Tester {
	t.Helper()
	tester := newTester(t)
	tester.InitServer(config, "caddyfile")
	return tester
}

// newTester is a caddytest client for the in-process Caddy on adminPort.
func newTester(t *testing.T) *caddytest.Tester {
	return caddytest.NewTester(t).WithDefaultOverrides(caddytest.Config{AdminPort: adminPort})
}

// assertLoadError checks that config fails to load with an error containing
// want (caddytest.AssertLoadError, on the configured admin port).
func assertLoadError(t *testing.T, config, want string) {
	t.Helper()
	startCaddy(t, globalOptions) // make sure the in-process Caddy runs
	resp, err := http.Post(fmt.Sprintf("http://localhost:%d/load", adminPort), "text/caddyfile", strings.NewReader(config))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode == http.StatusOK || !strings.Contains(string(body), want) {
		t.Fatalf("load: status %d, error %s; want it to contain %q", resp.StatusCode, body, want)
	}
}

// call sends a request and returns the response and its body.
func call(t *testing.T, tester *caddytest.Tester, method, url string, headers map[string]string, body string) (*http.Response, string) {
	t.Helper()
	h := http.Header{}
	for k, v := range headers {
		h.Set(k, v)
	}
	return callHeaders(t, tester, method, url, h, body)
}

// callHeaders is call with headers sent exactly as given: repeated fields,
// empty values and names in any spelling (Host sets the request's host).
func callHeaders(t *testing.T, tester *caddytest.Tester, method, url string, headers http.Header, body string) (*http.Response, string) {
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
		if http.CanonicalHeaderKey(k) == "Host" {
			req.Host = v[0]
			continue
		}
		req.Header[k] = v
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

func withBasic(user, password string) map[string]string {
	return map[string]string{"Authorization": testusers.BasicHeader(user, password)}
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

// configCase is a rest_auth configuration mistake and (part of) the error
// it must produce.
type configCase struct {
	name, options, want string
}

// badConfigSite is a Caddyfile whose one rest_auth block holds options,
// and the first and last line numbers of options in it.
func badConfigSite(options string) (config string, first, last int) {
	head := globalOptions + httpBase + " {\n\trest_auth {\n\t\tstore memory\n\t\t"
	first = strings.Count(head, "\n") + 1
	return head + options + "\n\t}\n\trespond ok\n}\n", first, first + strings.Count(options, "\n")
}

// assertConfigErrors checks, for each case, that adapting a site whose
// rest_auth block holds the case's options fails as `caddy adapt` would:
// with its message and the Caddyfile line of the mistake (one of the
// options' lines).
func assertConfigErrors(t *testing.T, cases []configCase) {
	t.Helper()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			config, first, last := badConfigSite(c.options)
			_, _, err := caddyconfig.GetAdapter("caddyfile").Adapt([]byte(config), map[string]any{"filename": "Caddyfile"})
			if err == nil {
				t.Fatalf("adapt succeeded; want an error containing %q", c.want)
			}
			if !strings.Contains(err.Error(), c.want) {
				t.Fatalf("adapt error %q; want it to contain %q", err, c.want)
			}
			m := regexp.MustCompile(`, at Caddyfile:(\d+)`).FindStringSubmatch(err.Error())
			if m == nil {
				t.Fatalf("adapt error %q names no Caddyfile line", err)
			}
			if line, _ := strconv.Atoi(m[1]); line < first || line > last {
				t.Fatalf("adapt error %q names line %d; the mistake is on lines %d-%d", err, line, first, last)
			}
		})
	}
}

// assertLoadErrors is assertConfigErrors for mistakes that only loading
// can find (files, placeholders): the config adapts, and loading it fails
// with the case's message.
func assertLoadErrors(t *testing.T, cases []configCase) {
	t.Helper()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			config, _, _ := badConfigSite(c.options)
			if _, _, err := caddyconfig.GetAdapter("caddyfile").Adapt([]byte(config), nil); err != nil {
				t.Fatalf("adapt: %v; want this mistake to be found at load", err)
			}
			// The admin API returns the error inside JSON, escaped as
			// encoding/json escapes it.
			escaped, _ := json.Marshal(c.want)
			assertLoadError(t, config, string(escaped[1:len(escaped)-1]))
		})
	}
}

// eventually polls done until it reports true, failing with what it last
// said once within has passed. Tests wait for state this way, never with
// a bare sleep.
func eventually(t *testing.T, within time.Duration, done func() (bool, string)) {
	t.Helper()
	poll.Until(t, "the state the test expects", within, done)
}
