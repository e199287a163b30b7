package authenticators

import "testing"

func TestBasic(t *testing.T) {
	env := testEnv(t)
	b := &Basic{}
	bind(t, env, b)
	good := basicValue(fuzzUser, fuzzPassword)
	for _, c := range []struct {
		name, header string
		want         outcome
	}{
		{"right password", "Basic " + good, outcome{user: fuzzUser, method: "basic"}},
		{"lower-case scheme", "basic " + good, outcome{user: fuzzUser, method: "basic"}},
		{"no header", "", outcome{}},
		{"other scheme is left to the chain", "Bearer abc", outcome{}},
		{"wrong password", "Basic " + basicValue(fuzzUser, "nope"), outcome{status: 401, detail: "Invalid username or password."}},
		{"unknown user", "Basic " + basicValue("mallory", fuzzPassword), outcome{status: 401, detail: "Invalid username or password."}},
		{"disabled user with right password", "Basic " + basicValue("carol", fuzzPassword), outcome{status: 401, detail: "Invalid username or password."}},
		{"malformed base64", "Basic !!!", outcome{status: 401, detail: "Malformed Basic credentials."}},
		{"no colon", "Basic YWxpY2U=", outcome{status: 401, detail: "Malformed Basic credentials."}},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := withHeader("", "")
			if c.header != "" {
				r.Header.Set("Authorization", c.header)
			}
			id := assertOutcome(t, b, r, c.want)
			if id != nil && (len(id.Roles) != 1 || id.Roles[0] != "editor") {
				t.Fatalf("roles %v, want [editor]", id.Roles)
			}
		})
	}
}

func TestBasicChallenge(t *testing.T) {
	env := testEnv(t)
	for _, c := range []struct {
		b    *Basic
		want []string
	}{
		{&Basic{}, nil},
		{&Basic{Challenge: true, Realm: "Example API"}, []string{`Basic realm="Example API", charset="UTF-8"`}},
	} {
		bind(t, env, c.b)
		if got := c.b.WWWAuthenticate(); len(got) != len(c.want) || (len(got) > 0 && got[0] != c.want[0]) {
			t.Errorf("WWWAuthenticate() = %q, want %q", got, c.want)
		}
	}
}
