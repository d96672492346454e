package console

import (
	"sync"
	"time"
)

// limiter counts failed sign-ins per client address over a sliding window. It lives in
// memory, so each replica counts its own: behind a load balancer an address gets the limit
// once per replica. That bounds guessing well enough for keys of 256 random bits; it is a
// brake on noise and on a leaked-key prefix being tried, not the only defence.
type limiter struct {
	mu       sync.Mutex
	max      int
	window   time.Duration
	now      func() time.Time
	failures map[string][]time.Time // each address's failures in the window, oldest first
}

// maxTracked bounds the addresses remembered; past it, forgotten failures are dropped first,
// and if every one is recent, the table starts over.
const maxTracked = 10_000

func newLimiter(max int, window time.Duration, now func() time.Time) *limiter {
	return &limiter{max: max, window: window, now: now, failures: map[string][]time.Time{}}
}

// wait is how long addr must wait before its next sign-in is checked: zero while it has made
// fewer than max failed sign-ins in the window.
func (l *limiter) wait(addr string) time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	recent := l.recent(addr, now)
	if len(recent) < l.max {
		return 0
	}
	return recent[len(recent)-l.max].Add(l.window).Sub(now)
}

// fail records a failed sign-in from addr.
func (l *limiter) fail(addr string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	if _, known := l.failures[addr]; !known && len(l.failures) >= maxTracked {
		for a := range l.failures {
			l.recent(a, now)
		}
		if len(l.failures) >= maxTracked {
			clear(l.failures)
		}
	}
	recent := append(l.recent(addr, now), now)
	if len(recent) > l.max {
		recent = recent[len(recent)-l.max:]
	}
	l.failures[addr] = recent
}

// recent drops addr's failures older than the window and returns the rest. Call with mu held.
func (l *limiter) recent(addr string, now time.Time) []time.Time {
	list := l.failures[addr]
	i := 0
	for i < len(list) && !now.Before(list[i].Add(l.window)) {
		i++
	}
	list = list[i:]
	if len(list) == 0 {
		delete(l.failures, addr)
		return nil
	}
	l.failures[addr] = list
	return list
}
