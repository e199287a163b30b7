// Package problem writes RFC 9457 "problem details" error responses.
package problem

import (
	"encoding/json"
	"net/http"
	"strconv"
	"time"
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
	body, _ := json.Marshal(Details{
		Type:   "about:blank",
		Title:  http.StatusText(status),
		Status: status,
		Detail: detail,
	})
	h := w.Header()
	h.Set("Content-Type", "application/problem+json")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// Unauthorized sends a 401 with the given WWW-Authenticate challenge (none
// when empty).
func Unauthorized(w http.ResponseWriter, challenge, detail string) {
	if challenge != "" {
		w.Header().Set("WWW-Authenticate", challenge)
	}
	Write(w, http.StatusUnauthorized, detail)
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
