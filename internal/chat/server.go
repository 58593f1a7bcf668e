// Package chat is the real-time chat front: the customer WebSocket protocol
// of docs/protocol.md (web widget and mobile SDKs), the customer attachment
// endpoints and the agent console's WebSocket.
//
// It never writes the database except through tickets.Service (messages,
// conversations) and the contact/device rows of a hello, never acknowledges a
// message before its commit returned, and never lets one slow connection hold
// up another: every connection has one reader and one writer goroutine and
// bounded queues, and is closed (4009) when it falls behind.
package chat

import (
	"context"
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
	MaxConnsPerContact int           // default 5; the oldest is closed with 4010
	MaxFrame           int64         // default 64 KiB
	SessionTTL         time.Duration // after the connection ends; default 1 h

	// Token buckets per connection: all frames, and send frames.
	FrameRate, FrameBurst float64 // default 20/s, 40
	SendRate, SendBurst   float64 // default 5/s, 10
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

	// ctx bounds every connection and the queue tracker; Shutdown cancels it.
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	queue    *queueTracker
	sessions *sessions

	mu        sync.Mutex
	conns     map[*conn]struct{}
	byContact map[int64][]*custConn
	closing   bool
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
		sessions:  newSessions(d.Now, cfg.SessionTTL),
		conns:     make(map[*conn]struct{}),
		byContact: make(map[int64][]*custConn),
	}
	s.queue = newQueueTracker(d.Store, d.Hub, s.log)
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		s.queue.run(ctx)
	}()
	return s
}

// Register adds the customer routes to mux.
func (s *Server) Register(mux *http.ServeMux) {
	mux.HandleFunc("GET /chat/v1/ws", s.serveCustomer)
	mux.HandleFunc("POST /chat/v1/attachments", s.uploadAttachment)
	mux.HandleFunc("GET /chat/v1/attachments/{id}", s.downloadAttachment)
}

// Conns returns the number of open connections (metrics, tests).
func (s *Server) Conns() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.conns)
}

func (s *Server) add(c *conn) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closing {
		return false
	}
	s.conns[c] = struct{}{}
	return true
}

func (s *Server) remove(c *conn) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.conns, c)
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

// Shutdown closes every connection with 1001 and stops the queue tracker.
// It returns when all connection goroutines have ended or ctx is done.
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
