package chat

import (
	"context"
	"sync"
)

// storePool runs the store calls of the long-lived connection goroutines.
// The SQLite driver is transpiled C with very deep Go stacks: a goroutine
// that runs one query keeps a 16–32 KB stack for as long as it lives, and a
// connection's reader and writer live for hours while idle. Running the
// queries on a few pool goroutines keeps those stacks few and the
// connection goroutines shallow (a few KB each).
type storePool struct {
	tasks chan func()
}

// newStorePool starts n workers that stop when ctx ends; wg tracks them.
func newStorePool(ctx context.Context, wg *sync.WaitGroup, n int) *storePool {
	p := &storePool{tasks: make(chan func())}
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-ctx.Done():
					return
				case fn := <-p.tasks:
					fn()
				}
			}
		}()
	}
	return p
}

// run runs fn on a worker and waits for it to return. It gives up only if
// ctx ends before a worker took fn; once taken, fn always completes (store
// calls are bounded by the server's context themselves).
func (p *storePool) run(ctx context.Context, fn func()) error {
	done := make(chan struct{})
	task := func() {
		defer close(done)
		fn()
	}
	select {
	case p.tasks <- task:
	case <-ctx.Done():
		return ctx.Err()
	}
	<-done
	return nil
}

// read runs a store read on the read pool.
func (s *Server) read(fn func(ctx context.Context) error) error {
	var err error
	if perr := s.reads.run(s.ctx, func() { err = fn(s.ctx) }); perr != nil {
		return perr
	}
	return err
}

// write runs a store write on the write pool. Writes mostly wait for the
// group commit, so that pool is wider: its size bounds how many customer
// messages one commit can carry.
func (s *Server) write(fn func(ctx context.Context) error) error {
	var err error
	if perr := s.writes.run(s.ctx, func() { err = fn(s.ctx) }); perr != nil {
		return perr
	}
	return err
}
