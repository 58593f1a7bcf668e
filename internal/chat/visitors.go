package chat

import (
	"net"
	"net/netip"
	"sync"
	"time"

	"custos/internal/desk"
)

// maxVisitorIPs bounds the per-IP visitor buckets kept in memory.
const maxVisitorIPs = 16384

// errVisitorLimit refuses a new anonymous visitor over its IP's allowance.
var errVisitorLimit = &desk.Error{Code: desk.ERateLimited, Message: "too many new visitors from this address"}

// visitorLimiter is a token bucket per remote address for creating
// anonymous visitors (a hello without a known device token creates a
// contact each time, so an unthrottled script could fill the contacts
// table). IPv6 addresses share a bucket per /64. Loopback peers are exempt
// unless configured otherwise: load tests and a local reverse proxy connect
// from there.
type visitorLimiter struct {
	rate, burst float64 // tokens per second, bucket size
	loopback    bool    // limit loopback peers too

	mu        sync.Mutex
	m         map[netip.Addr]*ipBucket
	lastSweep time.Time
}

type ipBucket struct {
	tokens float64
	last   time.Time
}

func newVisitorLimiter(perMinute, burst float64, loopback bool) *visitorLimiter {
	return &visitorLimiter{rate: perMinute / 60, burst: burst, loopback: loopback, m: make(map[netip.Addr]*ipBucket)}
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
	l.mu.Lock()
	defer l.mu.Unlock()
	b := l.m[ip]
	if b == nil {
		if len(l.m) >= maxVisitorIPs {
			l.evict(now)
		}
		b = &ipBucket{tokens: l.burst, last: now}
		l.m[ip] = b
	}
	b.tokens = min(l.burst, b.tokens+now.Sub(b.last).Seconds()*l.rate)
	b.last = now
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}

// evict makes room under l.mu: buckets that have refilled are forgotten
// (at most one sweep a second); if none has, an arbitrary one goes.
func (l *visitorLimiter) evict(now time.Time) {
	if now.Sub(l.lastSweep) >= time.Second {
		l.lastSweep = now
		for ip, b := range l.m {
			if b.tokens+now.Sub(b.last).Seconds()*l.rate >= l.burst {
				delete(l.m, ip)
			}
		}
	}
	for ip := range l.m {
		if len(l.m) < maxVisitorIPs {
			return
		}
		delete(l.m, ip)
	}
}
