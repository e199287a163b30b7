package store

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
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

// redisPool holds one client per Redis connection identity (the servers
// and how they are reached: one address, a Sentinel master or a Cluster;
// user, passwords, database, TLS), shared by every Redis module that
// connects the same way, whatever their key prefixes, and across reloads.
var redisPool = caddy.NewUsagePool()

// Timeouts that keep a request from hanging on an unreachable Redis: the
// store fails fast and the handler answers 503.
const (
	redisDialTimeout = time.Second
	redisIOTimeout   = time.Second
	// redisWaitTimeout is the default WaitTimeout.
	redisWaitTimeout = 500 * time.Millisecond
)

// Redis is a store kept in Redis (6.2 or newer): one server, a master
// watched by Redis Sentinel, or a Redis Cluster, so that several Caddy
// instances share API tokens, sessions, JWT revocations and failed-login
// counters. Every record that expires uses a native Redis TTL.
//
// Valid tokens, sessions and revocation checks are answered from a local
// cache; a change made by any instance invalidates the other instances'
// caches through Redis pub/sub. When Redis cannot be reached, store calls
// fail within about a second and requests that need the store get 503.
type Redis struct {
	// Address is the host:port of a single Redis server. Default:
	// `localhost:6379` when neither URL, Sentinel nor Cluster is set.
	// Mutually exclusive with URL, Sentinel and Cluster.
	Address string `json:"address,omitempty"`
	// Sentinel connects to the master that Redis Sentinel names, and to
	// the new master by itself after a failover. Mutually exclusive with
	// Address, URL and Cluster.
	Sentinel *RedisSentinel `json:"sentinel,omitempty"`
	// Cluster is the host:port of some nodes of a Redis Cluster (one that
	// answers is enough: the client learns the others from it). Mutually
	// exclusive with Address, URL and Sentinel; DB must be 0, and
	// KeyPrefix must not contain `{` or `}` (the store puts hash tags in
	// its keys).
	Cluster []string `json:"cluster,omitempty"`
	// Username for Redis ACL authentication (Redis 6+), on the server, the
	// Sentinel master or every Cluster node. Optional.
	Username string `json:"username,omitempty"`
	// Password for AUTH, on the server, the Sentinel master or every
	// Cluster node. Use a placeholder such as `{env.REDIS_PASSWORD}` to
	// keep it out of the config file. Never logged.
	Password string `json:"password,omitempty"`
	// DB is the logical database number. Default: 0. Redis Cluster has
	// only database 0.
	DB int `json:"db,omitempty"`
	// TLS connects over TLS (to the sentinels too), verifying server
	// certificates against the system roots.
	TLS bool `json:"tls,omitempty"`
	// KeyPrefix is put before every key this store writes, so that several
	// configurations (or other applications) can share one database.
	// Default: `restauth:`.
	KeyPrefix string `json:"key_prefix,omitempty"`
	// URL is an alternative to Address, Username, Password and DB for a
	// single server: `redis://[user:password@]host:port/db` or
	// `rediss://...` for TLS. Placeholders are expanded. Mutually
	// exclusive with Address, Sentinel and Cluster.
	URL string `json:"url,omitempty"`
	// WaitReplicas makes every revocation (a JWT logout or renewal, a
	// deleted API token, an ended session) wait until at least this many
	// replicas of the master that took it have acknowledged it (Redis
	// `WAIT`). If fewer do within WaitTimeout, the request fails with 503
	// and the client should try again; so a revocation that was answered
	// with success survives a failover to one of those replicas. Default:
	// 0, do not wait (Redis replicates asynchronously: a revocation
	// acknowledged just before the master fails can be lost).
	WaitReplicas int `json:"wait_replicas,omitempty"`
	// WaitTimeout is how long a revocation waits for WaitReplicas
	// acknowledgements. Default: 500ms.
	WaitTimeout caddy.Duration `json:"wait_timeout,omitempty"`

	*redisBackend
	*poolRef
}

