package restauth

import (
	"net/http"

	"github.com/caddyserver/caddy/v2"
	"go.uber.org/zap"

	// The admin API module and the `caddy rest-auth` command.
	_ "github.com/caddy-restauth/caddy-restauth/admin"
	"github.com/caddy-restauth/caddy-restauth/authenticators"
	"github.com/caddy-restauth/caddy-restauth/handlers"
	"github.com/caddy-restauth/caddy-restauth/store"
)

// provisionOperations sets up what operators see of the handler: its
// metrics in the config's registry and its audit trail.
func (h *Handler) provisionOperations(ctx caddy.Context) error {
	if err := authenticators.RegisterMetrics(ctx.GetMetricsRegistry()); err != nil {
		return err
	}
	if err := handlers.RegisterGauges(ctx.GetMetricsRegistry()); err != nil {
		return err
	}
	h.audit = authenticators.NewAudit(h.logger)
	return nil
}

// measure wraps the loaded store module so its operations are timed.
func (h *Handler) measure(mod any) store.Store {
	backend := caddy.GetModuleName(mod)
	h.published = &handlers.Published{Backend: backend}
	if l, ok := mod.(store.Located); ok {
		h.published.Location = l.Location()
	}
	return authenticators.Measure(mod.(store.Store), backend)
}

// publish makes the handler reachable by the admin API and the store
// gauges until Cleanup.
func (h *Handler) publish(env authenticators.Env) {
	e := h.endpoints
	if e == nil {
		e = handlers.New("/", env, h.challenge, h.chain)
	}
	h.published.Endpoints = e
	h.unload = append(h.unload, handlers.Publish(h.published))
}

// count counts a request whose credential chain entry decided (-1: none
// did) with outcome.
func (h *Handler) count(decided int, outcome string) {
	if decided < 0 {
		decided = len(h.counters) - 1
	}
	h.counters[decided].Count(outcome)
}

// countOnce counts a request with outcome unless an earlier rest_auth
// block already authenticated (and counted) it.
func (h *Handler) countOnce(seen bool, decided int, outcome string) {
	if !seen {
		h.count(decided, outcome)
	}
}

// rejected counts and audits a request whose credential was refused with
// err.
func (h *Handler) rejected(r *http.Request, decided int, err error) {
	outcome := authenticators.OutcomeOf(err)
	h.count(decided, outcome)
	method := authenticators.MethodAnonymous
	if decided >= 0 {
		method = h.methods[decided]
	}
	reason := "store unavailable"
	if rej, ok := authenticators.AsRejection(err); ok {
		reason = rej.Detail
	}
	h.audit.Rejected(r, method, reason)
}

// auditUsers records the users a config load applied.
func (h *Handler) auditUsers(count int) {
	if h.UsersFile != "" {
		h.audit.Event(authenticators.EventUsersLoaded, nil, "",
			zap.String("users_file", h.UsersFile), zap.Int("users", count))
	}
}
