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
	// request's context ends (the client gave up) or Opts.TimeoutHang
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

// FaultRates are the random faults: probabilities in [0, 1] that a request
// fails in a given way. They apply to every request that passed
// authentication, rate limiting, version and permission checks. The global
// rates (ServerError, Lost, Timeout and Statuses) add up to at most 1, and
// so do the Rules of any one operation.
type FaultRates struct {
	ServerError float64 // answered 500, change not applied
	Lost        float64 // change applied, answered 500
	Timeout     float64 // change applied, answer hangs (see FaultTimeout)
	// Statuses are refusals with a chosen status, e.g. 403 or 400 for
	// permanent failures, without applying the change (FaultStatus), in
	// the order drawn.
	Statuses []StatusRate
	// Rules target one operation each. A request of that operation draws
	// its rules first (in order); when none hits, the global rates above
	// are drawn as for any request.
	Rules []FaultRule
}

// StatusRate is a random refusal with Status (400 to 599) at Rate.
type StatusRate struct {
	Status int
	Rate   float64
}

// FaultRule makes requests of Op fail with Fault at Rate (1: every one).
type FaultRule struct {
	Op    Operation
	Fault Fault
	Rate  float64
}

// String writes the rates as ParseFaults reads them ("" for none), for
// logs.
func (r FaultRates) String() string {
	var parts []string
	add := func(name string, rate float64) {
		if rate > 0 {
			parts = append(parts, fmt.Sprintf("%s=%v", name, rate))
		}
	}
	add("5xx", r.ServerError)
	add("lost", r.Lost)
	add("timeout", r.Timeout)
	for _, st := range r.Statuses {
		add(strconv.Itoa(st.Status), st.Rate)
	}
	for _, rule := range r.Rules {
		add(faultName(rule.Fault)+"@"+string(rule.Op), rule.Rate)
	}
	return strings.Join(parts, ",")
}

// faultName is the ParseFaults name of f: 5xx, lost, timeout or its status.
func faultName(f Fault) string {
	if f.Kind == FaultStatus {
		return strconv.Itoa(f.Status)
	}
	return f.Kind.String()
}

// ParseFaults parses random faults written as comma-separated pairs, the
// form of PNONBOARD_SANDBOX_FAULTS. Each pair is one of
//
//	NAME=RATE              any request, e.g. 5xx=0.1, lost=0.05, timeout=0.02, 403=0.1, 400=0.1
//	NAME@OPERATION         every request of one operation, e.g. 403@POST /keysets
//	NAME@OPERATION=RATE    some of them, e.g. 403@POST /keysets=0.5, lost@CreateApp=0.2
//
// NAME is 5xx (500, change not applied), lost (change applied, then 500),
// timeout (change applied, then no answer) or any status code from 400 to
// 599 (answered with that status and PubNub's error body, change not
// applied: 403 and 400 drill permanent refusals, 429 comes with the
// rate-limit headers). OPERATION is "METHOD /path" as the client writes it
// (with or without the /v2 prefix; path IDs may be written as the pattern's
// {id} or as any value) or an Operation name such as CreateKeyset. RATE is in
// [0, 1] and defaults to 1 after an operation. The global rates add up to at
// most 1, and so do the rates of one operation. An empty string means no
// faults. Strings that were valid before the status and per-operation forms
// existed parse as they did.
func ParseFaults(s string) (FaultRates, error) {
	var rates FaultRates
	seen := map[string]bool{}
	perOp := map[Operation]float64{}
	for pair := range strings.SplitSeq(s, ",") {
		pair = strings.TrimSpace(pair)
		if pair == "" {
			continue
		}
		name, spec, targeted := strings.Cut(pair, "@")
		var value string
		if targeted {
			var hasRate bool
			if i := strings.LastIndex(spec, "="); i >= 0 {
				spec, value, hasRate = spec[:i], spec[i+1:], true
			}
			if !hasRate {
				value = "1"
			}
		} else {
			var ok bool
			name, value, ok = strings.Cut(pair, "=")
			if !ok {
				return FaultRates{}, fmt.Errorf("parse faults %q: %q is not name=rate or name@operation[=rate]", s, pair)
			}
		}
		name, value = strings.ToLower(strings.TrimSpace(name)), strings.TrimSpace(value)
		fault, err := parseFaultName(name)
		if err != nil {
			return FaultRates{}, fmt.Errorf("parse faults %q: %w", s, err)
		}
		key := name
		var op Operation
		if targeted {
			if op, err = resolveOperation(spec); err != nil {
				return FaultRates{}, fmt.Errorf("parse faults %q: %w", s, err)
			}
			key = name + "@" + string(op)
		}
		if seen[key] {
			return FaultRates{}, fmt.Errorf("parse faults %q: %s is given twice", s, key)
		}
		seen[key] = true
		rate, err := strconv.ParseFloat(value, 64)
		if err != nil {
			return FaultRates{}, fmt.Errorf("parse faults %q: rate of %s: %w", s, key, err)
		}
		if rate < 0 || rate > 1 {
			return FaultRates{}, fmt.Errorf("parse faults %q: rate of %s is %v, want 0 to 1", s, key, rate)
		}
		switch {
		case targeted:
			rates.Rules = append(rates.Rules, FaultRule{Op: op, Fault: fault, Rate: rate})
			perOp[op] += rate
			if perOp[op] > 1 {
				return FaultRates{}, fmt.Errorf("parse faults %q: rates for %s add up to %v, want at most 1", s, op, perOp[op])
			}
		case fault.Kind == FaultServerError:
			rates.ServerError = rate
		case fault.Kind == FaultLost:
			rates.Lost = rate
		case fault.Kind == FaultTimeout:
			rates.Timeout = rate
		default:
			rates.Statuses = append(rates.Statuses, StatusRate{Status: fault.Status, Rate: rate})
		}
	}
	if sum := rates.globalSum(); sum > 1 {
		return FaultRates{}, fmt.Errorf("parse faults %q: rates add up to %v, want at most 1", s, sum)
	}
	return rates, nil
}

