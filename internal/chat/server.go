// Package chat is the real-time chat front: the customer WebSocket protocol
// of docs/protocol.md (web widget and mobile SDKs), the customer attachment
// endpoints and the agent console's WebSocket.
//
// It never writes the database except through tickets.Service (messages,
// conversations) and the contact/device rows of a hello, never acknowledges a
// message before its commit returned, and never lets one slow connection hold
// up another: every connection has one reader and one writer goroutine and
// bounded queues, and is closed (4009) when it falls behind.
//
// Connections are cheap to hold open: the HTTP handler returns once the
// WebSocket is set up (the socket is hijacked), the two connection
// goroutines stay shallow because store calls run on the server's small
// worker pools, and heartbeats come from one shared ticker.
package chat

import (
	"context"
	"crypto/rand"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/coder/websocket"

	"custos/internal/attach"
	"custos/internal/realtime"
	"custos/internal/store"
	"custos/internal/tickets"
)

// Subprotocol is the WebSocket subprotocol of the customer protocol.
const Subprotocol = "custos.chat.v1"

// Close codes of docs/protocol.md.
const (
	CloseHelloExpected = 4000
	CloseUnauthorized  = 4001
	CloseProtocol      = 4003
	CloseRateLimited   = 4008
	CloseTooSlow       = 4009
	CloseReplaced      = 4010
)

// Config is the chat front's configuration.
type Config struct {
	SiteKey        string
	IdentitySecret []byte
	// AllowedOrigins are host patterns (websocket.AcceptOptions.OriginPatterns)
	// of the sites embedding the widget; "*" accepts any (demo only). Mobile
	// apps send no Origin and are always accepted.
	AllowedOrigins []string

	HeartbeatInterval  time.Duration // default 25 s
	HelloTimeout       time.Duration // default 10 s
	WriteTimeout       time.Duration // one frame; default 10 s
	AgentRecheck       time.Duration // how often a console socket's session is checked again; default 15 s
	MaxConnsPerContact int           // default 5; the oldest is closed with 4010
	MaxFrame           int64         // default 64 KiB
	SessionTTL         time.Duration // after the connection ends; default 1 h
	// SessionSecret signs customer cs_ sessions; every node behind one
	// load balancer must share it. Empty = a random per-process secret
	// (one node only).
	SessionSecret []byte

	// Token buckets per connection: all frames, and send frames.
	FrameRate, FrameBurst float64 // default 20/s, 40
	SendRate, SendBurst   float64 // default 5/s, 10

	// New anonymous visitors per remote IP (IPv6: per /64): a token bucket
	// of VisitorsPerMinute (default 30) with bursts of VisitorBurst
	// (default 60); over it the hello is closed with 4008. Loopback peers
	// are exempt unless LimitLoopbackVisitors is set.
	VisitorsPerMinute, VisitorBurst float64
	LimitLoopbackVisitors           bool

	// Store workers for the connection goroutines: reads (default 4) and
	// customer sends (default 64; they mostly wait for the group commit, so
	// this bounds how many one commit carries).
	ReadWorkers, WriteWorkers int
}

func (c *Config) defaults() {
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&c.HeartbeatInterval, 25*time.Second)
	def(&c.HelloTimeout, 10*time.Second)
	def(&c.WriteTimeout, 10*time.Second)
	def(&c.SessionTTL, time.Hour)
	if c.MaxConnsPerContact <= 0 {
		c.MaxConnsPerContact = 5
	}
	if c.MaxFrame <= 0 {
		c.MaxFrame = 64 << 10
	}
	if c.FrameRate <= 0 {
		c.FrameRate, c.FrameBurst = 20, 40
	}
	if c.SendRate <= 0 {
		c.SendRate, c.SendBurst = 5, 10
	}
	if c.VisitorsPerMinute <= 0 {
		c.VisitorsPerMinute, c.VisitorBurst = 30, 60
	}
	if c.VisitorBurst < 1 {
		c.VisitorBurst = 1
	}
	if len(c.SessionSecret) == 0 {
		c.SessionSecret = make([]byte, 32)
		rand.Read(c.SessionSecret)
	}
	if c.AgentRecheck <= 0 {
		c.AgentRecheck = 15 * time.Second
	}
	if c.ReadWorkers <= 0 {
		c.ReadWorkers = 4
	}
	if c.WriteWorkers <= 0 {
		c.WriteWorkers = 64
	}
}

// Deps are the services the chat front uses.
type Deps struct {
	Store   store.Store // normally the store.Batcher
	Tickets *tickets.Service
	Hub     *realtime.Hub
	Attach  *attach.Service
	Logger  *slog.Logger
	Now     func() time.Time
}

// Server serves the customer and agent WebSockets.
type Server struct {
	cfg Config
	d   Deps
	log *slog.Logger

	// ctx bounds the store calls of connections, the pools, the heartbeat
	// and the queue tracker; Shutdown cancels it after closing every
	// connection. wg tracks all of them and every open connection (from
	// add to remove).
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	queue    *queueTracker
	sessions *sessions
	closes   closeStats
	visitors *visitorLimiter
	reads    *storePool
	writes   *storePool

	mu        sync.Mutex
	conns     map[*conn]struct{}
	byContact map[int64][]*custConn
	closing   bool
	nextSlot  uint8
}

