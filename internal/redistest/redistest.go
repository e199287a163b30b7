// Package redistest starts throwaway redis-server processes for tests.
package redistest

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// startTimeout is how long Start waits for a new server to answer PING.
const startTimeout = 10 * time.Second

// Server is a redis-server on a loopback port, without persistence.
type Server struct {
	t    testing.TB
	Port int
	cmd  *exec.Cmd
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
	if _, err := exec.LookPath("redis-server"); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("redis-server not found (CI is set, so this fails instead of skipping): %v", err)
		}
		t.Skip("redis-server not found: install redis to run the redis store tests")
	}
	s := &Server{t: t, Port: freePort(t)}
	t.Cleanup(s.Kill)
	return s
}

// freePort returns a loopback port nobody listens on right now.
func freePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("finding a free port: %v", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// Restart starts the server again on the same port after Kill (or for the
// first time), and waits until it answers PING.
func (s *Server) Restart() {
	s.t.Helper()
	if s.cmd != nil {
		s.t.Fatal("redistest: Restart while the server runs")
	}
	cmd := exec.Command("redis-server",
		"--port", strconv.Itoa(s.Port), "--bind", "127.0.0.1",
		"--save", "", "--appendonly", "no", "--dir", s.t.TempDir())
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
			s.t.Fatalf("redis-server on port %d did not answer PING within %v: %v", s.Port, startTimeout, err)
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

// String describes the server for test messages.
func (s *Server) String() string { return fmt.Sprintf("redis-server on %s", s.Addr()) }
