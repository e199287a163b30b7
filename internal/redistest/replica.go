package redistest

import (
	"context"
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
	rc := replica.Client()
	waitFor(s.t, "the replica of "+s.Addr()+" to sync", startTimeout, func() (bool, string) {
		info, err := rc.Info(context.Background(), "replication").Result()
		if err != nil {
			return false, err.Error()
		}
		return strings.Contains(info, "master_link_status:up"), info
	})
	return replica
}