// New returns a server and starts its queue tracker; Shutdown stops both.
func New(cfg Config, d Deps) *Server {
	cfg.defaults()
	if d.Now == nil {
		d.Now = time.Now
	}
	if d.Logger == nil {
		d.Logger = slog.New(slog.DiscardHandler)
	}
	ctx, cancel := context.WithCancel(context.Background())
	s := &Server{
		cfg: cfg, d: d, log: d.Logger.With(slog.String("component", "chat")),
		ctx: ctx, cancel: cancel,
		sessions:  newSessions(d.Now, cfg.SessionTTL, cfg.SessionSecret),
		visitors:  newVisitorLimiter(cfg.VisitorsPerMinute, cfg.VisitorBurst, cfg.LimitLoopbackVisitors),
		conns:     make(map[*conn]struct{}),
		byContact: make(map[int64][]*custConn),
	}
	s.reads = newStorePool(ctx, &s.wg, cfg.ReadWorkers)
	s.writes = newStorePool(ctx, &s.wg, cfg.WriteWorkers)
	s.queue = newQueueTracker(d.Store, d.Hub, s.log)
	s.wg.Add(2)
	go func() {
		defer s.wg.Done()
		s.queue.run(ctx)
	}()
	go func() {
		defer s.wg.Done()
		s.heartbeats(ctx)
	}()
	return s
}

// heartbeatSlots spreads the pings of one interval over that many ticks,
// so 10,000 connections do not all ping at once.
const heartbeatSlots = 16

// heartbeats asks every connection's writer to ping once per heartbeat
// interval: one ticker for the whole server instead of a timer per
// connection. A connection whose reply queue is full is skipped (it is not
// reading; its queue will cut it off).
func (s *Server) heartbeats(ctx context.Context) {
	t := time.NewTicker(max(s.cfg.HeartbeatInterval/heartbeatSlots, time.Millisecond))
	defer t.Stop()
	for slot := uint8(0); ; slot = (slot + 1) % heartbeatSlots {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		s.mu.Lock()
		for c := range s.conns {
			if c.slot == slot {
				select {
				case c.out <- pingItem:
				default:
				}
			}
		}
		s.mu.Unlock()
	}
}

// Register adds the customer routes to mux.
func (s *Server) Register(mux *http.ServeMux) {
	mux.HandleFunc("GET /chat/v1/ws", s.serveCustomer)
	mux.HandleFunc("POST /chat/v1/attachments", s.cors(s.uploadAttachment))
	mux.HandleFunc("GET /chat/v1/attachments/{id}", s.cors(s.downloadAttachment))
	// The widget runs on the exchange's pages, another origin: its upload
	// (Authorization header, multipart body) needs a CORS preflight.
	mux.HandleFunc("OPTIONS /chat/v1/attachments", s.preflight("POST"))
	mux.HandleFunc("OPTIONS /chat/v1/attachments/{id}", s.preflight("GET"))
}

// CloseCounts returns how many connections the server closed, by close
// code, since it started (metrics, tests).
func (s *Server) CloseCounts() map[int]int64 { return s.closes.snapshot() }

// Conns returns the number of open connections (metrics, tests).
func (s *Server) Conns() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.conns)
}

// add registers an accepted connection; false once Shutdown has begun.
// Every successful add must be paired with exactly one remove, when the
// connection's goroutines are done: Shutdown waits for that.
func (s *Server) add(c *conn) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closing {
		return false
	}
	s.wg.Add(1)
	c.slot = s.nextSlot
	s.nextSlot = (s.nextSlot + 1) % heartbeatSlots
	s.conns[c] = struct{}{}
	return true
}

func (s *Server) remove(c *conn) {
	s.mu.Lock()
	delete(s.conns, c)
	s.mu.Unlock()
	s.wg.Done()
}

// addCustomer registers a customer connection and returns the oldest ones
// over the per-contact limit, for the caller to close with 4010.
func (s *Server) addCustomer(cc *custConn) []*custConn {
	s.mu.Lock()
	defer s.mu.Unlock()
	list := append(s.byContact[cc.contact.ID], cc)
	var over []*custConn
	if n := len(list) - s.cfg.MaxConnsPerContact; n > 0 {
		over = append(over, list[:n]...)
		list = append([]*custConn(nil), list[n:]...)
	}
	s.byContact[cc.contact.ID] = list
	return over
}

func (s *Server) removeCustomer(cc *custConn) {
	s.mu.Lock()
	defer s.mu.Unlock()
	list := s.byContact[cc.contact.ID]
	for i, x := range list {
		if x == cc {
			list = append(list[:i:i], list[i+1:]...)
			break
		}
	}
	if len(list) == 0 {
		delete(s.byContact, cc.contact.ID)
	} else {
		s.byContact[cc.contact.ID] = list
	}
}

// Shutdown closes every connection with 1001 and stops the queue tracker,
// the heartbeat and the store pools. It returns when all connection
// goroutines have ended or ctx is done.
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	s.closing = true
	all := make([]*conn, 0, len(s.conns))
	for c := range s.conns {
		all = append(all, c)
	}
	s.mu.Unlock()

	var wg sync.WaitGroup
	for _, c := range all {
		wg.Add(1)
		// Each close handshake may wait for a slow peer; do them at once.
		go func() {
			defer wg.Done()
			c.close(websocket.StatusGoingAway, "server shutting down")
		}()
	}
	done := make(chan struct{})
	go func() {
		wg.Wait()
		s.cancel()
		s.wg.Wait()
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		s.cancel()
		return ctx.Err()
	}
}
