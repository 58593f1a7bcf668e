package chat

import (
	"bufio"
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"

	"custos/internal/auth"
)

// outQueue is the length of a connection's queue of direct replies (acks,
// errors, pongs). It holds a full frame burst (FrameBurst 40) so that only a
// client that stops reading fills it. It holds pointers, so an idle
// connection's queue costs 512 bytes. Event delivery has its own queue in
// the hub subscription.
const outQueue = 64

// outItem is a queued reply, or a request for the writer: a sync (the writer
// owns the delivery state it needs), a heartbeat ping, or a close.
type outItem struct {
	b      []byte
	sync   bool
	after  int64
	ping   bool
	code   websocket.StatusCode // close after writing what was queued before
	reason string
}

// pingItem asks a writer for a heartbeat ping. It is shared and never
// modified.
var pingItem = &outItem{ping: true}

// closeAfterQueued asks the writer to send what is queued (e.g. the error
// frame that warned the client) and then close with code.
func (c *conn) closeAfterQueued(code websocket.StatusCode, reason string) {
	select {
	case c.out <- &outItem{code: code, reason: reason}:
	default:
		c.close(code, reason)
	}
}

// conn is what customer and agent connections share: the socket, the reply
// queue and a close that runs once.
type conn struct {
	ws           *websocket.Conn
	out          chan *outItem
	done         chan struct{} // closed when the connection is being closed
	closed       atomic.Bool
	slot         uint8 // heartbeat slot, set by Server.add
	writeTimeout time.Duration
	stats        *closeStats
}

func newConn(ws *websocket.Conn, writeTimeout time.Duration, stats *closeStats) *conn {
	return &conn{ws: ws, out: make(chan *outItem, outQueue), done: make(chan struct{}), writeTimeout: writeTimeout, stats: stats}
}

// closeStats counts server-initiated closes by code (custos_chat_closes_total):
// floods, slow readers and bad tokens show up here before anyone complains.
type closeStats struct {
	mu sync.Mutex
	m  map[websocket.StatusCode]int64
}

func (s *closeStats) add(code websocket.StatusCode) {
	s.mu.Lock()
	if s.m == nil {
		s.m = make(map[websocket.StatusCode]int64)
	}
	s.m[code]++
	s.mu.Unlock()
}

func (s *closeStats) snapshot() map[int]int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[int]int64, len(s.m))
	for k, v := range s.m {
		out[int(k)] = v
	}
	return out
}

// smallBuffers hands websocket.Accept small bufio buffers instead of the
// HTTP server's 4 KiB reader and writer, which the library would otherwise
// keep for the life of the connection: 8 KiB per idle customer. Customer
// frames are small; a larger one is read or written straight through.
type smallBuffers struct{ http.ResponseWriter }

const (
	customerReadBuf  = 512
	customerWriteBuf = 1024
)

func (w smallBuffers) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	nc, brw, err := http.NewResponseController(w.ResponseWriter).Hijack()
	if err != nil {
		return nil, nil, err
	}
	if err := brw.Writer.Flush(); err != nil {
		nc.Close()
		return nil, nil, err
	}
	br := bufio.NewReaderSize(nc, customerReadBuf)
	if n := brw.Reader.Buffered(); n > 0 {
		// Bytes the client sent right after its handshake (often its
		// hello). Accept takes what is buffered in the reader it gets and
		// re-reads the socket after it, so they must sit in br's buffer.
		b, _ := brw.Reader.Peek(n)
		br = bufio.NewReaderSize(io.MultiReader(bytes.NewReader(bytes.Clone(b)), nc), max(customerReadBuf, n))
		if _, err := br.Peek(n); err != nil {
			nc.Close()
			return nil, nil, err
		}
	}
	return nc, bufio.NewReadWriter(br, bufio.NewWriterSize(nc, customerWriteBuf)), nil
}

// close sends a close frame with code and reason and tears the connection
// down. Only the first call does anything; it may block for the close
// handshake (bounded by the library at a few seconds).
func (c *conn) close(code websocket.StatusCode, reason string) {
	if !c.closed.CompareAndSwap(false, true) {
		return
	}
	if c.stats != nil && code != websocket.StatusNormalClosure {
		// 1000 is the tidy end of a connection whose client left or whose
		// socket died: not a decision worth counting.
		c.stats.add(code)
	}
	close(c.done)
	c.ws.Close(code, reason)
}

// enqueue queues a reply without blocking. A full queue means the client is
// not reading: it is cut off with 4009.
func (c *conn) enqueue(frame any) {
	it := new(outItem)
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

// heartbeat pings (see ping) and closes the connection when no pong came.
func (c *conn) heartbeat(d time.Duration) {
	if c.ping(d) != nil {
		c.close(websocket.StatusGoingAway, "heartbeat timeout")
	}
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

// sessions issue and check the cs_ tokens customers use for HTTP calls
// (attachments). They are stateless so that any node accepts a session
// another node issued: "cs_" + base64url(contact id, expiry as two
// big-endian int64) + "." + base64url(HMAC-SHA256 under the shared
// session secret). A welcome issues one valid for the TTL; each new welcome
// issues a fresh one, and the node holding a live connection of the contact
// keeps accepting its expired tokens, so a session lasts the connection plus
// the TTL. The format is opaque to clients and may change.
type sessions struct {
	now func() time.Time
	ttl time.Duration
	key []byte
}

const sessionDomain = "custos chat session v1\x00"

func newSessions(now func() time.Time, ttl time.Duration, key []byte) *sessions {
	return &sessions{now: now, ttl: ttl, key: key}
}

func (s *sessions) mac(payload []byte) []byte {
	m := hmac.New(sha256.New, s.key)
	m.Write([]byte(sessionDomain))
	m.Write(payload)
	return m.Sum(nil)
}

// issue returns a token for contactID valid for the TTL.
func (s *sessions) issue(contactID int64) string {
	payload := make([]byte, 16)
	binary.BigEndian.PutUint64(payload, uint64(contactID))
	binary.BigEndian.PutUint64(payload[8:], uint64(s.now().Add(s.ttl).Unix()))
	return auth.PrefixChatSession + base64.RawURLEncoding.EncodeToString(payload) + "." +
		base64.RawURLEncoding.EncodeToString(s.mac(payload))
}

// verify returns the contact and expiry of an authentic token (expired or
// not: the caller decides).
func (s *sessions) verify(token string) (contactID int64, expires time.Time, ok bool) {
	body, found := strings.CutPrefix(token, auth.PrefixChatSession)
	if !found || len(token) > 128 {
		return 0, time.Time{}, false
	}
	p64, m64, found := strings.Cut(body, ".")
	if !found {
		return 0, time.Time{}, false
	}
	payload, err1 := base64.RawURLEncoding.DecodeString(p64)
	sig, err2 := base64.RawURLEncoding.DecodeString(m64)
	if err1 != nil || err2 != nil || len(payload) != 16 || !hmac.Equal(sig, s.mac(payload)) {
		return 0, time.Time{}, false
	}
	contactID = int64(binary.BigEndian.Uint64(payload))
	expires = time.Unix(int64(binary.BigEndian.Uint64(payload[8:])), 0)
	return contactID, expires, contactID > 0
}
