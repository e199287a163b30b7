package restauth

import (
	"context"
	"crypto/sha256"
	"fmt"
	"os"
	"slices"
	"time"

	"go.uber.org/zap"

	"github.com/caddy-restauth/caddy-restauth/authenticators"
	"github.com/caddy-restauth/caddy-restauth/identity"
)

// usersFilePollInterval is how often users_file is checked for changes.
const usersFilePollInterval = time.Second

// usersFile keeps a handler's users in step with its users_file: the file
// is read again every usersFilePollInterval and, when its contents changed,
// its users (with the Caddyfile's `user` lines) replace the directory's.
// A file that cannot be read or holds invalid users leaves the last good
// set in place and is logged as an error.
type usersFile struct {
	path string
	// inline are the users configured in the handler itself.
	inline []identity.User
	users  *identity.Directory
	logger *zap.Logger
	audit  *authenticators.Audit
	// seen is the hash of the contents last read; failed is the last read
	// or parse error logged (so one broken state is logged once).
	seen   [sha256.Size]byte
	failed string
}

// load reads the file for the first time and returns every user.
func (f *usersFile) load() ([]identity.User, error) {
	data, err := os.ReadFile(f.path)
	if err != nil {
		return nil, fmt.Errorf("reading users_file: %w", err)
	}
	f.seen = sha256.Sum256(data)
	return f.parse(data)
}

func (f *usersFile) parse(data []byte) ([]identity.User, error) {
	fromFile, err := identity.ParseUsersFile(f.path, data)
	if err != nil {
		return nil, err
	}
	for _, u := range fromFile {
		if slices.ContainsFunc(f.inline, func(o identity.User) bool { return o.Name == u.Name }) {
			return nil, fmt.Errorf("user %q is defined both by a `user` line and in users_file %s; remove one of them", u.Name, f.path)
		}
	}
	return append(append([]identity.User(nil), f.inline...), fromFile...), nil
}

// watch polls the file until ctx ends, then closes done.
func (f *usersFile) watch(ctx context.Context, done chan<- struct{}) {
	defer close(done)
	tick := time.NewTicker(usersFilePollInterval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
			f.poll()
		}
	}
}

// poll applies the file's users when its contents changed.
func (f *usersFile) poll() {
	data, err := os.ReadFile(f.path)
	if err != nil {
		f.fail(fmt.Errorf("reading users_file: %w", err))
		return
	}
	sum := sha256.Sum256(data)
	if sum == f.seen && f.failed == "" {
		return
	}
	f.seen = sum
	users, err := f.parse(data)
	if err == nil {
		err = f.users.Replace(users)
	}
	if err != nil {
		f.fail(err)
		return
	}
	f.failed = ""
	authenticators.ForgetCachedTokens()
	f.logger.Info("users_file changed: users reloaded", zap.String("path", f.path), zap.Int("users", len(users)))
	f.audit.Event(authenticators.EventUsersLoaded, nil, "", zap.String("users_file", f.path), zap.Int("users", len(users)))
}

// fail logs err once per distinct failure; the users stay as they were.
func (f *usersFile) fail(err error) {
	if err.Error() == f.failed {
		return
	}
	f.failed = err.Error()
	f.logger.Error("users_file cannot be used; keeping the previous users until it is fixed",
		zap.String("path", f.path), zap.Error(err))
}
