package sandbox_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/pnonboard/pnonboard/internal/pubnub/sandbox"
)

func TestRandomFaults(t *testing.T) {
	t.Parallel()

	newFaulty := func(t *testing.T, rates sandbox.FaultRates, edit func(*sandbox.Opts)) *sandbox.Sandbox {
		t.Helper()
		sb, _ := newSandbox(t, func(o *sandbox.Opts) {
			o.Faults = rates
			if edit != nil {
				edit(o)
			}
		})
		return sb
	}
	createAppBody := map[string]any{"name": "a"}

	t.Run("ServerErrorChangesNothing", func(t *testing.T) {
		t.Parallel()
		sb := newFaulty(t, sandbox.FaultRates{ServerError: 1}, nil)

		res := do(t, sb, http.MethodPost, "/v2/apps", createAppBody)

		body := requireError(t, res, http.StatusInternalServerError)
		require.Equal(t, "InternalError", body.Error)
		require.Empty(t, sb.Apps())
	})

	t.Run("LostAppliesTheChange", func(t *testing.T) {
		t.Parallel()
		sb := newFaulty(t, sandbox.FaultRates{Lost: 1}, nil)

		res := do(t, sb, http.MethodPost, "/v2/apps", createAppBody)

		requireError(t, res, http.StatusInternalServerError)
		require.Len(t, sb.Apps(), 1)
	})

	t.Run("TimeoutAppliesAndEndsWithTheRequestContext", func(t *testing.T) {
		t.Parallel()
		sb := newFaulty(t, sandbox.FaultRates{Timeout: 1}, nil) // TimeoutHang is the default minute
		ctx, cancel := context.WithTimeout(t.Context(), 5*time.Millisecond)
		defer cancel()
		start := time.Now()

		do(t, sb, http.MethodPost, "/v2/apps", createAppBody, withContext(ctx))

		require.Less(t, time.Since(start), 5*time.Second, "the hang ends when the client gives up")
		require.Len(t, sb.Apps(), 1)
		calls := sb.Calls()
		require.Equal(t, 0, calls[len(calls)-1].Status, "no answer was given")
	})

	t.Run("TimeoutHangBounded", func(t *testing.T) {
		t.Parallel()
		sb := newFaulty(t, sandbox.FaultRates{Timeout: 1}, func(o *sandbox.Opts) { o.TimeoutHang = 2 * time.Millisecond })

		res := do(t, sb, http.MethodPost, "/v2/apps", createAppBody)

		body := requireError(t, res, http.StatusGatewayTimeout)
		require.Equal(t, "GatewayTimeout", body.Error)
		require.Len(t, sb.Apps(), 1)
	})

	t.Run("SeedRepeatsTheSameFaults", func(t *testing.T) {
		t.Parallel()
		statuses := func(seed int64) []int {
			sb := newFaulty(t, sandbox.FaultRates{ServerError: 0.5}, func(o *sandbox.Opts) { o.Seed = seed })
			var out []int
			for range 30 {
				out = append(out, do(t, sb, http.MethodGet, "/v2/apps", nil).Status)
			}
			return out
		}

		first := statuses(7)

		require.Equal(t, first, statuses(7))
		require.NotEqual(t, first, statuses(8))
		require.Contains(t, first, http.StatusOK)
		require.Contains(t, first, http.StatusInternalServerError)
	})

	t.Run("NotBeforeAuthentication", func(t *testing.T) {
		t.Parallel()
		sb := newFaulty(t, sandbox.FaultRates{ServerError: 1}, nil)

		requireError(t, do(t, sb, http.MethodGet, "/v2/apps", nil, withoutHeader("Authorization")), http.StatusUnauthorized)
	})
}

