package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/pnonboard/pnonboard/internal/provisioner"
	"github.com/pnonboard/pnonboard/internal/pubnub/sandbox"
	"github.com/pnonboard/pnonboard/internal/tenants"
)

// signup POSTs one tenant with Prefer: wait=60 and returns the state it answered with.
func signup(ctx context.Context, url, key, externalID string) (*tenants.View, error) {
	body := fmt.Sprintf(`{"externalId": %q, "name": "Bench"}`, externalID)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url+"/v1/tenants", bytes.NewBufferString(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+key)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Prefer", "wait=60")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var v tenants.View
	if err := json.NewDecoder(resp.Body).Decode(&v); err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusAccepted {
		return nil, fmt.Errorf("POST /v1/tenants: %d", resp.StatusCode)
	}
	return &v, nil
}

// latency signs up 20 customers one after another on an idle service, Prefer: wait=60, with
// the sandbox answering each Admin API call after 0 and after 50 ms: how long a customer waits
// for its keys when nothing else is going on. The floor is the five calls' own latency.
//
// It also measures how soon a waiting request answers once the tenant is settled: from the
// tenant's provisionedAt (stamped inside the transaction that makes it active, so a little
// before its commit) to the answer's arrival. That bounds the commit-to-answer delay of the
// LISTEN/NOTIFY wake-up from above (goal ≤ 50 ms); the server and the bench share a clock.
func (e *benchEnv) latency(ctx context.Context) error {
	const n = 20
	fmt.Fprintf(e.stdout, "\n## Idle signup latency: %d sequential signups, Prefer: wait, budget %d/min\n", n, 120)
	for _, perCall := range []time.Duration{0, 50 * time.Millisecond} {
		dbURL, err := e.database(ctx, "latency"+strconv.Itoa(int(perCall.Milliseconds())))
		if err != nil {
			return err
		}
		key, err := e.prepare(ctx, dbURL)
		if err != nil {
			return err
		}
		sb := sandbox.New(&sandbox.Opts{APIKey: "bench-sandbox", Latency: perCall})
		sbSrv := httptest.NewServer(sb)
		p, err := e.start(ctx, append(e.baseEnv(dbURL), "PNONBOARD_PUBNUB_URL="+sbSrv.URL+"/v2", "PNONBOARD_PUBNUB_API_KEY=bench-sandbox"))
		if err != nil {
			sbSrv.Close()
			return err
		}
		hist := hdrhistogram.New(1, 120_000, 3)    // milliseconds
		wake := hdrhistogram.New(1, 60_000_000, 3) // microseconds
		for i := range n {
			start := time.Now()
			v, err := signup(ctx, p.url, key, fmt.Sprintf("idle-%02d", i))
			answered := time.Now()
			if err != nil {
				sbSrv.Close()
				return err
			}
			if v.State != tenants.StateActive || v.ProvisionedAt == nil {
				sbSrv.Close()
				return fmt.Errorf("signup %d answered %s", i, v.State)
			}
			_ = hist.RecordValue(answered.Sub(start).Milliseconds())
			_ = wake.RecordValue(max(answered.Sub(*v.ProvisionedAt).Microseconds(), 1))
		}
		e.stopAll()
		sbSrv.Close()
		goal := 5*perCall + 100*time.Millisecond
		fmt.Fprintf(e.stdout, "sandbox %3d ms a call      p50 %6d ms  p99 %6d ms  (goal p50 ≤ %d ms)\n",
			perCall.Milliseconds(), hist.ValueAtQuantile(50), hist.ValueAtQuantile(99), goal.Milliseconds())
		fmt.Fprintf(e.stdout, "  settled → answered      p50 %6.1f ms  p99 %6.1f ms  max %6.1f ms  (goal ≤ 50 ms)\n",
			float64(wake.ValueAtQuantile(50))/1000, float64(wake.ValueAtQuantile(99))/1000, float64(wake.Max())/1000)
	}
	return nil
}

