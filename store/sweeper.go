package store

import "time"

// sweeper calls sweep with the backend's time every interval until halt,
// so that a backend without native expiry drops expired records.
type sweeper struct {
	stop chan struct{}
	done chan struct{}
}

// startSweeper starts calling sweep(stop, now()) every interval. A sweep
// that takes long returns early once stop is closed.
func startSweeper(interval time.Duration, now func() time.Time, sweep func(stop <-chan struct{}, now time.Time)) *sweeper {
	s := &sweeper{stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(s.done)
		tick := time.NewTicker(interval)
		defer tick.Stop()
		for {
			select {
			case <-s.stop:
				return
			case <-tick.C:
				sweep(s.stop, now())
			}
		}
	}()
	return s
}

// halt stops the sweeper and waits until a running sweep has returned
// (a bolt sweep stops after its current batch).
func (s *sweeper) halt() {
	close(s.stop)
	<-s.done
}