func TestScriptedFaults(t *testing.T) {
	t.Parallel()

	type testBundle struct {
		sb    *sandbox.Sandbox
		appID string
	}
	setup := func(t *testing.T) *testBundle {
		t.Helper()
		sb, _ := newSandbox(t, nil)
		return &testBundle{sb: sb, appID: createApp(t, sb, "app").ID}
	}
	keysetBody := func(b *testBundle) map[string]any {
		return map[string]any{"keyset": map[string]any{"name": "ks", "appId": b.appID, "type": "testing"}}
	}

	t.Run("LostOnExactlyOneStep", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		b.sb.InjectFault(sandbox.OpCreateKeyset, sandbox.Fault{Kind: sandbox.FaultLost}, 1)

		require.Equal(t, http.StatusOK, do(t, b.sb, http.MethodGet, "/v2/apps", nil).Status, "other operations are unaffected")
		requireError(t, do(t, b.sb, http.MethodPost, "/v2/keysets", keysetBody(b)), http.StatusInternalServerError)
		require.Len(t, b.sb.Keysets(), 1, "the lost create was applied")
		require.Equal(t, http.StatusCreated, do(t, b.sb, http.MethodPost, "/v2/keysets", keysetBody(b)).Status, "one use only")
		require.Len(t, b.sb.Keysets(), 2)
	})

	t.Run("StatusUntilCleared", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		b.sb.InjectFault(sandbox.OpCreateCustomer, sandbox.Fault{Kind: sandbox.FaultStatus, Status: http.StatusForbidden, Message: "OEM not enabled"}, -1)
		body := map[string]any{"externalId": "t", "name": "T"}

		for range 3 {
			res := requireError(t, do(t, b.sb, http.MethodPost, "/v2/oem/customers", body), http.StatusForbidden, "OEM not enabled")
			require.Equal(t, "Forbidden", res.Error)
		}
		require.Empty(t, b.sb.Customers(), "a status fault changes nothing")
		b.sb.ClearFaults()
		require.Equal(t, http.StatusOK, do(t, b.sb, http.MethodPost, "/v2/oem/customers", body).Status)
	})

	t.Run("RateLimitOnceLooksReal", func(t *testing.T) {
		t.Parallel()
		sb, _ := newSandbox(t, func(o *sandbox.Opts) { o.RatePerMinute = 50 })
		sb.InjectFault(sandbox.OpListApps, sandbox.Fault{Kind: sandbox.FaultStatus, Status: http.StatusTooManyRequests}, 1)

		res := do(t, sb, http.MethodGet, "/v2/apps", nil)

		body := requireError(t, res, http.StatusTooManyRequests)
		require.Equal(t, "TooManyRequests", body.Error)
		require.Equal(t, "50", res.Header.Get("X-RateLimit-Limit"))
		require.Equal(t, "0", res.Header.Get("X-RateLimit-Remaining"))
		require.Equal(t, "60", res.Header.Get("X-RateLimit-Reset"))
		require.Equal(t, "60", res.Header.Get("Retry-After"))
		require.Equal(t, http.StatusOK, do(t, sb, http.MethodGet, "/v2/apps", nil).Status)
	})

	t.Run("RateLimitWithLimitingDisabled", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		b.sb.InjectFault(sandbox.OpAny, sandbox.Fault{Kind: sandbox.FaultStatus, Status: http.StatusTooManyRequests}, 1)

		res := do(t, b.sb, http.MethodGet, "/v2/apps", nil)

		requireError(t, res, http.StatusTooManyRequests)
		require.Equal(t, []string{"120", "0", "60", "60"}, []string{res.Header.Get("X-RateLimit-Limit"), res.Header.Get("X-RateLimit-Remaining"), res.Header.Get("X-RateLimit-Reset"), res.Header.Get("Retry-After")})
	})

	t.Run("AnyOperation", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		b.sb.InjectFault(sandbox.OpAny, sandbox.Fault{Kind: sandbox.FaultServerError}, 2)

		requireError(t, do(t, b.sb, http.MethodGet, "/v2/apps", nil), http.StatusInternalServerError)
		requireError(t, do(t, b.sb, http.MethodPost, "/v2/keysets", keysetBody(b)), http.StatusInternalServerError)
		require.Empty(t, b.sb.Keysets())
		require.Equal(t, http.StatusOK, do(t, b.sb, http.MethodGet, "/v2/apps", nil).Status)
	})

	t.Run("UsedInOrderInjected", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		b.sb.InjectFault(sandbox.OpGetApp, sandbox.Fault{Kind: sandbox.FaultStatus, Status: 502}, 1)
		b.sb.InjectFault(sandbox.OpGetApp, sandbox.Fault{Kind: sandbox.FaultStatus, Status: 503}, 1)
		b.sb.InjectFault(sandbox.OpAny, sandbox.Fault{Kind: sandbox.FaultStatus, Status: 504}, 1)
		b.sb.InjectFault(sandbox.OpGetApp, sandbox.Fault{Kind: sandbox.FaultStatus, Status: 500}, 0) // injects nothing
		path := "/v2/apps/" + b.appID

		var got []int
		for range 4 {
			got = append(got, do(t, b.sb, http.MethodGet, path, nil).Status)
		}

		require.Equal(t, []int{502, 503, 504, 200}, got)
	})

	t.Run("NotConsumedByRefusedRequests", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		b.sb.InjectFault(sandbox.OpListApps, sandbox.Fault{Kind: sandbox.FaultServerError}, 1)

		requireError(t, do(t, b.sb, http.MethodGet, "/v2/apps", nil, withoutHeader("Authorization")), http.StatusUnauthorized)
		requireError(t, do(t, b.sb, http.MethodGet, "/v2/apps", nil, withoutHeader("PubNub-Version")), http.StatusBadRequest)
		requireError(t, do(t, b.sb, http.MethodGet, "/v2/apps", nil), http.StatusInternalServerError)
	})

	t.Run("InvalidFaultPanics", func(t *testing.T) {
		t.Parallel()
		b := setup(t)

		require.Panics(t, func() { b.sb.InjectFault(sandbox.OpGetApp, sandbox.Fault{Kind: sandbox.FaultStatus, Status: 200}, 1) })
		require.Panics(t, func() { b.sb.InjectFault(sandbox.OpGetApp, sandbox.Fault{}, 1) })
	})
}

