package authenticators

import (
	"crypto/rand"
	"encoding/hex"
	"net/http"

	"go.uber.org/zap"

	"github.com/caddy-restauth/caddy-restauth/identity"
)

// submittedNameKeyBytes is the size of the key that hashes unknown user
// names for the audit trail.
const submittedNameKeyBytes = 32

// submittedNameHashBytes is how much of that hash an entry shows: 64 bits,
// enough to tell names apart in one process's log.
const submittedNameHashBytes = 8

// newSubmittedNameHash makes the keyed hash of unknown user names, under a
// key drawn for this Audit alone and never written anywhere.
func newSubmittedNameHash() identity.KeyedHash {
	var key [submittedNameKeyBytes]byte
	rand.Read(key[:]) // never fails (crypto/rand, Go ≥ 1.24)
	return identity.NewKeyedHash(key[:])
}

// Attempt logs event (login_failed, locked_out) for a user name a client
// submitted with a password. A configured user is logged by name (field
// `user`). Any other name is not: it may be a password typed into the name
// field. It is logged as `user_known: false` and `user_hash`, an HMAC of the
// name under a key of this process, so repeated tries of one name still
// show as one. users (nil: none configured) tells which names are known.
func (a *Audit) Attempt(event string, r *http.Request, users *identity.Directory, name string, fields ...zap.Field) {
	if a == nil {
		return
	}
	if users != nil && users.Configured(name) {
		a.Event(event, r, name, fields...)
		return
	}
	sum := a.names.Sum(name)
	all := make([]zap.Field, 0, 2+len(fields))
	all = append(all, zap.Bool("user_known", false), zap.String("user_hash", hex.EncodeToString(sum[:submittedNameHashBytes])))
	a.Event(event, r, "", append(all, fields...)...)
}
