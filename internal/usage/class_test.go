package usage_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/pnonboard/pnonboard/internal/provisioner"
	"github.com/pnonboard/pnonboard/internal/pubnub"
	"github.com/pnonboard/pnonboard/internal/usage"
)

// classRecorder is the transport under the budget's: it records the budget class each request
// carried when the budget took its slot, and sends it on.
type classRecorder struct {
	mu      sync.Mutex
	classes []provisioner.Class
}

func (r *classRecorder) RoundTrip(req *http.Request) (*http.Response, error) {
	r.mu.Lock()
	r.classes = append(r.classes, provisioner.ClassOf(req.Context()))
	r.mu.Unlock()
	return http.DefaultTransport.RoundTrip(req)
}

// The usage sync's calls are background, whatever class the context it is run with carries
// (here a signup's, the most urgent): it never competes with signups or operators for more
// than the background share.
func TestUsageSyncCallsAreBackground(t *testing.T) {
	t.Parallel()
	for _, byEnv := range []bool{false, true} {
		h := newHarness(t, harnessOpts{})
		h.provision(t, "acme", "staging", "production")
		srv := httptest.NewServer(h.sb)
		t.Cleanup(srv.Close)
		rec := &classRecorder{}
		client := provisioner.NewClient(provisioner.ClientOpts{
			Budget: h.budget, BaseURL: srv.URL + "/v2", APIKey: h.sb.APIKey(), Version: pubnub.DefaultVersion, Timeout: 5 * time.Second, Base: rec,
		})
		h.clock.Set(time.Date(2030, 3, 1, 12, 0, 0, 0, time.UTC))
		s := h.syncer(usage.SyncerOpts{Upstream: client, ByEnvironment: byEnv})
		var cur usage.Cursor
		require.NoError(t, s.Pass(provisioner.WithClass(context.Background(), provisioner.ClassSignup), &cur, time.Time{}))
		want := 1
		if byEnv {
			want = 2 // one call per environment
		}
		require.Len(t, rec.classes, want, "by environment: %v", byEnv)
		for _, c := range rec.classes {
			require.Equal(t, provisioner.ClassBackground, c)
		}
	}
}
