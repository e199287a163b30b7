package integration

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
)

// urlCredentialsSite is the multi-block site with url_params in a
// snippet: path-scoped rules (@admin, or handle /admin/*) and a catch-all
// with anonymous read. early adds rest_auth_url_params at the top.
func urlCredentialsSite(t *testing.T, early, handleVariant bool, upstreamAddr string) string {
	t.Helper()
	top := ""
	if early {
		top = "rest_auth_url_params\n\t"
	}
	body := fmt.Sprintf(`@admin path /admin/*
	rest_auth @admin {
		import snip
		allow_roles admin
	}
	rest_auth {
		import snip
		anonymous read
	}
	reverse_proxy %s`, upstreamAddr)
	if handleVariant {
		body = fmt.Sprintf(`handle /admin/* {
		rest_auth {
			import snip
			allow_roles admin
		}
		reverse_proxy %[1]s
	}
	handle {
		rest_auth {
			import snip
			anonymous read
		}
		reverse_proxy %[1]s
	}`, upstreamAddr)
	}
	return globalOptions + fmt.Sprintf(`
(snip) {
	users_file %s
	store memory {
		name %s
	}
	order url_params basic jwt token session
}

%s {
	%s%s
}
`, testdataPath(t, "users.json"), storeName(t), httpBase, top, body)
}

// TestURLCredentialsCannotBypassPathRules: bob's URL credentials in front
// of /admin/ never reach the upstream as bob, with the @admin matcher or
// with handle /admin/*. With rest_auth_url_params, the rule for /admin/
// decides (403: bob is no admin); without it, the request is refused (400)
// and nothing is authenticated.
func TestURLCredentialsCannotBypassPathRules(t *testing.T) {
	for _, handleVariant := range []bool{false, true} {
		for _, early := range []bool{true, false} {
			t.Run(fmt.Sprintf("handle=%v/rest_auth_url_params=%v", handleVariant, early), func(t *testing.T) {
				up := newUpstream(t)
				tester := startCaddy(t, urlCredentialsSite(t, early, handleVariant, up.addr()))
				for _, method := range []string{"GET", "DELETE"} {
					resp, body := call(t, tester, method, httpBase+"/user/bob/password/"+bobPassword+"/admin/secret", nil, "")
					if early {
						assertProblem(t, resp, body, http.StatusForbidden, "")
					} else {
						assertProblem(t, resp, body, http.StatusBadRequest, "could not be used safely")
					}
					if up.count() != 0 {
						t.Fatalf("%s: the upstream was reached as %q at %q", method, up.received(t).Get("X-Remote-User"), up.requestURI(t))
					}
				}
				if !early {
					return
				}
				// The one extra line makes URL credentials work, and the
				// rule for /admin/ sees the path the upstream receives.
				for _, c := range []struct{ user, password, path string }{
					{"alice", alicePassword, "/pub/x?q=1"},
					{"dave", davePassword, "/admin/secret"},
				} {
					resp, body := call(t, tester, "GET", httpBase+"/user/"+c.user+"/password/"+c.password+c.path, nil, "")
					if resp.StatusCode != 200 || up.received(t).Get("X-Remote-User") != c.user || up.requestURI(t) != c.path {
						t.Errorf("%s: %d %s; upstream got user %q path %q", c.user, resp.StatusCode, body, up.received(t).Get("X-Remote-User"), up.requestURI(t))
					}
				}
			})
		}
	}
}

// TestURLCredentialsVarCannotBeForged: the vars directive can put only a
// string into the variable that carries URL credentials, and url_params
// ignores it. No placeholder shows the credential or the original path.
func TestURLCredentialsVarCannotBeForged(t *testing.T) {
	up := newUpstream(t)
	tester := startCaddy(t, globalOptions+fmt.Sprintf(`
%s {
	rest_auth_url_params
	vars rest_auth.url_credentials bob:%s
	rest_auth {
		users_file %s
		store memory {
			name %s
		}
		order url_params basic
		anonymous read
	}
	reverse_proxy %s
}
`, httpBase, bobPassword, testdataPath(t, "users.json"), storeName(t), up.addr()))

	resp, body := call(t, tester, "GET", httpBase+"/x", nil, "")
	if resp.StatusCode != 200 || up.received(t).Get("X-Remote-User") != "" {
		t.Fatalf("forged variable: %d %s, upstream user %q; want anonymous", resp.StatusCode, body, up.received(t).Get("X-Remote-User"))
	}

	// Placeholders read after rest_auth_url_params ran.
	up2 := newUpstream(t)
	tester = startCaddy(t, globalOptions+fmt.Sprintf(`
%s {
	rest_auth_url_params
	request_header X-Var {http.vars.rest_auth.url_credentials}
	request_header X-Orig-URI {http.request.orig_uri}
	rest_auth {
		users_file %s
		store memory {
			name %s
		}
		order url_params basic
	}
	reverse_proxy %s
}
`, httpBase, testdataPath(t, "users.json"), storeName(t), up2.addr()))
	resp, body = call(t, tester, "GET", httpBase+"/a/user/alice/password/"+alicePassword+"/b", nil, "")
	got := up2.received(t)
	if resp.StatusCode != 200 || got.Get("X-Remote-User") != "alice" {
		t.Fatalf("url_params: %d %s, upstream user %q", resp.StatusCode, body, got.Get("X-Remote-User"))
	}
	for name, v := range got {
		if strings.Contains(strings.Join(v, ","), alicePassword) {
			t.Errorf("upstream header %s carries the password: %q", name, v)
		}
	}
	if got.Get("X-Orig-URI") != "/a/b" {
		t.Errorf("{http.request.orig_uri} = %q, want the cut /a/b", got.Get("X-Orig-URI"))
	}
}

// TestURLParamsDirectiveTakesNoMatcher: rest_auth_url_params must see every
// request of the site, so a matcher or an argument is a load error.
func TestURLParamsDirectiveTakesNoMatcher(t *testing.T) {
	for _, line := range []string{"rest_auth_url_params /admin/*", "rest_auth_url_params {\n\t\tx\n\t}"} {
		assertLoadError(t, globalOptions+httpBase+" {\n\t"+line+"\n\trespond ok\n}\n", "rest_auth_url_params takes no")
	}
}
