package authenticators

import (
	"bytes"
	"encoding/base64"
	"net/http"
	"slices"
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
	case len(values) == 1 && strings.TrimSpace(values[0]) == "":
		return Invalid("The request has an empty " + name + " header; send a credential in it or leave it out.")
	}
	return nil
}

// decodeUserPass decodes base64("user:password") as used by Basic (RFC 7617)
// and dotCMS's DOTAUTH header.
func decodeUserPass(encoded string) (user, password []byte, ok bool) {
	raw, err := base64.StdEncoding.DecodeString(encoded)
	if err != nil {
		return nil, nil, false
	}
	user, password, ok = bytes.Cut(raw, []byte{':'})
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
// headers and keeps the others. It parses nothing when none is present.
func removeCookies(r *http.Request, names ...string) {
	present := false
	for _, n := range names {
		if _, ok := cookieValue(r, n); ok {
			present = true
		}
	}
	if !present {
		return
	}
	cookies := r.Cookies()
	r.Header.Del("Cookie")
	for _, c := range cookies {
		if !slices.Contains(names, c.Name) {
			r.AddCookie(c)
		}
	}
}
