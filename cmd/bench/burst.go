package main

import (
	"bytes"
	"context"
	"fmt"
	"maps"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/pnonboard/pnonboard/internal/pubnub/sandbox"
	"github.com/pnonboard/pnonboard/internal/tenants"
)

// burst starts the workers first, then signs up N tenants at once (32 concurrent callers),
// as a partner's launch day would, and measures how close to the budget's pace they are all
// provisioned: N × (E+2) calls at R a minute is the floor.
func (e *benchEnv) burst(ctx context.Context) error {
	o := e.opts
	const envs = 3
	fmt.Fprintf(e.stdout, "\n## Signup burst: %d tenants × %d environments at once, workers running, sandbox and budget %d/min, %d replicas\n",
		o.burst, envs, o.ratePerMin, o.replicas)
	dbURL, err := e.database(ctx, "burst")
	if err != nil {
		return err
	}
	key, err := e.prepare(ctx, dbURL)
	if err != nil {
		return err
	}
	sb := sandbox.New(&sandbox.Opts{APIKey: "bench-sandbox", RatePerMinute: o.ratePerMin})
	sbSrv := httptest.NewServer(sb)
	defer sbSrv.Close()
	var replicas []*serverProc
	for range o.replicas {
		p, err := e.start(ctx, append(e.baseEnv(dbURL), "PNONBOARD_PUBNUB_URL="+sbSrv.URL+"/v2", "PNONBOARD_PUBNUB_API_KEY=bench-sandbox",
			"PNONBOARD_PUBNUB_RATE_PER_MINUTE="+strconv.Itoa(o.ratePerMin)))
		if err != nil {
			return err
		}
		replicas = append(replicas, p)
	}
	defer e.stopAll()
	pool, err := pgxpool.New(ctx, dbURL)
	if err != nil {
		return err
	}
	defer pool.Close()

	start := time.Now()
	var next atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, 32)
	for c := range 32 {
		wg.Go(func() {
			for {
				i := next.Add(1) - 1
				if i >= int64(o.burst) {
					return
				}
				body := fmt.Sprintf(`{"externalId": "burst-%05d", "name": "Burst %d"}`, i, i)
				req, _ := http.NewRequestWithContext(ctx, http.MethodPost, replicas[c%len(replicas)].url+"/v1/tenants", bytes.NewBufferString(body))
				req.Header.Set("Authorization", "Bearer "+key)
				req.Header.Set("Content-Type", "application/json")
				resp, err := http.DefaultClient.Do(req)
				if err == nil {
					resp.Body.Close()
					if resp.StatusCode != http.StatusAccepted {
						err = fmt.Errorf("POST /v1/tenants: %d", resp.StatusCode)
					}
				}
				if err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		return err
	}
	ideal := time.Duration(float64(o.burst*(envs+2)) / float64(o.ratePerMin) * float64(time.Minute))
	limit := 2*ideal + time.Minute
	var active int
	for {
		counts, err := tenants.CountByState(ctx, pool)
		if err != nil {
			return err
		}
		active = counts[tenants.StateActive]
		if active == o.burst {
			break
		}
		if time.Since(start) > limit {
			return fmt.Errorf("only %d of %d tenants active after %s", active, o.burst, limit)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
	elapsed := time.Since(start)
	calls := sb.CallCount()
	tooMany := 0
	byOp := map[sandbox.Operation]int{}
	for _, c := range sb.Calls() {
		if c.Status == http.StatusTooManyRequests {
			tooMany++
		}
		byOp[c.Op]++
	}
	names := map[string]int{}
	for _, a := range sb.Apps() {
		names[a.Name]++
	}
	for _, k := range sb.Keysets() {
		names[k.Name]++
	}
	dups := 0
	for _, n := range names {
		if n > 1 {
			dups++
		}
	}
	fmt.Fprintf(e.stdout, "all %d active after       %10.1f s (floor %.1f s: %d calls at %d/min)\n", o.burst, elapsed.Seconds(), ideal.Seconds(), o.burst*(envs+2), o.ratePerMin)
	full, use := windowUse(sb.Calls(), o.ratePerMin)
	fmt.Fprintf(e.stdout, "pace                       %9.1f%% of the limit's floor time; %d fixed windows filled to %.1f%% (target ≥ 95%%)\n",
		100*float64(ideal)/float64(elapsed), full, 100*use)
	fmt.Fprintf(e.stdout, "upstream calls per tenant  %10.2f (floor E+2 = %d)\n", float64(calls)/float64(o.burst), envs+2)
	ops := slices.Sorted(maps.Keys(byOp))
	parts := make([]string, 0, len(ops))
	for _, op := range ops {
		parts = append(parts, fmt.Sprintf("%s %d", op, byOp[op]))
	}
	fmt.Fprintf(e.stdout, "calls by operation         %s\n", strings.Join(parts, ", "))
	fmt.Fprintf(e.stdout, "429 answers                %10d (target 0); duplicates upstream: %d (target 0)\n", tooMany, dups)
	return nil
}
