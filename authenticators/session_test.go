package authenticators

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

func TestSession(t *testing.T) {
	env := testEnv(t)
	s := &Session{}
	if err := s.Validate(); err != nil {
		t.Fatal(err)
	}
	bind(t, env, s)
	acct, _ := env.Users.Lookup(fuzzUser)
	w := httptest.NewRecorder()
	if err := s.Start(w, httptest.NewRequest(http.MethodPost, "/@session", nil), acct); err != nil {
		t.Fatalf("Start: %v", err)
	}
	cookies := w.Result().Cookies()
	if len(cookies) != 2 || cookies[0].Name != "sessionid" || !cookies[0].HttpOnly || cookies[1].Name != "csrftoken" || cookies[1].HttpOnly {
		t.Fatalf("cookies %v; want an HttpOnly sessionid and a script-readable csrftoken", cookies)
	}
	request := func(method, csrf string) *http.Request {
		r := httptest.NewRequest(method, "/", nil)
		for _, c := range cookies {
			r.AddCookie(c)
		}
		if csrf != "" {
			r.Header.Set("X-CSRFToken", csrf)
		}
		return r
	}
	for _, c := range []struct {
		name string
		r    *http.Request
		want outcome
	}{
		{"GET", request(http.MethodGet, ""), outcome{user: fuzzUser, method: "session"}},
		{"POST with the CSRF token", request(http.MethodPost, cookies[1].Value), outcome{user: fuzzUser, method: "session"}},
		{"POST without the CSRF token", request(http.MethodPost, ""), outcome{status: http.StatusForbidden}},
		{"POST with the session id as CSRF token", request(http.MethodPost, cookies[0].Value), outcome{status: http.StatusForbidden}},
		{"unknown session", withHeader("Cookie", "sessionid=nosuchsession"), outcome{status: http.StatusUnauthorized}},
		{"no cookie", withHeader("", ""), outcome{}},
	} {
		t.Run(c.name, func(t *testing.T) { assertOutcome(t, s, c.r, c.want) })
	}

	// End forgets the session and expires both cookies.
	w = httptest.NewRecorder()
	if err := s.End(w, request(http.MethodPost, cookies[1].Value)); err != nil {
		t.Fatalf("End: %v", err)
	}
	for _, c := range w.Result().Cookies() {
		if c.MaxAge >= 0 {
			t.Fatalf("End kept cookie %s", c)
		}
	}
	assertOutcome(t, s, request(http.MethodGet, ""), outcome{status: http.StatusUnauthorized})
}
