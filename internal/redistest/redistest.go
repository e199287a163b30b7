// Package redistest starts throwaway redis-server processes for tests: a
// single server (Start), a Redis Cluster (StartCluster) and a master with a
// replica watched by Sentinel (StartSentinel).
package redistest

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/caddy-restauth/caddy-restauth/internal/poll"
)

// startTimeout is how long Start waits for a new server to answer PING.
const startTimeout = 10 * time.Second

// Server is a redis-server on a loopback port, without persistence.
type Server struct {
	t    testing.TB
	Port int
	// conf is the config file the server starts with ("" for none), and
	// args are added to the command line of every start (cluster mode,
	// replicaof, sentinel).
	conf string
	args []string
	dir  string
	cmd  *exec.Cmd
	out  *lockedBuffer // what the server logged since its last start
}

// Addr is the server's host:port.
func (s *Server) Addr() string { return "127.0.0.1:" + strconv.Itoa(s.Port) }

// Start runs redis-server on a free loopback port and stops it when the test
// ends. Without redis-server the test fails when the environment variable
// CI is set, and is skipped otherwise.
func Start(t testing.TB) *Server {
	t.Helper()
	s := Reserve(t)
	s.Restart()
	return s
}

// Reserve picks a free loopback port for a server that does not run yet
// (a Redis that is down), to be started with Restart; like Start, it stops
// the server when the test ends and needs redis-server.
func Reserve(t testing.TB) *Server {
	t.Helper()
	return reserve(t, "")
}

// reserve is Reserve for a server started with the config file conf (none
// when "") and args.
func reserve(t testing.TB, conf string, args ...string) *Server {
	t.Helper()
	return reserveOn(t, freePort(t), conf, args...)
}

// reserveOn is reserve on a given port.
func reserveOn(t testing.TB, port int, conf string, args ...string) *Server {
	t.Helper()
	need(t, "redis-server")
	s := &Server{t: t, Port: port, conf: conf, args: args, dir: t.TempDir()}
	t.Cleanup(s.Kill)
	return s
}

// need skips the test, or fails it under CI, when binary is not installed.
func need(t testing.TB, binary string) {
	t.Helper()
	if _, err := exec.LookPath(binary); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("%s not found (CI is set, so this fails instead of skipping): %v", binary, err)
		}
		t.Skipf("%s not found: install redis to run the redis store tests", binary)
	}
}

// freePort returns a loopback port nobody listens on right now.
func freePort(t testing.TB) int {
	t.Helper()
	return freePorts(t, 1)[0]
}

// freePorts returns n distinct loopback ports nobody listens on right now.
func freePorts(t testing.TB, n int) []int {
	t.Helper()
	ports := make([]int, n)
	for i := range ports {
		// Held open until all are picked, so that none is picked twice.
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatalf("finding a free port: %v", err)
		}
		defer l.Close()
		ports[i] = l.Addr().(*net.TCPAddr).Port
	}
	return ports
}

// Restart starts the server again on the same port after Kill (or for the
// first time), and waits until it answers PING.
func (s *Server) Restart() {
	s.t.Helper()
	if s.cmd != nil {
		s.t.Fatal("redistest: Restart while the server runs")
	}
	var args []string
	if s.conf != "" {
		args = append(args, s.conf) // the config file must come first
	}
	args = append(args, "--port", strconv.Itoa(s.Port), "--bind", "127.0.0.1",
		"--save", "", "--appendonly", "no", "--dir", s.dir)
	args = append(args, s.args...)
	cmd := exec.Command("redis-server", args...)
	out := new(lockedBuffer) // redis logs to stdout; shown when it misbehaves
	cmd.Stdout, cmd.Stderr = out, out
	s.out = out
	if err := cmd.Start(); err != nil {
		s.t.Fatalf("starting redis-server: %v", err)
	}
	s.cmd = cmd
	c := redis.NewClient(&redis.Options{Addr: s.Addr(), DialTimeout: 200 * time.Millisecond, MaxRetries: -1})
	defer c.Close()
	deadline := time.Now().Add(startTimeout)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		err := c.Ping(ctx).Err()
		cancel()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			s.Kill()
			s.t.Fatalf("redis-server on port %d did not answer PING within %v: %v\n%s", s.Port, startTimeout, err, out.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Kill stops the server at once and waits for it to exit. Killing a
// stopped server does nothing.
func (s *Server) Kill() {
	if s.cmd == nil {
		return
	}
	_ = s.cmd.Process.Kill()
	_ = s.cmd.Wait()
	s.cmd = nil
}

// Client returns a client for inspecting the server directly, closed when
// the test ends.
func (s *Server) Client() *redis.Client {
	c := redis.NewClient(&redis.Options{Addr: s.Addr()})
	s.t.Cleanup(func() { _ = c.Close() })
	return c
}

// Log is what the server logged since it last started.
func (s *Server) Log() string {
	if s.out == nil {
		return ""
	}
	return s.out.String()
}

// lockedBuffer is a bytes.Buffer a process writes to while tests read it.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// addrs are the servers' host:port.
func addrs(servers []*Server) []string {
	out := make([]string, len(servers))
	for i, s := range servers {
		out[i] = s.Addr()
	}
	return out
}

// String describes the server for test messages.
func (s *Server) String() string { return fmt.Sprintf("redis-server on %s", s.Addr()) }

// waitFor polls cond every 50 ms until it reports true, failing the test
// with what it last said once timeout has passed.
func waitFor(t testing.TB, what string, timeout time.Duration, cond func() (bool, string)) {
	t.Helper()
	poll.Until(t, "redistest: "+what, timeout, cond)
}
