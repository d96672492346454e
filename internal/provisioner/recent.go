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
// Without creation times to go by it reads every page, as a full walk would; a listing seen
// out of creation order it walks in full from the first page (see findRecent).

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
//
// It checks the assumption it rests on as it reads: the creation times of the items it sees,
// in listing order (each page's, and each page against the one after it), must never go
// backwards. When they do, the listing is not in creation order, the newest pages may hold
// old items only, and "not found" would mean nothing: it walks the whole listing instead
// (fullWalk), as it would without creation times.
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
	var later time.Time // the first creation time on the pages read after this one
	for {
		older := false
		var first, last time.Time
		for _, it := range items {
			if match(it) {
				found = append(found, it)
			}
			at := created(it)
			if at.IsZero() {
				continue
			}
			if !last.IsZero() && at.Before(last) {
				return fullWalk(ctx, list, match) // this page is not in creation order
			}
			if first.IsZero() {
				first = at
			}
			last = at
			if at.Before(horizon) {
				older = true
			}
		}
		if !later.IsZero() && !last.IsZero() && later.Before(last) {
			return fullWalk(ctx, list, match) // this page holds items newer than the next one's
		}
		if !first.IsZero() {
			later = first
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

// fullWalk reads every page of a listing, from the first, and returns every item that
// matches, whenever it was made: with the listing's order unknown, creation times prove
// nothing, and a candidate too many fails the tenant (an operator looks) where one too few
// would make a duplicate.
func fullWalk[T any](ctx context.Context, list page[T], match func(T) bool) ([]T, error) {
	var found []T
	for p := 1; ; p++ {
		items, total, err := list(ctx, p, pubnub.PageSize)
		if err != nil {
			return nil, err
		}
		for _, it := range items {
			if match(it) {
				found = append(found, it)
			}
		}
		if len(items) == 0 || p*pubnub.PageSize >= total {
			return found, nil
		}
	}
}
