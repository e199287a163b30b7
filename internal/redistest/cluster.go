package redistest

import (
	"context"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// clusterStartTimeout is how long StartCluster waits for every node to
// report the cluster healthy.
const clusterStartTimeout = 20 * time.Second

// Cluster is a Redis Cluster of three masters (no replicas) on loopback.
type Cluster struct {
	t     testing.TB
	Nodes []*Server
}

// StartCluster runs three redis-server processes in cluster mode, joins
// them with `redis-cli --cluster create` (the 16384 slots split between
// them) and waits until every node reports the cluster ok. The nodes stop
// when the test ends. It needs redis-server and redis-cli, like Start.
func StartCluster(t testing.TB) *Cluster {
	t.Helper()
	need(t, "redis-server")
	need(t, "redis-cli")
	c := &Cluster{t: t}
	// Every node needs a second port for the cluster bus: the default,
	// port+10000, may be taken or out of range for a random port.
	ports := freePorts(t, 6)
	for i := range 3 {
		dir := t.TempDir()
		s := reserveOn(t, ports[2*i], "", "--cluster-enabled", "yes",
			"--cluster-config-file", dir+"/nodes.conf",
			"--cluster-node-timeout", "1000",
			"--cluster-port", strconv.Itoa(ports[2*i+1]))
		s.Restart()
		c.Nodes = append(c.Nodes, s)
	}
	args := append([]string{"--cluster", "create"}, c.Addrs()...)
	args = append(args, "--cluster-replicas", "0", "--cluster-yes")
	if out, err := exec.Command("redis-cli", args...).CombinedOutput(); err != nil {
		t.Fatalf("redis-cli --cluster create: %v\n%s", err, out)
	}
	for _, n := range c.Nodes {
		client := n.Client()
		waitFor(t, "cluster ok on "+n.Addr(), clusterStartTimeout, func() (bool, string) {
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			defer cancel()
			info, err := client.ClusterInfo(ctx).Result()
			if err != nil {
				return false, err.Error()
			}
			return strings.Contains(info, "cluster_state:ok") && strings.Contains(info, "cluster_known_nodes:3"), info
		})
	}
	return c
}

// Addrs are the nodes' host:port.
func (c *Cluster) Addrs() []string { return addrs(c.Nodes) }

// Client returns a cluster client for inspecting the cluster directly,
// closed when the test ends.
func (c *Cluster) Client() *redis.ClusterClient {
	cc := redis.NewClusterClient(&redis.ClusterOptions{Addrs: c.Addrs()})
	c.t.Cleanup(func() { _ = cc.Close() })
	return cc
}
