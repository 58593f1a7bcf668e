package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"custos/internal/desk"
	"custos/internal/store"
)

// Mix describes the operations every API client repeats, over HTTP and in
// the floor alike.
const Mix = "each client alternates: create a ticket (new contact + subject + first message), then append one message to that ticket"

// maxOpsPerClient bounds a client's loop whatever the duration.
const maxOpsPerClient = 10_000_000

// maxSamples bounds the latency samples kept per run.
const maxSamples = 2_000_000

// LoadResult is one run of one client count.
type LoadResult struct {
	Clients    int
	Ops        int64 // operations that succeeded
	Errors     int64
	Elapsed    time.Duration
	Latency    Summary
	FirstError string
}

// OpsPerSec is the throughput of successful operations.
func (r LoadResult) OpsPerSec() float64 { return PerSecond(r.Ops, r.Elapsed) }

// op is one operation of a client: create when seq is even, else append to
// ticket (the client's last created ticket). It returns the created ticket.
type op func(ctx context.Context, client, seq int, ticket int64) (int64, error)

// runClients runs n clients doing op until d has passed (operations started
// before the deadline finish), and measures them.
func runClients(ctx context.Context, n int, d time.Duration, do op) LoadResult {
	res := LoadResult{Clients: n}
	lat := NewLatencies(maxSamples)
	var ops, errs atomic.Int64
	var firstErr sync.Once
	start := time.Now()
	deadline := start.Add(d)
	var wg sync.WaitGroup
	for c := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			local := make([]time.Duration, 0, 1024)
			var ticket int64
			for seq := 0; seq < maxOpsPerClient && time.Now().Before(deadline) && ctx.Err() == nil; seq++ {
				if seq%2 == 1 && ticket == 0 {
					seq++ // the create failed: create again
				}
				t0 := time.Now()
				id, err := do(ctx, c, seq, ticket)
				el := time.Since(t0)
				if err != nil {
					errs.Add(1)
					firstErr.Do(func() { res.FirstError = err.Error() })
					ticket = 0
					if ctx.Err() != nil {
						break
					}
					continue
				}
				if seq%2 == 0 {
					ticket = id
				}
				ops.Add(1)
				local = append(local, el)
				if len(local) == cap(local) {
					lat.AddAll(local)
					local = local[:0]
				}
			}
			lat.AddAll(local)
		}()
	}
	wg.Wait()
	res.Elapsed = time.Since(start)
	res.Ops, res.Errors = ops.Load(), errs.Load()
	res.Latency = lat.Summarize()
	return res
}

// HTTPTarget is a running server and the API token to write with.
type HTTPTarget struct {
	URL   string // base URL, e.g. http://127.0.0.1:8080
	Token string // API token secret with tickets:write
}

// RunHTTP runs n clients against the REST API for d. Each client has its
// own keep-alive connection (the pool holds at least n idle connections).
func RunHTTP(ctx context.Context, t HTTPTarget, n int, d time.Duration) LoadResult {
	tr := &http.Transport{
		Proxy:               nil, // loopback only, whatever the environment says
		MaxIdleConns:        n + 8,
		MaxIdleConnsPerHost: n + 8,
		IdleConnTimeout:     time.Minute,
		DisableCompression:  true,
	}
	defer tr.CloseIdleConnections()
	cl := &http.Client{Transport: tr, Timeout: 30 * time.Second}
	base := strings.TrimRight(t.URL, "/") + "/api/v1/tickets"
	post := func(ctx context.Context, url string, body any) (int64, error) {
		b, _ := json.Marshal(body)
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(b))
		if err != nil {
			return 0, err
		}
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+t.Token)
		resp, err := cl.Do(req)
		if err != nil {
			return 0, err
		}
		defer resp.Body.Close()
		rb, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		if err != nil {
			return 0, err
		}
		if resp.StatusCode != http.StatusCreated && resp.StatusCode != http.StatusOK {
			return 0, fmt.Errorf("POST %s: %s: %s", url, resp.Status, bytes.TrimSpace(rb))
		}
		var out struct {
			ID int64 `json:"id"`
		}
		if err := json.Unmarshal(rb, &out); err != nil {
			return 0, fmt.Errorf("POST %s: %w", url, err)
		}
		return out.ID, nil
	}
	type msg struct {
		Text string `json:"text"`
	}
	return runClients(ctx, n, d, func(ctx context.Context, c, seq int, ticket int64) (int64, error) {
		if seq%2 == 0 {
			return post(ctx, base, map[string]any{
				"subject": "Bench: withdrawal pending " + strconv.Itoa(seq),
				"contact": map[string]any{"name": "Bench customer " + strconv.Itoa(c)},
				"message": msg{Text: messageText(c, seq)},
			})
		}
		_, err := post(ctx, base+"/"+strconv.FormatInt(ticket, 10)+"/messages", msg{Text: messageText(c, seq)})
		return ticket, err
	})
}

