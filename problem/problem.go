// Package problem writes RFC 9457 "problem details" error responses.
package problem

import (
	"net/http"
	"strconv"
	"sync"
	"time"
	"unicode/utf8"
)

// NoCredentials is the detail of a 401 for a request that carried no
// credential (NetBox's wording).
const NoCredentials = "Authentication credentials were not provided."

// StoreUnavailable is the detail of a 503 when the store fails.
const StoreUnavailable = "The credential store is unavailable; try again later."

// Details is the RFC 9457 problem object.
type Details struct {
	Type   string `json:"type"`
	Title  string `json:"title"`
	Status int    `json:"status"`
	Detail string `json:"detail"`
}

// Write sends status with an application/problem+json body.
func Write(w http.ResponseWriter, status int, detail string) {
	write(w, status, detail, "")
}

// Unauthorized sends a 401 with the given WWW-Authenticate challenge (none
// when empty).
func Unauthorized(w http.ResponseWriter, challenge, detail string) {
	write(w, http.StatusUnauthorized, detail, challenge)
}

// write sends the problem with the WWW-Authenticate challenge, if any. It
// is on the path of every refused credential, so it allocates little: the
// body is encoded without reflection (Append) into a pooled buffer, and
// the header values share one new array (never a shared one: a later
// handler may edit values in place).
func write(w http.ResponseWriter, status int, detail, challenge string) {
	values := []string{"application/problem+json", "no-store", "nosniff", challenge}
	h := w.Header()
	h["Content-Type"] = values[0:1:1]
	h["Cache-Control"] = values[1:2:2]
	h["X-Content-Type-Options"] = values[2:3:3]
	if challenge != "" {
		h["Www-Authenticate"] = values[3:4:4]
	}
	buf := bodies.Get().(*[]byte)
	body := Append((*buf)[:0], status, detail)
	w.WriteHeader(status)
	_, _ = w.Write(body) // a Writer does not keep what it is given
	if cap(body) <= maxPooledBody {
		*buf = body
		bodies.Put(buf)
	}
}

// bodies are the buffers problem bodies are encoded in: the Writer is an
// interface, so a buffer on the stack would move to the heap each time.
var bodies = sync.Pool{New: func() any {
	b := make([]byte, 0, 256)
	return &b
}}

// maxPooledBody bounds a pooled buffer: one grown by an odd long detail is
// dropped.
const maxPooledBody = 1024

// Append appends the problem's JSON body to dst: the bytes json.Marshal of
// Details{"about:blank", the status text, status, detail} makes.
func Append(dst []byte, status int, detail string) []byte {
	if head, ok := heads[status]; ok {
		dst = append(dst, head...)
	} else {
		dst = appendHead(dst, status)
	}
	dst = appendJSONString(dst, detail)
	return append(dst, '}')
}

// appendHead appends the body up to the detail's value.
func appendHead(dst []byte, status int) []byte {
	dst = append(dst, `{"type":"about:blank","title":`...)
	dst = appendJSONString(dst, http.StatusText(status))
	dst = append(dst, `,"status":`...)
	dst = strconv.AppendInt(dst, int64(status), 10)
	return append(dst, `,"detail":`...)
}

// heads are appendHead's bytes for the statuses this handler answers
// with, made once.
var heads = func() map[int]string {
	m := map[int]string{}
	for _, status := range []int{
		http.StatusBadRequest, http.StatusUnauthorized, http.StatusForbidden, http.StatusNotFound,
		http.StatusMethodNotAllowed, http.StatusConflict, http.StatusRequestEntityTooLarge,
		http.StatusUnsupportedMediaType, http.StatusTooManyRequests, http.StatusInternalServerError,
		http.StatusServiceUnavailable,
	} {
		m[status] = string(appendHead(nil, status))
	}
	return m
}()

// appendJSONString appends s as a JSON string exactly as encoding/json
// writes it: `"`, `\` and control characters escaped, `<`, `>`, `&`,
// U+2028 and U+2029 as \u escapes, and invalid UTF-8 replaced by U+FFFD.
func appendJSONString(dst []byte, s string) []byte {
	const hex = "0123456789abcdef"
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		if c := s[i]; c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' && c != '<' && c != '>' && c != '&' {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch c {
			case '"', '\\':
				dst = append(dst, '\\', c)
			case '\b':
				dst = append(dst, '\\', 'b')
			case '\f':
				dst = append(dst, '\\', 'f')
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			dst = append(dst, s[start:i]...)
			dst = append(dst, '\\', 'u', '2', '0', '2', hex[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}

// TooManyRequests sends a 429 with Retry-After in whole seconds (at least 1).
func TooManyRequests(w http.ResponseWriter, retryAfter time.Duration, detail string) {
	secs := int64((retryAfter + time.Second - 1) / time.Second)
	if secs < 1 {
		secs = 1
	}
	w.Header().Set("Retry-After", strconv.FormatInt(secs, 10))
	Write(w, http.StatusTooManyRequests, detail)
}
