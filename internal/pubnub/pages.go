package pubnub

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
)

// PageSize is the page size the client asks for; PubNub's own client uses 100 and the
// sandbox refuses more.
const PageSize = listPageSize

// ListAppsPage returns one page of GET /apps (1-based, of limit apps, at most PageSize) and the
// account's total, for callers that look for something recent without walking the whole
// account: lists are in creation order, oldest first, so the newest apps are on the last
// page. A page past the end is empty, with the true total.
func (c *Client) ListAppsPage(ctx context.Context, page, limit int) ([]App, int, error) {
	var w struct {
		Apps  []appJSON `json:"apps"`
		Total int       `json:"total"`
	}
	if err := c.do(ctx, request{op: "list apps", method: http.MethodGet, path: "/apps", query: onePage(page, limit)}, &w); err != nil {
		return nil, 0, err
	}
	apps := make([]App, len(w.Apps))
	for i, a := range w.Apps {
		apps[i] = a.app()
	}
	return apps, w.Total, nil
}

// ListKeysetsPage is ListAppsPage for GET /keysets.
func (c *Client) ListKeysetsPage(ctx context.Context, page, limit int) ([]Keyset, int, error) {
	var w struct {
		Keysets []keysetJSON `json:"keysets"`
		Total   int          `json:"total"`
	}
	if err := c.do(ctx, request{op: "list keysets", method: http.MethodGet, path: "/keysets", query: onePage(page, limit)}, &w); err != nil {
		return nil, 0, err
	}
	keysets := make([]Keyset, len(w.Keysets))
	for i, k := range w.Keysets {
		keysets[i] = k.keyset()
	}
	return keysets, w.Total, nil
}

func onePage(page, limit int) url.Values {
	return url.Values{"page": {strconv.Itoa(max(page, 1))}, "limit": {strconv.Itoa(min(max(limit, 1), listPageSize))}}
}
