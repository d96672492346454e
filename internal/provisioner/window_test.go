package provisioner

import (
	"math/rand/v2"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// fixedWindowUpstream is PubNub's limiter as the sandbox models it: limit calls per window,
// a window opening at the first call after the last one ended.
type fixedWindowUpstream struct {
	limit  int
	window time.Duration
	start  time.Time
	count  int
}

func (u *fixedWindowUpstream) call(at time.Time) bool {
	if u.start.IsZero() || !at.Before(u.start.Add(u.window)) {
		u.start, u.count = at, 0
	}
	u.count++
	return u.count <= u.limit
}

func TestWindow(t *testing.T) {
	t.Parallel()
	epoch := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)

	t.Run("RoomGoesAtOnceWithHeadersAndIsSpacedWithout", func(t *testing.T) {
		t.Parallel()
		l := newLimits(120, 2, 0.2, 30*time.Second)
		w := &window{}
		n := 0
		for {
			if at, _, ok := w.take(l, epoch, ClassSignup); !ok || at.After(epoch) {
				break
			}
			n++
		}
		require.Equal(t, l.perSecond, n, "no headers seen: spaced, %d a second", l.perSecond)

		w = &window{}
		w.observe(epoch, 0, 120, 120, 60*time.Second)
		n = 0
		for {
			if at, _, ok := w.take(l, epoch, ClassSignup); !ok || at.After(epoch) {
				break
			}
			n++
		}
		require.Equal(t, 118, n, "headers: the whole window's room at once, less the margin")
		at, _, ok := w.take(l, epoch, ClassSignup)
		require.False(t, ok, "the next slot is a window away, beyond a signup's 30 s: %v", at)
	})

	// Any interleaving of two replicas' calls, at any times, never puts more than the limit in
	// a 60-second window, however upstream's fixed window is aligned: no 429.
	t.Run("NeverExceedsTheLimitInAnySixtySeconds", func(t *testing.T) {
		t.Parallel()
		for seed := range uint64(40) {
			rng := rand.New(rand.NewPCG(seed, seed))
			l := newLimits(60, 2, 0.2, time.Duration(rng.IntN(60))*time.Second)
			w := &window{} // the shared row
			if seed%2 == 0 {
				w.observe(epoch, 0, 60, 60, time.Minute) // burst mode for half the runs
			}
			up := &fixedWindowUpstream{limit: 60, window: time.Minute}
			var sent []time.Time
			now := epoch.Add(time.Duration(rng.IntN(1000)) * time.Millisecond)
			for range 3000 {
				now = now.Add(time.Duration(rng.IntN(400)) * time.Millisecond)
				at, _, ok := w.take(l, now, Class(rng.IntN(int(classCount))))
				if !ok {
					continue
				}
				sent = append(sent, at)
				if seed%2 == 0 {
					w.observe(now, w.grantSeq, 60, 60, time.Minute) // headers stay fresh
				}
			}
			require.NotEmpty(t, sent)
			sorted := append([]time.Time(nil), sent...)
			for i := 1; i < len(sorted); i++ { // insertion sort: reservations may be out of order
				for j := i; j > 0 && sorted[j].Before(sorted[j-1]); j-- {
					sorted[j], sorted[j-1] = sorted[j-1], sorted[j]
				}
			}
			for i := range sorted {
				j := i
				for j < len(sorted) && sorted[j].Sub(sorted[i]) < time.Minute {
					j++
				}
				require.LessOrEqual(t, j-i, l.perWindow, "seed %d: %d calls within 60 s from %v", seed, j-i, sorted[i])
			}
			for _, at := range sorted {
				require.True(t, up.call(at), "seed %d: upstream would answer 429 at %v", seed, at)
			}
		}
	})

	t.Run("HigherClassesGoFirst", func(t *testing.T) {
		t.Parallel()
		l := newLimits(60, 2, 0.2, 30*time.Second)
		w := &window{}
		w.observe(epoch, 0, 60, 60, time.Minute)
		// A burst of signups takes the window and queues for the next.
		for range l.perWindow {
			_, _, ok := w.take(l, epoch, ClassSignup)
			require.True(t, ok)
		}
		now := epoch.Add(40 * time.Second)
		at, _, ok := w.take(l, now, ClassSignup)
		require.True(t, ok, "a signup reserves the next window's first slot")
		require.Equal(t, epoch.Add(61*time.Second), at)

		_, _, ok = w.take(l, epoch.Add(45*time.Second), ClassBackground)
		require.False(t, ok, "background takes nothing while a signup is queued ahead")
		_, wait, ok := w.take(l, epoch.Add(50*time.Second), ClassOperator)
		require.False(t, ok, "an operator call does not queue behind a window of signups")
		require.Greater(t, wait, time.Duration(0))

		// A refused signup is coming back: lower classes wait for it.
		w = &window{}
		w.observe(epoch, 0, 60, 60, time.Minute)
		for range l.perWindow {
			_, _, _ = w.take(l, epoch, ClassSignup)
		}
		_, wait, ok = w.take(l, epoch.Add(time.Second), ClassSignup)
		require.False(t, ok, "beyond 30 s ahead")
		back := epoch.Add(time.Second).Add(wait)
		_, _, ok = w.take(l, back, ClassOperator)
		require.False(t, ok, "the signup that was refused comes back first")
		_, _, ok = w.take(l, back, ClassSignup)
		require.True(t, ok)
		_, _, ok = w.take(l, back.Add(2*time.Second), ClassOperator)
		require.True(t, ok, "and then the operator")
	})

	t.Run("BackgroundTakesAtMostItsShare", func(t *testing.T) {
		t.Parallel()
		l := newLimits(100, 2, 0.2, 30*time.Second)
		w := &window{}
		w.observe(epoch, 0, 100, 100, time.Minute)
		n := 0
		for range 100 {
			if _, _, ok := w.take(l, epoch, ClassBackground); ok {
				n++
			}
		}
		require.Equal(t, int(0.2*float64(l.perWindow)), n)
		_, _, ok := w.take(l, epoch, ClassSignup)
		require.True(t, ok, "the rest is left to the others")
	})

	t.Run("UpstreamsRemainingHoldsCallsBack", func(t *testing.T) {
		t.Parallel()
		l := newLimits(120, 2, 0.2, 30*time.Second)
		w := &window{}
		// Someone else used most of upstream's window: 5 left, reset in 20 s.
		w.observe(epoch, 0, 120, 5, 20*time.Second)
		granted := 0
		for range 10 {
			if at, _, ok := w.take(l, epoch, ClassSignup); ok && !at.After(epoch) {
				granted++
			}
		}
		require.Equal(t, 5-l.margin, granted, "what upstream says is left, less the margin")
		at, _, ok := w.take(l, epoch, ClassSignup)
		require.True(t, ok)
		require.Equal(t, epoch.Add(20*time.Second), at, "then upstream's reset")
	})

	t.Run("A429BlocksUntilTheReset", func(t *testing.T) {
		t.Parallel()
		l := newLimits(120, 2, 0.2, 30*time.Second)
		w := &window{blockedUntil: epoch.Add(45 * time.Second)}
		_, wait, ok := w.take(l, epoch, ClassSignup)
		require.False(t, ok)
		require.Equal(t, 45*time.Second, wait)
		at, _, ok := w.take(l, epoch.Add(20*time.Second), ClassSignup)
		require.True(t, ok)
		require.Equal(t, epoch.Add(45*time.Second), at)
	})
}
