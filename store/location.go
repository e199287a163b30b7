package store

// Located is implemented by the store modules: Location names the data
// set, so an operator can pick one store among several (the admin API's
// `?store=`), and handlers that share a data set can be told apart from
// those that do not.
type Located interface {
	// Location is the bolt file's path, the redis server's address
	// (`<master>@<sentinel>,...` with Sentinel, `<node>,...` with Cluster)
	// or the memory store's name.
	Location() string
}

// Location implements Located.
func (m *Memory) Location() string { return m.Name }

// Location implements Located.
func (b *Bolt) Location() string { return b.Path }

// Location implements Located.
func (r *Redis) Location() string { return r.conn.location }

// Interface guards
var (
	_ Located = (*Memory)(nil)
	_ Located = (*Bolt)(nil)
	_ Located = (*Redis)(nil)
)
