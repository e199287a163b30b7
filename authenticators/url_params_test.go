package authenticators

import (
	"net/http/httptest"
	"testing"
)

func TestURLParamsScrub(t *testing.T) {
	cases := []struct{ in, want, wantRaw string }{
		{"/api/user/alice/password/secret/items?x=1", "/api/items", ""},
		{"/user/alice/password/secret", "/", ""},
		{"/user/a/password/p1/x/user/b/password/p2/y", "/x/y", ""},
		{"/user/alice/password/a%2Fb/items", "/items", ""},
		{"/files/a%2Fb/user/alice/password/s/c", "/files/a/b/c", "/files/a%2Fb/c"},
		{"/user/alice/pass%77ord/s/x", "/user/alice/password/s/x", ""}, // not literal: not a credential
	}
	u := &URLParams{}
	for _, c := range cases {
		r := httptest.NewRequest("GET", c.in, nil)
		u.Scrub(r)
		if r.URL.Path != c.want {
			t.Errorf("Scrub(%q) path = %q, want %q", c.in, r.URL.Path, c.want)
		}
		if c.wantRaw != "" && r.URL.EscapedPath() != c.wantRaw {
			t.Errorf("Scrub(%q) escaped path = %q, want %q", c.in, r.URL.EscapedPath(), c.wantRaw)
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