// Permanent-refusal drills: a status fault answers that status in PubNub's
// format and changes nothing; a per-operation one hits only its operation.
func TestStatusAndOperationFaults(t *testing.T) {
	t.Parallel()

	newFaulty := func(t *testing.T, faults string, seed int64) *sandbox.Sandbox {
		t.Helper()
		rates, err := sandbox.ParseFaults(faults)
		require.NoError(t, err)
		sb, _ := newSandbox(t, func(o *sandbox.Opts) { o.Faults, o.Seed = rates, seed })
		return sb
	}
	newKeyset := func(appID string) map[string]any {
		return map[string]any{"keyset": map[string]any{"name": "k", "appId": appID, "type": "testing"}}
	}

	t.Run("StatusForEveryRequest", func(t *testing.T) {
		t.Parallel()
		sb := newFaulty(t, "403=1", 0)

		body := requireError(t, do(t, sb, http.MethodPost, "/v2/apps", map[string]any{"name": "a"}), http.StatusForbidden, "Injected 403 fault")

		require.Equal(t, "Forbidden", body.Error)
		require.Empty(t, sb.Apps(), "a refusal changes nothing")
		requireError(t, do(t, sb, http.MethodGet, "/v2/apps", nil), http.StatusForbidden)
	})

	t.Run("StatusRatesMixWithTheOthers", func(t *testing.T) {
		t.Parallel()
		sb := newFaulty(t, "5xx=0.2,403=0.2,400=0.2", 3)

		seen := map[int]int{}
		for range 200 {
			seen[do(t, sb, http.MethodGet, "/v2/apps", nil).Status]++
		}

		for _, status := range []int{200, 400, 403, 500} {
			require.Greater(t, seen[status], 10, "status %d in %v", status, seen)
		}
		require.Len(t, seen, 4)
	})

	t.Run("PerOperationEveryTime", func(t *testing.T) {
		t.Parallel()
		sb := newFaulty(t, "403@POST /keysets", 0)

		app := createApp(t, sb, "a")
		for range 3 {
			requireError(t, do(t, sb, http.MethodPost, "/v2/keysets", newKeyset(app.ID)), http.StatusForbidden, "Injected 403 fault")
		}

		require.Empty(t, sb.Keysets())
		require.Equal(t, http.StatusOK, do(t, sb, http.MethodGet, "/v2/keysets", nil).Status, "other operations are untouched")
	})

	t.Run("PerOperationRateIsSeeded", func(t *testing.T) {
		t.Parallel()
		run := func() []int {
			sb := newFaulty(t, "400@POST /keysets=0.5", 11)
			app := createApp(t, sb, "a")
			var out []int
			for range 40 {
				out = append(out, do(t, sb, http.MethodPost, "/v2/keysets", newKeyset(app.ID)).Status)
			}
			return out
		}

		first := run()

		require.Equal(t, first, run())
		require.Contains(t, first, http.StatusCreated)
		require.Contains(t, first, http.StatusBadRequest)
	})

	t.Run("PerOperationBeforeGlobal", func(t *testing.T) {
		t.Parallel()
		sb := newFaulty(t, "5xx=1,403@GET /apps", 0)

		requireError(t, do(t, sb, http.MethodGet, "/v2/apps", nil), http.StatusForbidden)
		requireError(t, do(t, sb, http.MethodGet, "/v2/keysets", nil), http.StatusInternalServerError)
	})

	t.Run("LostPerOperationAppliesTheChange", func(t *testing.T) {
		t.Parallel()
		sb := newFaulty(t, "lost@CreateApp", 0)

		requireError(t, do(t, sb, http.MethodPost, "/v2/apps", map[string]any{"name": "a"}), http.StatusInternalServerError)

		require.Len(t, sb.Apps(), 1)
	})

	t.Run("StringRoundTrips", func(t *testing.T) {
		t.Parallel()
		const s = "5xx=0.1,lost=0.05,403=0.1,403@CreateKeyset=1,lost@UpdateKeysetConfig=0.5"

		rates, err := sandbox.ParseFaults(s)
		require.NoError(t, err)

		require.Equal(t, s, rates.String())
		again, err := sandbox.ParseFaults(rates.String())
		require.NoError(t, err)
		require.Equal(t, rates, again)
	})
}

