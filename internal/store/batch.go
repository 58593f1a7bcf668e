package store

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"
)

// ErrClosed is returned by a Batcher's Write after Close.
var ErrClosed = errors.New("store: batcher closed")

// BatchOptions tune group commit.
type BatchOptions struct {
	// MaxBatch caps how many writes share one transaction (default 256).
	MaxBatch int
	// MaxWait is how long the writer lingers for more work after the first
	// request of a batch when fewer than MaxBatch are queued. 0 (the default)
	// lingers not at all: batches form naturally from what queued up while
	// the previous commit was syncing, which keeps a lone write's latency at
	// one commit.
	MaxWait time.Duration
	// Queue bounds the writes waiting for the writer (default 4096); a full
	// queue makes callers wait (back-pressure), bounded by their context.
	Queue int
	// PassThrough runs every Write directly and concurrently on the
	// underlying store. For engines that group-commit by themselves and gain
	// from concurrent transactions (PostgreSQL: concurrent commits share WAL
	// flushes), funnelling everything through one connection would only
	// serialise round trips.
	PassThrough bool
}

// Batcher is a Store whose Write is group-committed: one writer goroutine
// takes every write that is waiting, runs each in its own savepoint of one
// transaction, commits once (one fsync), then returns to each caller. A
// caller's nil error therefore means its work is durable, exactly as with a
// plain Write, but N concurrent writers cost one fsync instead of N.
//
// One caller's error rolls back only its own savepoint. A failed commit fails
// every caller of the batch.
type Batcher struct {
	st      Store
	opt     BatchOptions
	reqs    chan *batchReq
	quit    chan struct{}
	stopped chan struct{}
	once    sync.Once

	batches atomic.Int64
	writes  atomic.Int64
}

type batchReq struct {
	ctx  context.Context
	fn   func(Tx) error
	done chan error
}

// NewBatcher starts the writer goroutine; Close stops it.
func NewBatcher(st Store, opt BatchOptions) *Batcher {
	if opt.MaxBatch <= 0 {
		opt.MaxBatch = 256
	}
	if opt.Queue <= 0 {
		opt.Queue = 4096
	}
	b := &Batcher{
		st:      st,
		opt:     opt,
		reqs:    make(chan *batchReq, opt.Queue),
		quit:    make(chan struct{}),
		stopped: make(chan struct{}),
	}
	go b.loop()
	return b
}

// Read runs directly on the underlying store.
func (b *Batcher) Read(ctx context.Context, fn func(Tx) error) error { return b.st.Read(ctx, fn) }

// Ping pings the underlying store.
func (b *Batcher) Ping(ctx context.Context) error { return b.st.Ping(ctx) }

// Dialect is the underlying store's.
func (b *Batcher) Dialect() string { return b.st.Dialect() }

// Close stops the writer after the writes already queued have been committed.
// It does not close the underlying store: its owner does.
func (b *Batcher) Close() error {
	b.once.Do(func() { close(b.quit) })
	<-b.stopped
	return nil
}

// Stats reports how many transactions were committed and how many writes
// they carried (writes/batches is the mean batch size).
func (b *Batcher) Stats() (batches, writes int64) { return b.batches.Load(), b.writes.Load() }

// Write queues fn for the next group commit and waits for its outcome. Once
// queued, the outcome is always awaited (even if ctx ends) so that a nil
// error is never lost and a non-nil error never hides a committed write.
func (b *Batcher) Write(ctx context.Context, fn func(Tx) error) error {
	if b.opt.PassThrough {
		select {
		case <-b.quit:
			return ErrClosed
		default:
		}
		b.batches.Add(1)
		b.writes.Add(1)
		return b.st.Write(ctx, fn)
	}
	r := &batchReq{ctx: context.WithoutCancel(ctx), fn: recovered(fn), done: make(chan error, 1)}
	select {
	case <-b.quit:
		return ErrClosed
	default:
	}
	select {
	case b.reqs <- r:
	case <-ctx.Done():
		return ctx.Err()
	case <-b.quit:
		return ErrClosed
	}
	return <-r.done
}

// recovered turns a panic in one caller's work into that caller's error, so
// it cannot take the shared writer (and everyone's pending writes) down.
func recovered(fn func(Tx) error) func(Tx) error {
	return func(tx Tx) (err error) {
		defer func() {
			if p := recover(); p != nil {
				err = fmt.Errorf("store: panic in write: %v", p)
			}
		}()
		return fn(tx)
	}
}

func (b *Batcher) loop() {
	defer close(b.stopped)
	batch := make([]*batchReq, 0, b.opt.MaxBatch)
	for {
		var first *batchReq
		select {
		case first = <-b.reqs:
		case <-b.quit:
			// Drain what was queued before Close so no caller hangs.
			for {
				select {
				case r := <-b.reqs:
					b.run([]*batchReq{r})
				default:
					return
				}
			}
		}
		batch = append(batch[:0], first)
		b.fill(&batch)
		b.run(batch)
	}
}

// fill takes what is already queued, and lingers up to MaxWait for more.
func (b *Batcher) fill(batch *[]*batchReq) {
	var timer <-chan time.Time
	if b.opt.MaxWait > 0 {
		t := time.NewTimer(b.opt.MaxWait)
		defer t.Stop()
		timer = t.C
	}
	for len(*batch) < b.opt.MaxBatch {
		select {
		case r := <-b.reqs:
			*batch = append(*batch, r)
			continue
		default:
		}
		if timer == nil {
			return
		}
		select {
		case r := <-b.reqs:
			*batch = append(*batch, r)
		case <-timer:
			return
		}
	}
}

func (b *Batcher) run(batch []*batchReq) {
	b.batches.Add(1)
	b.writes.Add(int64(len(batch)))
	if len(batch) == 1 {
		r := batch[0]
		r.done <- b.st.Write(r.ctx, r.fn)
		return
	}
	results := make([]error, len(batch))
	err := b.st.Write(context.Background(), func(tx Tx) error {
		for i, r := range batch {
			results[i] = tx.Savepoint(r.ctx, r.fn)
		}
		return nil
	})
	for i, r := range batch {
		if results[i] != nil {
			r.done <- results[i]
		} else {
			r.done <- err
		}
	}
}