// RedisSentinel names a master monitored by Redis Sentinel and the
// sentinels to ask for it.
type RedisSentinel struct {
	// Master is the name the sentinels monitor the master under (the
	// `sentinel monitor <name> ...` line of sentinel.conf).
	Master string `json:"master,omitempty"`
	// Addresses are the host:port of sentinels (one that answers is
	// enough; naming all of them keeps the store working while some are
	// down).
	Addresses []string `json:"addresses,omitempty"`
	// Username for ACL authentication to the sentinels. Optional.
	Username string `json:"username,omitempty"`
	// Password for AUTH to the sentinels (`requirepass` of sentinel.conf),
	// which is often not the master's. Takes placeholders such as
	// `{env.SENTINEL_PASSWORD}`. Never logged.
	Password string `json:"password,omitempty"`
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
	target, err := r.target()
	if err != nil {
		return err
	}
	if r.KeyPrefix == "" {
		r.KeyPrefix = "restauth:"
	}
	clientLogOnce.Do(func() {
		redis.SetLogger(clientLogger{caddy.Log().Named("rest_auth.store.redis.client")})
	})
	logger := ctx.Logger()
	conn, ref, err := acquire(redisPool, target.identity(), func() (*redisConn, func() error, error) {
		// The connection outlives this config when a reload keeps it, so
		// it logs through the process-wide logger.
		c := newRedisConn(target, caddy.Log().Named("rest_auth.store.redis"))
		logger.Info("connecting token store to redis",
			zap.String("mode", target.mode), zap.String("address", target.location),
			zap.Int("db", target.opts.DB), zap.Bool("tls", target.opts.TLSConfig != nil))
		return c, c.destroy, nil
	})
	if err != nil {
		return fmt.Errorf("redis store %s: %w", target.location, err)
	}
	r.redisBackend = newRedisBackend(conn, r.KeyPrefix, r.WaitReplicas, r.waitTimeout())
	r.poolRef = ref
	return nil
}