func messageText(client, seq int) string {
	return "Benchmark message " + strconv.Itoa(seq) + " from client " + strconv.Itoa(client) + ": my withdrawal has been pending for two hours, please check."
}

// RunRaw is the floor: the rows the API writes for the same operations,
// written straight into st by n goroutines, one transaction per operation
// (st must be the un-batched store, so each commit is its own). The rows
// are those of tickets.Service for an API token: contact, ticket, "created"
// event, message and two audit entries for a create; message and one audit
// entry for an append.
func RunRaw(ctx context.Context, st store.Store, n int, d time.Duration) LoadResult {
	const actorName = "bench"
	audit := func(ctx context.Context, tx store.Tx, action string, ticket int64, detail string) error {
		return tx.AppendAudit(ctx, &desk.AuditEntry{
			ActorKind: desk.AuthorToken, ActorID: 1, ActorName: actorName, Action: action,
			Target: "ticket:" + strconv.FormatInt(ticket, 10), Detail: detail, IP: "127.0.0.1",
		})
	}
	return runClients(ctx, n, d, func(ctx context.Context, c, seq int, ticket int64) (int64, error) {
		err := st.Write(ctx, func(tx store.Tx) error {
			if seq%2 == 0 {
				ct := desk.Contact{Name: "Bench customer " + strconv.Itoa(c)}
				if err := ct.Validate(); err != nil {
					return err
				}
				if err := tx.CreateContact(ctx, &ct); err != nil {
					return err
				}
				t := desk.Ticket{Channel: desk.ChannelAPI, Subject: "Bench: withdrawal pending " + strconv.Itoa(seq), ContactID: ct.ID}
				if err := t.Validate(); err != nil {
					return err
				}
				if err := tx.CreateTicket(ctx, &t); err != nil {
					return err
				}
				if err := tx.AddEvent(ctx, &desk.Event{TicketID: t.ID, ActorKind: desk.AuthorToken, ActorID: 1, Field: "created", New: string(t.Status)}); err != nil {
					return err
				}
				ticket = t.ID
			} else if _, err := tx.GetTicket(ctx, ticket); err != nil {
				return err
			}
			m := desk.Message{TicketID: ticket, AuthorKind: desk.AuthorToken, AuthorID: 1, AuthorName: actorName, Text: messageText(c, seq)}
			if err := m.Validate(); err != nil {
				return err
			}
			if _, err := tx.AppendMessage(ctx, &m); err != nil {
				return err
			}
			if err := audit(ctx, tx, "message.create", ticket, `{"attachments":0,"internal":false,"length":100,"seq":`+strconv.FormatInt(m.Seq, 10)+`}`); err != nil {
				return err
			}
			if seq%2 == 0 {
				return audit(ctx, tx, "ticket.create", ticket, `{"assignee_id":0,"channel":"api","subject_len":30,"team_id":0}`)
			}
			return nil
		})
		return ticket, err
	})
}

