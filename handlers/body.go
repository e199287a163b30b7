package handlers

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"

	"github.com/caddy-restauth/caddy-restauth/authenticators"
)

// maxBodyBytes bounds endpoint request bodies.
const maxBodyBytes = 64 << 10

// limitBody reads the request body so that one over maxBodyBytes is
// refused with 413, whatever its content type and whether or not the
// endpoint reads it. The body is read in full (it is small) and handed on
// as a buffer, so no parser downstream can meet a cut-off body.
func limitBody(w http.ResponseWriter, r *http.Request) error {
	if r.Body == nil || r.Body == http.NoBody {
		return nil
	}
	body, err := readBody(w, r)
	if err != nil {
		return err
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	return nil
}

// readBody reads the request body: 413 when it is too large, 400 when it
// cannot be read.
func readBody(w http.ResponseWriter, r *http.Request) ([]byte, error) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBodyBytes))
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			return nil, &authenticators.Rejection{Status: http.StatusRequestEntityTooLarge, Detail: "The request body is larger than 64 KiB."}
		}
		return nil, authenticators.BadRequest("The request body could not be read.")
	}
	return body, nil
}

// readJSON decodes the request body into v: 413 when the body is too
// large, 400 when it is not a JSON object of the expected shape.
func readJSON(w http.ResponseWriter, r *http.Request, v any) error {
	body, err := readBody(w, r)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(body, v); err != nil {
		return authenticators.BadRequest("The request body must be a JSON object: " + jsonErrorDetail(err))
	}
	return nil
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
