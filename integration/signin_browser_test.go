package integration

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
)

// TestBrowserSignInAndAccount drives headless Chromium through login_page
// against a real Caddy: a protected page redirects to the sign-in form,
// which is filled in by keyboard alone and lands on the page first asked
// for; /@account creates a token that an HTTP client then uses, revokes
// it (the client gets 401) and signs out; and every open-redirect form of
// next ends on / of this site.
//
// RESTAUTH_SIGNIN_SCREENSHOT=<file.png> saves the sign-in page (as in
// docs/signin.png).
func TestBrowserSignInAndAccount(t *testing.T) {
	base := fmt.Sprintf("http://127.0.0.1:%d", httpPort)
	startCaddy(t, globalOptions+base+` {
	rest_auth {
		users_file `+testdataPath(t, "users.json")+`
		store memory {
			name `+storeName(t)+`
		}
		login_page {
			title "Acme intranet"
		}
	}
	respond "private {http.request.uri}" 200
}
`)
	ctx := startBrowser(t)
	// The first call starts the browser: no timeout on its context.
	if err := chromedp.Do(ctx, chromedp.Navigate(base+"/private/page?x=1&y=2")); err != nil {
		t.Fatalf("chromium: %v", err)
	}
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	b := &browser{t: t, ctx: ctx}

	// The redirect, and the form by keyboard alone.
	b.waitFor(`location.pathname === "/@signin"`)
	if got := b.eval(`location.search`); got != `"?next=%2Fprivate%2Fpage%3Fx%3D1%26y%3D2"` {
		t.Errorf("sign-in page query %s, want next=the page asked for", got)
	}
	b.assertLabelled()
	if shot := os.Getenv("RESTAUTH_SIGNIN_SCREENSHOT"); shot != "" {
		b.screenshot(shot)
	}
	b.assertFocus("username") // autofocus
	b.do(chromedp.KeyEvent("alice"), chromedp.KeyEvent(kb.Tab))
	b.assertFocus("password")
	b.do(chromedp.KeyEvent(alicePassword), chromedp.KeyEvent(kb.Tab))
	if got := b.eval(`document.activeElement.type`); got != `"submit"` {
		t.Fatalf("after the password, Tab focuses %s, want the sign-in button", got)
	}
	b.do(chromedp.KeyEvent(kb.Enter))
	b.waitFor(`location.pathname === "/private/page"`)
	if got := b.eval(`location.search + " " + document.body.innerText.trim()`); got != `"?x=1&y=2 private /private/page?x=1&y=2"` {
		t.Errorf("landed on %s, want the page first asked for", got)
	}

	// /@account: create a token, use it, revoke it.
	b.do(chromedp.Navigate(base + "/@account"))
	b.waitFor(`!document.getElementById("no-tokens").hidden`)
	b.assertLabelled()
	if got := b.eval(`document.getElementById("user").textContent + " " + document.getElementById("roles").textContent`); got != `"alice editor, member"` {
		t.Errorf("account page shows %s", got)
	}
	b.do(
		chromedp.SetValue(chromedp.CSS("#description"), "ci laptop"),
		chromedp.SetValue(chromedp.CSS("#allowed_ips"), "127.0.0.1/32"),
		chromedp.Click(chromedp.CSS("#read_only")),
		chromedp.Focus(chromedp.CSS("#create button")),
		chromedp.KeyEvent(kb.Enter),
	)
	b.waitFor(`!document.getElementById("new-key").hidden && document.querySelectorAll("#tokens tbody tr").length === 1`)
	key := strings.Trim(b.eval(`document.getElementById("key").value`), `"`)
	b.do(chromedp.Click(chromedp.CSS("#copy")))
	b.waitFor(`document.getElementById("copied").textContent === "Copied."`)
	if got := b.eval(`[...document.querySelectorAll("#tokens tbody td")].slice(0, 7).map(td => td.textContent).filter((_, i) => i === 0 || i >= 4).join("|")`); got != `"ci laptop|not yet|yes|127.0.0.1/32"` {
		t.Errorf("token row (description|last used|read-only|networks): %s", got)
	}
	if status := getWithToken(t, base+"/private/api", key); status != http.StatusOK {
		t.Fatalf("the new token: %d, want 200", status)
	}
	b.do(chromedp.Click(chromedp.CSS("#tokens tbody button")))
	b.waitFor(`document.querySelectorAll("#tokens tbody tr").length === 0`)
	if status := getWithToken(t, base+"/private/api", key); status != http.StatusUnauthorized {
		t.Errorf("the revoked token: %d, want 401", status)
	}

	// Sign out: the account page sends the browser to sign in again.
	b.signOut(base)
	b.do(chromedp.Navigate(base + "/@account"))
	b.waitFor(`location.pathname === "/@signin"`)
	if got := b.eval(`location.search`); got != `"?next=%2F%40account"` {
		t.Errorf("after sign-out /@account goes to the sign-in page with %s", got)
	}

	// Open redirects: each lands on / of this site after signing in.
	for _, next := range []string{"//evil.example", "https://evil.example", `/\evil.example`, "javascript:alert(1)", "/\t/evil.example"} {
		b.do(chromedp.Navigate(base + "/@signin?next=" + url.QueryEscape(next)))
		b.waitFor(`location.pathname === "/@signin"`)
		b.do(
			chromedp.SetValue(chromedp.CSS("#username"), "alice"),
			chromedp.SetValue(chromedp.CSS("#password"), alicePassword),
			chromedp.Submit(chromedp.CSS("#password")),
		)
		b.waitFor(`location.pathname !== "/@signin"`)
		if got := b.eval(`location.href`); got != `"`+base+`/"` {
			t.Errorf("next=%q: landed on %s, want %s/", next, got, base)
		}
		b.signOut(base)
	}
}

