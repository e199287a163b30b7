package authenticators

import (
	"github.com/caddyserver/caddy/v2"
	"go.uber.org/zap"
)

// A store outage turns throttling off, for the checks whose store calls
// fail: each of them checks the password uncounted (a check whose lockout
// read failed does so without the stripe locks). So that checks of one
// user or address do not queue behind each other's timeouts (about 2 s a
// call in a Redis hang) while holding the stripe locks, a check that
// waited for the locks while a check holding them saw the store fail
// skips the store too (stripeFailures). Nothing else changes: a failure
// never lifts a lockout or stops the counting of any other check.

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

// failedUnder records that a store call of a check with counters c failed,
// for the checks waiting for the same stripe locks.
func (p *Passwords) failedUnder(c counters) {
	for _, k := range c {
		p.stripeFailures[stripe(k.key)].Add(1)
	}
}

// failuresUnder sums the failures recorded under c's stripes: a check
// reads it before it waits for the locks and again once it holds them.
func (p *Passwords) failuresUnder(c counters) uint64 {
	var n uint64
	for _, k := range c {
		n += p.stripeFailures[stripe(k.key)].Load()
	}
	return n
}

// lockoutNotStored logs a counter at its limit whose lockout could not be
// stored (with redis's wait_replicas short of replicas, it was written but
// not acknowledged by enough replicas). The failure itself was counted, so
// throttling stays on and the other counters are still counted.
func (p *Passwords) lockoutNotStored(err error) {
	caddy.Log().Named("rest_auth.throttle").Warn("throttle: storing a lockout failed", zap.Error(err))
}
