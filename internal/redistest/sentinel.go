package redistest

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// SentinelMaster is the name the sentinels of StartSentinel monitor the
// master under.
const SentinelMaster = "mymaster"

// Sentinel timing: short, so that a failover takes a few seconds.
const (
	sentinelDownAfter       = 500 * time.Millisecond
	sentinelFailoverTimeout = 2 * time.Second
	sentinelStartTimeout    = 20 * time.Second
)

// Sentinel is a master and two replicas, watched by three sentinels
// (quorum 2) that fail over to a replica when the master is down for half
// a second. Two replicas: after a failover the new master still has one,
// so writes that wait for a replica (WAIT 1) keep working.
type Sentinel struct {
	t testing.TB
	// Servers are the master and the replicas, in the order they started;
	// which is the master changes with a failover (see Master).
	Servers   []*Server
	Sentinels []*Server
}

// StartSentinel runs a master, two replicas of it and three sentinels on
// loopback, and waits until every sentinel knows the replicas and the
// other sentinels (so that a failover can be agreed on). Everything stops
// when the test ends. It needs redis-server, like Start.
func StartSentinel(t testing.TB) *Sentinel {
	t.Helper()
	master := Start(t)
	s := &Sentinel{t: t, Servers: []*Server{master}}
	for range 2 {
		s.Servers = append(s.Servers, master.StartReplica())
	}
	for i := range 3 {
		conf := filepath.Join(t.TempDir(), fmt.Sprintf("sentinel-%d.conf", i))
		text := fmt.Sprintf("sentinel monitor %[1]s 127.0.0.1 %[2]d 2\n"+
			"sentinel down-after-milliseconds %[1]s %[3]d\n"+
			"sentinel failover-timeout %[1]s %[4]d\n",
			SentinelMaster, master.Port, sentinelDownAfter.Milliseconds(), sentinelFailoverTimeout.Milliseconds())
		// Sentinel rewrites its config file: it must be writable.
		if err := os.WriteFile(conf, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
		sn := reserve(t, conf, "--sentinel")
		sn.Restart()
		s.Sentinels = append(s.Sentinels, sn)
	}
	for _, sn := range s.Sentinels {
		c := redis.NewSentinelClient(&redis.Options{Addr: sn.Addr()})
		t.Cleanup(func() { _ = c.Close() })
		waitFor(t, "sentinel "+sn.Addr()+" to know the replicas and the other sentinels", sentinelStartTimeout, func() (bool, string) {
			m, err := c.Master(context.Background(), SentinelMaster).Result()
			if err != nil {
				return false, err.Error()
			}
			return m["num-slaves"] == "2" && m["num-other-sentinels"] == "2", fmt.Sprint(m)
		})
	}
	return s
}

// Addrs are the sentinels' host:port.
func (s *Sentinel) Addrs() []string { return addrs(s.Sentinels) }

// Master is the server every running sentinel names as the master (the
// test fails if they disagree or none answers).
func (s *Sentinel) Master() *Server {
	s.t.Helper()
	addr, state := s.agreedMaster()
	for _, srv := range s.Servers {
		if srv.Addr() == addr {
			return srv
		}
	}
	s.t.Fatalf("redistest: sentinels do not agree on a master: %s", state)
	return nil
}

// Replicas are the servers that are not Master, running or not.
func (s *Sentinel) Replicas() []*Server {
	s.t.Helper()
	m := s.Master()
	var replicas []*Server
	for _, srv := range s.Servers {
		if srv != m {
			replicas = append(replicas, srv)
		}
	}
	return replicas
}

// agreedMaster returns the master address all running sentinels report,
// or "" and what they said.
func (s *Sentinel) agreedMaster() (addr, state string) {
	var seen []string
	for _, sn := range s.Sentinels {
		if sn.cmd == nil {
			continue
		}
		c := redis.NewSentinelClient(&redis.Options{Addr: sn.Addr()})
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		hp, err := c.GetMasterAddrByName(ctx, SentinelMaster).Result()
		cancel()
		_ = c.Close()
		if err != nil {
			return "", sn.Addr() + ": " + err.Error()
		}
		a := net.JoinHostPort(hp[0], hp[1])
		seen = append(seen, a)
		if addr != "" && a != addr {
			return "", fmt.Sprint("sentinels name different masters: ", seen)
		}
		addr = a
	}
	return addr, fmt.Sprint(seen)
}

// WaitFailover waits until every sentinel names a master other than old
// and that server answers as a master, failing the test after timeout. It
// returns the new master.
func (s *Sentinel) WaitFailover(old *Server, timeout time.Duration) *Server {
	s.t.Helper()
	var found *Server
	// On a timeout, what the sentinels did tells why.
	logs := func() string {
		var b strings.Builder
		for _, sn := range s.Sentinels {
			fmt.Fprintf(&b, "\n--- sentinel %s:\n%s", sn.Addr(), sn.Log())
		}
		return b.String()
	}
	waitFor(s.t, "the sentinels to fail over from "+old.Addr(), timeout, func() (bool, string) {
		addr, state := s.agreedMaster()
		if addr == "" || addr == old.Addr() {
			return false, "sentinels name " + state + logs()
		}
		for _, srv := range s.Servers {
			if srv.Addr() != addr || srv.cmd == nil {
				continue
			}
			c := redis.NewClient(&redis.Options{Addr: addr})
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			info, err := c.Info(ctx, "replication").Result()
			cancel()
			_ = c.Close()
			if err != nil || !strings.Contains(info, "role:master") {
				return false, fmt.Sprint("new master ", addr, " not yet a master: ", info, err)
			}
			found = srv
			return true, ""
		}
		return false, "sentinels name an unknown master " + addr
	})
	return found
}