// browser runs steps in a Chromium tab, failing the test on error.
type browser struct {
	t   *testing.T
	ctx context.Context
}

func (b *browser) do(steps ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	if err := chromedp.Do(b.ctx, steps...); err != nil {
		b.t.Fatalf("chromium: %v", err)
	}
}

// eval returns the JSON of a JavaScript expression's value.
func (b *browser) eval(expr string) string {
	b.t.Helper()
	v, err := chromedp.Run(b.ctx, chromedp.Evaluate[string](`JSON.stringify(`+expr+`)`))
	if err != nil {
		b.t.Fatalf("evaluating %s: %v", expr, err)
	}
	return v
}

// waitFor polls a JavaScript condition until it holds. A navigation
// during the poll ends it; it is started again in the new page.
func (b *browser) waitFor(cond string) {
	b.t.Helper()
	for {
		_, err := chromedp.Run(b.ctx, chromedp.Poll[bool](cond))
		if err == nil {
			return
		}
		if b.ctx.Err() != nil || !strings.Contains(err.Error(), "navigated") && !strings.Contains(err.Error(), "context") {
			b.t.Fatalf("waiting for %s (at %s): %v", cond, b.eval("location.href"), err)
		}
	}
}

func (b *browser) assertFocus(id string) {
	b.t.Helper()
	if got := b.eval(`document.activeElement.id`); got != `"`+id+`"` {
		b.t.Fatalf("focus is on %s, want #%s", got, id)
	}
}

// assertLabelled checks that every visible input of the page has a label.
func (b *browser) assertLabelled() {
	b.t.Helper()
	unlabelled := b.eval(`[...document.querySelectorAll("input:not([type=hidden])")].filter(i => i.labels.length === 0 && !i.getAttribute("aria-labelledby")).map(i => i.id)`)
	if unlabelled != "[]" {
		b.t.Errorf("inputs without a label on %s: %s", b.eval("location.pathname"), unlabelled)
	}
}

// signOut signs out with the account page's button.
func (b *browser) signOut(base string) {
	b.t.Helper()
	b.do(chromedp.Navigate(base + "/@account"))
	b.waitFor(`location.pathname === "/@account" && document.readyState === "complete"`)
	b.do(chromedp.Click(chromedp.CSS("#signout")))
	b.waitFor(`location.pathname === "/@signin"`)
}

func (b *browser) screenshot(file string) {
	b.t.Helper()
	b.do(chromedp.EmulateViewport(720, 560))
	png, err := chromedp.Run(b.ctx, chromedp.CaptureScreenshot())
	if err != nil {
		b.t.Fatalf("screenshot: %v", err)
	}
	if err := os.WriteFile(file, png, 0o644); err != nil {
		b.t.Fatal(err)
	}
}

// getWithToken sends GET url with an API token and returns the status.
func getWithToken(t *testing.T, url, key string) int {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Token "+key)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}
