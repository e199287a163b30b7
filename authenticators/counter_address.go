package authenticators

import (
	"net/netip"
	"strings"
)

// counterAddressBits is the part of an IPv6 client address that failures
// are counted under: the /64 network, one subscriber's (the interface part
// is the client's to change at will, so counting by the whole address
// would let one client rotate past the per-address limits).
const counterAddressBits = 64

// counterAddress is the address a client's failures are counted under:
// an IPv4 address as it is, also when it comes written as IPv4-mapped IPv6
// (`::ffff:192.0.2.1`, which a proxy may send), and an IPv6 address's /64
// network. Anything else (ClientIP's fallback text) is used as it is.
func counterAddress(addr string) string {
	if !strings.Contains(addr, ":") {
		return addr // IPv4: nothing to parse on the common path
	}
	a, err := netip.ParseAddr(addr)
	if err != nil {
		return addr
	}
	if a = a.Unmap(); a.Is4() {
		return a.String()
	}
	p, err := a.WithZone("").Prefix(counterAddressBits)
	if err != nil {
		return addr
	}
	return p.String()
}
