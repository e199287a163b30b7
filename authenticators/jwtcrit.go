package authenticators

import "errors"

// errCriticalExtension refuses every token whose header has `crit`.
var errCriticalExtension = errors.New("the token names critical extensions (crit), and none is understood here")

// checkNoCritical enforces RFC 7515 §4.1.11: `crit` lists extensions the
// recipient must understand, else the token is invalid. This verifier
// understands none, so any `crit` (even an empty or malformed one, which
// the RFC forbids anyway) makes the token invalid.
func checkNoCritical(header map[string]any) error {
	if _, ok := header["crit"]; ok {
		return errCriticalExtension
	}
	return nil
}