// mixed runs a background sweep (a caller of the background class taking every slot it can
// get, as a drift check or usage sync would) beside a burst of signups, sharing one budget:
// the signups must keep at least 80 % of the rate.
func (e *benchEnv) mixed(ctx context.Context) error {
	n := max(e.opts.burst/5, 40)
	r := e.opts.ratePerMin
	fmt.Fprintf(e.stdout, "\n## Mixed: a background sweep beside a burst of %d signups, sandbox and budget %d/min\n", n, r)
	dbURL, err := e.database(ctx, "mixed")
	if err != nil {
		return err
	}
	key, err := e.prepare(ctx, dbURL)
	if err != nil {
		return err
	}
	sb := sandbox.New(&sandbox.Opts{APIKey: "bench-sandbox", RatePerMinute: r})
	sbSrv := httptest.NewServer(sb)
	defer sbSrv.Close()
	p, err := e.start(ctx, append(e.baseEnv(dbURL), "PNONBOARD_PUBNUB_URL="+sbSrv.URL+"/v2", "PNONBOARD_PUBNUB_API_KEY=bench-sandbox",
		"PNONBOARD_PUBNUB_RATE_PER_MINUTE="+strconv.Itoa(r)))
	if err != nil {
		return err
	}
	defer e.stopAll()
	pool, err := pgxpool.New(ctx, dbURL)
	if err != nil {
		return err
	}
	defer pool.Close()

	// The sweep: its own budget value on the service's row, reading the app listing.
	budget, err := provisioner.NewBudget(pool, provisioner.BudgetOpts{Name: "pubnub-admin", PerMinute: r})
	if err != nil {
		return err
	}
	sweep := &http.Client{Transport: &provisioner.Transport{Budget: budget, Base: http.DefaultTransport}}
	sweepCtx, stopSweep := context.WithCancel(provisioner.WithClass(ctx, provisioner.ClassBackground))
	defer stopSweep()
	var wg sync.WaitGroup
	wg.Go(func() {
		for sweepCtx.Err() == nil {
			req, _ := http.NewRequestWithContext(sweepCtx, http.MethodGet, sbSrv.URL+"/v2/apps?page=1&limit=1", nil)
			req.Header.Set("Authorization", "bench-sandbox")
			req.Header.Set("PubNub-Version", "2026-02-09")
			resp, err := sweep.Do(req)
			if wait, ok := provisioner.IsNoBudget(err); ok {
				time.Sleep(min(wait, time.Second))
				continue
			}
			if err == nil {
				resp.Body.Close()
			}
		}
	})
	time.Sleep(5 * time.Second) // the sweep alone first: it may take what nobody else wants

	start := time.Now()
	var posted sync.WaitGroup
	for i := range n {
		posted.Go(func() {
			body := fmt.Sprintf(`{"externalId": "mixed-%04d", "name": "Mixed"}`, i)
			req, _ := http.NewRequestWithContext(ctx, http.MethodPost, p.url+"/v1/tenants", bytes.NewBufferString(body))
			req.Header.Set("Authorization", "Bearer "+key)
			req.Header.Set("Content-Type", "application/json")
			if resp, err := http.DefaultClient.Do(req); err == nil {
				resp.Body.Close()
			}
		})
	}
	posted.Wait()
	for {
		counts, err := tenants.CountByState(ctx, pool)
		if err != nil {
			return err
		}
		if counts[tenants.StateActive] == n {
			break
		}
		if time.Since(start) > 30*time.Minute {
			return fmt.Errorf("only %d of %d active", counts[tenants.StateActive], n)
		}
		time.Sleep(200 * time.Millisecond)
	}
	elapsed := time.Since(start)
	stopSweep()
	wg.Wait()

	var signupCalls, sweepCalls, tooMany int
	for _, c := range sb.Calls() {
		if c.At.Before(start) || c.At.After(start.Add(elapsed)) {
			continue
		}
		switch {
		case c.Status == http.StatusTooManyRequests:
			tooMany++
		case c.Op == sandbox.OpListApps:
			sweepCalls++
		default:
			signupCalls++
		}
	}
	perMin := float64(signupCalls) / elapsed.Minutes()
	fmt.Fprintf(e.stdout, "signups                    %d × (E+2) = %d calls in %.1f s: %.1f/min, %.1f%% of R (goal ≥ 80%%)\n",
		n, signupCalls, elapsed.Seconds(), perMin, 100*perMin/float64(r))
	fmt.Fprintf(e.stdout, "background sweep           %d calls meanwhile (%.1f%% of R); 429 answers %d (target 0)\n",
		sweepCalls, 100*float64(sweepCalls)/elapsed.Minutes()/float64(r), tooMany)
	return nil
}

