package store

import (
	"crypto/sha256"
	"crypto/tls"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/redis/go-redis/v9"
)

// The three ways a store reaches Redis.
const (
	redisModeServer   = "server"
	redisModeSentinel = "sentinel"
	redisModeCluster  = "cluster"
)

// redisTarget is what a store connects to: the client options, with
// placeholders expanded, of one of the three modes.
type redisTarget struct {
	mode string
	opts redis.UniversalOptions
	// location names the servers in logs and in the admin API: the
	// address; `<master>@<sentinel>,...`; or the cluster nodes
	// `<node>,...`.
	location string
}

// target builds the client options from the config, with placeholders
// expanded and the short timeouts set. Validate has passed.
func (r *Redis) target() (*redisTarget, error) {
	repl := caddy.NewReplacer()
	expand := func(list []string) []string {
		out := make([]string, len(list))
		for i, s := range list {
			out[i] = repl.ReplaceKnown(s, "")
		}
		return out
	}
	t := &redisTarget{mode: redisModeServer}
	o := &t.opts
	o.Username = repl.ReplaceKnown(r.Username, "")
	o.Password = repl.ReplaceKnown(r.Password, "")
	o.DB = r.DB
	switch {
	case r.URL != "":
		parsed, err := redis.ParseURL(repl.ReplaceKnown(r.URL, ""))
		if err != nil {
			// The URL may hold a password: do not repeat it.
			return nil, errors.New("redis store: url is not a valid redis:// or rediss:// URL")
		}
		o.Addrs = []string{parsed.Addr}
		o.Username, o.Password, o.DB, o.TLSConfig = parsed.Username, parsed.Password, parsed.DB, parsed.TLSConfig
		t.location = parsed.Addr
	case r.Sentinel != nil:
		t.mode = redisModeSentinel
		o.MasterName = repl.ReplaceKnown(r.Sentinel.Master, "")
		o.Addrs = expand(r.Sentinel.Addresses)
		o.SentinelUsername = repl.ReplaceKnown(r.Sentinel.Username, "")
		o.SentinelPassword = repl.ReplaceKnown(r.Sentinel.Password, "")
		t.location = o.MasterName + "@" + strings.Join(o.Addrs, ",")
	case len(r.Cluster) > 0:
		t.mode = redisModeCluster
		o.Addrs = expand(r.Cluster)
		t.location = strings.Join(o.Addrs, ",")
	default:
		addr := repl.ReplaceKnown(r.Address, "")
		if addr == "" {
			addr = "localhost:6379"
		}
		o.Addrs = []string{addr}
		t.location = addr
	}
	if r.TLS && o.TLSConfig == nil {
		o.TLSConfig = &tls.Config{MinVersion: tls.VersionTLS12}
	}
	o.DialTimeout = redisDialTimeout
	o.ReadTimeout = redisIOTimeout
	o.WriteTimeout = redisIOTimeout
	o.PoolTimeout = redisIOTimeout
	o.ContextTimeoutEnabled = true
	// One quick retry covers a pooled connection that a Redis restart
	// closed; more would only delay the 503 while Redis is down.
	o.MaxRetries = 1
	o.MinRetryBackoff = 10 * time.Millisecond
	o.MaxRetryBackoff = 50 * time.Millisecond
	return t, nil
}

// identity is the key of the connection pool: every setting that changes
// which servers are reached and how. The order of the addresses does not
// matter; the passwords appear only hashed.
func (t *redisTarget) identity() string {
	o := &t.opts
	addrs := slices.Clone(o.Addrs)
	slices.Sort(addrs)
	sum := sha256.Sum256([]byte(o.Password + "\x00" + o.SentinelPassword))
	return fmt.Sprintf("%s|%s|%s|%s|%s|%d|%t|%x",
		t.mode, strings.Join(addrs, ","), o.MasterName, o.Username, o.SentinelUsername, o.DB, o.TLSConfig != nil, sum[:8])
}

// newClient returns the client of the target's mode: a FailoverClient
// follows the master the sentinels name, a ClusterClient routes every
// command to the node that holds its keys.
func (t *redisTarget) newClient() redis.UniversalClient {
	switch t.mode {
	case redisModeSentinel:
		return redis.NewFailoverClient(t.opts.Failover())
	case redisModeCluster:
		return redis.NewClusterClient(t.opts.Cluster())
	default:
		return redis.NewClient(t.opts.Simple())
	}
}
