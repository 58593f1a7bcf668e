// Package natsbus carries realtime events between Custos nodes over NATS, so
// a customer connected to one node sees the agent reply sent through
// another. Every event a node publishes locally (realtime.HubOptions.Forward)
// is sent as JSON on one subject with the node's id; every event from another
// node is handed to the local hub with Deliver.
//
// It is a fan-out, never a store. The database stays the system of record:
// an event is forwarded only after its change committed, and a lost NATS
// message (NATS down, a node restarting, a full buffer) loses nothing but a
// live update, which clients recover by resuming (customers from their last
// seq in the store, agent consoles by refetching on reconnect). So this
// package must never block a request waiting for NATS, never retry or persist
// events, never read the database, and never re-forward what it delivers.
// Queue events are not forwarded either: every node derives them from the
// ticket events it receives.
package natsbus

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/prometheus/client_golang/prometheus"

	"custos/internal/realtime"
)

// DefaultSubject is the one subject every node publishes on and listens to.
const DefaultSubject = "custos.events"

// Options configures a Bus.
type Options struct {
	URL     string // nats://host:port (comma-separated for a cluster)
	Subject string // default DefaultSubject
	// NodeID identifies this process's events; default a random id. It
	// must differ between nodes.
	NodeID string
	// Queue bounds the events waiting to be sent (default 8192); when it
	// is full new events are dropped and counted.
	Queue int
	// ReconnectBuf bounds what nats.go buffers while reconnecting (default
	// 8 MiB); beyond it publishes fail and are counted as drops.
	ReconnectBuf int
	Logger       *slog.Logger
	// Registerer, when set, receives the bus's counters.
	Registerer prometheus.Registerer
}

// Deliverer is what the bus needs from the local hub.
type Deliverer interface {
	Deliver(ev realtime.Event)
}

// Bus is one node's connection to the fan-out.
type Bus struct {
	opts Options
	log  *slog.Logger
	nc   *nats.Conn

	out  chan realtime.Event
	stop chan struct{}
	done chan struct{}

	mu  sync.Mutex
	sub *nats.Subscription

	closeOnce sync.Once

	published, received prometheus.Counter
	dropped             *prometheus.CounterVec
	drops               atomic.Int64
	lastDropLog         atomic.Int64 // unix nanos
}

// wire is the JSON on the subject: the event under the explicit names of
// realtime.Event's tags (so the format does not follow Go field renames),
// with the sending node. V lets a later format coexist during an upgrade.
type wire struct {
	V    int    `json:"v"`
	Node string `json:"node"`
	realtime.Event
}

// Connect dials NATS and starts the sender. A server that is down at start
// is retried in the background (the node serves its own clients meanwhile),
// so only a malformed URL fails here. Call Subscribe to receive, Close to
// stop.
func Connect(opts Options) (*Bus, error) {
	if opts.Subject == "" {
		opts.Subject = DefaultSubject
	}
	if opts.NodeID == "" {
		b := make([]byte, 8)
		rand.Read(b)
		opts.NodeID = hex.EncodeToString(b)
	}
	if opts.Queue <= 0 {
		opts.Queue = 8192
	}
	if opts.ReconnectBuf <= 0 {
		opts.ReconnectBuf = 8 << 20
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	b := &Bus{
		opts: opts,
		log:  opts.Logger.With(slog.String("component", "natsbus"), slog.String("node", opts.NodeID)),
		out:  make(chan realtime.Event, opts.Queue),
		stop: make(chan struct{}),
		done: make(chan struct{}),
		published: prometheus.NewCounter(prometheus.CounterOpts{Name: "custos_nats_published_total",
			Help: "Realtime events sent to other nodes over NATS."}),
		received: prometheus.NewCounter(prometheus.CounterOpts{Name: "custos_nats_received_total",
			Help: "Realtime events received from other nodes over NATS."}),
		dropped: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "custos_nats_dropped_total",
			Help: "Realtime events not carried between nodes (clients recover them by resuming)."}, []string{"reason"}),
	}
	if opts.Registerer != nil {
		if err := errors.Join(opts.Registerer.Register(b.published), opts.Registerer.Register(b.received),
			opts.Registerer.Register(b.dropped)); err != nil {
			return nil, fmt.Errorf("natsbus metrics: %w", err)
		}
	}
	nc, err := nats.Connect(opts.URL,
		nats.Name("custos "+opts.NodeID),
		nats.NoEcho(), // our own events never come back (the node id check is the backstop)
		nats.RetryOnFailedConnect(true),
		nats.MaxReconnects(-1),
		nats.ReconnectWait(time.Second),
		nats.ReconnectJitter(500*time.Millisecond, time.Second),
		nats.ReconnectBufSize(opts.ReconnectBuf),
		nats.Timeout(5*time.Second),
		nats.FlusherTimeout(5*time.Second),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			b.log.Warn("nats disconnected; events between nodes are dropped until it is back", slog.Any("err", err))
		}),
		nats.ReconnectHandler(func(nc *nats.Conn) {
			b.log.Info("nats reconnected", slog.String("server", nc.ConnectedUrlRedacted()))
		}),
		nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) {
			if errors.Is(err, nats.ErrSlowConsumer) {
				b.drop("slow_consumer", err)
				return
			}
			b.log.Warn("nats", slog.Any("err", err))
		}),
	)
	if err != nil {
		return nil, fmt.Errorf("nats_url: %w", err)
	}
	if !nc.IsConnected() {
		b.log.Warn("nats not reachable yet; retrying in the background", slog.String("url", nc.ConnectedUrlRedacted()))
	}
	b.nc = nc
	go b.send()
	return b, nil
}

