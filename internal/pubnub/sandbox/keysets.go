package sandbox

import (
	"fmt"
	"net/http"
	"slices"
	"strconv"
)

// keysetBody is a keyset on the wire, without secrets: what GET and list
// answer. IDs are numeric strings in /v2/keysets.
type keysetBody struct {
	ID           string `json:"id"`
	Name         string `json:"name"`
	AppID        string `json:"appId"`
	Type         string `json:"type"`
	PublishKey   string `json:"publishKey"`
	SubscribeKey string `json:"subscribeKey"`
	CreatedAt    string `json:"createdAt"`
	UpdatedAt    string `json:"updatedAt"`
}

// createdKeysetBody is the keyset of a create response, the only keyset
// answer that carries secret keys.
type createdKeysetBody struct {
	keysetBody
	SecretKeys []secretKeyBody `json:"secretKeys"`
}

func keysetJSON(k *Keyset) keysetBody {
	return keysetBody{
		ID: k.ID, Name: k.Name, AppID: k.AppID, Type: k.Type,
		PublishKey: k.PublishKey, SubscribeKey: k.SubscribeKey,
		CreatedAt: stamp(k.CreatedAt), UpdatedAt: stamp(k.UpdatedAt),
	}
}

// createKeyset serves POST /v2/keysets with body {keyset: {name, appId,
// type}, config?}: 201 with {keyset (+secretKeys), config (full)}.
//
// Strictest plausible choices ([U]/[I]): name, appId and type are all
// required (one doc version requires only appId); appId must be a JSON
// string naming an existing app, else 404 like other references to missing
// resources; the config is validated like a PATCH; there is no keyset quota
// (the sandbox account is paid, so the free tier's 3-keyset limit and the
// paid-plan rule for production keysets do not apply); duplicate names are
// allowed. 201 is the status PubNub's own mocks use.
func (st *store) createKeyset(r *http.Request) result {
	var in struct {
		Keyset *struct {
			Name  *string `json:"name"`
			AppID *string `json:"appId"`
			Type  *string `json:"type"`
		} `json:"keyset"`
		Config optional[configPatch] `json:"config"`
	}
	if res, ok := decodeBody(r, &in); !ok {
		return res
	}
	if in.Keyset == nil {
		return errorResult(http.StatusBadRequest, "keyset is required")
	}
	errs := checkName("keyset.name", in.Keyset.Name)
	if in.Keyset.AppID == nil || *in.Keyset.AppID == "" {
		errs = append(errs, "keyset.appId is required")
	}
	errs = append(errs, checkKeysetType(in.Keyset.Type)...)
	cfg := DefaultConfig()
	if in.Config.set {
		if in.Config.null {
			errs = append(errs, "config must be an object")
		}
		var applyErrs []string
		cfg, applyErrs = in.Config.v.apply(cfg)
		errs = append(errs, applyErrs...)
		errs = append(errs, cfg.validate()...)
	}
	if errs != nil {
		return errorResult(http.StatusBadRequest, errs...)
	}

	st.mu.Lock()
	defer st.mu.Unlock()
	appID, numeric := parseNumericID(*in.Keyset.AppID)
	if _, found := st.apps[appID]; !numeric || !found {
		return errorResult(http.StatusNotFound, fmt.Sprintf("App %s not found", *in.Keyset.AppID))
	}
	now := st.clock()
	uuid := newUUID()
	k := &Keyset{
		ID: strconv.FormatInt(st.nextKeysetID, 10), Name: *in.Keyset.Name, AppID: appID, Type: *in.Keyset.Type,
		PublishKey: "pub-c-" + uuid, SubscribeKey: "sub-c-" + uuid,
		CreatedAt: now, UpdatedAt: now,
		Config:     cfg,
		SecretKeys: []SecretKey{{Value: newSecretKey()}},
	}
	st.nextKeysetID++
	st.addKeysetLocked(k)
	return st.changed(success(http.StatusCreated, map[string]any{
		"keyset": createdKeysetBody{keysetBody: keysetJSON(k), SecretKeys: secretKeysJSON(k.SecretKeys)},
		"config": k.Config.clone(),
	}))
}

func checkKeysetType(t *string) []string {
	switch {
	case t == nil:
		return []string{"keyset.type is required"}
	case *t != "testing" && *t != "production":
		return []string{"keyset.type must be one of the following values: testing, production"}
	}
	return nil
}

