package restauth

import (
	"encoding/base64"
	"net/http"
	"testing"
)

// TestAmbiguousCredentialHeaders: an empty credential header, or more than
// one, is a problem answer, never anonymous access (an empty first
// Authorization header used to hide a wrong second one).
func TestAmbiguousCredentialHeaders(t *testing.T) {
	up := newUpstream(t)
	tester := startCaddy(t, siteConfig(t, "anonymous read\n\t\torder basic jwt token session dotauth", up.addr()))
	dotauth := func(user, password string) string {
		return base64.StdEncoding.EncodeToString([]byte(user + ":" + password))
	}
	cases := []struct {
		name   string
		header string
		values []string
		status int
		detail string
	}{
		{"empty Authorization before a wrong one", "Authorization", []string{"", basicHeader("bob", "wrong")}, 400, "more than one Authorization header"},
		{"right and wrong Authorization", "Authorization", []string{basicHeader("bob", bobPassword), basicHeader("bob", "wrong")}, 400, "more than one Authorization header"},
		{"two right Authorization", "Authorization", []string{basicHeader("bob", bobPassword), basicHeader("bob", bobPassword)}, 400, "more than one Authorization header"},
		{"empty Authorization", "Authorization", []string{""}, 401, "empty Authorization header"},
		{"empty DOTAUTH before a wrong one", "DOTAUTH", []string{"", dotauth("bob", "wrong")}, 400, "more than one Dotauth header"},
		{"two right DOTAUTH", "DOTAUTH", []string{dotauth("bob", bobPassword), dotauth("bob", bobPassword)}, 400, "more than one Dotauth header"},
		{"empty DOTAUTH", "DOTAUTH", []string{""}, 401, "empty Dotauth header"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			resp, body := callHeaders(t, tester, "GET", httpBase+"/x", http.Header{c.header: c.values}, "")
			assertProblem(t, resp, body, c.status, c.detail)
		})
	}
	if up.count() != 0 {
		t.Errorf("the upstream received %d requests with ambiguous credentials", up.count())
	}
}
