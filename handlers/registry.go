package handlers

import (
	"slices"
	"sync"
)

// Published is a provisioned rest_auth handler as the operator's tools
// (the admin API, the store gauges) reach it: its endpoints and the
// location and backend of its store.
type Published struct {
	// Location is the store's bolt path, redis address or memory name.
	Location string
	// Backend is the store module's name: bolt, redis or memory.
	Backend string
	// Endpoints serve the handler's credential operations.
	Endpoints *Endpoints
}

// published are the handlers of the loaded configs (during a reload, of
// the old and the new one).
var published struct {
	mu   sync.Mutex
	list []*Published
}

// Publish adds p to the handlers the operator's tools see, until the
// returned function withdraws it (from the handler's Cleanup).
func Publish(p *Published) (withdraw func()) {
	published.mu.Lock()
	published.list = append(published.list, p)
	published.mu.Unlock()
	return func() {
		published.mu.Lock()
		defer published.mu.Unlock()
		published.list = slices.DeleteFunc(published.list, func(q *Published) bool { return q == p })
	}
}

// PublishedHandlers lists the published handlers, newest last.
func PublishedHandlers() []*Published {
	published.mu.Lock()
	defer published.mu.Unlock()
	return slices.Clone(published.list)
}

// Locations lists the distinct store locations of the published handlers,
// each with the handlers using it (newest last).
func Locations() map[string][]*Published {
	m := map[string][]*Published{}
	for _, p := range PublishedHandlers() {
		m[p.Location] = append(m[p.Location], p)
	}
	return m
}
