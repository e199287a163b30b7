package handlers

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"

	"github.com/caddy-restauth/caddy-restauth/identity"
	"github.com/caddy-restauth/caddy-restauth/problem"
)

// maxBodyBytes bounds endpoint request bodies.
const maxBodyBytes = 64 << 10

// limitBody wraps an endpoint so that a request body over maxBodyBytes is
// answered 413, whatever its content type and whether or not the endpoint
// reads it. The body is read in full (it is small) and handed on as a
// buffer, so no parser downstream can meet a cut-off body.
func limitBody(route Route) Route {
	return func(w http.ResponseWriter, r *http.Request, id *identity.Identity, rest string) {
		if r.Body != nil && r.Body != http.NoBody {
			body, ok := readBody(w, r)
			if !ok {
				return
			}
			r.Body = io.NopCloser(bytes.NewReader(body))
		}
		route(w, r, id, rest)
	}
}

// readBody reads the request body. On failure it answers the request itself
// (413 when the body is too large, 400 when it cannot be read) and returns
// false.
func readBody(w http.ResponseWriter, r *http.Request) ([]byte, bool) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBodyBytes))
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			problem.Write(w, http.StatusRequestEntityTooLarge, "The request body is larger than 64 KiB.")
			return nil, false
		}
		problem.Write(w, http.StatusBadRequest, "The request body could not be read.")
		return nil, false
	}
	return body, true
}

// readJSON decodes the request body into v. On failure it answers the
// request itself (413 when the body is too large, 400 when it is not a JSON
// object of the expected shape) and returns false.
func readJSON(w http.ResponseWriter, r *http.Request, v any) bool {
	body, ok := readBody(w, r)
	if !ok {
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
