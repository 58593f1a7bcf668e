package bench

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"
)

// chatSubprotocol is the customer protocol of docs/protocol.md.
const chatSubprotocol = "custos.chat.v1"

// maxChatEvents bounds the messages one run may send (memory for the send
// times is allocated up front).
const maxChatEvents = 20_000_000

// ChatOptions describe a chat benchmark against a running server.
type ChatOptions struct {
	URL         string       // base http:// URL of the server
	SiteKey     string       // widget site key
	AgentCookie *http.Cookie // an agent's custos_session cookie
	Customers   int
	Agents      int
	Rate        float64 // customer messages per second, all customers together
	Duration    time.Duration
	Ramp        time.Duration // linear ramp-up before the measured window
	Dialers     int           // connections opened at once
	// RSS reads the server's resident memory (nil: not measured).
	RSS func(ctx context.Context) (int64, error)
	Log io.Writer // progress lines
}

// ChatReport is the last line of `custos bench chat`.
type ChatReport struct {
	Connections      int     `json:"connections"`
	SetupPerSec      float64 `json:"setup_per_sec"`
	MessagesPerSec   float64 `json:"messages_per_sec"`
	P50ms            float64 `json:"p50_ms"`
	P95ms            float64 `json:"p95_ms"`
	P99ms            float64 `json:"p99_ms"`
	BytesPerIdleConn int64   `json:"bytes_per_idle_conn"`

	Customers      int     `json:"customers"`
	Agents         int     `json:"agents"`
	ConnectFailed  int     `json:"connect_failed"`
	OfferedRate    float64 `json:"offered_rate"`
	Sent           int64   `json:"sent"`
	Acked          int64   `json:"acked"`
	Delivered      int64   `json:"delivered"` // distinct measured messages some agent received
	ErrorFrames    int64   `json:"error_frames"`
	Disconnects    int64   `json:"disconnects"`
	LateSends      int64   `json:"late_sends"`
	SkippedSends   int64   `json:"skipped_sends"`
	AckP50ms       float64 `json:"ack_p50_ms"`
	AckP99ms       float64 `json:"ack_p99_ms"`
	RSSIdleBytes   int64   `json:"rss_before_bytes"`
	RSSLoadedBytes int64   `json:"rss_connected_bytes"`
	FirstError     string  `json:"first_error,omitempty"`
}

// chatRun is the shared state of one run: send times by event number and
// what came back.
type chatRun struct {
	o      ChatOptions
	sched  Schedule
	prefix string    // client_id prefix: "bench-<run>-"
	base   time.Time // fixed at creation: times are ns since base

	sentAt    []atomic.Int64 // ns since base, 0 = not sent
	ackSeen   []atomic.Bool
	agentSeen []atomic.Bool

	acked, delivered, errFrames, disconnects atomic.Int64
	lastAck                                  atomic.Int64 // ns since base, measured events
	ackLat, e2eLat                           *Latencies
	closing                                  atomic.Bool

	errOnce  sync.Once
	firstErr string
}

func (r *chatRun) noteErr(format string, args ...any) {
	r.errOnce.Do(func() { r.firstErr = fmt.Sprintf(format, args...) })
}

// eventOf parses a client_id of this run back to its event number.
func (r *chatRun) eventOf(clientID string) (int64, bool) {
	s, ok := strings.CutPrefix(clientID, r.prefix)
	if !ok {
		return 0, false
	}
	k, err := strconv.ParseInt(s, 10, 64)
	if err != nil || k < 0 || k >= r.sched.Total {
		return 0, false
	}
	return k, true
}

// ClientID is the client_id of event k: a run id and a counter, nothing
// else.
func ClientID(prefix string, k int64) string { return prefix + strconv.FormatInt(k, 10) }

