package provisioner

import (
	"context"
	"time"

	"github.com/pnonboard/pnonboard/internal/pubnub"
)

// Finding what a lost create made, without walking the account.
//
// A create whose answer was lost left a marker, committed just before the request was sent.
// Whatever that create (or a duplicate of it) made was made after the marker. Apps and keysets
// list in creation order, oldest first ([U] in the Admin API reference; the sandbox does so and
// says so): so the candidates are all on the last pages. findRecent reads pages from the newest
// back and stops at the first page holding something older than the marker (less a skew for
// the clocks of PubNub and of our database), having seen every candidate: an account of 10,000
// tenants costs two or three calls, not 100 or 300. Without creation times to go by (an answer
// that lacks them), it reads every page, as before.

// markerSkew is how far PubNub's creation times may run behind our database's clock.
const markerSkew = 30 * time.Second

// page reads page p (1-based) of a listing and its total.
type page[T any] func(ctx context.Context, p int) ([]T, int, error)

// findRecent returns the items of a listing that match, among those made since (less
// markerSkew). guess is the page to read first (the caller's estimate of the last one; 1 when
// it has none); a wrong guess costs one call, as the answer's total says where the last is.
func findRecent[T any](ctx context.Context, list page[T], guess int, created func(T) time.Time, match func(T) bool, since time.Time) ([]T, error) {
	horizon := since.Add(-markerSkew)
	seen := map[int][]T{}
	items, total, err := list(ctx, max(guess, 1))
	if err != nil {
		return nil, err
	}
	last := max((total+pubnub.PageSize-1)/pubnub.PageSize, 1)
	seen[max(guess, 1)] = items
	var found []T
	for p := last; p >= 1; p-- {
		items, ok := seen[p]
		if !ok {
			if items, _, err = list(ctx, p); err != nil {
				return nil, err
			}
		}
		older := false
		for _, it := range items {
			if match(it) {
				found = append(found, it)
			}
			if at := created(it); !at.IsZero() && at.Before(horizon) {
				older = true
			}
		}
		if older {
			return found, nil // every page before this one is older still
		}
	}
	return found, nil
}
