package store

import "errors"

// ErrUnavailable is wrapped by errors that come from the backend being
// unreachable (e.g. Redis down or timing out), as opposed to a record
// problem. The backend logs such an outage once; callers need not log every
// request that fails because of it.
var ErrUnavailable = errors.New("store unavailable")
