// Package process ends the processes that tests and benchmarks start.
package process

import (
	"os/exec"
	"syscall"
	"time"
)

// Stop asks the process of cmd to end (SIGTERM), kills it if it has not
// ended after grace, and waits for it. A command that was not started, or
// whose process has been waited for already, is left alone.
func Stop(cmd *exec.Cmd, grace time.Duration) {
	if cmd == nil || cmd.Process == nil || cmd.ProcessState != nil {
		return
	}
	_ = cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(grace):
		_ = cmd.Process.Kill()
		<-done
	}
}
