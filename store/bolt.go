package store

import (
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
)

func init() {
	caddy.RegisterModule(new(Bolt))
}

// boltPool holds one open database per absolute file path, shared by every
// Bolt module that names the file, including across config reloads.
var boltPool = caddy.NewUsagePool()

// boltOpenTimeout is how long opening waits for another process to release
// its lock on the file before giving up.
const boltOpenTimeout = 5 * time.Second

// Bolt is the default store: one bbolt database file on the local disk,
// needing no setup. Only one Caddy process can use a file at a time; for
// several Caddy instances sharing tokens and sessions, use a networked
// store instead.
type Bolt struct {
	// Path is the database file. It is created, with its directory, if it
	// does not exist. Default: `restauth/restauth.db` in Caddy's data
	// directory. Placeholders such as `{env.STATE_DIRECTORY}` are expanded.
	Path string `json:"path,omitempty"`

	*boltBackend
	*poolRef
	openTimeout time.Duration // boltOpenTimeout unless a test shortens it
}

// CaddyModule returns the Caddy module information.
func (*Bolt) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  Namespace + ".bolt",
		New: func() caddy.Module { return new(Bolt) },
	}
}

// Provision attaches to the database file, which its first operation
// opens, or to the one another module (or the previous config) already
// uses. So provisioning alone (`caddy validate`) never takes the file's
// lock away from a running Caddy.
func (b *Bolt) Provision(ctx caddy.Context) error {
	if b.Path == "" {
		b.Path = filepath.Join(caddy.AppDataDir(), "restauth", "restauth.db")
	}
	path, err := resolveBoltPath(caddy.NewReplacer().ReplaceKnown(b.Path, ""))
	if err != nil {
		return err
	}
	b.Path = path
	if err := b.Validate(); err != nil {
		return err
	}
	timeout := b.openTimeout
	if timeout <= 0 {
		timeout = boltOpenTimeout
	}
	backend, ref, err := acquire(boltPool, path, func() (*boltBackend, func() error, error) {
		// The sweeper outlives this config when a reload keeps the file
		// open, so it logs through the process-wide logger.
		bb, err := openBolt(path, timeout, sweepInterval, caddy.Log().Named("rest_auth.store.bolt"))
		if err != nil {
			return nil, nil, err
		}
		return bb, bb.destroy, nil
	})
	if err != nil {
		return err
	}
	b.boltBackend, b.poolRef = backend, ref
	return nil
}

// resolveBoltPath makes path absolute and, when it (or its directory)
// exists, resolves symbolic links, so that two spellings of one file share
// one pool entry instead of locking each other out.
func resolveBoltPath(path string) (string, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return "", fmt.Errorf("bolt store path %s: %w", path, err)
	}
	if real, err := filepath.EvalSymlinks(abs); err == nil {
		return real, nil
	}
	if dir, err := filepath.EvalSymlinks(filepath.Dir(abs)); err == nil {
		return filepath.Join(dir, filepath.Base(abs)), nil
	}
	return abs, nil
}

// Validate checks that the path does not name a directory or another kind
// of non-regular file.
func (b *Bolt) Validate() error {
	if b.Path == "" {
		return nil // the default, filled in by Provision
	}
	info, err := os.Stat(b.Path)
	switch {
	case os.IsNotExist(err):
		return nil
	case err != nil:
		return fmt.Errorf("bolt store path: %w", err)
	case info.IsDir():
		return fmt.Errorf("bolt store path %s is a directory, not a file", b.Path)
	case !info.Mode().IsRegular():
		return fmt.Errorf("bolt store path %s is not a regular file", b.Path)
	}
	return nil
}

// UnmarshalCaddyfile sets up the store from Caddyfile tokens. The dispenser
// is on the backend name. Syntax:
//
//	bolt [<path>] {
//		path <path>
//	}
func (b *Bolt) UnmarshalCaddyfile(d *caddyfile.Dispenser) error {
	if err := shorthandArg(d, &b.Path); err != nil {
		return err
	}
	for nesting := d.Nesting(); d.NextBlock(nesting); {
		switch d.Val() {
		case "path":
			if b.Path != "" {
				return d.Err("store bolt path already specified")
			}
			if !d.AllArgs(&b.Path) {
				return d.ArgErr()
			}
		default:
			return d.Errf("unknown store bolt option %q", d.Val())
		}
	}
	return nil
}

// Interface guards
var (
	_ Store                 = (*Bolt)(nil)
	_ FailureFree           = (*Bolt)(nil)
	_ RevocationFree        = (*Bolt)(nil)
	_ caddy.Provisioner     = (*Bolt)(nil)
	_ caddy.Validator       = (*Bolt)(nil)
	_ caddy.CleanerUpper    = (*Bolt)(nil)
	_ caddyfile.Unmarshaler = (*Bolt)(nil)
)
