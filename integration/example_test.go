package integration

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestCaddyfileExample loads Caddyfile.example as shipped (moved to the test
// ports, with the store in a temp dir) and checks what the README promises:
// right, missing and wrong credentials give 200, 401 problem and 401.
func TestCaddyfileExample(t *testing.T) {
	raw := readFile(t, filepath.Join("..", "Caddyfile.example"))
	root, err := filepath.Abs(filepath.Join("..", "example", "site"))
	if err != nil {
		t.Fatal(err)
	}
	dbPath := filepath.Join(t.TempDir(), "restauth.db")
	config := strings.NewReplacer(
		"http_port 8080", fmt.Sprintf("http_port %d\n\tdefault_bind 127.0.0.1\n\tgrace_period 1ns", httpPort),
		"admin localhost:2020", fmt.Sprintf("admin localhost:%d", adminPort),
		"http://localhost:8080", httpBase,
		"root * example/site", "root * "+root,
		"rest_auth {", "rest_auth {\n\t\tstore bolt "+dbPath,
	).Replace(raw)
	if config == raw {
		t.Fatal("Caddyfile.example no longer has the expected shape; update this test")
	}
	tester := startCaddy(t, config)

	resp, body := call(t, tester, "GET", httpBase+"/api/hello.json", withBasic("demo", "demo-password"), "")
	if resp.StatusCode != 200 || !strings.Contains(body, `"hello"`) {
		t.Fatalf("demo user: status %d body %q", resp.StatusCode, body)
	}
	resp, body = call(t, tester, "GET", httpBase+"/api/hello.json", nil, "")
	assertProblem(t, resp, body, http.StatusUnauthorized, "Authentication credentials were not provided.")
	resp, body = call(t, tester, "GET", httpBase+"/api/hello.json", withBasic("demo", "wrong"), "")
	assertProblem(t, resp, body, http.StatusUnauthorized, "Invalid username or password.")

	// The API token lines of the quick start.
	resp, body = call(t, tester, "POST", httpBase+"/@tokens", nil, `{"username": "demo", "password": "demo-password"}`)
	var created struct{ Key string }
	if resp.StatusCode != http.StatusCreated || json.Unmarshal([]byte(body), &created) != nil || created.Key == "" {
		t.Fatalf("provisioning a token: status %d body %q", resp.StatusCode, body)
	}
	resp, body = call(t, tester, "GET", httpBase+"/api/hello.json", withToken(created.Key), "")
	if resp.StatusCode != 200 || !strings.Contains(body, `"hello"`) {
		t.Fatalf("demo token: status %d body %q", resp.StatusCode, body)
	}
	if _, err := os.Stat(dbPath); err != nil {
		t.Errorf("bolt store file not created: %v", err)
	}
}
