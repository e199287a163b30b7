package authenticators

import (
	"context"
	"net/http/httptest"
	"testing"

	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
)

func TestTakeURLCredentials(t *testing.T) {
	cases := []struct{ in, want, wantRaw, wantURI, user, password string }{
		{"/api/user/alice/password/secret/items?x=1", "/api/items", "", "/api/items?x=1", "alice", "secret"},
		{"/user/alice/password/secret", "/", "", "/", "alice", "secret"},
		{"/user/a/password/p1/x/user/b/password/p2/y", "/x/y", "", "/x/y", "a", "p1"},
		{"/user/alice/password/a%2Fb/items", "/items", "", "/items", "alice", "a%2Fb"},
		{"/files/a%2Fb/user/alice/password/s/c", "/files/a/b/c", "/files/a%2Fb/c", "/files/a%2Fb/c", "alice", "s"},
		{"/user/alice/pass%77ord/s/x", "/user/alice/password/s/x", "", "/user/alice/pass%77ord/s/x", "", ""}, // not literal: not a credential
	}
	for _, c := range cases {
		r := httptest.NewRequest("GET", c.in, nil)
		r = r.WithContext(context.WithValue(r.Context(), caddyhttp.VarsCtxKey, map[string]any{}))
		took := TakeURLCredentials(r)
		if r.URL.Path != c.want || r.RequestURI != c.wantURI {
			t.Errorf("TakeURLCredentials(%q): path %q, request URI %q; want %q, %q", c.in, r.URL.Path, r.RequestURI, c.want, c.wantURI)
		}
		if c.wantRaw != "" && r.URL.EscapedPath() != c.wantRaw {
			t.Errorf("TakeURLCredentials(%q) escaped path = %q, want %q", c.in, r.URL.EscapedPath(), c.wantRaw)
		}
		m, _ := caddyhttp.GetVar(r.Context(), urlCredentialsVar).(*urlCredentials)
		if took != (c.user != "") || (m != nil) != took || (m != nil && (m.user != c.user || m.password != c.password)) {
			t.Errorf("TakeURLCredentials(%q) = %v, handed over %+v; want user %q password %q", c.in, took, m, c.user, c.password)
		}
		if HasURLCredentials(r) {
			t.Errorf("TakeURLCredentials(%q) left credentials in the path", c.in)
		}
	}
}

func TestFindURLCredentials(t *testing.T) {
	m, ok := findURLCredentials("/x/user/al%20ice/password/p%2Fw/y")
	if !ok || m.user != "al%20ice" || m.password != "p%2Fw" {
		t.Fatalf("got %+v %v", m, ok)
	}
	if _, ok := findURLCredentials("/user/alice%2Fpassword%2Fsecret"); ok {
		t.Fatal("an encoded slash must not make a credential")
	}
}
