package sandbox

import (
	"crypto/rand"
	"fmt"
	"strconv"
	"time"
)

// First numeric IDs. Apps and keysets get different ranges so that a client
// mixing them up hits a 404 instead of the wrong resource.
const (
	firstAppID    = 1_000_001
	firstKeysetID = 5_000_001
)

// newUUID returns a random version 4 UUID, the shape of PubNub's publish
// and subscribe key suffixes.
func newUUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails (Go 1.24+)
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

// newSecretKey returns "sec-c-" and 48 random alphanumerics, so that its
// first five characters after the prefix work as the documented
// "sec-c-XXXXX" key prefix.
func newSecretKey() string { return "sec-c-" + randomAlphanumeric(48) }

// newCustomerID returns a PubNub-like opaque string ID for an OEM customer.
// [U] The real format is undocumented ("PubNub-assigned string").
func newCustomerID() string { return newUUID() }

// newAPIKey returns a key for a sandbox started without one.
func newAPIKey() string { return "sandbox-" + randomAlphanumeric(32) }

func randomAlphanumeric(n int) string {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
	out := make([]byte, 0, n)
	var buf [64]byte
	for len(out) < n {
		_, _ = rand.Read(buf[:])
		for _, c := range buf {
			// 248 = 4*62: rejecting larger bytes keeps the choice uniform.
			if c < 248 && len(out) < n {
				out = append(out, alphabet[int(c)%len(alphabet)])
			}
		}
	}
	return string(out)
}

// parseNumericID reads a path or query ID documented as "a string to be
// decoded into a number" and returns it in canonical form ("007" → "7").
func parseNumericID(s string) (string, bool) {
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n <= 0 {
		return "", false
	}
	return strconv.FormatInt(n, 10), true
}

// stamp formats t the way PubNub's examples do: UTC with milliseconds.
func stamp(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000Z") }
