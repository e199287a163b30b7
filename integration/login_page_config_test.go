package integration

import "testing"

// TestLoginPageConfigErrors: login_page mistakes fail `caddy adapt` on
// their line.
func TestLoginPageConfigErrors(t *testing.T) {
	assertConfigErrors(t, []configCase{
		{"relative path", "login_page signin", `path "signin" must be a plain path starting with /`},
		{"two arguments", "login_page /a /b", "the only argument is the page's path"},
		{"unknown option", "login_page {\n\t\t\tcolour blue\n\t\t}", `unknown option "colour"`},
		{"path twice", "login_page /a {\n\t\t\tpath /b\n\t\t}", "path given twice"},
		{"title without value", "login_page {\n\t\t\ttitle\n\t\t}", "wrong argument count"},
		{"endpoints off", "endpoints off\n\t\tlogin_page", "login_page needs the endpoints"},
	})
}

// TestLoginPageLoadErrors: what only loading can find stops the config.
func TestLoginPageLoadErrors(t *testing.T) {
	assertLoadErrors(t, []configCase{
		{"no session", "order basic\n\t\tlogin_page", "add the session authenticator to the chain"},
		{"missing template", "login_page {\n\t\t\ttemplate /nonexistent/signin.html\n\t\t}", "login_page: reading template"},
	})
}
