package redistest

import (
	"context"
	"fmt"
	"strconv"
	"strings"
)

// StartReplica runs a replica of s on a free loopback port and waits
// until it has synced; it stops when the test ends.
func (s *Server) StartReplica() *Server {
	s.t.Helper()
	// The master waits 5 s by default for more replicas to sync at once.
	if err := s.Client().ConfigSet(context.Background(), "repl-diskless-sync-delay", "0").Err(); err != nil {
		s.t.Fatalf("redistest: %v", err)
	}
	// Promoted by a failover, it has the other replicas sync from it.
	replica := reserve(s.t, "", "--replicaof", "127.0.0.1", strconv.Itoa(s.Port), "--repl-diskless-sync-delay", "0")
	replica.Restart()
	rc, mc := replica.Client(), s.Client()
	online := "port=" + strconv.Itoa(replica.Port) + ",state=online"
	waitFor(s.t, "the replica of "+s.Addr()+" to sync", startTimeout, func() (bool, string) {
		info, err := rc.Info(context.Background(), "replication").Result()
		if err != nil || !strings.Contains(info, "master_link_status:up") {
			return false, fmt.Sprint("replica: ", info, err)
		}
		// The master counts it for WAIT once it is online there too.
		info, err = mc.Info(context.Background(), "replication").Result()
		return err == nil && strings.Contains(info, online), fmt.Sprint("master: ", info, err)
	})
	return replica
}
