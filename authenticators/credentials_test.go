package authenticators

import (
	"net/http"
	"slices"
	"testing"
)

// TestRemoveCookies: the session cookies never reach the upstream, in any
// spelling a cookie parser reads as theirs, and every other cookie does,
// as it was sent.
func TestRemoveCookies(t *testing.T) {
	tests := []struct {
		name string
		in   []string
		want []string // nil: no Cookie header left
	}{
		{"only the session", []string{"sessionid=abc"}, nil},
		{"both session cookies", []string{"sessionid=abc; csrftoken=def"}, nil},
		{"others kept in order", []string{"a=1; sessionid=abc; b=2"}, []string{"a=1; b=2"}},
		{"spaces around the name", []string{"sessionid =abc;  csrftoken= x ; theme=dark"}, []string{"theme=dark"}},
		{"several lines", []string{"sessionid=abc", "a=1; csrftoken=x"}, []string{"a=1"}},
		{"twice", []string{"sessionid=a; sessionid=b"}, nil},
		{"prefix of another name stays", []string{"sessionidx=1; xsessionid=2"}, []string{"sessionidx=1; xsessionid=2"}},
		{"none present: untouched", []string{"a=1;b=2"}, []string{"a=1;b=2"}},
		{"malformed parts kept", []string{"sessionid=abc; novalue; =x"}, []string{"novalue; =x"}},
		// Spellings other servers read as the same name.
		{"another case", []string{"SessionId=abc; CSRFTOKEN=x; a=1"}, []string{"a=1"}},
		{"percent-encoded name", []string{"session%69d=abc; a=1"}, []string{"a=1"}},
		{"after a comma", []string{"other=1, sessionid=abc; a=1"}, []string{"a=1"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r, _ := http.NewRequest(http.MethodGet, "/", nil)
			r.Header["Cookie"] = slices.Clone(tc.in)
			removeCookies(r, "sessionid", "csrftoken")
			got, ok := r.Header["Cookie"]
			if tc.want == nil {
				if ok {
					t.Fatalf("Cookie header %q left, want none", got)
				}
				return
			}
			if !slices.Equal(got, tc.want) {
				t.Fatalf("Cookie %q, want %q", got, tc.want)
			}
		})
	}
}