// waitTimeout is WaitTimeout or its default.
func (r *Redis) waitTimeout() time.Duration {
	if r.WaitTimeout == 0 {
		return redisWaitTimeout
	}
	return time.Duration(r.WaitTimeout)
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

// Validate checks that the config names its servers in one way, and the
// options that go with that way.
func (r *Redis) Validate() error {
	if err := r.formError(); err != nil {
		return err
	}
	switch {
	case r.URL != "" && (r.Username != "" || r.Password != "" || r.DB != 0):
		return errors.New("redis store: url and username/password/db are mutually exclusive: put them in the url")
	case r.DB < 0:
		return fmt.Errorf("redis store: db must not be negative, got %d", r.DB)
	case r.Sentinel != nil && (r.Sentinel.Master == "" || len(r.Sentinel.Addresses) == 0):
		return errors.New("redis store: sentinel needs the master's name and at least one sentinel: `sentinel <master> <host:port>...`")
	case len(r.Cluster) > 0 && r.DB != 0:
		return fmt.Errorf("redis store: db must be 0 with cluster (Redis Cluster has only database 0), got %d", r.DB)
	case len(r.Cluster) > 0 && strings.ContainsAny(r.KeyPrefix, "{}"):
		return fmt.Errorf("redis store: key_prefix %q must not contain { or } with cluster: the store puts its own hash tags in keys", r.KeyPrefix)
	case r.WaitReplicas < 0:
		return fmt.Errorf("redis store: wait_replicas must not be negative, got %d", r.WaitReplicas)
	case r.WaitTimeout < 0:
		return fmt.Errorf("redis store: wait_timeout must not be negative, got %v", time.Duration(r.WaitTimeout))
	case r.WaitTimeout != 0 && r.WaitReplicas == 0:
		return errors.New("redis store: wait_timeout without wait_replicas: say how many replicas must acknowledge a revocation")
	}
	return nil
}

// formError reports a config that names its servers in more than one of
// the three ways: one server (address or url), Sentinel or Cluster.
func (r *Redis) formError() error {
	var forms []string
	for _, f := range []struct {
		name string
		set  bool
	}{
		{"address", r.Address != ""},
		{"url", r.URL != ""},
		{"sentinel", r.Sentinel != nil},
		{"cluster", len(r.Cluster) > 0},
	} {
		if f.set {
			forms = append(forms, f.name)
		}
	}
	if len(forms) > 1 {
		return fmt.Errorf("redis store: %s are mutually exclusive: name one server (address or url), a Sentinel master (sentinel) or a Cluster (cluster)",
			strings.Join(forms, " and "))
	}
	return nil
}

// UnmarshalCaddyfile sets up the store from Caddyfile tokens. The dispenser
// is on the backend name. Syntax:
//
//	redis [<address>] {
//		address           <host:port>
//		url               <redis://...>
//		sentinel          <master> <host:port>...
//		sentinel_username <user>
//		sentinel_password <password>
//		cluster           <host:port>...
//		username          <user>
//		password          <password>
//		db                <n>
//		tls
//		key_prefix        <prefix>
//		wait_replicas     <n> [<timeout>]
//	}
func (r *Redis) UnmarshalCaddyfile(d *caddyfile.Dispenser) error {
	if err := shorthandArg(d, &r.Address); err != nil {
		return err
	}
	nesting := d.Nesting()
	for d.NextBlock(nesting) {
		if err := r.unmarshalOption(d); err != nil {
			return err
		}
		// Two ways of naming the servers fail on the line of the second.
		if err := r.formError(); err != nil {
			return d.Err(err.Error())
		}
	}
	if err := r.Validate(); err != nil {
		return d.Err(err.Error())
	}
	return nil
}

// unmarshalOption reads the option the dispenser is on.
func (r *Redis) unmarshalOption(d *caddyfile.Dispenser) error {
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
	case "sentinel_username":
		dst = &r.sentinel().Username
	case "sentinel_password":
		dst = &r.sentinel().Password
	case "sentinel":
		args := d.RemainingArgs()
		if len(args) < 2 {
			return d.Err("store redis sentinel: want `sentinel <master name> <host:port>...`")
		}
		if r.Sentinel != nil && r.Sentinel.Master != "" {
			return d.Err("store redis sentinel already specified")
		}
		r.sentinel().Master, r.Sentinel.Addresses = args[0], args[1:]
		return nil
	case "cluster":
		args := d.RemainingArgs()
		if len(args) == 0 {
			return d.Err("store redis cluster: want `cluster <host:port>...` (some nodes of the cluster)")
		}
		if len(r.Cluster) > 0 {
			return d.Err("store redis cluster already specified")
		}
		r.Cluster = args
		return nil
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
		return nil
	case "tls":
		if d.NextArg() {
			return d.ArgErr()
		}
		r.TLS = true
		return nil
	case "wait_replicas":
		return r.unmarshalWait(d)
	default:
		return d.Errf("unknown store redis option %q", opt)
	}
	if *dst != "" {
		return d.Errf("store redis %s already specified", opt)
	}
	if !d.AllArgs(dst) {
		return d.ArgErr()
	}
	return nil
}

// unmarshalWait reads `wait_replicas <n> [<timeout>]`.
func (r *Redis) unmarshalWait(d *caddyfile.Dispenser) error {
	args := d.RemainingArgs()
	if len(args) == 0 || len(args) > 2 {
		return d.Err("store redis wait_replicas: want `wait_replicas <number of replicas> [<timeout>]`, e.g. `wait_replicas 1 500ms`")
	}
	n, err := strconv.Atoi(args[0])
	if err != nil || n < 1 {
		return d.Errf("store redis wait_replicas: want a number of replicas of at least 1, got %q", args[0])
	}
	r.WaitReplicas = n
	if len(args) == 2 {
		dur, err := caddy.ParseDuration(args[1])
		if err != nil || dur <= 0 {
			return d.Errf("store redis wait_replicas: timeout %q is not a positive duration (e.g. 500ms, 2s)", args[1])
		}
		r.WaitTimeout = caddy.Duration(dur)
	}
	return nil
}

// sentinel returns r.Sentinel, created when nil.
func (r *Redis) sentinel() *RedisSentinel {
	if r.Sentinel == nil {
		r.Sentinel = new(RedisSentinel)
	}
	return r.Sentinel
}

// Interface guards
var (
	_ Store                 = (*Redis)(nil)
	_ FailureFree           = (*Redis)(nil)
	_ RevocationFree        = (*Redis)(nil)
	_ caddy.Provisioner     = (*Redis)(nil)
	_ caddy.Validator       = (*Redis)(nil)
	_ caddy.CleanerUpper    = (*Redis)(nil)
	_ caddyfile.Unmarshaler = (*Redis)(nil)
)
