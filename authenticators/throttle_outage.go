package authenticators

import (
	"github.com/caddyserver/caddy/v2"
	"go.uber.org/zap"
)

// A store outage turns throttling off, for the checks whose store calls
// fail: each of them checks the password uncounted (a check whose lockout
// read fails does so without the stripe locks). So that checks of one
// user or address do not queue behind each other's timeouts (about 2 s a
// call in a Redis hang) while holding the stripe locks, a check that
// waited for the locks while the check holding them saw a store call on
// one of its own counters fail skips the store too: its own call on that
// counter would wait as long. Failures of other counters (another user's,
// even on a shared stripe) and failures outside the locks change nothing
// for it: a failure never lifts a lockout or stops the counting of a check
// whose counters the store still serves.

// counterFailure records a failed store call on the counter key. A new one
// is made for every failure: its address tells one failure from the next.
type counterFailure struct{ key string }

// storeFailed turns throttling off until the store works again, logging
// that at the first failure of an outage only.
func (p *Passwords) storeFailed(err error) {
	if p.degraded.CompareAndSwap(false, true) {
		caddy.Log().Named("rest_auth.throttle").Warn(
			"store unavailable: passwords are checked without throttling until it is back", zap.Error(err))
	}
}

// storeWorks ends a throttling outage, logging that once. Outside an
// outage it costs one atomic load.
func (p *Passwords) storeWorks() {
	if p.degraded.Load() && p.degraded.CompareAndSwap(true, false) {
		caddy.Log().Named("rest_auth.throttle").Info("store available again: throttling resumed")
	}
}

// failedUnder records that store calls on counters cs failed while the
// check held their stripe locks, for the checks waiting for those locks.
func (p *Passwords) failedUnder(cs ...counter) {
	for _, k := range cs {
		p.stripeFailures[stripe(k.key)].Store(&counterFailure{key: k.key})
	}
}

// failuresOf is the failures last recorded on c's stripes: a check reads
// them before it waits for the locks, and failedSince once it holds them.
func (p *Passwords) failuresOf(c counters) (last [3]*counterFailure) {
	for i, k := range c {
		last[i] = p.stripeFailures[stripe(k.key)].Load()
	}
	return last
}

// failedSince reports whether a store call on one of c's own counters
// failed under the locks since failuresOf returned before.
func (p *Passwords) failedSince(c counters, before [3]*counterFailure) bool {
	for i, k := range c {
		if f := p.stripeFailures[stripe(k.key)].Load(); f != before[i] && f != nil && f.key == k.key {
			return true
		}
	}
	return false
}

// lockoutNotStored logs a counter at its limit whose lockout could not be
// stored (with redis's wait_replicas short of replicas, it was written but
// not acknowledged by enough replicas). The failure itself was counted, so
// throttling stays on and the other counters are still counted.
func (p *Passwords) lockoutNotStored(err error) {
	caddy.Log().Named("rest_auth.throttle").Warn("throttle: storing a lockout failed", zap.Error(err))
}
