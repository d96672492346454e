package pubnub_test

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/pnonboard/pnonboard/internal/pubnub"
	"github.com/pnonboard/pnonboard/internal/pubnub/sandbox"
	"github.com/pnonboard/pnonboard/internal/testclock"
)

const testKey = "pn-test-api-key-0123456789"

// upstream is a sandbox served over HTTP, as the client meets PubNub.
type upstream struct {
	sb       *sandbox.Sandbox
	clock    *testclock.Clock
	srv      *httptest.Server
	client   *pubnub.Client
	requests *requestLog
}

// startSandbox serves a sandbox (test key, fake clock, no rate limit unless
// edit sets one) over httptest and returns a client for it.
func startSandbox(t *testing.T, edit func(*sandbox.Opts)) *upstream {
	t.Helper()
	clock := testclock.New(time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC))
	opts := &sandbox.Opts{APIKey: testKey, RatePerMinute: -1, Now: clock.Now}
	if edit != nil {
		edit(opts)
	}
	sb := sandbox.New(opts)
	log := &requestLog{}
	srv := httptest.NewServer(log.wrap(sb))
	t.Cleanup(srv.Close)
	return &upstream{sb: sb, clock: clock, srv: srv, client: pubnub.New(srv.URL+"/v2", testKey, "", srv.Client()), requests: log}
}

// startServer serves h over httptest and returns a client for it, for
// answers the sandbox never gives.
func startServer(t *testing.T, h http.HandlerFunc) (*pubnub.Client, *httptest.Server) {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return pubnub.New(srv.URL+"/v2", testKey, "", srv.Client()), srv
}

// recorded is one request as it reached the server.
type recorded struct {
	Method, Path, Query string
	Header              http.Header
	Body                string
}

// requestLog records requests, with bodies, before passing them on.
type requestLog struct {
	mu   sync.Mutex
	reqs []recorded
}

func (l *requestLog) wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		r.Body = io.NopCloser(bytes.NewReader(body))
		l.mu.Lock()
		l.reqs = append(l.reqs, recorded{Method: r.Method, Path: r.URL.Path, Query: r.URL.RawQuery, Header: r.Header.Clone(), Body: string(body)})
		l.mu.Unlock()
		next.ServeHTTP(w, r)
	})
}

func (l *requestLog) all() []recorded {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]recorded(nil), l.reqs...)
}

func (l *requestLog) last() recorded {
	all := l.all()
	return all[len(all)-1]
}
