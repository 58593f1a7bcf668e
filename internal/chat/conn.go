package chat

import (
	"context"
	"encoding/json"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"

	"custos/internal/auth"
)

// outQueue is the length of a connection's queue of direct replies (acks,
// errors, pongs). It holds a full frame burst (FrameBurst 40) so that only a
// client that stops reading fills it. Event delivery has its own queue in the
// hub subscription.
const outQueue = 64

// outItem is a queued reply, or a sync request for the writer (which owns
// the delivery state a sync needs).
type outItem struct {
	b      []byte
	sync   bool
	after  int64
	code   websocket.StatusCode // close after writing what was queued before
	reason string
}

// closeAfterQueued asks the writer to send what is queued (e.g. the error
// frame that warned the client) and then close with code.
func (c *conn) closeAfterQueued(code websocket.StatusCode, reason string) {
	select {
	case c.out <- outItem{code: code, reason: reason}:
	default:
		c.close(code, reason)
	}
}

// conn is what customer and agent connections share: the socket, the reply
// queue and a close that runs once.
type conn struct {
	ws           *websocket.Conn
	out          chan outItem
	done         chan struct{} // closed when the connection is being closed
	closed       atomic.Bool
	writeTimeout time.Duration
}

func newConn(ws *websocket.Conn, writeTimeout time.Duration) *conn {
	return &conn{ws: ws, out: make(chan outItem, outQueue), done: make(chan struct{}), writeTimeout: writeTimeout}
}

// close sends a close frame with code and reason and tears the connection
// down. Only the first call does anything; it may block for the close
// handshake (bounded by the library at a few seconds).
func (c *conn) close(code websocket.StatusCode, reason string) {
	if !c.closed.CompareAndSwap(false, true) {
		return
	}
	close(c.done)
	c.ws.Close(code, reason)
}

// enqueue queues a reply without blocking. A full queue means the client is
// not reading: it is cut off with 4009.
func (c *conn) enqueue(frame any) {
	var it outItem
	if r, ok := frame.(syncRequest); ok {
		it.sync, it.after = true, r.after
	} else {
		b, err := json.Marshal(frame)
		if err != nil {
			return
		}
		it.b = b
	}
	select {
	case c.out <- it:
	default:
		c.close(CloseTooSlow, "too slow")
	}
}

// write sends one frame. Its deadline is its own, not the connection's
// context, so that cancelling never tears a close frame in half.
func (c *conn) write(b []byte) error {
	ctx, cancel := context.WithTimeout(context.Background(), c.writeTimeout)
	defer cancel()
	return c.ws.Write(ctx, websocket.MessageText, b)
}

func (c *conn) writeJSON(v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return c.write(b)
}

// ping sends a WebSocket ping and waits for the pong (read by the reader
// goroutine) for at most d.
func (c *conn) ping(d time.Duration) error {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	return c.ws.Ping(ctx)
}

// bucket is a token bucket that remembers how far it has been overdrawn, so
// that a short burst over the limit gets an error frame and sustained
// flooding gets the connection closed.
type bucket struct {
	rate, burst float64
	tokens      float64
	last        time.Time
}

type verdict int

const (
	allow verdict = iota
	refuseWarn
	refuseQuiet
	cutOff
)

func newBucket(rate, burst float64, now time.Time) bucket {
	return bucket{rate: rate, burst: burst, tokens: burst, last: now}
}

func (b *bucket) take(now time.Time) verdict {
	b.tokens += now.Sub(b.last).Seconds() * b.rate
	b.last = now
	if b.tokens > b.burst {
		b.tokens = b.burst
	}
	b.tokens--
	switch {
	case b.tokens >= 0:
		return allow
	case b.tokens > -1:
		return refuseWarn // the first refusal of an episode
	case b.tokens > -b.burst:
		return refuseQuiet
	default:
		return cutOff
	}
}

// sessions are the cs_ tokens customers use for HTTP calls. They live in
// memory only: a restart ends them, and the widget gets a new one with the
// next welcome.
type sessions struct {
	now func() time.Time
	ttl time.Duration

	mu        sync.Mutex
	m         map[string]*session // by hash of the token
	lastSweep time.Time
}

type session struct {
	contactID int64
	conns     int       // open connections using it
	expires   time.Time // when conns is 0
}

func newSessions(now func() time.Time, ttl time.Duration) *sessions {
	return &sessions{now: now, ttl: ttl, m: make(map[string]*session)}
}

// open issues a token for a connection of contactID.
func (s *sessions) open(contactID int64) (token, hash string) {
	token, hash = auth.NewSecret(auth.PrefixChatSession)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.sweep()
	s.m[hash] = &session{contactID: contactID, conns: 1}
	return token, hash
}

// release starts the expiry clock when the connection ends.
func (s *sessions) release(hash string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if ss := s.m[hash]; ss != nil {
		ss.conns--
		if ss.conns <= 0 {
			ss.expires = s.now().Add(s.ttl)
		}
	}
}

// contact returns the contact of a live token.
func (s *sessions) contact(token string) (int64, bool) {
	if len(token) > 128 {
		return 0, false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	ss := s.m[auth.HashSecret(token)]
	if ss == nil || (ss.conns <= 0 && s.now().After(ss.expires)) {
		return 0, false
	}
	return ss.contactID, true
}

// sweep drops expired sessions, at most once a minute, under s.mu.
func (s *sessions) sweep() {
	now := s.now()
	if now.Sub(s.lastSweep) < time.Minute {
		return
	}
	s.lastSweep = now
	for h, ss := range s.m {
		if ss.conns <= 0 && now.After(ss.expires) {
			delete(s.m, h)
		}
	}
}
