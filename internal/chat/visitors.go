package chat

import (
	"net"
	"net/netip"
	"time"

	"custos/internal/desk"
	"custos/internal/ratelimit"
)

// maxVisitorIPs bounds the per-IP visitor buckets kept in memory.
const maxVisitorIPs = 16384

// errVisitorLimit refuses a new anonymous visitor over its IP's allowance.
var errVisitorLimit = &desk.Error{Code: desk.ERateLimited, Message: "too many new visitors from this address"}

// visitorLimiter limits creating anonymous visitors per remote address (a
// hello without a known device token creates a contact each time, so an
// unthrottled script could fill the contacts table). IPv6 addresses share a
// bucket per /64. Loopback peers are exempt unless configured otherwise: load
// tests and a local reverse proxy connect from there.
type visitorLimiter struct {
	loopback bool // limit loopback peers too
	k        *ratelimit.Keyed[netip.Addr]
}

func newVisitorLimiter(perMinute, burst float64, loopback bool) *visitorLimiter {
	return &visitorLimiter{loopback: loopback, k: ratelimit.NewKeyed[netip.Addr](perMinute/60, burst, maxVisitorIPs)}
}

// remoteIP parses the host of an http.Request.RemoteAddr; the zero Addr
// when it is not an IP (every such peer then shares one bucket).
func remoteIP(remoteAddr string) netip.Addr {
	host, _, err := net.SplitHostPort(remoteAddr)
	if err != nil {
		host = remoteAddr
	}
	ip, err := netip.ParseAddr(host)
	if err != nil {
		return netip.Addr{}
	}
	ip = ip.Unmap().WithZone("")
	if ip.Is6() && !ip.IsLoopback() {
		ip = netip.PrefixFrom(ip, 64).Masked().Addr()
	}
	return ip
}

// allow takes a token for one new visitor from ip.
func (l *visitorLimiter) allow(ip netip.Addr, now time.Time) bool {
	if ip.IsLoopback() && !l.loopback {
		return true
	}
	return l.k.Allow(ip, now)
}