// parseFaultName reads 5xx, lost, timeout or a status code from 400 to 599.
func parseFaultName(name string) (Fault, error) {
	switch name {
	case "5xx":
		return Fault{Kind: FaultServerError}, nil
	case "lost":
		return Fault{Kind: FaultLost}, nil
	case "timeout":
		return Fault{Kind: FaultTimeout}, nil
	}
	if n, err := strconv.Atoi(name); err == nil && len(name) == 3 && n >= 400 && n <= 599 {
		return Fault{Kind: FaultStatus, Status: n}, nil
	}
	return Fault{}, fmt.Errorf("unknown fault %q, want 5xx, lost, timeout or a status from 400 to 599", name)
}

// resolveOperation finds the operation a fault targets: an Operation name,
// or "METHOD /path" matched against the routes (the /v2 prefix optional).
func resolveOperation(spec string) (Operation, error) {
	spec = strings.TrimSpace(spec)
	method, path, hasPath := strings.Cut(spec, " ")
	for _, rt := range routes() {
		if !hasPath {
			if string(rt.op) == spec {
				return rt.op, nil
			}
			continue
		}
		rtMethod, rtPath, _ := strings.Cut(rt.pattern, " ")
		p := strings.TrimSpace(path)
		if !strings.HasPrefix(p, "/v2/") {
			p = "/v2" + p
		}
		if strings.EqualFold(method, rtMethod) && pathMatches(rtPath, p) {
			return rt.op, nil
		}
	}
	return "", fmt.Errorf("unknown operation %q, want \"METHOD /path\" of an endpoint (e.g. \"POST /keysets\") or a name such as CreateKeyset", spec)
}

// pathMatches reports whether path fits pattern, whose {name} segments match
// any non-empty segment.
func pathMatches(pattern, path string) bool {
	ps, xs := strings.Split(pattern, "/"), strings.Split(path, "/")
	if len(ps) != len(xs) {
		return false
	}
	for i := range ps {
		if strings.HasPrefix(ps[i], "{") {
			if xs[i] == "" {
				return false
			}
		} else if ps[i] != xs[i] {
			return false
		}
	}
	return true
}

func (r FaultRates) globalSum() float64 {
	sum := r.ServerError + r.Lost + r.Timeout
	for _, st := range r.Statuses {
		sum += st.Rate
	}
	return sum
}

// faultInjector decides which requests fail. Scripted faults come first, in
// the order they were injected (a fault for the request's own operation
// before an OpAny one); then the random rules of the request's operation,
// then the global random rates, each drawn from a seeded source so that a
// run with the same requests can be repeated.
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
// random Opts.Faults and are used in the order injected. It panics on a
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
	// hit adds rate to the cumulative *cum and reports whether x falls in it.
	hit := func(x, rate float64, cum *float64) bool {
		*cum += rate
		return x < *cum
	}
	var rules []FaultRule
	for _, rule := range r.Rules {
		if rule.Op == op {
			rules = append(rules, rule)
		}
	}
	if rules != nil {
		x, cum := fi.rng.Float64(), 0.0
		for _, rule := range rules {
			if hit(x, rule.Rate, &cum) {
				return rule.Fault, true
			}
		}
	}
	if r.globalSum() <= 0 {
		return Fault{}, false
	}
	x, cum := fi.rng.Float64(), 0.0
	switch {
	case hit(x, r.ServerError, &cum):
		return Fault{Kind: FaultServerError}, true
	case hit(x, r.Lost, &cum):
		return Fault{Kind: FaultLost}, true
	case hit(x, r.Timeout, &cum):
		return Fault{Kind: FaultTimeout}, true
	}
	for _, st := range r.Statuses {
		if hit(x, st.Rate, &cum) {
			return Fault{Kind: FaultStatus, Status: st.Status}, true
		}
	}
	return Fault{}, false
}
