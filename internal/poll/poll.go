// Package poll waits, in tests, for state that arrives by itself (a
// subscription, a sweep, a process): it asks again until the answer is yes
// or a deadline passes, never a bare sleep.
package poll

import (
	"testing"
	"time"
)

// interval is the pause between two questions.
const interval = 10 * time.Millisecond

// Until calls cond every interval until it reports true, and fails the
// test with what, and what cond last said, once within has passed.
func Until(t testing.TB, what string, within time.Duration, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		ok, state := cond()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting for %s after %v: %s", what, within, state)
		}
		time.Sleep(interval)
	}
}

// True is cond for Until when it has nothing to say but yes or no.
func True(cond func() bool) func() (bool, string) {
	return func() (bool, string) { return cond(), "still not" }
}
