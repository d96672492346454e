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
	"time"

	"github.com/pnonboard/pnonboard/internal/accessmanager"
	"github.com/pnonboard/pnonboard/internal/pubnub/sandbox"
	"github.com/pnonboard/pnonboard/internal/tenants"
)

// grant measures POST /v1/tenants/{id}/tokens: c clients granting end-user tokens through
// pnonboard's HTTP API (auth, strict JSON, tenant read, secret unsealed, the signed call to
// the sandbox's Access Manager, the token recorded) against the same grants sent straight to
// the sandbox with accessmanager.Client at the same concurrency. The difference of the two is
// pnonboard's overhead.
func (e *benchEnv) grant(ctx context.Context) error {
	o := e.opts
	fmt.Fprintf(e.stdout, "\n## Token grants: %d clients, %s each side, against the sandbox's Access Manager, pool %d\n", o.clients, o.duration, o.dbMaxConns)

	dbURL, err := e.database(ctx, "grant")
	if err != nil {
		return err
	}
	key, err := e.prepare(ctx, dbURL)
	if err != nil {
		return err
	}
	sb := sandbox.New(&sandbox.Opts{APIKey: "bench-sandbox", RatePerMinute: -1})
	sbSrv := httptest.NewServer(sb)
	defer sbSrv.Close()
	srv, err := e.start(ctx, append(e.baseEnv(dbURL), "PNONBOARD_PUBNUB_URL="+sbSrv.URL+"/v2",
		"PNONBOARD_PUBNUB_API_KEY=bench-sandbox", "PNONBOARD_PUBNUB_ORIGIN="+sbSrv.URL))
	if err != nil {
		return err
	}
	defer e.stopAll()

	client := &http.Client{Transport: &http.Transport{MaxIdleConns: o.clients, MaxIdleConnsPerHost: o.clients}}
	call := func(ctx context.Context, method, path string, body any, header ...string) (int, []byte, error) {
		raw, err := json.Marshal(body)
		if err != nil {
			return 0, nil, err
		}
		req, err := http.NewRequestWithContext(ctx, method, srv.url+path, bytes.NewReader(raw))
		if err != nil {
			return 0, nil, err
		}
		req.Header.Set("Authorization", "Bearer "+key)
		req.Header.Set("Content-Type", "application/json")
		for i := 0; i+1 < len(header); i += 2 {
			req.Header.Set(header[i], header[i+1])
		}
		resp, err := client.Do(req)
		if err != nil {
			return 0, nil, err
		}
		defer resp.Body.Close()
		out, err := io.ReadAll(resp.Body)
		return resp.StatusCode, out, err
	}
	status, body, err := call(ctx, http.MethodPost, "/v1/tenants", map[string]any{"externalId": "bench", "name": "Bench", "environments": []string{"staging"}}, "Prefer", "wait=30")
	if err != nil {
		return err
	}
	var tn struct {
		State string `json:"state"`
	}
	if err := json.Unmarshal(body, &tn); err != nil || status != http.StatusAccepted || tn.State != string(tenants.StateActive) {
		return fmt.Errorf("tenant not provisioned: %d %s", status, body)
	}
	ks := sb.Keysets()[0]
	keys := accessmanager.Keys{SubscribeKey: ks.SubscribeKey, PublishKey: ks.PublishKey, SecretKey: accessmanager.Secret(ks.SecretKeys[0].Value)}

	// A login's grant: the end user's own channel and user ID, a pattern, a short TTL.
	grantReq := func(c, n int) accessmanager.GrantRequest {
		user := "user-" + strconv.Itoa(c) + "-" + strconv.Itoa(n)
		return accessmanager.GrantRequest{
			TTL: 60, AuthorizedUserID: user,
			Resources: accessmanager.Resources{
				Channels: map[string]accessmanager.Permissions{"inbox-" + user: accessmanager.Read | accessmanager.Write},
				UUIDs:    map[string]accessmanager.Permissions{user: accessmanager.Get | accessmanager.Update},
			},
			Patterns: accessmanager.Resources{Channels: map[string]accessmanager.Permissions{"^lobby-.*$": accessmanager.Read}},
		}
	}
	viaService := func(ctx context.Context, c, n int) error {
		user := "user-" + strconv.Itoa(c) + "-" + strconv.Itoa(n)
		status, body, err := call(ctx, http.MethodPost, "/v1/tenants/bench/tokens", map[string]any{
			"environment": "staging", "ttl": 60, "authorizedUserId": user,
			"channels": map[string]any{"inbox-" + user: []string{"read", "write"}},
			"userIds":  map[string]any{user: []string{"get", "update"}},
			"patterns": map[string]any{"channels": map[string]any{"^lobby-.*$": []string{"read"}}},
		})
		if err != nil {
			return err
		}
		if status != http.StatusCreated {
			return fmt.Errorf("status %d: %s", status, body)
		}
		return nil
	}
	am := accessmanager.New(sbSrv.URL, &http.Client{Transport: &http.Transport{MaxIdleConns: o.clients, MaxIdleConnsPerHost: o.clients}, Timeout: 10 * time.Second})
	direct := func(ctx context.Context, c, n int) error {
		_, err := am.Grant(ctx, keys, grantReq(c, n))
		return err
	}

	// At the clients' concurrency, and with one client (the overhead of a request on an idle
	// machine: at full load it includes queueing for the CPUs that pnonboard, Postgres, the
	// sandbox and these clients share). Each time the sandbox alone first, then through
	// pnonboard.
	fmt.Fprintf(e.stdout, "%-40s %10s %9s %9s %9s %8s\n", "", "grants/s", "p50 ms", "p95 ms", "p99 ms", "errors")
	var failed int64
	for _, clients := range []int{o.clients, 1} {
		hammer(ctx, clients, 2*time.Second, direct)
		raw := hammer(ctx, clients, o.duration, direct)
		hammer(ctx, clients, 2*time.Second, viaService)
		svc := hammer(ctx, clients, o.duration, viaService)
		for _, row := range []struct {
			name string
			r    loadResult
		}{{"pnonboard (HTTP, auth, DB, sign)", svc}, {"sandbox direct (accessmanager)", raw}} {
			fmt.Fprintf(e.stdout, "%-40s %10.0f %9.2f %9.2f %9.2f %8d\n", fmt.Sprintf("%s ×%d", row.name, clients),
				row.r.perSecond(), row.r.ms(50), row.r.ms(95), row.r.ms(99), row.r.failed)
		}
		fmt.Fprintf(e.stdout, "%-40s p50 %+.2f ms, p99 %+.2f ms   (goal: p50 ≤ 2 ms)\n", fmt.Sprintf("pnonboard overhead ×%d", clients),
			svc.ms(50)-raw.ms(50), svc.ms(99)-raw.ms(99))
		failed += svc.failed + raw.failed
	}
	if rss, err := srv.peakRSS(); err == nil {
		fmt.Fprintf(e.stdout, "%-40s %10.1f MB\n", "server peak RSS", float64(rss)/(1<<20))
	}
	if failed > 0 {
		return fmt.Errorf("%d grants failed", failed)
	}
	return nil
}