// NodeID is this node's id on the bus.
func (b *Bus) NodeID() string { return b.opts.NodeID }

// Forward queues ev for the other nodes without ever blocking: use it as
// realtime.HubOptions.Forward. A full queue drops the event.
func (b *Bus) Forward(ev realtime.Event) {
	if ev.Type == realtime.Queue {
		return // derived on every node from ticket events
	}
	select {
	case b.out <- ev:
	default:
		b.drop("queue_full", nil)
	}
}

// send encodes and publishes queued events until Close. nats.go only
// appends to its buffer here (or fails fast while reconnecting past
// ReconnectBuf); FlusherTimeout bounds a stuck socket write.
func (b *Bus) send() {
	defer close(b.done)
	for {
		select {
		case <-b.stop:
			return
		case ev := <-b.out:
			data, err := json.Marshal(wire{V: 1, Node: b.opts.NodeID, Event: ev})
			if err != nil {
				b.drop("encode", err)
				continue
			}
			if err := b.nc.Publish(b.opts.Subject, data); err != nil {
				b.drop("publish", err)
				continue
			}
			b.published.Inc()
		}
	}
}

// Subscribe starts delivering other nodes' events into hub. It waits (at
// most 2 s) for the server to confirm the subscription when connected.
func (b *Bus) Subscribe(hub Deliverer) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.sub != nil {
		return errors.New("natsbus: already subscribed")
	}
	sub, err := b.nc.Subscribe(b.opts.Subject, func(m *nats.Msg) {
		var w wire
		if err := json.Unmarshal(m.Data, &w); err != nil || w.V != 1 {
			b.drop("decode", err)
			return
		}
		if w.Node == b.opts.NodeID {
			return
		}
		b.received.Inc()
		hub.Deliver(w.Event)
	})
	if err != nil {
		return fmt.Errorf("natsbus subscribe: %w", err)
	}
	// Bounded: past these a slow node drops (ErrSlowConsumer, counted)
	// instead of growing without limit.
	if err := sub.SetPendingLimits(65536, 64<<20); err != nil {
		sub.Unsubscribe()
		return fmt.Errorf("natsbus subscribe: %w", err)
	}
	b.sub = sub
	if b.nc.IsConnected() {
		if err := b.nc.FlushTimeout(2 * time.Second); err != nil {
			b.log.Warn("nats flush after subscribe", slog.Any("err", err))
		}
	}
	return nil
}

// drop counts an event that did not travel, and logs at most one warning
// every 10 seconds.
func (b *Bus) drop(reason string, err error) {
	b.dropped.WithLabelValues(reason).Inc()
	n := b.drops.Add(1)
	now := time.Now().UnixNano()
	last := b.lastDropLog.Load()
	if now-last < int64(10*time.Second) || !b.lastDropLog.CompareAndSwap(last, now) {
		return
	}
	b.log.Warn("realtime event not carried between nodes", slog.String("reason", reason), slog.Any("err", err),
		slog.Int64("dropped_total", n))
}

// Dropped is the number of events dropped since start.
func (b *Bus) Dropped() int64 { return b.drops.Load() }

// Close stops sending and drains the connection: pending publishes are
// flushed and in-flight deliveries finish, bounded by ctx. Idempotent.
func (b *Bus) Close(ctx context.Context) error {
	var err error
	b.closeOnce.Do(func() {
		close(b.stop)
		<-b.done
		closed := make(chan struct{})
		b.nc.SetClosedHandler(func(*nats.Conn) { close(closed) })
		if derr := b.nc.Drain(); derr != nil {
			b.nc.Close()
			err = derr
			return
		}
		select {
		case <-closed:
		case <-ctx.Done():
			b.nc.Close()
			err = ctx.Err()
		}
	})
	return err
}
