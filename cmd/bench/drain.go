package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"github.com/pnonboard/pnonboard/internal/pubnub/sandbox"
	"github.com/pnonboard/pnonboard/internal/webhooks"
)

// drain queues K tenants, then lets worker replicas provision them against a sandbox limited
// to R requests a minute, and measures how close to R the shared budget runs, without a 429.
func (e *benchEnv) drain(ctx context.Context) error {
	o := e.opts
	const envs = 3
	fmt.Fprintf(e.stdout, "\n## Provisioning drain: %d tenants × %d environments, sandbox limit %d/min, %d worker replicas\n",
		o.tenants, envs, o.ratePerMin, o.replicas)

	dbURL, err := e.database(ctx, "drain")
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

	// The partner's receiver: when did each tenant's tenant.provisioned arrive, and how often.
	var (
		mu      sync.Mutex
		secret  string
		arrived = map[string]time.Time{}
		ids     = map[string]map[string]bool{}
		badSigs int
		allHere = make(chan struct{})
	)
	receiver := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		now := time.Now()
		mu.Lock()
		defer mu.Unlock()
		wh, err := standardwebhooks.NewWebhook(secret)
		if err == nil {
			err = wh.Verify(body, r.Header)
		}
		if err != nil {
			badSigs++
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		var p webhooks.Payload
		if json.Unmarshal(body, &p) == nil && p.Type == webhooks.TypeProvisioned {
			ext := p.Data.Tenant.ExternalID
			if _, seen := arrived[ext]; !seen {
				arrived[ext] = now
			}
			if ids[ext] == nil {
				ids[ext] = map[string]bool{}
			}
			ids[ext][r.Header.Get("webhook-id")] = true
			if len(arrived) == o.tenants {
				close(allHere)
			}
		}
		w.WriteHeader(http.StatusNoContent)
	}))
	defer receiver.Close()

	common := append(e.baseEnv(dbURL), "PNONBOARD_WEBHOOK_ALLOW_HTTP=true", "PNONBOARD_WEBHOOK_ALLOW_PRIVATE=true")
	api, err := e.start(ctx, append(common, "PNONBOARD_ROLE=api"))
	if err != nil {
		return err
	}
	call := func(method, path, body string) (map[string]any, error) {
		req, err := http.NewRequestWithContext(ctx, method, api.url+path, bytes.NewBufferString(body))
		if err != nil {
			return nil, err
		}
		req.Header.Set("Authorization", "Bearer "+key)
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return nil, err
		}
		defer resp.Body.Close()
		var out map[string]any
		if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
			return nil, err
		}
		if resp.StatusCode >= 300 {
			return nil, fmt.Errorf("%s %s: %d %v", method, path, resp.StatusCode, out)
		}
		return out, nil
	}
	ep, err := call(http.MethodPost, "/v1/webhook-endpoints", fmt.Sprintf(`{"url": %q}`, receiver.URL))
	if err != nil {
		return err
	}
	mu.Lock()
	secret = ep["secret"].(string)
	mu.Unlock()

	// Queue the tenants (signups), then start the workers.
	created := make(map[string]time.Time, o.tenants)
	for i := range o.tenants {
		t, err := call(http.MethodPost, "/v1/tenants", fmt.Sprintf(`{"externalId": "drain-%04d", "name": "Drain %d"}`, i, i))
		if err != nil {
			return err
		}
		at, _ := time.Parse(time.RFC3339Nano, t["createdAt"].(string))
		created[t["externalId"].(string)] = at
	}
	start := time.Now()
	for range o.replicas {
		if _, err := e.start(ctx, append(common, "PNONBOARD_ROLE=worker", "PNONBOARD_WORKERS=20",
			"PNONBOARD_PUBNUB_URL="+sbSrv.URL+"/v2", "PNONBOARD_PUBNUB_API_KEY=bench-sandbox",
			"PNONBOARD_PUBNUB_RATE_PER_MINUTE="+strconv.Itoa(o.ratePerMin))); err != nil {
			return err
		}
	}
	ceiling := float64(o.ratePerMin) / float64(envs+2)
	limit := time.Duration(float64(o.tenants)/ceiling*float64(time.Minute))*2 + time.Minute
	select {
	case <-allHere:
	case <-time.After(limit):
		mu.Lock()
		n := len(arrived)
		mu.Unlock()
		return fmt.Errorf("only %d of %d tenants announced after %s", n, o.tenants, limit)
	case <-ctx.Done():
		return ctx.Err()
	}
	elapsed := time.Since(start)
	time.Sleep(2 * time.Second) // let any duplicate show itself
	e.stopAll()

	// Upstream: rate achieved over the span of the calls, and how many were refused.
	calls := sb.Calls()
	var first, last time.Time
	tooMany := 0
	for i, c := range calls {
		if i == 0 || c.At.Before(first) {
			first = c.At
		}
		if c.At.After(last) {
			last = c.At
		}
		if c.Status == http.StatusTooManyRequests {
			tooMany++
		}
	}
	span := last.Sub(first)
	// n calls span n-1 intervals; counting n would flatter short runs.
	perMin := float64(len(calls)-1) / span.Minutes()

	// Exactly-once upstream, and once per tenant in the webhooks.
	apps, customers, keysets := map[string]int{}, map[string]int{}, map[string]int{}
	for _, a := range sb.Apps() {
		apps[a.Name]++
	}
	for _, c := range sb.Customers() {
		customers[c.ExternalID]++
	}
	for _, k := range sb.Keysets() {
		keysets[k.Name]++
	}
	dups := 0
	for _, m := range []map[string]int{apps, customers, keysets} {
		for _, n := range m {
			if n > 1 {
				dups++
			}
		}
	}
	mu.Lock()
	lat := hdrhistogram.New(1, 3_600_000, 3) // milliseconds
	multiEvents := 0
	for ext, at := range arrived {
		_ = lat.RecordValue(at.Sub(created[ext]).Milliseconds())
		if len(ids[ext]) > 1 {
			multiEvents++
		}
	}
	bad := badSigs
	mu.Unlock()

	fmt.Fprintf(e.stdout, "drained %d tenants in %s (%d upstream calls over %s)\n", o.tenants, elapsed.Round(time.Millisecond), len(calls), span.Round(time.Millisecond))
	full, use := windowUse(calls, o.ratePerMin)
	fmt.Fprintf(e.stdout, "upstream calls/min         %10.1f (limit %d a fixed window)\n", perMin, o.ratePerMin)
	fmt.Fprintf(e.stdout, "fixed windows kept busy    %10d, filled to %.1f%% of the limit (target ≥ 98%% of R)\n", full, 100*use)
	fmt.Fprintf(e.stdout, "429 answers                %10d (target 0)\n", tooMany)
	fmt.Fprintf(e.stdout, "tenants/min                %10.1f of ceiling R/(E+2) = %.1f (%.1f%%)\n",
		float64(o.tenants)/elapsed.Minutes(), ceiling, 100*float64(o.tenants)/elapsed.Minutes()/ceiling)
	fmt.Fprintf(e.stdout, "signup→webhook p50/p99     %7.1f s / %.1f s (all %d signups queued before the workers start)\n",
		float64(lat.ValueAtQuantile(50))/1000, float64(lat.ValueAtQuantile(99))/1000, o.tenants)
	fmt.Fprintf(e.stdout, "duplicates upstream        %10d (target 0); tenants announced twice: %d; bad signatures: %d\n", dups, multiEvents, bad)
	return nil
}
