// Package monotonic reads the Go runtime's monotonic clock alone. time.Now
// reads the wall clock too, which doubles the cost of timing an operation
// of the request path (a store lookup answered from memory takes about as
// long as time.Now and time.Since together).
package monotonic

import (
	"time"
	_ "unsafe" // for go:linkname
)

// nanotime is the runtime's monotonic clock. The runtime keeps it
// reachable by linkname for packages outside the standard library (see
// go.dev/issue/67401).
//
//go:linkname nanotime runtime.nanotime
func nanotime() int64

// Instant is a reading of the monotonic clock in nanoseconds from an
// arbitrary origin: meaningful in differences and comparisons with other
// readings of this process (Since, or as an int64), never as a date.
type Instant int64

// Now reads the monotonic clock.
func Now() Instant { return Instant(nanotime()) }

// Since is the time elapsed since start.
func Since(start Instant) time.Duration { return time.Duration(nanotime() - int64(start)) }