// adoption loses the answer to each kind of create, once, in an account pre-filled with
// 10,000 tenants' resources, and counts the Admin API calls the adoption costs beyond the
// happy path's E+2.
func (e *benchEnv) adoption(ctx context.Context) error {
	const prefilled = 10_000
	fmt.Fprintf(e.stdout, "\n## Adoption after a lost answer, in an account of %d tenants\n", prefilled)
	for _, op := range []sandbox.Operation{sandbox.OpCreateApp, sandbox.OpCreateKeyset, sandbox.OpCreateCustomer} {
		dbURL, err := e.database(ctx, "adopt"+string(op))
		if err != nil {
			return err
		}
		key, err := e.prepare(ctx, dbURL)
		if err != nil {
			return err
		}
		sb := sandbox.New(&sandbox.Opts{APIKey: "bench-sandbox", RatePerMinute: -1})
		if _, err := sb.Prefill(prefilled, &sandbox.PrefillOpts{CreatedAt: time.Now().Add(-24 * time.Hour)}); err != nil {
			return err
		}
		sb.InjectFault(op, sandbox.Fault{Kind: sandbox.FaultLost}, 1)
		sbSrv := httptest.NewServer(sb)
		p, err := e.start(ctx, append(e.baseEnv(dbURL), "PNONBOARD_PUBNUB_URL="+sbSrv.URL+"/v2", "PNONBOARD_PUBNUB_API_KEY=bench-sandbox",
			"PNONBOARD_PUBNUB_RATE_PER_MINUTE=60000"))
		if err != nil {
			sbSrv.Close()
			return err
		}
		before := sb.CallCount()
		if _, err := signup(ctx, p.url, key, "lost-"+string(op)); err != nil {
			sbSrv.Close()
			return err
		}
		var state tenants.State
		sweep := 0
		pool, err := pgxpool.New(ctx, dbURL)
		if err == nil {
			for range 600 {
				counts, cerr := tenants.CountByState(ctx, pool)
				if cerr == nil && counts[tenants.StateActive] == 1 {
					state = tenants.StateActive
					break
				}
				time.Sleep(50 * time.Millisecond)
			}
			// The drift sweep that runs at start-up (background class) lists the whole account
			// meanwhile: wait for it, and leave its calls out.
			for range 1200 {
				if run, ok, _ := provisioner.LastDriftRun(ctx, pool); ok {
					sweep = run.Calls
					break
				}
				time.Sleep(50 * time.Millisecond)
			}
			pool.Close()
		}
		// Beyond the happy path's E+2 (the lost create is not sent again) and the sweep's.
		extra := sb.CallCount() - before - (3 + 2) - sweep
		e.stopAll()
		sbSrv.Close()
		if state != tenants.StateActive {
			return fmt.Errorf("tenant with a lost %s never active", op)
		}
		fmt.Fprintf(e.stdout, "lost %-16s           %d extra calls (goal ≤ 3; lists %d, secret reads %d; the start-up drift sweep's %d not counted)\n", op, extra,
			sb.CallCount(sandbox.OpListApps, sandbox.OpListKeysets, sandbox.OpListCustomers, sandbox.OpGetCustomer)-sweep, sb.CallCount(sandbox.OpListSecretKeys), sweep)
	}
	return nil
}
