package authenticators

import (
	"time"

	"github.com/caddyserver/caddy/v2"
	"go.uber.org/zap"
)

// throttlePause is how long password checks leave the store alone after
// one of its operations failed: the checks in between are done without
// throttling, at once, instead of each waiting for the store's timeouts
// (about 2 s a call in a Redis hang) while holding the locks of a user and
// an address, which made every other check of that user or address wait
// in turn. The first check after it tries the store again.
const throttlePause = time.Second

// storeFailed turns throttling off for throttlePause and until the store
// works again, logging that at the first failure of an outage only.
func (p *Passwords) storeFailed(err error) {
	p.pauseUntil.Store(int64(p.monoNow()) + int64(throttlePause))
	if p.degraded.CompareAndSwap(false, true) {
		caddy.Log().Named("rest_auth.throttle").Warn(
			"store unavailable: passwords are checked without throttling until it is back", zap.Error(err))
	}
}

// storeWorks ends a throttling outage, logging that once. Outside an
// outage it costs one atomic load.
func (p *Passwords) storeWorks() {
	if p.degraded.Load() && p.degraded.CompareAndSwap(true, false) {
		p.pauseUntil.Store(0)
		caddy.Log().Named("rest_auth.throttle").Info("store available again: throttling resumed")
	}
}

// paused reports whether checks leave the store alone now, after a
// failure (throttlePause). Outside an outage it costs one atomic load.
func (p *Passwords) paused() bool {
	until := p.pauseUntil.Load()
	return until != 0 && int64(p.monoNow()) < until
}

// lockoutNotStored logs a counter at its limit whose lockout could not be
// stored (with redis's wait_replicas short of replicas, it was written but
// not acknowledged by enough replicas). The failure itself was counted, so
// throttling stays on and the other counters are still counted.
func (p *Passwords) lockoutNotStored(err error) {
	caddy.Log().Named("rest_auth.throttle").Warn("throttle: storing a lockout failed", zap.Error(err))
}
