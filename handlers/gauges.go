package handlers

import (
	"context"
	"errors"
	"github.com/caddy-restauth/caddy-restauth/authenticators"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// gaugeRefresh is the shortest time between two counts of the stores.
const gaugeRefresh = time.Minute

// gaugeTimeout bounds one count of the stores.
const gaugeTimeout = 5 * time.Second

// storeGauges are caddy_rest_auth_tokens and caddy_rest_auth_sessions:
// counted in the published handlers' stores when a scrape finds the last
// count older than gaugeRefresh, so never on the request path and at most
// once a minute.
type storeGauges struct {
	tokens, sessions *prometheus.Desc

	mu                       sync.Mutex
	counted                  time.Time
	tokenCount, sessionCount float64
}

var gauges = &storeGauges{
	tokens: prometheus.NewDesc("caddy_rest_auth_tokens",
		"API tokens in the stores in use (counted at most once a minute; expired ones not yet removed included).", nil, nil),
	sessions: prometheus.NewDesc("caddy_rest_auth_sessions",
		"Sessions in the stores in use (counted at most once a minute; expired ones not yet removed included).", nil, nil),
}

// RegisterGauges registers the store gauges in registry; registering them
// again (another rest_auth block) is not an error.
func RegisterGauges(registry *prometheus.Registry) error {
	var already prometheus.AlreadyRegisteredError
	if err := registry.Register(gauges); err != nil && !errors.As(err, &already) {
		return err
	}
	return nil
}

// Describe implements prometheus.Collector.
func (g *storeGauges) Describe(ch chan<- *prometheus.Desc) {
	ch <- g.tokens
	ch <- g.sessions
}

// Collect implements prometheus.Collector.
func (g *storeGauges) Collect(ch chan<- prometheus.Metric) {
	g.mu.Lock()
	if time.Since(g.counted) >= gaugeRefresh {
		g.count()
	}
	tokens, sessions := g.tokenCount, g.sessionCount
	g.mu.Unlock()
	ch <- prometheus.MustNewConstMetric(g.tokens, prometheus.GaugeValue, tokens)
	ch <- prometheus.MustNewConstMetric(g.sessions, prometheus.GaugeValue, sessions)
}

// count counts the tokens and sessions of every store location once. A
// store that fails keeps the previous count.
func (g *storeGauges) count() {
	ctx, cancel := context.WithTimeout(context.Background(), gaugeTimeout)
	defer cancel()
	var tokens, sessions int
	for _, group := range Locations() {
		t, s, err := authenticators.CountStored(ctx, group[len(group)-1].Endpoints.env)
		if err != nil {
			return
		}
		tokens += t
		sessions += s
	}
	g.counted = time.Now()
	g.tokenCount, g.sessionCount = float64(tokens), float64(sessions)
}
