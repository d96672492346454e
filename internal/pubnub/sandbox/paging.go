package sandbox

import (
	"fmt"
	"net/http"
	"strconv"
)

// Pagination of GET /v2/apps and GET /v2/keysets.
//
// [U] Order: the docs do not say how lists are sorted. The sandbox lists
// oldest first, in creation order (IDs ascending), so a resource created
// just now is the last item of the last page, at index total-1; a deleted
// resource leaves the order of the others unchanged. pnonboard's adoption
// after a lost create answer relies on this (read total, fetch the last
// page, walk backwards) and must fall back to a full walk if PubNub
// orders otherwise.
//
// [U] The maximum limit is undocumented; PubNub's own client uses 100. The
// sandbox takes the strictest plausible reading: limit 1–100 (default 10),
// page ≥ 1 (default 1), both decimal integers, anything else 400. A page
// past the end is an empty list with the true total.
const (
	defaultPageLimit = 10
	maxPageLimit     = 100
)

// paging is a validated page request.
type paging struct{ page, limit int }

func parsePaging(r *http.Request) (paging, result, bool) {
	p := paging{page: 1, limit: defaultPageLimit}
	q := r.URL.Query()
	var errs []string
	if s := q.Get("page"); q.Has("page") {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 {
			errs = append(errs, "page must be an integer not less than 1")
		}
		p.page = n
	}
	if s := q.Get("limit"); q.Has("limit") {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > maxPageLimit {
			errs = append(errs, fmt.Sprintf("limit must be an integer from 1 to %d", maxPageLimit))
		}
		p.limit = n
	}
	if errs != nil {
		return paging{}, errorResult(http.StatusBadRequest, errs...), false
	}
	return p, result{}, true
}

// window returns the bounds of the page within n items.
func (p paging) window(n int) (from, to int) {
	from = min((p.page-1)*p.limit, n)
	return from, min(from+p.limit, n)
}
