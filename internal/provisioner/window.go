package provisioner

import (
	"math"
	"time"
)

// Class is how urgent an upstream call is. When calls compete for the budget, a higher class
// always goes first: signups are customers waiting, operator work is support acting on a
// tenant, background work (drift checks, usage sync) can wait for what the others leave.
type Class uint8

// The classes, most urgent first.
const (
	ClassSignup Class = iota
	ClassOperator
	ClassBackground
	classCount
)

// String names the class as metrics and logs do.
func (c Class) String() string {
	switch c {
	case ClassSignup:
		return "signup"
	case ClassOperator:
		return "operator"
	case ClassBackground:
		return "background"
	}
	return "unknown"
}

// windowSeconds is how many one-second buckets a limit window spans. PubNub counts its limit
// in 60-second windows; any 60 seconds of real time touch at most 61 whole-second buckets, so
// holding every 61 consecutive buckets to the limit holds every 60 seconds to it, whatever the
// window's alignment and wherever in its second each call falls.
const windowSeconds = 61

// horizonSeconds is the furthest ahead the ring records reservations.
const horizonSeconds = 60

// window is the budget row's model of the account's recent and reserved calls, one bucket per
// second from start (a Unix second) on, covering the last windowSeconds and what is reserved
// up to horizonSeconds ahead; and what PubNub's last answer said about its own window. The
// decisions on it are pure functions of the row and the clock, so they are tested without a
// database.
type window struct {
	start      int64
	calls      []int32 // every class
	background []int32 // background calls only

	blockedUntil time.Time // a 429's reset: nobody calls before it
	grantSeq     int64     // grants so far; each answer reports the seq of its own grant

	// What upstream said in the newest answer seen (by grant order): its limit, what was left
	// in its window when it counted that call, and when that window resets.
	observedSeq       int64
	observedLimit     int
	observedRemaining int
	observedResetAt   time.Time
	// headersSeenAt is when an answer last carried the X-RateLimit headers. While they come,
	// the budget lets a window's room go at once; without them it spaces calls out.
	headersSeenAt time.Time

	// demandUntil is, per class, until when refused calls of that class are coming back: while
	// it lasts, lower classes take nothing, so the refused calls find the room they wait for.
	demandUntil [classCount]time.Time
}

// limits are what a Budget's configuration makes of a window.
type limits struct {
	perMinute   int           // the configured upstream limit
	perWindow   int           // calls allowed in any windowSeconds
	perSecond   int           // spacing without headers: calls allowed in one second
	margin      int           // calls held back from upstream's own remaining count
	bgShare     float64       // background's share of perWindow
	maxAhead    time.Duration // how far ahead a signup may reserve
	headerFresh time.Duration // how long one answer's headers keep burst mode on
}

// newLimits derives a Budget's limits: perMinute less margin in any window, and spacing of at
// most perWindow/60 (rounded up) a second when upstream sends no rate-limit headers.
func newLimits(perMinute, margin int, bgShare float64, maxAhead time.Duration) limits {
	l := limits{perMinute: perMinute, perWindow: max(perMinute-margin, 1), margin: margin, bgShare: bgShare, maxAhead: maxAhead, headerFresh: 10 * time.Minute}
	l.perSecond = max(int(math.Ceil(float64(l.perWindow)/60)), 1)
	return l
}

// horizon is how far ahead a call of class c may reserve. Only signups queue for long: an
// operator call may take the next couple of seconds, a background one only what is free now,
// so neither holds a slot a signup arriving later would want.
func (l limits) horizon(c Class) int64 {
	switch c {
	case ClassSignup:
		return int64(l.maxAhead / time.Second)
	case ClassOperator:
		return min(2, int64(l.maxAhead/time.Second))
	}
	return 0
}

// shift moves the ring so that it covers [sec-windowSeconds+1, sec+horizonSeconds], dropping
// what aged out and adding empty buckets.
func (w *window) shift(sec int64) {
	from := sec - windowSeconds + 1
	n := int(windowSeconds + horizonSeconds)
	calls, background := make([]int32, n), make([]int32, n)
	for i := range n {
		at := from + int64(i)
		if j := at - w.start; j >= 0 && j < int64(len(w.calls)) {
			calls[i] = w.calls[j]
			if j < int64(len(w.background)) {
				background[i] = w.background[j]
			}
		}
	}
	w.start, w.calls, w.background = from, calls, background
}

// at returns bucket sec's count in ring (0 outside it).
func (w *window) at(ring []int32, sec int64) int {
	if j := sec - w.start; j >= 0 && j < int64(len(ring)) {
		return int(ring[j])
	}
	return 0
}

// sum counts ring's calls in the windowSeconds buckets ending at sec.
func (w *window) sum(ring []int32, sec int64) int {
	n := 0
	for s := sec - windowSeconds + 1; s <= sec; s++ {
		n += w.at(ring, s)
	}
	return n
}

