package accessmanager_test

import (
	"net/http"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/pnonboard/pnonboard/internal/accessmanager"
)

// BenchmarkGrant measures grants through the client against a sandbox over
// loopback HTTP, from 16 goroutines per CPU at once. It reports grants/s and
// the p50 and p99 latency of one grant (signing, the round trip and the
// sandbox's checks and token). Each grant names its own authorized user, as
// end-user logins would.
func BenchmarkGrant(b *testing.B) {
	s := newSandboxServer(b, nil)
	transport := http.DefaultTransport.(*http.Transport).Clone()
	transport.MaxIdleConnsPerHost = 256
	client := accessmanager.New(s.origin(), &http.Client{Transport: transport, Timeout: 10 * time.Second})
	b.Cleanup(transport.CloseIdleConnections)

	var (
		mu        sync.Mutex
		latencies []time.Duration
		users     int
	)
	b.SetParallelism(16)
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		mine := make([]time.Duration, 0, 1024)
		for pb.Next() {
			mu.Lock()
			users++
			user := users
			mu.Unlock()
			req := grantRequest()
			req.AuthorizedUserID = "end-user-" + strconv.Itoa(user)
			t0 := time.Now()
			if _, err := client.Grant(b.Context(), s.keys, req); err != nil {
				b.Error(err)
				return
			}
			mine = append(mine, time.Since(t0))
		}
		mu.Lock()
		latencies = append(latencies, mine...)
		mu.Unlock()
	})
	elapsed := time.Since(start)
	b.StopTimer()
	if len(latencies) == 0 {
		return
	}
	slices.Sort(latencies)
	pct := func(p float64) float64 {
		return float64(latencies[int(p*float64(len(latencies)-1))].Microseconds()) / 1000
	}
	b.ReportMetric(float64(len(latencies))/elapsed.Seconds(), "grants/s")
	b.ReportMetric(pct(0.50), "p50-ms")
	b.ReportMetric(pct(0.99), "p99-ms")
}
