package restauth

import (
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
)

// The identity header names used when user_header and roles_header are not
// set.
const (
	defaultUserHeader  = "X-Remote-User"
	defaultRolesHeader = "X-Remote-Roles"
)

// knownIdentityHeaders are the identity header names of every rest_auth
// block loaded in this process, and the defaults. A block registers its
// names when provisioned and withdraws them on cleanup, so during a reload
// the names of the old and the new configuration are both known.
var knownIdentityHeaders = newHeaderRegistry(defaultUserHeader, defaultRolesHeader)

// headerRegistry is a reference-counted set of header names, read on every
// request without locking.
type headerRegistry struct {
	mu       sync.Mutex
	defaults []string
	refs     map[string]int // canonical name → number of blocks using it
	snapshot atomic.Pointer[headerNameSet]
}

func newHeaderRegistry(defaults ...string) *headerRegistry {
	r := &headerRegistry{defaults: defaults, refs: map[string]int{}}
	r.publish()
	return r
}

// add registers names once more.
func (r *headerRegistry) add(names ...string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, n := range names {
		r.refs[http.CanonicalHeaderKey(n)]++
	}
	r.publish()
}

// remove withdraws names registered by add.
func (r *headerRegistry) remove(names ...string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, n := range names {
		n = http.CanonicalHeaderKey(n)
		if r.refs[n]--; r.refs[n] <= 0 {
			delete(r.refs, n)
		}
	}
	r.publish()
}

// set holds the defaults and every registered name. It is shared:
// callers must not modify it.
func (r *headerRegistry) set() *headerNameSet { return r.snapshot.Load() }

// publish replaces the snapshot; r.mu is held (or r is new).
func (r *headerRegistry) publish() {
	names := slices.Clone(r.defaults)
	for n := range r.refs {
		if !equivalentToAny(n, names) {
			names = append(names, n)
		}
	}
	r.snapshot.Store(newHeaderNameSet(names...))
}
