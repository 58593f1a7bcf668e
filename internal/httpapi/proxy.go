package httpapi

import (
	"net"
	"net/netip"
	"strings"
)

// maxForwardedHops bounds how much of X-Forwarded-For is read: a client can
// send a header of any length, and only the last few hops were added by our
// own proxies.
const maxForwardedHops = 16

// clientAddr returns the address the rest of the server treats as the
// client (login throttling, new-visitor limits, logs). The TCP peer is the
// client unless it is one of our trusted proxies; then X-Forwarded-For is
// walked from the right (the hops our proxies appended) past every trusted
// address, and the first untrusted one is the client. A header a client
// forged sits to the left of that point and is never read. With no trusted
// proxies the header is ignored entirely (decision 20).
func clientAddr(remote string, xff []string, trusted []netip.Prefix) string {
	if len(trusted) == 0 || len(xff) == 0 {
		return remote
	}
	peer, ok := parseHost(remote)
	if !ok || !inPrefixes(peer, trusted) {
		return remote
	}
	var hops []string
	for _, h := range xff {
		hops = append(hops, strings.Split(h, ",")...)
	}
	if len(hops) > maxForwardedHops {
		hops = hops[len(hops)-maxForwardedHops:]
	}
	for i := len(hops) - 1; i >= 0; i-- {
		a, err := netip.ParseAddr(strings.TrimSpace(hops[i]))
		if err != nil {
			// Garbage where a hop should be: stop at the last proxy we
			// trust rather than guess.
			return remote
		}
		a = a.Unmap()
		if !inPrefixes(a, trusted) {
			return netip.AddrPortFrom(a, 0).String()
		}
	}
	return remote // every hop is one of ours
}

func parseHost(hostport string) (netip.Addr, bool) {
	host, _, err := net.SplitHostPort(hostport)
	if err != nil {
		host = hostport
	}
	a, err := netip.ParseAddr(host)
	if err != nil {
		return netip.Addr{}, false
	}
	return a.Unmap(), true
}

func inPrefixes(a netip.Addr, ps []netip.Prefix) bool {
	for _, p := range ps {
		if p.Contains(a) {
			return true
		}
	}
	return false
}
