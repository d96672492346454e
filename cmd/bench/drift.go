package main

import (
	"context"
	"fmt"
	"net/http/httptest"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/pnonboard/pnonboard/internal/provisioner"
	"github.com/pnonboard/pnonboard/internal/pubnub/sandbox"
	"github.com/pnonboard/pnonboard/internal/tenants"
)

// drift fills a sandbox with 10,000 tenants' resources and a database with the same tenants
// (1% of them disabled, their keysets locked, so that the sweep reads locked keysets'
// configs as far as its call goal allows), changes a few of them behind pnonboard's back,
// starts a server, and counts the Admin API calls of its first drift sweep and of the checks
// it asks for.
func (e *benchEnv) drift(ctx context.Context) error {
	const n, touched, disabledEvery = 10_000, 6, 100
	fmt.Fprintf(e.stdout, "\n## Drift sweep: %d tenants × 3 environments (%d disabled), %d of them changed in the portal\n",
		n, n/disabledEvery, touched)
	dbURL, err := e.database(ctx, "drift")
	if err != nil {
		return err
	}
	if _, err := e.prepare(ctx, dbURL); err != nil {
		return err
	}
	sb := sandbox.New(&sandbox.Opts{APIKey: "bench-sandbox", RatePerMinute: -1})
	made, err := sb.Prefill(n, nil)
	if err != nil {
		return err
	}
	envs := []string{"development", "staging", "production"}
	list := make([]tenants.Imported, n)
	for i, p := range made {
		im := tenants.Imported{ExternalID: p.ExternalID, Name: p.ExternalID, AppID: p.AppID, CustomerID: p.CustomerID,
			Disabled: i%disabledEvery == 0}
		for j, id := range p.KeysetIDs {
			if im.Disabled { // locked upstream as a disable locks it
				if err := sb.SetAccessManager(id, true); err != nil {
					return err
				}
			}
			typ := "testing"
			if envs[j] == "production" {
				typ = "production"
			}
			im.Keysets = append(im.Keysets, tenants.ImportedKeyset{Environment: envs[j], Type: typ, KeysetID: id})
		}
		list[i] = im
	}
	pool, err := pgxpool.New(ctx, dbURL)
	if err != nil {
		return err
	}
	defer pool.Close()
	started := time.Now()
	if _, err := tenants.ImportProvisioned(ctx, pool, list); err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "imported %d tenants in %s\n", n, time.Since(started).Round(time.Millisecond))
	// A person in the Admin Portal: one of each kind of change.
	changes := []error{
		sb.UnassignKeyset(made[10].KeysetIDs[1]),
		sb.DeleteKeyset(made[2000].KeysetIDs[0]),
		sb.RenameKeyset(made[4000].KeysetIDs[2], "renamed by hand"),
		sb.RenameCustomer(made[6000].CustomerID, "Someone Else"),
		sb.RenameApp(made[8000].AppID, "my app"),
		// A disabled tenant's keyset opened again; the first in line for a config read.
		sb.SetAccessManager(made[0].KeysetIDs[2], false),
	}
	for _, err := range changes {
		if err != nil {
			return err
		}
	}

	sbSrv := httptest.NewServer(sb)
	defer sbSrv.Close()
	before := sb.CallCount()
	started = time.Now()
	if _, err := e.start(ctx, append(e.baseEnv(dbURL), "PNONBOARD_PUBNUB_URL="+sbSrv.URL+"/v2",
		"PNONBOARD_PUBNUB_API_KEY=bench-sandbox", "PNONBOARD_PUBNUB_RATE_PER_MINUTE=60000")); err != nil {
		return err
	}
	defer e.stopAll()
	var run *provisioner.DriftRun
	for run == nil && time.Since(started) < 5*time.Minute {
		r, ok, err := provisioner.LastDriftRun(ctx, pool)
		if err != nil {
			return err
		}
		if ok {
			run = r
		}
		time.Sleep(50 * time.Millisecond)
	}
	if run == nil {
		return fmt.Errorf("the drift sweep did not finish in 5 minutes")
	}
	sweepCalls := run.Calls
	// Wait for the suspects' checks to record their drift.
	var drifted int
	for time.Since(started) < 5*time.Minute {
		counts, err := tenants.CountDrift(ctx, pool)
		if err != nil {
			return err
		}
		drifted = 0
		for _, c := range counts {
			drifted += c
		}
		if drifted >= touched-2 { // the unassigned keyset and Access Manager are repaired and leave no drift
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	time.Sleep(2 * time.Second) // the last checks and repairs
	total := sb.CallCount() - before
	listings := sb.CallCount(sandbox.OpListCustomers) + sb.CallCount(sandbox.OpListApps) + sb.CallCount(sandbox.OpListKeysets)
	locked := 3 * ((n + disabledEvery - 1) / disabledEvery)
	configs := sweepCalls - listings
	fmt.Fprintf(e.stdout, "sweep                      %d calls (goal ≤ 500): %d customers, %d apps, %d keysets listings, %d configs\n",
		sweepCalls, sb.CallCount(sandbox.OpListCustomers), sb.CallCount(sandbox.OpListApps), sb.CallCount(sandbox.OpListKeysets), configs)
	if configs > 0 {
		fmt.Fprintf(e.stdout, "locked keysets             %d configs read of %d (oldest first): every one read within %d sweeps\n",
			configs, locked, (locked+configs-1)/configs)
	}
	fmt.Fprintf(e.stdout, "suspects checked           %d tenants, %d calls (reads and repairs); %d tenants left drifted\n",
		run.Suspects, total-sweepCalls, drifted)
	fmt.Fprintf(e.stdout, "sweep time                 %s at 60,000/min; at the default 120/min with a 0.2 background share ≈ %.0f min\n",
		run.FinishedAt.Sub(run.StartedAt).Round(time.Millisecond), float64(sweepCalls)/(120*0.98*0.2))
	return nil
}