// listKeysets serves GET /v2/keysets?page=&limit=: {keysets, total, page,
// limit}, oldest first across all apps (see paging for the [U] order); a
// page past the end is an empty list with the true total. [U] No appId filter is documented, so none is accepted (an unknown
// query parameter is a 400).
func (st *store) listKeysets(r *http.Request) result {
	p, res, ok := parsePaging(r)
	if !ok {
		return res
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	from, to := p.window(len(st.ksOrder))
	keysets := make([]keysetBody, 0, to-from)
	for _, id := range st.ksOrder[from:to] {
		keysets = append(keysets, keysetJSON(st.keysets[id]))
	}
	return success(http.StatusOK, map[string]any{"keysets": keysets, "total": len(st.ksOrder), "page": p.page, "limit": p.limit})
}

// getKeyset serves GET /v2/keysets/{id}: the keyset without secrets or
// config.
func (st *store) getKeyset(r *http.Request) result {
	return st.withKeyset(r, "id", func(k *Keyset) result {
		return success(http.StatusOK, keysetJSON(k))
	})
}

// getKeysetConfig serves GET /v2/keysets/{id}/config: the full config with
// defaults.
func (st *store) getKeysetConfig(r *http.Request) result {
	return st.withKeyset(r, "id", func(k *Keyset) result {
		return success(http.StatusOK, k.Config.clone())
	})
}

// updateKeysetConfig serves PATCH /v2/keysets/{id}/config: a partial update
// (absent fields are kept) answered with the full config. Regions that are
// already set cannot change (400); the whole patch is refused if any field
// is invalid.
func (st *store) updateKeysetConfig(r *http.Request) result {
	var patch configPatch
	if res, ok := decodeBody(r, &patch); !ok {
		return res
	}
	return st.withKeyset(r, "id", func(k *Keyset) result {
		next, errs := patch.apply(k.Config)
		errs = append(errs, next.validate()...)
		errs = append(errs, immutableChanges(k.Config, next)...)
		if errs != nil {
			return errorResult(http.StatusBadRequest, errs...)
		}
		k.Config = next
		k.UpdatedAt = st.clock()
		return st.changed(success(http.StatusOK, k.Config.clone()))
	})
}

// updateKeyset serves PATCH /v2/keysets/{id} with {name?, type?}: 200 with
// the keyset (no secrets), 404 if unknown.
//
// [U] Strictest plausible: at least one field is required, each validated as
// at create; a body naming neither is a 400. testing → production needs a
// paid plan, which the sandbox account has; production → testing is allowed.
func (st *store) updateKeyset(r *http.Request) result {
	var in struct {
		Name *string `json:"name"`
		Type *string `json:"type"`
	}
	if res, ok := decodeBody(r, &in); !ok {
		return res
	}
	var errs []string
	if in.Name == nil && in.Type == nil {
		errs = append(errs, "name or type is required")
	}
	if in.Name != nil {
		errs = append(errs, checkName("name", in.Name)...)
	}
	if in.Type != nil && *in.Type != "testing" && *in.Type != "production" {
		errs = append(errs, "type must be one of the following values: testing, production")
	}
	if errs != nil {
		return errorResult(http.StatusBadRequest, errs...)
	}
	return st.withKeyset(r, "id", func(k *Keyset) result {
		if in.Name != nil {
			k.Name = *in.Name
		}
		if in.Type != nil {
			k.Type = *in.Type
		}
		k.UpdatedAt = st.clock()
		return st.changed(success(http.StatusOK, keysetJSON(k)))
	})
}

// deleteKeyset serves DELETE /v2/keysets/{id}: 200 {success: true}, 404 if
// unknown. The keyset, its config and secret keys are gone; its ID is never
// reused.
//
// [U] The effect on an OEM assignment is undocumented; the sandbox removes
// the assignment (the customer no longer lists the keyset), since a
// customer cannot hold a keyset that does not exist. Deleting an assigned
// keyset is allowed.
func (st *store) deleteKeyset(r *http.Request) result {
	return st.withKeyset(r, "id", func(k *Keyset) result {
		st.removeKeysetLocked(k.ID)
		return st.changed(success(http.StatusOK, map[string]bool{"success": true}))
	})
}

// removeKeysetLocked deletes keyset id and its assignment. st.mu must be
// held and the keyset must exist.
func (st *store) removeKeysetLocked(id string) {
	k := st.keysets[id]
	if k.CustomerID != "" {
		st.unassignLocked(k)
	}
	delete(st.keysets, id)
	st.ksOrder = slices.DeleteFunc(st.ksOrder, func(x string) bool { return x == id })
	st.appKeysets[k.AppID] = slices.DeleteFunc(st.appKeysets[k.AppID], func(x string) bool { return x == id })
}

// withKeyset runs fn on the keyset named by the path parameter, holding the
// lock: 400 for a non-numeric ID, 404 for an unknown one.
func (st *store) withKeyset(r *http.Request, param string, fn func(*Keyset) result) result {
	id, res, ok := pathID(r, param)
	if !ok {
		return res
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	k, found := st.keysets[id]
	if !found {
		return errorResult(http.StatusNotFound, fmt.Sprintf("Keyset %s not found", id))
	}
	return fn(k)
}
