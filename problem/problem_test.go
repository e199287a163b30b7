package problem

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

// marshalled is the body encoding/json makes of the problem: what Append
// must produce byte for byte.
func marshalled(t testing.TB, status int, detail string) []byte {
	t.Helper()
	want, err := json.Marshal(Details{Type: "about:blank", Title: http.StatusText(status), Status: status, Detail: detail})
	if err != nil {
		t.Fatal(err)
	}
	return want
}

func TestAppendMatchesEncodingJSON(t *testing.T) {
	for _, detail := range []string{
		NoCredentials,
		`quote " backslash \ slash /`,
		"control \x00\x01\b\f\n\r\t\x1f\x7f end",
		"<script>&amp;</script>",
		"line\u2028para\u2029",
		"ünïcödé 日本 🔑",
		"bad utf-8 \xff\xfe \xc3 end",
		"",
	} {
		statuses := []int{599} // a status without a prepared head
		for status := range heads {
			statuses = append(statuses, status)
		}
		for _, status := range statuses {
			if got, want := Append(nil, status, detail), marshalled(t, status, detail); !bytes.Equal(got, want) {
				t.Errorf("Append(%d, %q)\n got %s\nwant %s", status, detail, got, want)
			}
		}
	}
}

// FuzzAppend: for any detail, the hand-written encoder writes exactly what
// encoding/json writes.
func FuzzAppend(f *testing.F) {
	for _, s := range []string{"", NoCredentials, "\x00<\u2028\xff", `"\`} {
		f.Add(401, s)
	}
	f.Fuzz(func(t *testing.T, status int, detail string) {
		if got, want := Append(nil, status, detail), marshalled(t, status, detail); !bytes.Equal(got, want) {
			t.Fatalf("Append(%d, %q)\n got %s\nwant %s", status, detail, got, want)
		}
	})
}

// TestWriteHeaders: a problem carries its media type, no-store, nosniff
// and the challenge of a 401, each in a slice of its own.
func TestWriteHeaders(t *testing.T) {
	w := httptest.NewRecorder()
	Unauthorized(w, `Bearer realm="api"`, NoCredentials)
	res := w.Result()
	if res.StatusCode != 401 {
		t.Fatalf("status %d", res.StatusCode)
	}
	for name, want := range map[string]string{
		"Content-Type":           "application/problem+json",
		"Cache-Control":          "no-store",
		"X-Content-Type-Options": "nosniff",
		"Www-Authenticate":       `Bearer realm="api"`,
	} {
		if got := res.Header[name]; len(got) != 1 || got[0] != want {
			t.Errorf("%s = %q, want %q", name, got, want)
		}
	}
	// A handler that later appends to one header must not change another.
	res.Header["Content-Type"] = append(res.Header["Content-Type"], "x")
	if got := res.Header["Cache-Control"]; len(got) != 1 || got[0] != "no-store" {
		t.Errorf("Cache-Control changed by an append to Content-Type: %q", got)
	}
	var d Details
	if err := json.NewDecoder(res.Body).Decode(&d); err != nil || d.Detail != NoCredentials || d.Status != 401 {
		t.Errorf("body %+v, %v", d, err)
	}

	w = httptest.NewRecorder()
	TooManyRequests(w, 1500*time.Millisecond, "slow down")
	if got := w.Header().Get("Retry-After"); got != "2" {
		t.Errorf("Retry-After %q, want 2", got)
	}
	if _, ok := w.Header()["Www-Authenticate"]; ok {
		t.Error("a 429 carries a challenge")
	}
}
