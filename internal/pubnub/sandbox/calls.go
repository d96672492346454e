package sandbox

import (
	"sync"
	"time"
)

// maxCalls bounds the call log so that a long-running dev sandbox does not
// grow without limit; CallCount keeps exact totals regardless.
const maxCalls = 10_000

// Call is one request the sandbox received, refused ones included.
type Call struct {
	Op     Operation
	Method string
	Path   string // as received, e.g. /v2/keysets/5000001/config
	Query  string // the raw query string, e.g. page=1&limit=100
	// Status is the status answered, or 0 when the client went away before
	// an answer (during Opts.Latency or a timeout fault).
	Status int
	At     time.Time // when the request arrived, by Opts.Now
}

// callLog records calls: the most recent maxCalls, and a count per
// operation since the start or the last Reset.
type callLog struct {
	mu     sync.Mutex
	calls  []Call
	counts map[Operation]int
}

func newCallLog() *callLog { return &callLog{counts: map[Operation]int{}} }

func (l *callLog) add(c Call) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.calls) == maxCalls {
		l.calls = append(l.calls[:0], l.calls[1:]...)
	}
	l.calls = append(l.calls, c)
	l.counts[c.Op]++
}

func (l *callLog) reset() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.calls = nil
	clear(l.counts)
}

// Calls returns a copy of the recorded calls, oldest first (at most the last
// 10,000).
func (s *Sandbox) Calls() []Call {
	l := s.calls
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]Call(nil), l.calls...)
}

// CallCount returns how many requests of the given operations the sandbox
// received, refused ones included; with no operations, all requests.
func (s *Sandbox) CallCount(ops ...Operation) int {
	l := s.calls
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	if len(ops) == 0 {
		for _, c := range l.counts {
			n += c
		}
		return n
	}
	for _, op := range ops {
		n += l.counts[op]
	}
	return n
}
