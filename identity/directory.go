package identity

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"maps"
	"runtime"
	"slices"
	"sync/atomic"

	"github.com/caddyserver/caddy/v2/modules/caddyhttp/caddyauth"

	"github.com/caddy-restauth/caddy-restauth/cache"
)

// Account is a configured user as the authenticators see it.
type Account struct {
	// Name is the login name.
	Name string
	// Roles are the user's roles.
	Roles []string
	// RolesJoined is Roles as sent upstream (comma-separated, no spaces).
	RolesJoined string
	// Disabled accounts are refused everywhere.
	Disabled bool
	// NameHash is NameHash(Name), computed once: the form of the name in
	// store keys (the failed-login counters).
	NameHash string

	hash passwordHash
	// identities are the account's immutable identities per password method,
	// built once so that a password request allocates none.
	identities map[string]*Identity
}

// prebuiltMethods are the authenticators whose identities are prebuilt per
// account: those of the password methods and sessions are the account's
// own (no token restrictions); that of jwt is the template TokenIdentity
// copies.
var prebuiltMethods = []string{"basic", "dotauth", "url_params", "session", "jwt"}

// Identity returns the identity of this account for an authenticator
// method. The result is shared: callers must not modify it.
func (a *Account) Identity(method string) *Identity {
	if id, ok := a.identities[method]; ok {
		return id
	}
	return New(a.Name, a.Roles, method, "")
}

// NameHash is how a user name appears in store keys: the hex of the
// first 16 bytes of its SHA-256, so that any bytes a client sends as a name
// make a short, safe key.
func NameHash(name []byte) string {
	var hexName [32]byte
	sum := sha256.Sum256(name)
	hex.Encode(hexName[:], sum[:16])
	return string(hexName[:])
}

// TokenIdentity is the account's identity by method for the token (JWT)
// tokenID: a copy of the prebuilt identity, so that only the token's own
// fields are new.
func (a *Account) TokenIdentity(method, tokenID string) *Identity {
	base, ok := a.identities[method]
	if !ok {
		return New(a.Name, a.Roles, method, tokenID)
	}
	id := base.clone()
	id.TokenID = tokenID
	// Converted now, not when asked for: a verified token's identity is
	// cached and shared by every later request that presents it.
	id.placeholders[3] = tokenID
	return id
}

// Directory is the set of configured users with password verification.
//
// Verified passwords are remembered in a bounded cache keyed by a keyed hash
// (MemoryKeyedHash, under a random per-directory key) of user and
// password, so a repeated request does no password hashing and the
// plaintext is never kept. Only successful checks are cached.
//
// Replace swaps in a new set of users at once: every later lookup and
// password check sees only the new set, and the verified-password cache
// starts empty.
type Directory struct {
	set atomic.Pointer[userSet]

	mac MemoryKeyedHash
	// hashing limits concurrent password hashing: an argon2id check takes
	// tens of MiB, so unbounded parallel wrong-password requests could
	// exhaust memory.
	hashing chan struct{}
}

// userSet is one generation of configured users.
type userSet struct {
	accounts map[string]*Account
	// decoy is compared against when the user is unknown, so that an unknown
	// user costs the same time as a wrong password.
	decoy passwordHash
	cache *cache.Bounded[[sha256.Size]byte, *Account]
}

// maxCachedPasswords bounds the verified-password cache.
const maxCachedPasswords = 4096

// NewDirectory validates users and builds a directory for them.
func NewDirectory(users []User) (*Directory, error) {
	d := &Directory{hashing: make(chan struct{}, 2*runtime.GOMAXPROCS(0))}
	var key [32]byte
	if _, err := rand.Read(key[:]); err != nil {
		return nil, fmt.Errorf("generating password cache key: %w", err)
	}
	d.mac = NewMemoryKeyedHash(key[:])
	if err := d.Replace(users); err != nil {
		return nil, err
	}
	return d, nil
}

// Replace validates users and makes them the directory's users, dropping
// every verified password of the previous set. On error the directory is
// unchanged.
func (d *Directory) Replace(users []User) error {
	if err := ValidateUsers(users); err != nil {
		return err
	}
	set := &userSet{
		accounts: make(map[string]*Account, len(users)),
		cache:    cache.New[[sha256.Size]byte, *Account](maxCachedPasswords),
	}
	for _, u := range users {
		h, _ := parseHash(u.PasswordHash)           // validated above
		roles := slices.Clip(slices.Clone(u.Roles)) // never shared with the config
		a := &Account{
			Name:        u.Name,
			Roles:       roles,
			RolesJoined: JoinRoles(roles),
			Disabled:    u.Disabled,
			NameHash:    NameHash([]byte(u.Name)),
			hash:        h,
			identities:  make(map[string]*Identity, len(prebuiltMethods)),
		}
		for _, m := range prebuiltMethods {
			a.identities[m] = New(a.Name, a.Roles, m, "")
		}
		set.accounts[u.Name] = a
	}
	set.decoy = chooseDecoy(users, set.accounts)
	d.set.Store(set)
	return nil
}

// Names lists every configured account's name, sorted.
func (d *Directory) Names() []string {
	return slices.Sorted(maps.Keys(d.set.Load().accounts))
}

// Configured reports whether an account named name is configured, enabled
// or disabled.
func (d *Directory) Configured(name string) bool {
	_, ok := d.set.Load().accounts[name]
	return ok
}

// Lookup returns the enabled account named name.
func (d *Directory) Lookup(name string) (*Account, bool) {
	a, ok := d.set.Load().accounts[name]
	if !ok || a.Disabled {
		return nil, false
	}
	return a, true
}

// Cached returns the account when this exact name and password were
// verified before: no hashing needed.
func (d *Directory) Cached(name, password []byte) (*Account, bool) {
	return d.set.Load().cache.Get(d.mac.SumPair(name, password))
}

// Verify checks a user's password. It returns ErrBadCredentials for an
// unknown user, a wrong password and a disabled user alike, after spending
// the same hashing time on each.
func (d *Directory) Verify(name, password []byte) (*Account, error) {
	set := d.set.Load()
	key := d.mac.SumPair(name, password)
	if a, ok := set.cache.Get(key); ok {
		return a, nil
	}
	a, exists := set.accounts[string(name)]
	h := set.decoy
	if exists {
		h = a.hash
	}
	d.hashing <- struct{}{}
	matched := h.matches(password)
	<-d.hashing
	if !exists || !matched || a.Disabled {
		return nil, ErrBadCredentials
	}
	set.cache.Put(key, a)
	return a, nil
}

// chooseDecoy picks the hash an unknown user is checked against: a real
// user's hash of the most common algorithm and cost, so that an unknown name
// costs what most users cost (give every user the same hash parameters for
// exact parity). With no users: Caddy's own fake bcrypt hash.
func chooseDecoy(users []User, accounts map[string]*Account) passwordHash {
	if len(users) == 0 {
		return passwordHash{value: caddyauth.BcryptHash{}.FakeHash(), comparer: caddyauth.BcryptHash{}}
	}
	counts := map[string]int{}
	best := accounts[users[0].Name].hash
	for _, u := range users {
		h := accounts[u.Name].hash
		counts[h.class]++
		if counts[h.class] > counts[best.class] {
			best = h
		}
	}
	return best
}
