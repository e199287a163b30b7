package integration

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// chromiumPath finds Debian's chromium (installed by .ci/run).
func chromiumPath(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("CI") != "" {
		t.Fatal("chromium is not installed; .ci/run installs it (apt-get install chromium)")
	}
	t.Skip("chromium is not installed (apt-get install chromium); under CI this test fails instead")
	return ""
}

// startBrowser starts headless Chromium (skipping the test without it,
// outside CI) and returns the context of its first tab; the browser stops
// when the test ends. The first action on it starts the browser: give it
// no timeout.
func startBrowser(t *testing.T) context.Context {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromiumPath(t)),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.UserDataDir(t.TempDir()),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("no-first-run", true),
	)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	t.Cleanup(cancelAlloc)
	ctx, cancel := chromedp.NewContext(allocCtx)
	t.Cleanup(cancel)
	return ctx
}

// TestBrowserSessionWithCSRF drives headless Chromium through a page served
// by Caddy: the page logs in with fetch, writes with the CSRF header (200)
// and without it (403).
func TestBrowserSessionWithCSRF(t *testing.T) {
	root := testdataPath(t, "browser")
	base := fmt.Sprintf("http://127.0.0.1:%d", httpPort)
	startCaddy(t, globalOptions+base+` {
	rest_auth {
		users_file `+testdataPath(t, "users.json")+`
		store memory {
			name `+storeName(t)+`
		}
		anonymous read
	}
	respond /api/* "api ok" 200
	root * `+root+`
	file_server
}
`)

	ctx := startBrowser(t)
	// The first call starts the browser: no timeout on its context.
	if err := chromedp.Do(ctx, chromedp.Navigate(base+"/index.html")); err != nil {
		t.Fatalf("chromium: %v", err)
	}
	waitCtx, cancelWait := context.WithTimeout(ctx, 30*time.Second)
	defer cancelWait()
	if _, err := chromedp.Run(waitCtx, chromedp.Poll[bool](`document.getElementById("result").textContent !== "running"`)); err != nil {
		t.Fatalf("waiting for the page: %v", err)
	}
	result, err := chromedp.Run(waitCtx, chromedp.TextContent(chromedp.ID("result")))
	if err != nil {
		t.Fatalf("reading the result: %v", err)
	}
	if strings.HasPrefix(result, "error") {
		t.Fatalf("page script failed: %s", result)
	}
	var got struct {
		Login                int    `json:"login"`
		User                 string `json:"user"`
		SessionCookieVisible bool   `json:"sessionCookieVisible"`
		WithCSRF             int    `json:"withCSRF"`
		WithoutCSRF          int    `json:"withoutCSRF"`
		WithoutCSRFType      string `json:"withoutCSRFType"`
	}
	if err := json.Unmarshal([]byte(result), &got); err != nil {
		t.Fatalf("page result %q: %v", result, err)
	}
	if got.Login != 200 || got.User != "alice" {
		t.Errorf("login from the page: %+v", got)
	}
	if got.SessionCookieVisible {
		t.Error("the sessionid cookie is readable by scripts; it must be HttpOnly")
	}
	if got.WithCSRF != 200 {
		t.Errorf("write with X-CSRFToken: %d, want 200", got.WithCSRF)
	}
	if got.WithoutCSRF != 403 || got.WithoutCSRFType != "application/problem+json" {
		t.Errorf("write without X-CSRFToken: %d %s, want 403 problem", got.WithoutCSRF, got.WithoutCSRFType)
	}
}