// RunChat opens the connections, measures the setup rate and the idle
// memory, sends the paced messages and measures acks and agent delivery.
func RunChat(ctx context.Context, o ChatOptions) (ChatReport, error) {
	if o.Customers <= 0 || o.Rate <= 0 || o.Duration <= 0 {
		return ChatReport{}, errors.New("customers, rate and duration must be positive")
	}
	if o.Dialers <= 0 {
		o.Dialers = 64
	}
	if o.Log == nil {
		o.Log = io.Discard
	}
	sched := ScheduleFor(o.Rate, o.Customers, o.Ramp, o.Duration)
	if sched.Total > maxChatEvents {
		return ChatReport{}, fmt.Errorf("rate × duration is %d messages; at most %d", sched.Total, maxChatEvents)
	}
	r := &chatRun{
		o: o, sched: sched,
		prefix:    "bench-" + strconv.FormatInt(time.Now().UnixNano()%1e9, 36) + "-",
		sentAt:    make([]atomic.Int64, sched.Total),
		ackSeen:   make([]atomic.Bool, sched.Total),
		agentSeen: make([]atomic.Bool, sched.Total),
		ackLat:    NewLatencies(maxSamples),
		e2eLat:    NewLatencies(maxSamples),
		base:      time.Now(),
	}
	rep := ChatReport{Customers: o.Customers, Agents: o.Agents, OfferedRate: o.Rate}

	// Readers live until the end of the run; the run's context ends them.
	rctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var readers sync.WaitGroup

	if o.RSS != nil {
		rss, err := o.RSS(ctx)
		if err != nil {
			return rep, fmt.Errorf("server memory before connecting: %w", err)
		}
		rep.RSSIdleBytes = rss
	}

	wsURL := "ws" + strings.TrimPrefix(strings.TrimRight(o.URL, "/"), "http")
	hc := &http.Client{Transport: &http.Transport{
		Proxy:               nil,
		DialContext:         (&net.Dialer{Timeout: 10 * time.Second}).DialContext,
		MaxIdleConnsPerHost: -1, // upgraded connections are hijacked anyway
	}}

	// Agents first, so that they see every conversation from its first
	// message.
	fmt.Fprintf(o.Log, "connecting %d agents and %d customers (%d at a time)...\n", o.Agents, o.Customers, o.Dialers)
	setupStart := time.Now()
	agents := r.dialAll(rctx, o.Agents, o.Dialers, func(ctx context.Context, i int) (*websocket.Conn, error) {
		h := http.Header{}
		if o.AgentCookie != nil {
			h.Set("Cookie", o.AgentCookie.String())
		}
		c, resp, err := websocket.Dial(ctx, wsURL+"/api/v1/ws", &websocket.DialOptions{HTTPClient: hc, HTTPHeader: h})
		if err != nil {
			return nil, dialError("agent", resp, err)
		}
		c.SetReadLimit(4 << 20)
		return c, nil
	})
	customers := r.dialAll(rctx, o.Customers, o.Dialers, func(ctx context.Context, i int) (*websocket.Conn, error) {
		return r.dialCustomer(ctx, hc, wsURL)
	})
	setup := time.Since(setupStart)
	connected := 0
	for _, c := range append(append([]*websocket.Conn(nil), agents...), customers...) {
		if c != nil {
			connected++
		}
	}
	rep.Connections = connected
	rep.ConnectFailed = o.Customers + o.Agents - connected
	rep.SetupPerSec = PerSecond(int64(connected), setup)
	fmt.Fprintf(o.Log, "connected %d in %s (%d failed)\n", connected, setup.Round(time.Millisecond), rep.ConnectFailed)
	defer closeAll(append(agents, customers...), o.Dialers)
	if connected == 0 || liveCount(customers) == 0 {
		return rep, fmt.Errorf("no customer connection could be opened: %s", r.firstErr)
	}

	for _, c := range agents {
		if c != nil {
			readers.Add(1)
			go func() { defer readers.Done(); r.readAgent(rctx, c) }()
		}
	}
	for _, c := range customers {
		if c != nil {
			readers.Add(1)
			go func() { defer readers.Done(); r.readCustomer(rctx, c) }()
		}
	}

	if o.RSS != nil {
		// Let the server finish its per-connection work (hello writes,
		// queue updates) before reading its memory.
		sleepCtx(ctx, 2*time.Second)
		rss, err := o.RSS(ctx)
		if err != nil {
			return rep, fmt.Errorf("server memory with connections open: %w", err)
		}
		rep.RSSLoadedBytes = rss
		if connected > 0 {
			rep.BytesPerIdleConn = (rss - rep.RSSIdleBytes) / int64(connected)
		}
	}

	// Send phase.
	fmt.Fprintf(o.Log, "sending %.0f msg/s (%.2f per customer) for %s after a %s ramp...\n", o.Rate, sched.PerTarget(), o.Duration, o.Ramp)
	work := make(chan int64, 1<<16)
	var senders sync.WaitGroup
	nSenders := min(max(o.Customers/64, 4), 64)
	for range nSenders {
		senders.Add(1)
		go func() {
			defer senders.Done()
			for k := range work {
				c := customers[sched.Target(k)]
				if c == nil {
					continue
				}
				r.send(rctx, c, k)
			}
		}()
	}
	var skipped atomic.Int64
	start := time.Now()
	_, late := sched.Run(ctx, start, 100*time.Millisecond, func(k int64) {
		select {
		case work <- k:
		default:
			skipped.Add(1)
		}
	})
	close(work)
	senders.Wait()
	rep.LateSends, rep.SkippedSends = late, skipped.Load()

	// Drain: wait (bounded) until every measured message was acked and seen
	// by an agent.
	measured := r.measuredSent()
	rep.Sent = measured
	drainEnd := time.Now().Add(10 * time.Second)
	for time.Now().Before(drainEnd) && ctx.Err() == nil {
		if r.acked.Load() >= measured && (o.Agents == 0 || r.delivered.Load() >= measured) {
			break
		}
		sleepCtx(ctx, 50*time.Millisecond)
	}
	r.closing.Store(true)
	cancel()
	closeAll(append(agents, customers...), o.Dialers)
	waitTimeout(&readers, 10*time.Second)

	// From the first measured send's due time to the last ack.
	window := time.Duration(r.lastAck.Load()) - (start.Sub(r.base) + sched.Due(sched.RampEvents()))
	rep.Acked, rep.Delivered = r.acked.Load(), r.delivered.Load()
	rep.MessagesPerSec = PerSecond(rep.Acked, window)
	e2e, ack := r.e2eLat.Summarize(), r.ackLat.Summarize()
	rep.P50ms, rep.P95ms, rep.P99ms = Millis(e2e.P50), Millis(e2e.P95), Millis(e2e.P99)
	rep.AckP50ms, rep.AckP99ms = Millis(ack.P50), Millis(ack.P99)
	rep.ErrorFrames, rep.Disconnects = r.errFrames.Load(), r.disconnects.Load()
	rep.FirstError = r.firstErr
	return rep, nil
}

