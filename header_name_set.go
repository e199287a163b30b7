package restauth

// headerNameSet is a set of header names matched the way backends read
// them (headerNamesEquivalent: case, '-', '_' and '.' alike), made to be
// asked about every header of every request: a name whose length no
// member has is turned away by one bit test, which is the answer for
// nearly every header a client sends.
type headerNameSet struct {
	// names are the members as given.
	names []string
	// lengths has bit n set when a member is n bytes long (bit 63: 63 or
	// longer).
	lengths uint64
}

func newHeaderNameSet(names ...string) *headerNameSet {
	s := &headerNameSet{names: names}
	for _, n := range names {
		s.lengths |= lengthBit(len(n))
	}
	return s
}

// contains reports whether name is equivalent to a member.
func (s *headerNameSet) contains(name string) bool {
	if s.lengths&lengthBit(len(name)) == 0 {
		return false
	}
	return equivalentToAny(name, s.names)
}

func lengthBit(n int) uint64 { return 1 << min(n, 63) }