// APIRun is one client count's figures.
type APIRun struct {
	Clients       int     `json:"clients"`
	HTTPOps       int64   `json:"http_ops"`
	HTTPErrors    int64   `json:"http_errors"`
	HTTPOpsPerSec float64 `json:"http_ops_per_sec"`
	P50ms         float64 `json:"p50_ms"`
	P99ms         float64 `json:"p99_ms"`
	RawOps        int64   `json:"raw_ops"`
	RawErrors     int64   `json:"raw_errors"`
	RawOpsPerSec  float64 `json:"raw_ops_per_sec"`
	RawP50ms      float64 `json:"raw_p50_ms"`
	RawP99ms      float64 `json:"raw_p99_ms"`
	Ratio         float64 `json:"ratio"` // HTTP over raw
}

// NewAPIRun combines the HTTP and floor results of one client count.
func NewAPIRun(h, raw LoadResult) APIRun {
	r := APIRun{
		Clients: h.Clients, HTTPOps: h.Ops, HTTPErrors: h.Errors, HTTPOpsPerSec: h.OpsPerSec(),
		P50ms: Millis(h.Latency.P50), P99ms: Millis(h.Latency.P99),
		RawOps: raw.Ops, RawErrors: raw.Errors, RawOpsPerSec: raw.OpsPerSec(),
		RawP50ms: Millis(raw.Latency.P50), RawP99ms: Millis(raw.Latency.P99),
	}
	if r.RawOpsPerSec > 0 {
		r.Ratio = Round(r.HTTPOpsPerSec/r.RawOpsPerSec, 3)
	}
	return r
}

// APIReport is the last line of `custos bench api`: the 16-client figures
// at the top level (or the nearest client count run), every run in Runs.
type APIReport struct {
	Engine        string   `json:"engine"`
	Clients       int      `json:"clients"`
	HTTPOpsPerSec float64  `json:"http_ops_per_sec"`
	RawOpsPerSec  float64  `json:"raw_ops_per_sec"`
	P50ms         float64  `json:"p50_ms"`
	P99ms         float64  `json:"p99_ms"`
	Ratio         float64  `json:"ratio"`
	DurationSec   float64  `json:"duration_sec"`
	FsyncMs       float64  `json:"fsync_ms"` // one 4 KiB write+fsync in the data directory, same run
	Mix           string   `json:"mix"`
	Runs          []APIRun `json:"runs"`
}

// NewAPIReport picks the headline run: 16 clients, else the closest count.
func NewAPIReport(engine string, d time.Duration, runs []APIRun) (APIReport, error) {
	if len(runs) == 0 {
		return APIReport{}, errors.New("no runs")
	}
	best := runs[0]
	for _, r := range runs {
		if abs(r.Clients-16) < abs(best.Clients-16) {
			best = r
		}
	}
	return APIReport{
		Engine: engine, Clients: best.Clients, HTTPOpsPerSec: best.HTTPOpsPerSec, RawOpsPerSec: best.RawOpsPerSec,
		P50ms: best.P50ms, P99ms: best.P99ms, Ratio: best.Ratio, DurationSec: d.Seconds(), Mix: Mix, Runs: runs,
	}, nil
}

func abs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}

// WriteAPITable prints the runs as a readable table.
func WriteAPITable(w io.Writer, engine string, runs []APIRun) {
	fmt.Fprintf(w, "engine %s; %s\n", engine, Mix)
	fmt.Fprintf(w, "%8s %12s %9s %9s %8s %12s %9s %9s %7s\n", "clients", "http ops/s", "p50 ms", "p99 ms", "errors", "raw ops/s", "raw p50", "raw p99", "ratio")
	for _, r := range runs {
		fmt.Fprintf(w, "%8d %12.1f %9.3f %9.3f %8d %12.1f %9.3f %9.3f %7.3f\n",
			r.Clients, r.HTTPOpsPerSec, r.P50ms, r.P99ms, r.HTTPErrors, r.RawOpsPerSec, r.RawP50ms, r.RawP99ms, r.Ratio)
	}
}
