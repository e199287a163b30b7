package handlers

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"

	"github.com/caddy-restauth/caddy-restauth/problem"
)

// maxBodyBytes bounds endpoint request bodies.
const maxBodyBytes = 64 << 10

// readJSON decodes the request body into v. On failure it answers the
// request itself (413 when the body is too large, 400 when it is not a JSON
// object of the expected shape) and returns false.
func readJSON(w http.ResponseWriter, r *http.Request, v any) bool {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBodyBytes))
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			problem.Write(w, http.StatusRequestEntityTooLarge, "The request body is larger than 64 KiB.")
			return false
		}
		problem.Write(w, http.StatusBadRequest, "The request body could not be read.")
		return false
	}
	if err := json.Unmarshal(body, v); err != nil {
		problem.Write(w, http.StatusBadRequest, "The request body must be a JSON object: "+jsonErrorDetail(err))
		return false
	}
	return true
}

// jsonErrorDetail describes a decoding error without echoing the input.
func jsonErrorDetail(err error) string {
	var typeErr *json.UnmarshalTypeError
	if errors.As(err, &typeErr) {
		if typeErr.Field != "" {
			return "field " + typeErr.Field + " has the wrong type."
		}
		return "wrong JSON type."
	}
	return "malformed JSON."
}
