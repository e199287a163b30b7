package authenticators

import "testing"

func TestDotAuth(t *testing.T) {
	env := testEnv(t)
	for _, c := range []struct {
		name, configured, header, value string
		want                            outcome
	}{
		{"right password", "", "DOTAUTH", basicValue(fuzzUser, fuzzPassword), outcome{user: fuzzUser, method: "dotauth"}},
		{"header name in any case", "", "dotauth", basicValue(fuzzUser, fuzzPassword), outcome{user: fuzzUser, method: "dotauth"}},
		{"configured header", "X-Dot", "X-Dot", basicValue(fuzzUser, fuzzPassword), outcome{user: fuzzUser, method: "dotauth"}},
		{"default header ignored when renamed", "X-Dot", "DOTAUTH", basicValue(fuzzUser, fuzzPassword), outcome{}},
		{"no header", "", "", "", outcome{}},
		{"wrong password", "", "DOTAUTH", basicValue(fuzzUser, "nope"), outcome{status: 401, detail: "Invalid username or password."}},
		{"malformed", "", "DOTAUTH", "!!!", outcome{status: 401, detail: "Malformed Dotauth credentials."}},
	} {
		t.Run(c.name, func(t *testing.T) {
			a := &DotAuth{Header: c.configured}
			bind(t, env, a)
			r := withHeader(c.header, c.value)
			assertOutcome(t, a, r, c.want)
			a.Scrub(r)
			if r.Header.Get(a.Header) != "" {
				t.Fatalf("Scrub left the %s header", a.Header)
			}
		})
	}
}
