package handlers

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"

	"github.com/caddy-restauth/caddy-restauth/problem"
)

// maxBodyBytes bounds endpoint request bodies (64 KiB).
const maxBodyBytes = 64 << 10

// readJSON decodes the request body into v. It answers the request itself
// and returns false when the body is too large (413) or is not a JSON
// object matching v (400: malformed, unknown field, wrong type). The
// Content-Type is not checked: clients rarely get it right (curl's
// `--data` declares a form), and a body that is not JSON fails to decode
// anyway. An empty body is an empty object.
func readJSON(w http.ResponseWriter, r *http.Request, v any) bool {
	data, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBodyBytes))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			problem.Write(w, http.StatusRequestEntityTooLarge, "The request body is larger than 64 KiB.")
			return false
		}
		problem.Write(w, http.StatusBadRequest, "The request body could not be read.")
		return false
	}
	data = bytes.TrimSpace(data)
	if len(data) == 0 {
		data = []byte("{}")
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		problem.Write(w, http.StatusBadRequest, "Malformed JSON body: "+jsonErrorDetail(err))
		return false
	}
	if dec.More() {
		problem.Write(w, http.StatusBadRequest, "Malformed JSON body: more than one JSON value.")
		return false
	}
	return true
}

// jsonErrorDetail describes a decoding error without echoing the body,
// which may hold a password.
func jsonErrorDetail(err error) string {
	var syntax *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syntax):
		return "invalid JSON syntax."
	case errors.As(err, &typ):
		if typ.Field != "" {
			return "field " + typ.Field + " has the wrong type (got " + typ.Value + ")."
		}
		return "expected a JSON object."
	case errors.Is(err, io.ErrUnexpectedEOF):
		return "the JSON ends too early."
	}
	// Unknown fields: encoding/json names the field, not its value.
	return err.Error() + "."
}
