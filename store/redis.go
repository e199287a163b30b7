package store

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/redis/go-redis/v9"
	"go.uber.org/zap"
)

func init() {
	caddy.RegisterModule(new(Redis))
}

// redisPool holds one client per Redis connection identity (address,
// user, password, database, TLS), shared by every Redis module that
// connects the same way, whatever their key prefixes, and across reloads.
var redisPool = caddy.NewUsagePool()

// Timeouts that keep a request from hanging on an unreachable Redis: the
// store fails fast and the handler answers 503.
const (
	redisDialTimeout = time.Second
	redisIOTimeout   = time.Second
)

// Redis is a store kept in a Redis server (6.2 or newer), so that several
// Caddy instances share API tokens, sessions, JWT revocations and
// failed-login counters. Every record that expires uses a native Redis TTL.
//
// Valid tokens, sessions and revocation checks are answered from a local
// cache; a change made by any instance invalidates the other instances'
// caches through Redis pub/sub. When Redis cannot be reached, store calls
// fail within about a second and requests that need the store get 503.
type Redis struct {
	// Address is the server's host:port. Default: `localhost:6379`.
	// Mutually exclusive with URL.
	Address string `json:"address,omitempty"`
	// Username for Redis ACL authentication (Redis 6+). Optional.
	Username string `json:"username,omitempty"`
	// Password for AUTH. Use a placeholder such as `{env.REDIS_PASSWORD}`
	// to keep it out of the config file. Never logged.
	Password string `json:"password,omitempty"`
	// DB is the logical database number. Default: 0.
	DB int `json:"db,omitempty"`
	// TLS connects over TLS, verifying the server certificate against the
	// system roots.
	TLS bool `json:"tls,omitempty"`
	// KeyPrefix is put before every key this store writes, so that several
	// configurations (or other applications) can share one database.
	// Default: `restauth:`.
	KeyPrefix string `json:"key_prefix,omitempty"`
	// URL is an alternative to the fields above:
	// `redis://[user:password@]host:port/db` or `rediss://...` for TLS.
	// Placeholders are expanded. Mutually exclusive with Address.
	URL string `json:"url,omitempty"`

	*redisBackend
	*poolRef
}

// CaddyModule returns the Caddy module information.
func (*Redis) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  Namespace + ".redis",
		New: func() caddy.Module { return new(Redis) },
	}
}

// Provision connects to Redis, or shares the client of another module (or
// the previous config) that connects the same way.
func (r *Redis) Provision(ctx caddy.Context) error {
	if err := r.Validate(); err != nil {
		return err
	}
	opts, err := r.options()
	if err != nil {
		return err
	}
	if r.KeyPrefix == "" {
		r.KeyPrefix = "restauth:"
	}
	sum := sha256.Sum256([]byte(opts.Password))
	identity := fmt.Sprintf("%s|%s|%d|%t|%x", opts.Addr, opts.Username, opts.DB, opts.TLSConfig != nil, sum[:8])
	clientLogOnce.Do(func() {
		redis.SetLogger(clientLogger{caddy.Log().Named("rest_auth.store.redis.client")})
	})
	logger := ctx.Logger()
	conn, ref, err := acquire(redisPool, identity, func() (*redisConn, func() error, error) {
		// The connection outlives this config when a reload keeps it, so
		// it logs through the process-wide logger.
		c := newRedisConn(opts, caddy.Log().Named("rest_auth.store.redis"))
		logger.Info("connecting token store to redis",
			zap.String("address", opts.Addr), zap.Int("db", opts.DB), zap.Bool("tls", opts.TLSConfig != nil))
		return c, c.destroy, nil
	})
	if err != nil {
		return fmt.Errorf("redis store %s: %w", opts.Addr, err)
	}
	r.redisBackend, r.poolRef = &redisBackend{conn: conn, prefix: r.KeyPrefix, now: time.Now}, ref
	return nil
}

// clientLogOnce routes the go-redis client's own messages (such as a
// dropped pub/sub connection, already reported once per outage by the
// store) to Caddy's log at DEBUG instead of standard error. The client's
// logger is process-wide, so this is done once.
var clientLogOnce sync.Once