// measuredSent counts the sent messages of the measured window.
func (r *chatRun) measuredSent() int64 {
	var n int64
	for k := r.sched.RampEvents(); k < r.sched.Total; k++ {
		if r.sentAt[k].Load() != 0 {
			n++
		}
	}
	return n
}

func dialError(who string, resp *http.Response, err error) error {
	if resp != nil {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		return fmt.Errorf("%s websocket: %s: %s", who, resp.Status, strings.TrimSpace(string(b)))
	}
	return fmt.Errorf("%s websocket: %w", who, err)
}

// dialAll opens n connections, at most par at once; failed ones are nil.
func (r *chatRun) dialAll(ctx context.Context, n, par int, dial func(ctx context.Context, i int) (*websocket.Conn, error)) []*websocket.Conn {
	out := make([]*websocket.Conn, n)
	next := make(chan int)
	var wg sync.WaitGroup
	for range min(par, n) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				dctx, cancel := context.WithTimeout(ctx, 30*time.Second)
				c, err := dial(dctx, i)
				cancel()
				if err != nil {
					r.noteErr("%v", err)
					continue
				}
				out[i] = c
			}
		}()
	}
	for i := range n {
		if ctx.Err() != nil {
			break
		}
		next <- i
	}
	close(next)
	wg.Wait()
	return out
}

// dialCustomer connects an anonymous visitor: hello, then welcome.
func (r *chatRun) dialCustomer(ctx context.Context, hc *http.Client, wsURL string) (*websocket.Conn, error) {
	c, resp, err := websocket.Dial(ctx, wsURL+"/chat/v1/ws", &websocket.DialOptions{
		HTTPClient: hc, Subprotocols: []string{chatSubprotocol}, CompressionMode: websocket.CompressionDisabled,
	})
	if err != nil {
		return nil, dialError("customer", resp, err)
	}
	hello, _ := json.Marshal(map[string]any{"type": "hello", "v": 1, "site_key": r.o.SiteKey, "language": "en"})
	if err := c.Write(ctx, websocket.MessageText, hello); err != nil {
		c.CloseNow()
		return nil, fmt.Errorf("hello: %w", err)
	}
	// Frames other than welcome (none are expected) are skipped, a few at most.
	for range 8 {
		_, b, err := c.Read(ctx)
		if err != nil {
			c.CloseNow()
			return nil, fmt.Errorf("waiting for welcome: %w", err)
		}
		var f struct {
			Type    string `json:"type"`
			Message string `json:"message"`
		}
		if json.Unmarshal(b, &f) == nil && f.Type == "welcome" {
			return c, nil
		}
		if f.Type == "error" {
			c.CloseNow()
			return nil, fmt.Errorf("hello refused: %s", b)
		}
	}
	c.CloseNow()
	return nil, errors.New("no welcome after hello")
}

func (r *chatRun) send(ctx context.Context, c *websocket.Conn, k int64) {
	b, _ := json.Marshal(map[string]string{
		"type": "send", "client_id": ClientID(r.prefix, k),
		"text": "Benchmark message " + strconv.FormatInt(k, 10) + ": my deposit has not arrived yet",
	})
	// Recorded before the write: the ack may arrive before Write returns.
	r.sentAt[k].Store(max(int64(time.Since(r.base)), 1))
	wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := c.Write(wctx, websocket.MessageText, b); err != nil {
		r.sentAt[k].Store(0)
		if !r.closing.Load() {
			r.noteErr("send: %v", err)
		}
	}
}

