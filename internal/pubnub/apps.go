package pubnub

import (
	"context"
	"errors"
	"net/http"
	"time"
)

// App is a PubNub app, the container of keysets.
type App struct {
	ID        string
	Name      string
	CreatedAt time.Time
	UpdatedAt time.Time
}

// appJSON is an app on the wire.
type appJSON struct {
	ID        flexID   `json:"id"`
	Name      string   `json:"name"`
	CreatedAt flexTime `json:"createdAt"`
	UpdatedAt flexTime `json:"updatedAt"`
}

func (w appJSON) app() App {
	return App{ID: string(w.ID), Name: w.Name, CreatedAt: w.CreatedAt.time(), UpdatedAt: w.UpdatedAt.time()}
}

// listPageSize is the page size used to walk list endpoints; PubNub's own
// client uses 100 and the sandbox refuses more.
const listPageSize = 100

// CreateApp creates an app named name (POST /apps). Creates are not
// idempotent: after a retryable error, look the app up by name before
// creating it again.
func (c *Client) CreateApp(ctx context.Context, name string) (*App, error) {
	const op = "create app"
	var w appJSON
	if err := c.do(ctx, request{op: op, method: http.MethodPost, path: "/apps", body: map[string]string{"name": name}}, &w); err != nil {
		return nil, err
	}
	if err := c.requireID(op, "/apps", w.ID); err != nil {
		return nil, err
	}
	a := w.app()
	return &a, nil
}

// GetApp returns the app with id (GET /apps/{id}); IsNotFound reports a
// missing one.
func (c *Client) GetApp(ctx context.Context, id string) (*App, error) {
	const op = "get app"
	seg, err := pathSegment(op, "app id", id)
	if err != nil {
		return nil, err
	}
	var w appJSON
	if err := c.do(ctx, request{op: op, method: http.MethodGet, path: "/apps/" + seg}, &w); err != nil {
		return nil, err
	}
	a := w.app()
	return &a, nil
}

// UpdateApp renames the app with id (PATCH /apps/{id}; the name is the only
// field that can change) and returns it afterwards; IsNotFound reports a
// missing one.
func (c *Client) UpdateApp(ctx context.Context, id, name string) (*App, error) {
	const op = "update app"
	seg, err := pathSegment(op, "app id", id)
	if err != nil {
		return nil, err
	}
	var w appJSON
	if err := c.do(ctx, request{op: op, method: http.MethodPatch, path: "/apps/" + seg, body: map[string]string{"name": name}}, &w); err != nil {
		return nil, err
	}
	a := w.app()
	return &a, nil
}

// ListApps returns every app of the account, walking all pages of GET /apps
// with limit=100.
func (c *Client) ListApps(ctx context.Context) ([]App, error) {
	return walkPages(func(page int) ([]App, int, error) {
		return c.ListAppsPage(ctx, page, listPageSize)
	}, func(a App) string { return a.ID })
}

// walkPages fetches pages 1, 2, ... until it holds total items (or, should
// an answer lack total, until a page is short) or a page adds nothing new,
// which also ends a walk over a misbehaving server. Items are deduplicated
// by ID, since an item created while walking can shift others onto the next
// page.
func walkPages[T any](fetch func(page int) ([]T, int, error), id func(T) string) ([]T, error) {
	var all []T
	seen := map[string]bool{}
	for page := 1; ; page++ {
		items, total, err := fetch(page)
		if err != nil {
			return nil, err
		}
		added := 0
		for _, it := range items {
			if k := id(it); !seen[k] {
				seen[k] = true
				all = append(all, it)
				added++
			}
		}
		done := len(all) >= total
		if total <= 0 {
			done = len(items) < listPageSize
		}
		if added == 0 || done {
			return all, nil
		}
	}
}

// requireID turns a 2xx create answer without an ID into a retryable
// TransportError: the resource may exist, but the caller cannot know which.
func (c *Client) requireID(op, path string, id flexID) error {
	if id != "" {
		return nil
	}
	return &TransportError{Op: op, Method: http.MethodPost, Path: c.basePath + path, Err: errors.New("answer has no id")}
}
