package authenticators

import (
	"bytes"
	"encoding/base64"
	"net/http"
	"net/url"
	"strings"
)

// authorization returns the credentials of the Authorization header when
// its scheme is scheme (compared case-insensitively, RFC 9110 §11.1).
func authorization(header []string, scheme string) (string, bool) {
	if len(header) == 0 {
		return "", false
	}
	v := header[0]
	if len(v) <= len(scheme) || v[len(scheme)] != ' ' || !strings.EqualFold(v[:len(scheme)], scheme) {
		return "", false
	}
	return strings.TrimLeft(v[len(scheme)+1:], " "), true
}

// SingleCredentialHeader refuses a credential header (name in canonical
// form) that a request sends more than once or empty; absent is fine.
// Which of two copies counts would be a guess that a proxy or the upstream
// may make otherwise, so a repeated header is a 400; an empty one is a
// credential that says nothing, so a 401. Neither is ever anonymous.
func SingleCredentialHeader(h http.Header, name string) error {
	values := h[name]
	switch {
	case len(values) > 1:
		return &Rejection{Status: http.StatusBadRequest,
			Detail: "The request has more than one " + name + " header; send exactly one."}
	case len(values) == 1 && isBlank(values[0]):
		return Invalid("The request has an empty " + name + " header; send a credential in it or leave it out.")
	}
	return nil
}

// userPassBuffer holds a decoded user:password on the stack; a longer one
// is decoded into a new array.
type userPassBuffer [256]byte

// isBlank reports whether v is empty or only spaces and tabs (what a
// server leaves of a header's value; looked at from the start only, so a
// credential costs nothing to check).
func isBlank(v string) bool {
	for i := 0; i < len(v); i++ {
		if v[i] != ' ' && v[i] != '\t' {
			return false
		}
	}
	return true
}

// decodeUserPass decodes base64("user:password") as used by Basic (RFC 7617)
// and dotCMS's DOTAUTH header, into buf when it fits.
func decodeUserPass(buf *userPassBuffer, encoded string) (user, password []byte, ok bool) {
	dst := buf[:]
	if n := base64.StdEncoding.DecodedLen(len(encoded)); n > len(dst) {
		dst = make([]byte, n)
	}
	n, err := base64.StdEncoding.Decode(dst, []byte(encoded))
	if err != nil {
		return nil, nil, false
	}
	user, password, ok = bytes.Cut(dst[:n], []byte{':'})
	if !ok || len(user) == 0 {
		return nil, nil, false
	}
	return user, password, true
}

// isAPITokenKey reports whether a credential is an API token key (a Bearer
// value that is not a JWT).
func isAPITokenKey(v string) bool { return strings.HasPrefix(v, TokenPrefix) }

// cookieValue returns the value of the named cookie in the request's
// Cookie headers, without parsing (and allocating) the others.
func cookieValue(r *http.Request, name string) (string, bool) {
	for _, line := range r.Header["Cookie"] {
		for part := range strings.SplitSeq(line, ";") {
			part = strings.TrimSpace(part)
			if len(part) > len(name) && part[len(name)] == '=' && part[:len(name)] == name {
				v := part[len(name)+1:]
				if len(v) > 1 && v[0] == '"' && v[len(v)-1] == '"' {
					v = v[1 : len(v)-1]
				}
				return v, v != ""
			}
		}
	}
	return "", false
}

// removeCookies deletes the named cookies from the request's Cookie
// headers and keeps the others as they were sent. A cookie counts as named
// when its name, with the spaces around it trimmed, is one of names (as
// Go's and most servers' cookie parsers read it). Nothing is allocated
// when none is present or when no other cookie is left.
func removeCookies(r *http.Request, names ...string) {
	lines := r.Header["Cookie"]
	present, others := false, false
	for _, line := range lines {
		for part := range strings.SplitSeq(line, ";") {
			switch {
			case cookieNamed(part, names):
				present = true
			case strings.TrimSpace(part) != "":
				others = true
			}
		}
	}
	if !present {
		return
	}
	if !others { // only the named cookies: nothing to rewrite
		delete(r.Header, "Cookie")
		return
	}
	var kept []string
	for _, line := range lines {
		var b strings.Builder
		for part := range strings.SplitSeq(line, ";") {
			part = strings.TrimSpace(part)
			if part == "" || cookieNamed(part, names) {
				continue
			}
			if b.Len() > 0 {
				b.WriteString("; ")
			}
			b.WriteString(part)
		}
		if b.Len() > 0 {
			kept = append(kept, b.String())
		}
	}
	if len(kept) == 0 {
		delete(r.Header, "Cookie")
		return
	}
	r.Header["Cookie"] = kept
}

// cookieNamed reports whether the cookie-pair part is, or holds, one of
// the named cookies in any spelling some server reads as that name: with
// spaces around the name, in another case (ASP.NET), percent-encoded
// (PHP), or after a comma inside the part (older Rack splits there).
func cookieNamed(part string, names []string) bool {
	for piece := range strings.SplitSeq(part, ",") {
		name, _, _ := strings.Cut(piece, "=")
		name = strings.TrimSpace(name)
		if strings.Contains(name, "%") {
			if decoded, err := url.PathUnescape(name); err == nil {
				name = decoded
			}
		}
		for _, n := range names {
			if strings.EqualFold(name, n) {
				return true
			}
		}
	}
	return false
}
