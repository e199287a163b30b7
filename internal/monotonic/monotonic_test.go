package monotonic

import (
	"testing"
	"time"
)

// TestSinceAgreesWithTime: Since measures what time.Since measures around
// it, never less and not much more.
func TestSinceAgreesWithTime(t *testing.T) {
	outer := time.Now()
	start := Now()
	time.Sleep(20 * time.Millisecond)
	inner := Since(start)
	outerElapsed := time.Since(outer)
	if inner < 20*time.Millisecond || inner > outerElapsed {
		t.Fatalf("Since = %v, want between 20ms and %v", inner, outerElapsed)
	}
}
