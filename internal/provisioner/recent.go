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
// says so): so the candidates are all at the end. findRecent reads pages from the newest back
// and stops at the first page holding something older than the marker (less a skew for the
// clocks of PubNub and of our database), having seen every candidate.
//
// The page size is chosen so that the last page holds as many of the newest items as it can
// (a total of 10,001 read 100 at a time leaves one item on the last page; read 87 at a time,
// 83): usually the newest page alone reaches past the marker. The first read goes where the
// caller estimates the end is; a wrong estimate costs one call, its answer's total says where
// the end is. So a lost answer costs one or two listing calls however large the account.
// Without creation times to go by it reads every page, as a full walk would.

// markerSkew is how far PubNub's creation times may run behind our database's clock.
const markerSkew = 30 * time.Second

// page reads page p (1-based) of limit items of a listing, and its total.
type page[T any] func(ctx context.Context, p, limit int) ([]T, int, error)

// newestPage returns the page size (at most pubnub.PageSize) and page number whose page is
// the last of total items and holds the most of them.
func newestPage(total int) (limit, page int) {
	if total <= 0 {
		return pubnub.PageSize, 1
	}
	best, bestSize := pubnub.PageSize, 0
	for l := pubnub.PageSize; l >= 1; l-- {
		size := total % l
		if size == 0 {
			size = l
		}
		if size > bestSize {
			best, bestSize = l, size
		}
	}
	return best, (total + best - 1) / best
}

// findRecent returns the items of a listing that match, among those made since (less
// markerSkew). estimate is the caller's guess of the listing's total.
func findRecent[T any](ctx context.Context, list page[T], estimate int, created func(T) time.Time, match func(T) bool, since time.Time) ([]T, error) {
	horizon := since.Add(-markerSkew)
	limit, p := newestPage(estimate)
	items, total, err := list(ctx, p, limit)
	if err != nil {
		return nil, err
	}
	if want, wantPage := newestPage(total); want != limit || wantPage != p {
		// The estimate was off: read the real newest page.
		limit, p = want, wantPage
		if items, _, err = list(ctx, p, limit); err != nil {
			return nil, err
		}
	}
	var found []T
	for {
		older := false
		for _, it := range items {
			if match(it) {
				found = append(found, it)
			}
			if at := created(it); !at.IsZero() && at.Before(horizon) {
				older = true
			}
		}
		if older || p <= 1 {
			return found, nil // every page before this one is older still
		}
		p--
		if items, _, err = list(ctx, p, limit); err != nil {
			return nil, err
		}
	}
}
