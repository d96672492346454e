package main

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"

	"github.com/pnonboard/pnonboard/internal/postgres"
	"github.com/pnonboard/pnonboard/internal/provisioner"
	"github.com/pnonboard/pnonboard/internal/tenants"
)

// loadResult is one side of the ingest comparison.
type loadResult struct {
	ok, failed int64
	elapsed    time.Duration
	hist       *hdrhistogram.Histogram // microseconds
}

func (r loadResult) perSecond() float64 { return float64(r.ok) / r.elapsed.Seconds() }

func (r loadResult) ms(q float64) float64 { return float64(r.hist.ValueAtQuantile(q)) / 1000 }

// hammer runs clients goroutines calling op in a loop for d, timing each call.
func hammer(ctx context.Context, clients int, d time.Duration, op func(ctx context.Context, client, n int) error) loadResult {
	var (
		wg         sync.WaitGroup
		mu         sync.Mutex
		ok, failed atomic.Int64
		total      = hdrhistogram.New(1, 60_000_000, 3)
	)
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	start := time.Now()
	for c := range clients {
		wg.Go(func() {
			h := hdrhistogram.New(1, 60_000_000, 3)
			for n := 0; ctx.Err() == nil; n++ {
				t0 := time.Now()
				err := op(ctx, c, n)
				if ctx.Err() != nil {
					break // the window closed mid-call: neither counted nor timed
				}
				if err != nil {
					failed.Add(1)
					continue
				}
				ok.Add(1)
				_ = h.RecordValue(time.Since(t0).Microseconds())
			}
			mu.Lock()
			total.Merge(h)
			mu.Unlock()
		})
	}
	wg.Wait()
	return loadResult{ok: ok.Load(), failed: failed.Load(), elapsed: time.Since(start), hist: total}
}

// ingest measures POST /v1/tenants on an API-only server against the same database work done
// straight through pgx (tenant insert and River job insert in one transaction, no HTTP).
func (e *benchEnv) ingest(ctx context.Context) error {
	o := e.opts
	fmt.Fprintf(e.stdout, "\n## Ingest: %d clients, %s each side, PNONBOARD_ROLE=api, pool %d\n", o.clients, o.duration, o.dbMaxConns)

	dbURL, err := e.database(ctx, "ingest")
	if err != nil {
		return err
	}
	key, err := e.prepare(ctx, dbURL)
	if err != nil {
		return err
	}
	srv, err := e.start(ctx, append(e.baseEnv(dbURL), "PNONBOARD_ROLE=api"))
	if err != nil {
		return err
	}
	client := &http.Client{Transport: &http.Transport{MaxIdleConns: o.clients, MaxIdleConnsPerHost: o.clients}}
	post := func(prefix string) func(ctx context.Context, c, n int) error {
		return func(ctx context.Context, c, n int) error {
			body := fmt.Sprintf(`{"externalId":"%s-%d-%d","name":"Bench tenant %d-%d","environments":["development","staging","production"]}`, prefix, c, n, c, n)
			req, err := http.NewRequestWithContext(ctx, http.MethodPost, srv.url+"/v1/tenants", bytes.NewBufferString(body))
			if err != nil {
				return err
			}
			req.Header.Set("Authorization", "Bearer "+key)
			req.Header.Set("Content-Type", "application/json")
			resp, err := client.Do(req)
			if err != nil {
				return err
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusAccepted {
				return fmt.Errorf("status %d", resp.StatusCode)
			}
			return nil
		}
	}
	hammer(ctx, o.clients, 2*time.Second, post("warm")) // connections, caches, JIT of the planner
	svc := hammer(ctx, o.clients, o.duration, post("svc"))
	rss, rssErr := srv.peakRSS()
	srv.stop()

	raw, err := e.rawCeiling(ctx)
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "%-26s %10s %9s %9s %9s %8s\n", "", "req/s", "p50 ms", "p95 ms", "p99 ms", "errors")
	for _, row := range []struct {
		name string
		r    loadResult
	}{{"service (HTTP, auth, JSON)", svc}, {"raw pgx ceiling", raw}} {
		fmt.Fprintf(e.stdout, "%-26s %10.0f %9.2f %9.2f %9.2f %8d\n", row.name, row.r.perSecond(), row.r.ms(50), row.r.ms(95), row.r.ms(99), row.r.failed)
	}
	fmt.Fprintf(e.stdout, "ratio service/raw          %10.2f   (target ≥ 0.60; p99 target ≤ 25 ms)\n", svc.perSecond()/raw.perSecond())
	if rssErr != nil {
		fmt.Fprintf(e.stdout, "server peak RSS: unavailable (%v)\n", rssErr)
	} else {
		fmt.Fprintf(e.stdout, "server peak RSS            %10.1f MB (target ≤ 150 MB)\n", float64(rss)/(1<<20))
	}
	return nil
}

// rawCeiling does, in-process on a fresh database, what POST /v1/tenants does to Postgres: the
// tenant insert (tenants.Service.Create's one statement) and the River job insert in one
// transaction. No HTTP, no auth, no JSON.
func (e *benchEnv) rawCeiling(ctx context.Context) (loadResult, error) {
	o := e.opts
	dbURL, err := e.database(ctx, "ingest_raw")
	if err != nil {
		return loadResult{}, err
	}
	if _, err := e.command(ctx, e.baseEnv(dbURL), "migrate", "up"); err != nil {
		return loadResult{}, err
	}
	pool, err := postgres.NewPool(ctx, dbURL, &postgres.PoolOpts{MaxConns: int32(o.dbMaxConns)})
	if err != nil {
		return loadResult{}, err
	}
	defer pool.Close()
	workers := river.NewWorkers()
	river.AddWorker(workers, provisioner.NewWorker(provisioner.WorkerOpts{}))
	rc, err := river.NewClient(riverpgxv5.New(pool), &river.Config{Workers: workers})
	if err != nil {
		return loadResult{}, err
	}
	profiles := provisioner.DefaultProfiles()
	svc := tenants.NewService(tenants.ServiceOpts{DB: pool, Enqueuer: &provisioner.Enqueuer{Client: rc},
		Environments: profiles.Environments(), DefaultEnvironments: profiles.Defaults()})
	create := func(prefix string) func(ctx context.Context, c, n int) error {
		return func(ctx context.Context, c, n int) error {
			_, _, err := svc.Create(ctx, tenants.CreateParams{
				ExternalID: fmt.Sprintf("%s-%d-%d", prefix, c, n), Name: fmt.Sprintf("Bench tenant %d-%d", c, n),
				Environments: []string{"development", "staging", "production"}, Actor: "bench",
			})
			return err
		}
	}
	hammer(ctx, o.clients, 2*time.Second, create("warm"))
	return hammer(ctx, o.clients, o.duration, create("raw")), nil
}
