package handlers

import (
	"bytes"
	"embed"
	"fmt"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"html/template"
	"net/http"
	"os"
	"path"
	"strings"

	"go.uber.org/zap"

	"github.com/caddy-restauth/caddy-restauth/authenticators"
	"github.com/caddy-restauth/caddy-restauth/identity"
)

// pageFiles are the sign-in and account pages: HTML templates, a
// stylesheet and the account page's script. No build step.
//
//go:embed pages
var pageFiles embed.FS

var builtinPages = template.Must(template.ParseFS(pageFiles, "pages/*.html"))

// pageAssets are served as they are under <base>account/.
var pageAssets = map[string]string{
	"style.css":  "text/css; charset=utf-8",
	"account.js": "text/javascript; charset=utf-8",
}

// pageCSP allows the pages nothing but their own stylesheet, script and
// JSON endpoints: no inline script or style, no framing, forms post only
// here.
const pageCSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; " +
	"form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

// pages is the state of an enabled login_page.
type pages struct {
	signinPath string
	assetBase  string // <base>account/
	title      string
	signin     *template.Template
}

// EnableLoginPage serves the sign-in page and /@account. It needs the
// session authenticator in the chain; a template file is read and parsed
// now, so a broken one fails the config load.
func (e *Endpoints) EnableLoginPage(cfg LoginPage) error {
	if e.sessions == nil {
		return fmt.Errorf("login_page signs in with a cookie session: add the session authenticator to the chain (it is in the default chain)")
	}
	p := &pages{
		signinPath: cfg.Path,
		assetBase:  e.base + "account/",
		title:      cfg.Title,
		signin:     builtinPages.Lookup("signin.html"),
	}
	if p.signinPath == "" {
		p.signinPath = e.base + "signin"
	}
	if p.title == "" {
		p.title = "Sign in"
	}
	if cfg.Template != "" {
		src, err := os.ReadFile(cfg.Template)
		if err != nil {
			return fmt.Errorf("login_page: reading template: %w", err)
		}
		t, err := template.New(path.Base(cfg.Template)).Parse(string(src))
		if err != nil {
			return fmt.Errorf("login_page: template %s: %w", cfg.Template, err)
		}
		// Try it once so that a field name that does not exist fails now.
		if err := t.Execute(new(bytes.Buffer), signinData{Title: p.title, Action: p.signinPath, Next: "/"}); err != nil {
			return fmt.Errorf("login_page: template %s: %w", cfg.Template, err)
		}
		p.signin = t
	}
	e.pages = p
	e.routes["account"] = e.account
	return nil
}

// setPageHeaders sets the security headers of an HTML page.
func setPageHeaders(h http.Header) {
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Content-Security-Policy", pageCSP)
	h.Set("X-Frame-Options", "DENY")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "same-origin")
	h.Set("Cache-Control", "no-store")
}

// renderSignin answers with the sign-in page.
func (e *Endpoints) renderSignin(w http.ResponseWriter, r *http.Request, status int, data signinData) {
	prefix := mountPrefix(r)
	data.Title = e.pages.title
	data.Action = prefix + e.pages.signinPath
	data.Stylesheet = prefix + e.pages.assetBase + "style.css"
	e.render(w, status, e.pages.signin, data)
}

// mountPrefix is the start of the path that a route in front of the
// handler cut off (handle_path, uri strip_prefix): the pages' links and
// redirects are what the browser requests, so they carry it. It is found
// by comparing the path as the request arrived with the path now; "" when
// nothing was cut from the front.
func mountPrefix(r *http.Request) string {
	orig, ok := r.Context().Value(caddyhttp.OriginalRequestCtxKey).(http.Request)
	if !ok || orig.URL == nil {
		return ""
	}
	full, now := orig.URL.EscapedPath(), r.URL.EscapedPath()
	if len(full) <= len(now) || !strings.HasSuffix(full, now) || !strings.HasPrefix(full, "/") {
		return ""
	}
	prefix := full[:len(full)-len(now)]
	if strings.HasSuffix(prefix, "/") && strings.HasPrefix(now, "/") {
		prefix = strings.TrimSuffix(prefix, "/")
	}
	if prefix == "" || strings.Contains(prefix, "//") {
		return ""
	}
	return prefix
}

// render executes t into a buffer first, so that a failing template is a
// clean 500 rather than half a page.
func (e *Endpoints) render(w http.ResponseWriter, status int, t *template.Template, data any) {
	var buf bytes.Buffer
	if err := t.Execute(&buf, data); err != nil {
		e.env.Logger.Error("rendering a page failed", zap.String("template", t.Name()), zap.Error(err))
		http.Error(w, "The page could not be shown.", http.StatusInternalServerError)
		return
	}
	setPageHeaders(w.Header())
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

// isAsset reports whether path is one of the pages' static files.
func (e *Endpoints) isAsset(path string) bool {
	if e.pages == nil || !strings.HasPrefix(path, e.pages.assetBase) {
		return false
	}
	_, ok := pageAssets[path[len(e.pages.assetBase):]]
	return ok
}

// asset serves a stylesheet or script of the pages.
func (e *Endpoints) asset(w http.ResponseWriter, r *http.Request, id *identity.Identity, rest string) error {
	if err := allowMethods(r, http.MethodGet, http.MethodHead); err != nil {
		return err
	}
	name := r.URL.Path[len(e.pages.assetBase):]
	body, err := pageFiles.ReadFile("pages/" + name)
	if err != nil {
		return authenticators.NotFound("There is no such file.")
	}
	w.Header().Set("Content-Type", pageAssets[name])
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Header().Set("Cache-Control", "no-cache")
	_, _ = w.Write(body)
	return nil
}
