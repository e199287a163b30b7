package handlers

import (
	"encoding/json"
	"net/http"

	"github.com/caddy-restauth/caddy-restauth/problem"
)

// writeJSON sends v as a JSON response.
func writeJSON(w http.ResponseWriter, status int, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		problem.Write(w, http.StatusInternalServerError, "The response could not be encoded.")
		return
	}
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write(body)
}
