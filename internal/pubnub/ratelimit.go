package pubnub

import (
	"net/http"
	"time"
)

// ParseRateLimit reads the X-RateLimit-Limit, -Remaining and -Reset headers of any answer,
// successful or not (Limit is 0 when they are absent). Reset is seconds until the window
// resets; a value that can only be a Unix time is read as one, relative to ref.
func ParseRateLimit(h http.Header, ref time.Time) RateLimit { return parseRateLimit(h, ref) }

// RetryWait is how long a 429 answer with headers h asks the caller to wait:
// X-RateLimit-Reset, else Retry-After (seconds or an HTTP date, relative to ref), else a
// minute, the window PubNub's limit is counted in.
func RetryWait(h http.Header, ref time.Time) time.Duration {
	if rl := parseRateLimit(h, ref); rl.Reset > 0 {
		return rl.Reset
	}
	if d := parseRetryAfter(h.Get("Retry-After"), ref); d > 0 {
		return d
	}
	return time.Minute
}