// windowSums returns, for every window that can hold a bucket of the ring, its call count:
// sums[i] is the window ending at w.start+i.
func (w *window) windowSums() []int {
	n := len(w.calls) + windowSeconds
	sums := make([]int, n)
	run := 0
	for i := range n {
		end := w.start + int64(i)
		run += w.at(w.calls, end) - w.at(w.calls, end-windowSeconds)
		sums[i] = run
	}
	return sums
}

// fits reports whether one more call in bucket sec keeps every window that holds it, and the
// bucket itself, within the limits; sums are w.windowSums().
func (w *window) fits(l limits, sums []int, sec int64, class Class, burst bool) bool {
	perSecond := l.perSecond
	if burst {
		perSecond = l.perWindow
	}
	if w.at(w.calls, sec)+1 > perSecond {
		return false
	}
	for end := sec; end < sec+windowSeconds; end++ {
		if i := end - w.start; i >= 0 && i < int64(len(sums)) && sums[i]+1 > l.perWindow {
			return false
		}
	}
	if class == ClassBackground {
		share := int(math.Floor(l.bgShare * float64(l.perWindow)))
		if w.sum(w.background, sec)+1 > share {
			return false
		}
	}
	return true
}

// effective narrows l to what upstream last said its limit is, when that is lower than the
// configured one (the margin shrinks with it).
func (w *window) effective(l limits, now time.Time) limits {
	if w.burst(l, now) && w.observedLimit > 0 && w.observedLimit < l.perMinute {
		l.margin = min(l.margin, DefaultMargin(w.observedLimit))
		l.perWindow = max(w.observedLimit-l.margin, 1)
		l.perSecond = max(int(math.Ceil(float64(l.perWindow)/60)), 1)
	}
	return l
}

// burst reports whether upstream's headers are fresh enough to let a window's room go at once.
func (w *window) burst(l limits, now time.Time) bool {
	return !w.headersSeenAt.IsZero() && now.Sub(w.headersSeenAt) < l.headerFresh
}

// take decides one call of class at now: the time it may be sent (now, or a reserved second
// ahead), recorded in the window; or ok false and how long to wait before asking again.
func (w *window) take(l limits, now time.Time, class Class) (at time.Time, wait time.Duration, ok bool) {
	sec := now.Unix()
	w.shift(sec)
	l = w.effective(l, now)
	sums := w.windowSums()
	earliest := sec
	if w.blockedUntil.After(now) {
		earliest = ceilSecond(w.blockedUntil)
	}
	burst := w.burst(l, now)
	if burst && w.observedResetAt.After(now) {
		// Upstream's own count, less what we granted since the call it counted: when that is
		// (nearly) spent, nothing goes before its window resets, whoever else used it.
		if left := w.observedRemaining - int(w.grantSeq-w.observedSeq); left <= l.margin {
			earliest = max(earliest, ceilSecond(w.observedResetAt))
		}
	}
	for higher := range class {
		if w.demandUntil[higher].Add(time.Second).After(now) {
			return w.refuse(l, sums, now, class, earliest, burst)
		}
	}
	if class == ClassBackground {
		for s := sec + 1; s <= sec+horizonSeconds; s++ {
			if w.at(w.calls, s) > 0 {
				return w.refuse(l, sums, now, class, earliest, burst) // someone is queued ahead
			}
		}
	}
	last := min(sec+l.horizon(class), sec+horizonSeconds)
	for s := earliest; s <= last; s++ {
		if w.fits(l, sums, s, class, burst) {
			w.calls[s-w.start]++
			if class == ClassBackground {
				w.background[s-w.start]++
			}
			w.grantSeq++
			at = now
			if s > sec {
				at = time.Unix(s, 0).In(now.Location())
			}
			return at, 0, true
		}
	}
	return w.refuse(l, sums, now, class, earliest, burst)
}

// refuse records class's demand and says when a slot is next likely: the first second past
// now that would fit, or a second from now when none within reach does.
func (w *window) refuse(l limits, sums []int, now time.Time, class Class, earliest int64, burst bool) (time.Time, time.Duration, bool) {
	sec := now.Unix()
	wait := time.Second
	for s := max(earliest, sec+1); s <= sec+windowSeconds; s++ {
		if w.fits(l, sums, s, class, burst) {
			wait = time.Unix(s, 0).Sub(now)
			break
		}
	}
	if earliest > sec+horizonSeconds {
		wait = time.Unix(earliest, 0).Sub(now)
	}
	if until := now.Add(wait); until.After(w.demandUntil[class]) {
		w.demandUntil[class] = until
	}
	return time.Time{}, wait, false
}

// observe records what one answer's rate-limit headers said, unless a newer answer (by grant
// order) has already spoken.
func (w *window) observe(now time.Time, seq int64, limit, remaining int, reset time.Duration) {
	if limit <= 0 || seq < w.observedSeq {
		return
	}
	w.observedSeq, w.observedLimit, w.observedRemaining = seq, limit, remaining
	w.observedResetAt = now.Add(reset)
	w.headersSeenAt = now
}

func ceilSecond(t time.Time) int64 {
	s := t.Unix()
	if t.After(time.Unix(s, 0)) {
		s++
	}
	return s
}
