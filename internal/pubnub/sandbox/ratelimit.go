package sandbox

import (
	"net/http"
	"strconv"
	"sync"
	"time"
)

// limiter is a fixed-window request counter per API key.
//
// [C] The Admin API overview states 120 requests per minute (a 60-second
// window), 429 when exceeded, and X-RateLimit-Limit, X-RateLimit-Remaining
// and X-RateLimit-Reset (seconds until the reset) on answers. [U] The rest
// is the sandbox's reading: a fixed window (anchored at the first request
// after the previous window ended) per API key; the headers on every
// authenticated answer, Reset in whole seconds, at least 1; a 429 also
// carries Retry-After equal to X-RateLimit-Reset (the overview names only
// the three headers); every authenticated request counts, including ones
// then refused for a bad PubNub-Version, a permission or a 404; refused
// 429s do not extend the window.
type limiter struct {
	mu      sync.Mutex
	limit   int // < 0: no limiting and no headers
	window  time.Duration
	windows map[string]*rateWindow
}

type rateWindow struct {
	start time.Time
	count int
}

// quota is the state reported in the rate-limit headers.
type quota struct {
	limit, remaining int
	reset            time.Duration
}

func newLimiter(limit int, window time.Duration) *limiter {
	return &limiter{limit: limit, window: window, windows: map[string]*rateWindow{}}
}

func (l *limiter) enabled() bool { return l.limit >= 0 }

// take counts one request for key at now and reports whether it is allowed.
func (l *limiter) take(key string, now time.Time) (quota, bool) {
	if !l.enabled() {
		return quota{}, true
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	w := l.current(key, now)
	allowed := w.count < l.limit
	if allowed {
		w.count++
	}
	return quota{limit: l.limit, remaining: l.limit - w.count, reset: w.start.Add(l.window).Sub(now)}, allowed
}

// exhausted reports the quota a refused request would see, without counting
// anything: an injected 429 looks exactly like a real one. With limiting
// disabled it reports DefaultRatePerMinute and a full window.
func (l *limiter) exhausted(key string, now time.Time) quota {
	if !l.enabled() {
		return quota{limit: DefaultRatePerMinute, reset: l.window}
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	w := l.current(key, now)
	return quota{limit: l.limit, reset: w.start.Add(l.window).Sub(now)}
}

// current returns key's window at now, opening a new one when the last has
// ended. l.mu must be held.
func (l *limiter) current(key string, now time.Time) *rateWindow {
	w := l.windows[key]
	if w == nil || !now.Before(w.start.Add(l.window)) {
		w = &rateWindow{start: now}
		l.windows[key] = w
	}
	return w
}

func (l *limiter) reset() {
	l.mu.Lock()
	defer l.mu.Unlock()
	clear(l.windows)
}

// setHeaders writes the three X-RateLimit headers, and Retry-After when the
// request is refused.
func (q quota) setHeaders(h http.Header, refused bool) {
	reset := strconv.Itoa(resetSeconds(q.reset))
	h.Set("X-RateLimit-Limit", strconv.Itoa(q.limit))
	h.Set("X-RateLimit-Remaining", strconv.Itoa(max(q.remaining, 0)))
	h.Set("X-RateLimit-Reset", reset)
	if refused {
		h.Set("Retry-After", reset)
	}
}

// resetSeconds rounds d up to whole seconds, at least 1, so a client that
// waits that long always lands in the next window.
func resetSeconds(d time.Duration) int {
	s := int((d + time.Second - 1) / time.Second)
	return max(s, 1)
}
