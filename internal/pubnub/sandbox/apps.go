package sandbox

import (
	"fmt"
	"net/http"
	"strconv"
)

// maxNameLength bounds app, keyset and customer names.
// [U] Documented only for OEM customers (≤255); assumed for the others.
const maxNameLength = 255

// appBody is an app on the wire. IDs are numeric strings in /v2/apps.
type appBody struct {
	ID        string `json:"id"`
	Name      string `json:"name"`
	CreatedAt string `json:"createdAt"`
	UpdatedAt string `json:"updatedAt"`
}

func appJSON(a *App) appBody {
	return appBody{ID: a.ID, Name: a.Name, CreatedAt: stamp(a.CreatedAt), UpdatedAt: stamp(a.UpdatedAt)}
}

// createApp serves POST /v2/apps: 201 with the app.
//
// [U] Duplicate app names are allowed (nothing says otherwise), which is
// also the reading that exposes a client creating the same app twice.
func (st *store) createApp(r *http.Request) result {
	var in struct {
		Name *string `json:"name"`
	}
	if res, ok := decodeBody(r, &in); !ok {
		return res
	}
	if errs := checkName("name", in.Name); errs != nil {
		return errorResult(http.StatusBadRequest, errs...)
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	now := st.clock()
	a := &App{ID: strconv.FormatInt(st.nextAppID, 10), Name: *in.Name, CreatedAt: now, UpdatedAt: now}
	st.nextAppID++
	st.apps[a.ID] = a
	st.appOrder = append(st.appOrder, a.ID)
	return st.changed(success(http.StatusCreated, appJSON(a)))
}

// listApps serves GET /v2/apps?page=&limit=: {apps, total, page, limit},
// oldest first (see paging for the [U] order); a page past the end is an
// empty list with the true total.
func (st *store) listApps(r *http.Request) result {
	p, res, ok := parsePaging(r)
	if !ok {
		return res
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	from, to := p.window(len(st.appOrder))
	apps := make([]appBody, 0, to-from)
	for _, id := range st.appOrder[from:to] {
		apps = append(apps, appJSON(st.apps[id]))
	}
	return success(http.StatusOK, map[string]any{"apps": apps, "total": len(st.appOrder), "page": p.page, "limit": p.limit})
}

// getApp serves GET /v2/apps/{id}: 400 for a non-numeric id, 404 if unknown.
func (st *store) getApp(r *http.Request) result {
	id, res, ok := pathID(r, "id")
	if !ok {
		return res
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	a, found := st.apps[id]
	if !found {
		return errorResult(http.StatusNotFound, fmt.Sprintf("App %s not found", id))
	}
	return success(http.StatusOK, appJSON(a))
}

// updateApp serves PATCH /v2/apps/{id} with {name} (the only field the docs
// allow to change): 200 with the app, 404 if unknown.
func (st *store) updateApp(r *http.Request) result {
	var in struct {
		Name *string `json:"name"`
	}
	if res, ok := decodeBody(r, &in); !ok {
		return res
	}
	id, res, ok := pathID(r, "id")
	if !ok {
		return res
	}
	if errs := checkName("name", in.Name); errs != nil {
		return errorResult(http.StatusBadRequest, errs...)
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	a, found := st.apps[id]
	if !found {
		return errorResult(http.StatusNotFound, fmt.Sprintf("App %s not found", id))
	}
	a.Name, a.UpdatedAt = *in.Name, st.clock()
	return st.changed(success(http.StatusOK, appJSON(a)))
}

// pathID reads a numeric path parameter. The docs describe such IDs as "a
// string to be decoded into a number"; anything else is a 400 (NestJS's
// ParseIntPipe).
func pathID(r *http.Request, name string) (string, result, bool) {
	id, ok := parseNumericID(r.PathValue(name))
	if !ok {
		return "", errorResult(http.StatusBadRequest, fmt.Sprintf("Validation failed: %s must be a numeric string", name)), false
	}
	return id, result{}, true
}

// checkName validates a required name of at most maxNameLength characters.
func checkName(field string, name *string) []string {
	switch {
	case name == nil:
		return []string{field + " is required"}
	case *name == "":
		return []string{field + " should not be empty"}
	case len([]rune(*name)) > maxNameLength:
		return []string{fmt.Sprintf("%s must be shorter than or equal to %d characters", field, maxNameLength)}
	}
	return nil
}