func TestParseFaults(t *testing.T) {
	t.Parallel()

	valid := []struct {
		name, in string
		want     sandbox.FaultRates
	}{
		{"Empty", "", sandbox.FaultRates{}},
		{"All", "5xx=0.1,lost=0.05,timeout=0.02", sandbox.FaultRates{ServerError: 0.1, Lost: 0.05, Timeout: 0.02}},
		{"SpacesAndCase", " LOST = 0.5 , 5xx=0 ", sandbox.FaultRates{Lost: 0.5}},
		{"SumOne", "5xx=0.5,lost=0.5", sandbox.FaultRates{ServerError: 0.5, Lost: 0.5}},
		{"Statuses", "5xx=0.1,403=0.1,400=0.1,503=0.05", sandbox.FaultRates{ServerError: 0.1, Statuses: []sandbox.StatusRate{{403, 0.1}, {400, 0.1}, {503, 0.05}}}},
		{"PerOperationEveryTime", "403@POST /keysets", sandbox.FaultRates{Rules: []sandbox.FaultRule{
			{Op: sandbox.OpCreateKeyset, Fault: sandbox.Fault{Kind: sandbox.FaultStatus, Status: 403}, Rate: 1},
		}}},
		{"PerOperationRate", "403@POST /keysets=0.5", sandbox.FaultRates{Rules: []sandbox.FaultRule{
			{Op: sandbox.OpCreateKeyset, Fault: sandbox.Fault{Kind: sandbox.FaultStatus, Status: 403}, Rate: 0.5},
		}}},
		{"PerOperationForms", "lost@post /v2/apps=0.2, 5xx@PATCH /keysets/{id}/config, timeout@GET /keysets/5000001=0.1,400@CreateCustomer,403@POST /keysets=0.5,400@POST /keysets=0.5", sandbox.FaultRates{Rules: []sandbox.FaultRule{
			{Op: sandbox.OpCreateApp, Fault: sandbox.Fault{Kind: sandbox.FaultLost}, Rate: 0.2},
			{Op: sandbox.OpUpdateKeysetConfig, Fault: sandbox.Fault{Kind: sandbox.FaultServerError}, Rate: 1},
			{Op: sandbox.OpGetKeyset, Fault: sandbox.Fault{Kind: sandbox.FaultTimeout}, Rate: 0.1},
			{Op: sandbox.OpCreateCustomer, Fault: sandbox.Fault{Kind: sandbox.FaultStatus, Status: 400}, Rate: 1},
			{Op: sandbox.OpCreateKeyset, Fault: sandbox.Fault{Kind: sandbox.FaultStatus, Status: 403}, Rate: 0.5},
			{Op: sandbox.OpCreateKeyset, Fault: sandbox.Fault{Kind: sandbox.FaultStatus, Status: 400}, Rate: 0.5},
		}}},
		{"GlobalAndPerOperationSumSeparately", "5xx=1,403@CreateApp", sandbox.FaultRates{ServerError: 1, Rules: []sandbox.FaultRule{
			{Op: sandbox.OpCreateApp, Fault: sandbox.Fault{Kind: sandbox.FaultStatus, Status: 403}, Rate: 1},
		}}},
	}
	for _, tt := range valid {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()

			got, err := sandbox.ParseFaults(tt.in)

			require.NoError(t, err)
			require.Equal(t, tt.want, got)
		})
	}

	invalid := []struct {
		name, in, message string
	}{
		{"UnknownName", "slow=0.1", `parse faults "slow=0.1": unknown fault "slow", want 5xx, lost, timeout or a status from 400 to 599`},
		{"NotAnErrorStatus", "302=0.1", `parse faults "302=0.1": unknown fault "302", want 5xx, lost, timeout or a status from 400 to 599`},
		{"StatusTooHigh", "600@CreateApp", `parse faults "600@CreateApp": unknown fault "600", want 5xx, lost, timeout or a status from 400 to 599`},
		{"NoEquals", "lost", `parse faults "lost": "lost" is not name=rate or name@operation[=rate]`},
		{"UnknownPath", "403@POST /customers", `parse faults "403@POST /customers": unknown operation "POST /customers", want "METHOD /path" of an endpoint (e.g. "POST /keysets") or a name such as CreateKeyset`},
		{"WrongMethod", "403@PUT /keysets", `parse faults "403@PUT /keysets": unknown operation "PUT /keysets", want "METHOD /path" of an endpoint (e.g. "POST /keysets") or a name such as CreateKeyset`},
		{"UnknownOperationName", "403@MakeKeyset", `parse faults "403@MakeKeyset": unknown operation "MakeKeyset", want "METHOD /path" of an endpoint (e.g. "POST /keysets") or a name such as CreateKeyset`},
		{"PerOperationTwice", "403@POST /keysets,403@CreateKeyset=0.5", `parse faults "403@POST /keysets,403@CreateKeyset=0.5": 403@CreateKeyset is given twice`},
		{"PerOperationSumAboveOne", "403@CreateKeyset,400@POST /keysets=0.1", `parse faults "403@CreateKeyset,400@POST /keysets=0.1": rates for CreateKeyset add up to 1.1, want at most 1`},
		{"StatusesInTheGlobalSum", "5xx=0.5,403=0.6", `parse faults "5xx=0.5,403=0.6": rates add up to 1.1, want at most 1`},
		{"PerOperationBadRate", "403@CreateKeyset=all", `parse faults "403@CreateKeyset=all": rate of 403@CreateKeyset: strconv.ParseFloat: parsing "all": invalid syntax`},
		{"NotANumber", "lost=often", `parse faults "lost=often": rate of lost: strconv.ParseFloat: parsing "often": invalid syntax`},
		{"Negative", "lost=-0.1", `parse faults "lost=-0.1": rate of lost is -0.1, want 0 to 1`},
		{"AboveOne", "timeout=1.5", `parse faults "timeout=1.5": rate of timeout is 1.5, want 0 to 1`},
		{"Twice", "lost=0.1,lost=0.2", `parse faults "lost=0.1,lost=0.2": lost is given twice`},
		{"SumAboveOne", "5xx=0.6,lost=0.6", `parse faults "5xx=0.6,lost=0.6": rates add up to 1.2, want at most 1`},
	}
	for _, tt := range invalid {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()

			_, err := sandbox.ParseFaults(tt.in)

			require.EqualError(t, err, tt.message)
		})
	}
}