type clientLogger struct{ l *zap.Logger }

func (c clientLogger) Printf(_ context.Context, format string, v ...any) {
	c.l.Debug(fmt.Sprintf(format, v...))
}

// options builds the client options from the config, with placeholders
// expanded and the short timeouts set.
func (r *Redis) options() (*redis.Options, error) {
	repl := caddy.NewReplacer()
	var opts *redis.Options
	if r.URL != "" {
		var err error
		opts, err = redis.ParseURL(repl.ReplaceKnown(r.URL, ""))
		if err != nil {
			// The URL may hold a password: do not repeat it.
			return nil, errors.New("redis store: url is not a valid redis:// or rediss:// URL")
		}
	} else {
		opts = &redis.Options{
			Addr:     repl.ReplaceKnown(r.Address, ""),
			Username: repl.ReplaceKnown(r.Username, ""),
			Password: repl.ReplaceKnown(r.Password, ""),
			DB:       r.DB,
		}
		if opts.Addr == "" {
			opts.Addr = "localhost:6379"
		}
		if r.TLS {
			opts.TLSConfig = &tls.Config{MinVersion: tls.VersionTLS12}
		}
	}
	if r.TLS && opts.TLSConfig == nil {
		opts.TLSConfig = &tls.Config{MinVersion: tls.VersionTLS12}
	}
	opts.DialTimeout = redisDialTimeout
	opts.ReadTimeout = redisIOTimeout
	opts.WriteTimeout = redisIOTimeout
	opts.PoolTimeout = redisIOTimeout
	opts.ContextTimeoutEnabled = true
	// One quick retry covers a pooled connection that a Redis restart
	// closed; more would only delay the 503 while Redis is down.
	opts.MaxRetries = 1
	opts.MinRetryBackoff = 10 * time.Millisecond
	opts.MaxRetryBackoff = 50 * time.Millisecond
	return opts, nil
}

// Validate checks that the config names one server in one way.
func (r *Redis) Validate() error {
	switch {
	case r.URL != "" && (r.Address != "" || r.Username != "" || r.Password != "" || r.DB != 0):
		return errors.New("redis store: url and address/username/password/db are mutually exclusive")
	case r.DB < 0:
		return fmt.Errorf("redis store: db must not be negative, got %d", r.DB)
	}
	return nil
}

// UnmarshalCaddyfile sets up the store from Caddyfile tokens. The dispenser
// is on the backend name. Syntax:
//
//	redis [<address>] {
//		address    <host:port>
//		username   <user>
//		password   <password>
//		db         <n>
//		tls
//		key_prefix <prefix>
//		url        <redis://...>
//	}
func (r *Redis) UnmarshalCaddyfile(d *caddyfile.Dispenser) error {
	if err := shorthandArg(d, &r.Address); err != nil {
		return err
	}
	nesting := d.Nesting()
	for d.NextBlock(nesting) {
		opt := d.Val()
		var dst *string
		switch opt {
		case "address":
			dst = &r.Address
		case "username":
			dst = &r.Username
		case "password":
			dst = &r.Password
		case "key_prefix":
			dst = &r.KeyPrefix
		case "url":
			dst = &r.URL
		case "db":
			var s string
			if !d.AllArgs(&s) {
				return d.ArgErr()
			}
			n, err := strconv.Atoi(s)
			if err != nil || n < 0 {
				return d.Errf("store redis db: want a non-negative number, got %q", s)
			}
			r.DB = n
			continue
		case "tls":
			if d.NextArg() {
				return d.ArgErr()
			}
			r.TLS = true
			continue
		default:
			return d.Errf("unknown store redis option %q", opt)
		}
		if *dst != "" {
			return d.Errf("store redis %s already specified", opt)
		}
		if !d.AllArgs(dst) {
			return d.ArgErr()
		}
	}
	return nil
}

// Interface guards
var (
	_ Store                 = (*Redis)(nil)
	_ caddy.Provisioner     = (*Redis)(nil)
	_ caddy.Validator       = (*Redis)(nil)
	_ caddy.CleanerUpper    = (*Redis)(nil)
	_ caddyfile.Unmarshaler = (*Redis)(nil)
)
