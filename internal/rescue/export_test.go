package rescue

import "time"

// SetClock replaces the reaper's clock.
func SetClock(r *Reaper, now func() time.Time) { r.now = now }

// ReaperSelf is the client ID the reaper never reaps.
func ReaperSelf(r *Reaper) string { return r.opts.Self }
