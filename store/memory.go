package store

import (
	"fmt"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"go.uber.org/zap"
)

func init() {
	caddy.RegisterModule(new(Memory))
}

// memoryPool holds one memoryBackend per name, shared by every Memory
// module that uses the name, so that a config reload keeps the data.
var memoryPool = caddy.NewUsagePool()

// Memory is a store that keeps tokens, sessions, revocations and failure
// counters in the memory of the Caddy process. Everything is lost when
// Caddy stops: use it for tests and throwaway setups only.
//
// Stores with the same name share their data, including across config
// reloads; the data is dropped once no loaded config uses the name.
type Memory struct {
	// Name selects the data set. Handlers whose stores have the same name
	// see the same tokens and sessions. Default: `default`.
	Name string `json:"name,omitempty"`

	*memoryBackend
	*poolRef
}

// CaddyModule returns the Caddy module information.
func (*Memory) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  Namespace + ".memory",
		New: func() caddy.Module { return new(Memory) },
	}
}

// Provision attaches the module to the data set named m.Name, creating it
// if no other module uses that name yet.
func (m *Memory) Provision(ctx caddy.Context) error {
	if m.Name == "" {
		m.Name = "default"
	}
	ctx.Logger().Warn("the memory store loses every token, session and revocation when Caddy stops; use it only for tests and throwaway setups",
		zap.String("name", m.Name))
	b, ref, err := acquire(memoryPool, m.Name, func() (*memoryBackend, func() error, error) {
		b := newMemoryBackend(sweepInterval)
		return b, b.destroy, nil
	})
	if err != nil {
		return fmt.Errorf("opening memory store %s: %w", m.Name, err)
	}
	m.memoryBackend, m.poolRef = b, ref
	return nil
}

// UnmarshalCaddyfile sets up the store from Caddyfile tokens. The dispenser
// is on the backend name. Syntax:
//
//	memory [<name>] {
//		name <name>
//	}
func (m *Memory) UnmarshalCaddyfile(d *caddyfile.Dispenser) error {
	if err := shorthandArg(d, &m.Name); err != nil {
		return err
	}
	for nesting := d.Nesting(); d.NextBlock(nesting); {
		switch d.Val() {
		case "name":
			if m.Name != "" {
				return d.Err("store memory name already specified")
			}
			if !d.AllArgs(&m.Name) {
				return d.ArgErr()
			}
		default:
			return d.Errf("unknown store memory option %q", d.Val())
		}
	}
	return nil
}

// Interface guards
var (
	_ Store                 = (*Memory)(nil)
	_ FailureFree           = (*Memory)(nil)
	_ RevocationFree        = (*Memory)(nil)
	_ caddy.Provisioner     = (*Memory)(nil)
	_ caddy.CleanerUpper    = (*Memory)(nil)
	_ caddyfile.Unmarshaler = (*Memory)(nil)
)
