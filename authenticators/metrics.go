package authenticators

import (
	"errors"
	"strings"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
)

// Request methods and outcomes of caddy_rest_auth_requests_total beyond the
// authenticator names.
const (
	MethodAnonymous = "anonymous"

	OutcomeOK          = "ok"
	OutcomeInvalid     = "invalid"
	OutcomeForbidden   = "forbidden"
	OutcomeThrottled   = "throttled"
	OutcomeUnavailable = "unavailable"
)

// requestOutcomes are the outcome label values, in the order of
// RequestCounters.
var requestOutcomes = [...]string{OutcomeOK, OutcomeInvalid, OutcomeForbidden, OutcomeThrottled, OutcomeUnavailable}

// loginOutcomes are the outcome label values of logins_total.
var loginOutcomes = [...]string{OutcomeOK, OutcomeInvalid, OutcomeThrottled}

// metrics are the process-wide collectors. Caddy gives every config load a
// new registry; the collectors outlive it, so counts survive reloads, and
// several rest_auth blocks share them.
var metrics = struct {
	once          sync.Once
	requests      *prometheus.CounterVec
	logins        *prometheus.CounterVec
	throttled     *prometheus.CounterVec
	storeDuration *prometheus.HistogramVec
	storeErrors   *prometheus.CounterVec
}{}

func initMetrics() {
	metrics.once.Do(func() {
		const ns, sub = "caddy", "rest_auth"
		metrics.requests = prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: ns, Subsystem: sub, Name: "requests_total",
			Help: "Requests authenticated by rest_auth, by credential method and outcome.",
		}, []string{"method", "outcome"})
		metrics.logins = prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: ns, Subsystem: sub, Name: "logins_total",
			Help: "Password logins at the credential endpoints, by endpoint and outcome.",
		}, []string{"endpoint", "outcome"})
		metrics.throttled = prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: ns, Subsystem: sub, Name: "throttled_total",
			Help: "Password checks refused because the user or the client address is locked out.",
		}, []string{"scope"})
		metrics.storeDuration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: ns, Subsystem: sub, Name: "store_duration_seconds",
			Help:    "Duration of store operations, by backend and operation.",
			Buckets: []float64{.0001, .0005, .001, .005, .01, .05, .1, .5, 1},
		}, []string{"backend", "op"})
		metrics.storeErrors = prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: ns, Subsystem: sub, Name: "store_errors_total",
			Help: "Store operations that failed (not counting records that do not exist).",
		}, []string{"backend"})
	})
}

// RegisterMetrics registers the rest_auth collectors in registry (a config
// load's registry, from ctx.GetMetricsRegistry()). Registering them again,
// for a second rest_auth block, is not an error.
func RegisterMetrics(registry *prometheus.Registry) error {
	initMetrics()
	for _, c := range []prometheus.Collector{
		metrics.requests, metrics.logins, metrics.throttled,
		metrics.storeDuration, metrics.storeErrors,
	} {
		var already prometheus.AlreadyRegisteredError
		if err := registry.Register(c); err != nil && !errors.As(err, &already) {
			return err
		}
	}
	return nil
}

// RequestCounters are the request counters of one method, bound to their
// labels up front so counting a request is one atomic add.
type RequestCounters [len(requestOutcomes)]prometheus.Counter

// NewRequestCounters binds the request counters of method.
func NewRequestCounters(method string) *RequestCounters {
	initMetrics()
	var c RequestCounters
	for i, o := range requestOutcomes {
		c[i] = metrics.requests.WithLabelValues(method, o)
	}
	return &c
}

// Count counts one request with outcome (one of the Outcome constants; an
// unknown one counts as unavailable).
func (c *RequestCounters) Count(outcome string) {
	switch outcome {
	case OutcomeOK:
		c[0].Inc()
	case OutcomeInvalid:
		c[1].Inc()
	case OutcomeForbidden:
		c[2].Inc()
	case OutcomeThrottled:
		c[3].Inc()
	default:
		c[4].Inc()
	}
}

// LoginCounters are the login counters of one endpoint.
type LoginCounters [len(loginOutcomes)]prometheus.Counter

// NewLoginCounters binds the login counters of endpoint.
func NewLoginCounters(endpoint string) *LoginCounters {
	initMetrics()
	var c LoginCounters
	for i, o := range loginOutcomes {
		c[i] = metrics.logins.WithLabelValues(endpoint, o)
	}
	return &c
}

// Count counts one login with outcome (ok, invalid or throttled; anything
// else is not a login outcome and is not counted).
func (c *LoginCounters) Count(outcome string) {
	switch outcome {
	case OutcomeOK:
		c[0].Inc()
	case OutcomeInvalid:
		c[1].Inc()
	case OutcomeThrottled:
		c[2].Inc()
	}
}

// throttledCounters are bound once: scope user and address.
var throttledCounters = sync.OnceValue(func() [2]prometheus.Counter {
	initMetrics()
	return [2]prometheus.Counter{
		metrics.throttled.WithLabelValues("user"),
		metrics.throttled.WithLabelValues("address"),
	}
})

// OutcomeOf is the outcome label of a request the chain refused with err.
func OutcomeOf(err error) string {
	rej, ok := AsRejection(err)
	if !ok {
		return OutcomeUnavailable
	}
	switch rej.StatusCode() {
	case 401:
		return OutcomeInvalid
	case 429:
		return OutcomeThrottled
	case 503:
		return OutcomeUnavailable
	}
	return OutcomeForbidden
}

// countThrottled counts a check refused because the failure counter under
// key is at its limit: a user's (fail:user:…, fail:user-addr:…) or an
// address's (fail:addr:…).
func countThrottled(key string) {
	c := throttledCounters()
	if strings.HasPrefix(key, keyUser) || strings.HasPrefix(key, keyUserAddr) {
		c[0].Inc()
	} else {
		c[1].Inc()
	}
}
