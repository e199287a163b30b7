package authenticators

import (
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	dto "github.com/prometheus/client_model/go"
)

// TestRegisterMetricsTwice: a second rest_auth block, or a reload's new
// registry, registers the same collectors without error.
func TestRegisterMetricsTwice(t *testing.T) {
	for range 2 {
		reg := prometheus.NewPedanticRegistry()
		for range 2 {
			if err := RegisterMetrics(reg); err != nil {
				t.Fatal(err)
			}
		}
	}
}

func TestRequestCountersOutcomes(t *testing.T) {
	c := NewRequestCounters("test_outcomes")
	value := func(outcome string) float64 {
		return testutil.ToFloat64(metrics.requests.WithLabelValues("test_outcomes", outcome))
	}
	before := map[string]float64{}
	for _, o := range requestOutcomes {
		before[o] = value(o)
	}
	for _, o := range []string{OutcomeOK, OutcomeOK, OutcomeInvalid, OutcomeForbidden, OutcomeThrottled, OutcomeUnavailable} {
		c.Count(o)
	}
	for outcome, want := range map[string]float64{
		OutcomeOK: 2, OutcomeInvalid: 1, OutcomeForbidden: 1, OutcomeThrottled: 1, OutcomeUnavailable: 1,
	} {
		if got := value(outcome) - before[outcome]; got != want {
			t.Errorf("outcome %s = %v, want %v", outcome, got, want)
		}
	}
}

// BenchmarkRequestCount is what counting costs a request: one pre-bound
// counter increment (BENCHMARKS.md).
func BenchmarkRequestCount(b *testing.B) {
	c := NewRequestCounters("bench")
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			c.Count(OutcomeOK)
		}
	})
}

// BenchmarkRequestCountSerial is the same, from one goroutine.
func BenchmarkRequestCountSerial(b *testing.B) {
	c := NewRequestCounters("bench")
	b.ReportAllocs()
	for b.Loop() {
		c.Count(OutcomeOK)
	}
}

// timedStoreOps returns a function that tells how many operations op of the
// store labelled backend (a name of the test's own) the
// caddy_rest_auth_store_duration_seconds histogram timed since now: the
// histogram outlives a test run (-count=2).
func timedStoreOps(t *testing.T, backend, op string) func() uint64 {
	t.Helper()
	count := func() uint64 {
		var m dto.Metric
		if err := metrics.storeDuration.WithLabelValues(backend, op).(prometheus.Histogram).Write(&m); err != nil {
			t.Fatal(err)
		}
		return m.GetHistogram().GetSampleCount()
	}
	start := count()
	return func() uint64 { return count() - start }
}
