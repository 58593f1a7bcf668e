package httpapi

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"custos/internal/store"
)

// InstrumentStore wraps st so every transaction's duration lands in the
// custos_db_seconds histogram (by kind read/write and result ok/error).
// main wraps the store once and hands the wrapper to every service.
func InstrumentStore(st store.Store, reg *prometheus.Registry) store.Store {
	h := register(reg, prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "custos_db_seconds",
		Help:    "Database transaction duration by kind and result.",
		Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5},
	}, []string{"kind", "result"}))
	return &timedStore{Store: st, h: h}
}

type timedStore struct {
	store.Store
	h *prometheus.HistogramVec
}

func (t *timedStore) observe(kind string, start time.Time, err error) {
	result := "ok"
	if err != nil {
		result = "error"
	}
	t.h.WithLabelValues(kind, result).Observe(time.Since(start).Seconds())
}

func (t *timedStore) Read(ctx context.Context, fn func(store.Tx) error) error {
	start := time.Now()
	err := t.Store.Read(ctx, fn)
	t.observe("read", start, err)
	return err
}

func (t *timedStore) Write(ctx context.Context, fn func(store.Tx) error) error {
	start := time.Now()
	err := t.Store.Write(ctx, fn)
	t.observe("write", start, err)
	return err
}