func (r *chatRun) readCustomer(ctx context.Context, c *websocket.Conn) {
	for {
		_, b, err := c.Read(ctx)
		if err != nil {
			if !r.closing.Load() && ctx.Err() == nil {
				r.disconnects.Add(1)
				r.noteErr("customer connection ended: %v", err)
			}
			return
		}
		now := int64(time.Since(r.base))
		var f struct {
			Type     string `json:"type"`
			ClientID string `json:"client_id"`
			Code     string `json:"code"`
			Message  string `json:"message"`
		}
		if json.Unmarshal(b, &f) != nil {
			continue
		}
		switch f.Type {
		case "ack":
			k, ok := r.eventOf(f.ClientID)
			if !ok || !r.ackSeen[k].CompareAndSwap(false, true) {
				continue
			}
			sent := r.sentAt[k].Load()
			if k < r.sched.RampEvents() || sent == 0 {
				continue
			}
			r.acked.Add(1)
			r.ackLat.Add(time.Duration(now - sent))
			for {
				last := r.lastAck.Load()
				if now <= last || r.lastAck.CompareAndSwap(last, now) {
					break
				}
			}
		case "error":
			r.errFrames.Add(1)
			r.noteErr("error frame: %s: %s", f.Code, f.Message)
		}
	}
}

func (r *chatRun) readAgent(ctx context.Context, c *websocket.Conn) {
	for {
		_, b, err := c.Read(ctx)
		if err != nil {
			if !r.closing.Load() && ctx.Err() == nil {
				r.disconnects.Add(1)
				r.noteErr("agent connection ended: %v", err)
			}
			return
		}
		now := int64(time.Since(r.base))
		var f struct {
			Type    string `json:"type"`
			Message *struct {
				ClientID string `json:"client_id"`
			} `json:"message"`
		}
		if json.Unmarshal(b, &f) != nil || f.Type != "message" || f.Message == nil {
			continue
		}
		k, ok := r.eventOf(f.Message.ClientID)
		if !ok || k < r.sched.RampEvents() {
			continue
		}
		sent := r.sentAt[k].Load()
		if sent == 0 || !r.agentSeen[k].CompareAndSwap(false, true) {
			continue // the first agent to receive it counts
		}
		r.delivered.Add(1)
		r.e2eLat.Add(time.Duration(now - sent))
	}
}

func liveCount(cs []*websocket.Conn) int {
	n := 0
	for _, c := range cs {
		if c != nil {
			n++
		}
	}
	return n
}

// closeAll drops every connection (no close handshake: the benchmark is
// over), par at a time. Closing twice is harmless.
func closeAll(cs []*websocket.Conn, par int) {
	sem := make(chan struct{}, max(par, 1))
	var wg sync.WaitGroup
	for _, c := range cs {
		if c == nil {
			continue
		}
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			c.CloseNow()
		}()
	}
	wg.Wait()
}

func sleepCtx(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}

func waitTimeout(wg *sync.WaitGroup, d time.Duration) {
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(d):
	}
}

// WriteChatTable prints the report readably.
func WriteChatTable(w io.Writer, r ChatReport) {
	rows := [][2]string{
		{"connections (customers + agents)", fmt.Sprintf("%d (%d + %d), %d failed", r.Connections, r.Customers, r.Agents, r.ConnectFailed)},
		{"setup rate (hello → welcome)", fmt.Sprintf("%.1f conn/s", r.SetupPerSec)},
		{"server RSS, no connections", mib(r.RSSIdleBytes)},
		{"server RSS, all connected, idle", mib(r.RSSLoadedBytes)},
		{"server memory per idle connection", fmt.Sprintf("%d bytes", r.BytesPerIdleConn)},
		{"offered rate", fmt.Sprintf("%.1f msg/s", r.OfferedRate)},
		{"sent / acked / seen by an agent", fmt.Sprintf("%d / %d / %d (measured window; late %d, skipped %d)", r.Sent, r.Acked, r.Delivered, r.LateSends, r.SkippedSends)},
		{"persisted (acks/s)", fmt.Sprintf("%.1f msg/s", r.MessagesPerSec)},
		{"ack latency p50 / p99", fmt.Sprintf("%.3f / %.3f ms", r.AckP50ms, r.AckP99ms)},
		{"customer → agent p50 / p95 / p99", fmt.Sprintf("%.3f / %.3f / %.3f ms", r.P50ms, r.P95ms, r.P99ms)},
		{"error frames / disconnects", fmt.Sprintf("%d / %d", r.ErrorFrames, r.Disconnects)},
	}
	for _, row := range rows {
		fmt.Fprintf(w, "%-36s %s\n", row[0], row[1])
	}
	if r.FirstError != "" {
		fmt.Fprintf(w, "%-36s %s\n", "first error", r.FirstError)
	}
}

func mib(b int64) string {
	if b == 0 {
		return "not measured"
	}
	return fmt.Sprintf("%.1f MiB", float64(b)/(1<<20))
}
