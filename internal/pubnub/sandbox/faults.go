package sandbox

import (
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"sync"
)

// FaultKind says how a faulty request fails.
type FaultKind int

// The fault kinds. They differ in whether the change is applied, which is
// what a caller's recovery logic must cope with.
const (
	// FaultServerError answers 500 without applying the change.
	FaultServerError FaultKind = iota + 1
	// FaultLost applies the change, then answers 500: the caller cannot know
	// that it succeeded (a lost response).
	FaultLost
	// FaultTimeout applies the change, then answers nothing until the
	// request's context ends (the client gave up) or Options.TimeoutHang
	// passes, when it answers 504.
	FaultTimeout
	// FaultStatus answers Fault.Status without applying the change. A 429
	// carries the rate-limit headers and Retry-After, like a real refusal.
	FaultStatus
)

// String names the kind as ParseFaults spells it.
func (k FaultKind) String() string {
	switch k {
	case FaultServerError:
		return "5xx"
	case FaultLost:
		return "lost"
	case FaultTimeout:
		return "timeout"
	case FaultStatus:
		return "status"
	}
	return "FaultKind(" + strconv.Itoa(int(k)) + ")"
}

// Fault is one scripted failure for InjectFault.
type Fault struct {
	Kind FaultKind
	// Status is the answer of a FaultStatus fault, 400 to 599.
	Status int
	// Message replaces the default error message, when set.
	Message string
}

// FaultRates are the probabilities, each in [0, 1] and together at most 1,
// that a request fails with the matching kind. They apply to every request
// that passed authentication, rate limiting, version and permission checks.
type FaultRates struct {
	ServerError float64 // answered 500, change not applied
	Lost        float64 // change applied, answered 500
	Timeout     float64 // change applied, answer hangs (see FaultTimeout)
}

// ParseFaults parses fault rates written as comma-separated name=rate pairs,
// for example "5xx=0.1,lost=0.05,timeout=0.02" (the form of
// PNONBOARD_SANDBOX_FAULTS). Names are 5xx, lost and timeout; each rate is in
// [0, 1] and their sum at most 1. An empty string means no faults.
func ParseFaults(s string) (FaultRates, error) {
	var rates FaultRates
	seen := map[string]bool{}
	for pair := range strings.SplitSeq(s, ",") {
		pair = strings.TrimSpace(pair)
		if pair == "" {
			continue
		}
		name, value, ok := strings.Cut(pair, "=")
		name, value = strings.ToLower(strings.TrimSpace(name)), strings.TrimSpace(value)
		if !ok {
			return FaultRates{}, fmt.Errorf("parse faults %q: %q is not name=rate", s, pair)
		}
		if seen[name] {
			return FaultRates{}, fmt.Errorf("parse faults %q: %s is given twice", s, name)
		}
		seen[name] = true
		rate, err := strconv.ParseFloat(value, 64)
		if err != nil {
			return FaultRates{}, fmt.Errorf("parse faults %q: rate of %s: %w", s, name, err)
		}
		if rate < 0 || rate > 1 {
			return FaultRates{}, fmt.Errorf("parse faults %q: rate of %s is %v, want 0 to 1", s, name, rate)
		}
		switch name {
		case "5xx":
			rates.ServerError = rate
		case "lost":
			rates.Lost = rate
		case "timeout":
			rates.Timeout = rate
		default:
			return FaultRates{}, fmt.Errorf("parse faults %q: unknown fault %q, want 5xx, lost or timeout", s, name)
		}
	}
	if sum := rates.ServerError + rates.Lost + rates.Timeout; sum > 1 {
		return FaultRates{}, fmt.Errorf("parse faults %q: rates add up to %v, want at most 1", s, sum)
	}
	return rates, nil
}

// faultInjector decides which requests fail. Scripted faults come first, in
// the order they were injected (a fault for the request's own operation
// before an OpAny one); otherwise the random rates apply, drawn from a seeded
// source so that a run can be repeated.
type faultInjector struct {
	mu       sync.Mutex
	rates    FaultRates
	rng      *rand.Rand
	scripted []*scriptedFault
}

type scriptedFault struct {
	op        Operation
	fault     Fault
	remaining int // < 0: until cleared
}

func newFaultInjector(rates FaultRates, seed int64) *faultInjector {
	return &faultInjector{rates: rates, rng: rand.New(rand.NewPCG(uint64(seed), uint64(seed)))}
}

// InjectFault makes the next times requests of op fail with f (times < 0:
// every request until ClearFaults; 0 injects nothing). Use OpAny for "the
// next request, whatever it is". Scripted faults take precedence over the
// random Options.Faults and are used in the order injected. It panics on a
// FaultStatus whose Status is not 400 to 599 or on an unknown kind, since
// that is a mistake in the test.
func (s *Sandbox) InjectFault(op Operation, f Fault, times int) {
	switch f.Kind {
	case FaultServerError, FaultLost, FaultTimeout:
	case FaultStatus:
		if f.Status < 400 || f.Status > 599 {
			panic(fmt.Sprintf("sandbox: InjectFault: FaultStatus needs a Status from 400 to 599, got %d", f.Status))
		}
	default:
		panic(fmt.Sprintf("sandbox: InjectFault: unknown fault kind %v", f.Kind))
	}
	if times == 0 {
		return
	}
	fi := s.faults
	fi.mu.Lock()
	defer fi.mu.Unlock()
	fi.scripted = append(fi.scripted, &scriptedFault{op: op, fault: f, remaining: times})
}

// ClearFaults removes every scripted fault. The random rates stay.
func (s *Sandbox) ClearFaults() {
	fi := s.faults
	fi.mu.Lock()
	defer fi.mu.Unlock()
	fi.scripted = nil
}

// next reports the fault, if any, for a request of op, consuming one use of
// a scripted fault.
func (fi *faultInjector) next(op Operation) (Fault, bool) {
	fi.mu.Lock()
	defer fi.mu.Unlock()
	for _, want := range []Operation{op, OpAny} {
		for i, sf := range fi.scripted {
			if sf.op != want {
				continue
			}
			if sf.remaining > 0 {
				sf.remaining--
				if sf.remaining == 0 {
					fi.scripted = append(fi.scripted[:i], fi.scripted[i+1:]...)
				}
			}
			return sf.fault, true
		}
	}
	r := fi.rates
	if r.ServerError+r.Lost+r.Timeout <= 0 {
		return Fault{}, false
	}
	x := fi.rng.Float64()
	switch {
	case x < r.ServerError:
		return Fault{Kind: FaultServerError}, true
	case x < r.ServerError+r.Lost:
		return Fault{Kind: FaultLost}, true
	case x < r.ServerError+r.Lost+r.Timeout:
		return Fault{Kind: FaultTimeout}, true
	}
	return Fault{}, false
}
