package api_test

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/pnonboard/pnonboard/internal/auth"
	"github.com/pnonboard/pnonboard/internal/tenants"
	"github.com/pnonboard/pnonboard/internal/webhooks"
)

// strictBundle is a test server with a key holding every scope, and one tenant and one
// webhook endpoint to aim requests at.
type strictBundle struct {
	*testServer
	key      string
	endpoint string
}

func setupStrict(t *testing.T) *strictBundle {
	t.Helper()
	ts := newTestServer(t)
	b := &strictBundle{testServer: ts, key: ts.key(t, auth.AllScopes()...)}
	_, _, err := ts.tenants.Create(context.Background(), tenants.CreateParams{ExternalID: "acme", Name: "Acme", Actor: "test"})
	require.NoError(t, err)
	url := "https://hooks.example.com/x"
	e, _, err := ts.webhooks.CreateEndpoint(context.Background(), webhooks.EndpointParams{URL: &url})
	require.NoError(t, err)
	b.endpoint = e.ID
	return b
}

// fieldsOf returns the errors[].field names of a problem body.
func fieldsOf(t *testing.T, resp *response) []string {
	t.Helper()
	fields := []string{}
	errs, _ := resp.JSON(t)["errors"].([]any)
	for _, e := range errs {
		fields = append(fields, e.(map[string]any)["field"].(string))
	}
	return fields
}

// TestStrictInput covers what issue 11 saw: NUL and other control characters, invalid UTF-8,
// case-folded and duplicated member names, and lengths counted in bytes. Every case was a 500
// or a silent acceptance before.
func TestStrictInput(t *testing.T) {
	t.Parallel()
	b := setupStrict(t)
	ep := "/v1/webhook-endpoints/"

	t.Run("Bodies", func(t *testing.T) {
		t.Parallel()
		tests := []struct {
			name         string
			method, path string
			body         string
			status       int
			field        string // must be among errors[].field, for a 422
		}{
			{"NULInTenantName", "POST", "/v1/tenants", `{"externalId":"nul1","name":"a\u0000b"}`, 422, "name"},
			{"NULInMetadataKey", "POST", "/v1/tenants", `{"externalId":"nul2","name":"x","metadata":{"a\u0000":"b"}}`, 422, "metadata"},
			{"NULInMetadataValue", "POST", "/v1/tenants", `{"externalId":"nul3","name":"x","metadata":{"plan":"a\u0000"}}`, 422, "metadata.plan"},
			{"NULInAPIKeyName", "POST", "/v1/api-keys", `{"name":"a\u0000b","scopes":["admin"]}`, 422, "name"},
			{"NULInDisableReason", "POST", "/v1/tenants/acme/disable", `{"reason":"a\u0000b"}`, 422, "reason"},
			{"NULInEnableReason", "POST", "/v1/tenants/acme/enable", `{"reason":"a\u0000b"}`, 422, "reason"},
			{"NULInWebhookDescription", "POST", "/v1/webhook-endpoints", `{"url":"https://hooks.example.com/y","description":"a\u0000b"}`, 422, "description"},
			{"NULInWebhookDescriptionPatch", "PATCH", ep + b.endpoint, `{"description":"a\u0000b"}`, 422, "description"},
			{"ANSIEscapeInTenantName", "POST", "/v1/tenants", `{"externalId":"ansi","name":"\u001b[31mred\u001b[0m"}`, 422, "name"},
			{"ANSIEscapeInAPIKeyName", "POST", "/v1/api-keys", `{"name":"\u001b]0;pwned\u0007","scopes":["admin"]}`, 422, "name"},
			{"NewlineInTenantName", "POST", "/v1/tenants", `{"externalId":"nl","name":"two\nlines"}`, 422, "name"},
			{"C1ControlInName", "POST", "/v1/tenants", `{"externalId":"c1","name":"a\u009bb"}`, 422, "name"},
			{"InvalidUTF8", "POST", "/v1/tenants", "{\"externalId\":\"utf\",\"name\":\"a\xffb\"}", 422, "name"},
			{"InvalidUTF8InMemberName", "POST", "/v1/tenants", "{\"externalId\":\"utf\",\"name\":\"x\",\"n\xffme\":\"y\"}", 422, "body"},
			{"LoneHighSurrogate", "POST", "/v1/tenants", `{"externalId":"sur1","name":"a\ud800b"}`, 422, "name"},
			{"LoneLowSurrogate", "POST", "/v1/tenants", `{"externalId":"sur2","name":"\udc00"}`, 422, "name"},
			{"ReversedSurrogatePair", "POST", "/v1/tenants", `{"externalId":"sur3","name":"\ude00\ud83d"}`, 422, "name"},
			{"CaseFoldedMemberName", "POST", "/v1/tenants", `{"ExternalID":"case","name":"x"}`, 422, "ExternalID"},
			{"CaseFoldedMemberNameAPIKey", "POST", "/v1/api-keys", `{"Name":"x","scopes":["admin"]}`, 422, "Name"},
			{"DuplicateMember", "POST", "/v1/tenants", `{"externalId":"dup","name":"x","name":"y"}`, 400, ""},
			{"DuplicateMemberNested", "POST", "/v1/tenants", `{"externalId":"dup","name":"x","metadata":{"a":"1","a":"2"}}`, 400, ""},
			{"DuplicateMemberAPIKey", "POST", "/v1/api-keys", `{"name":"x","scopes":["admin"],"scopes":["credentials:read"]}`, 400, ""},
			{"NullName", "POST", "/v1/tenants", `{"externalId":"null","name":null}`, 422, "name"},
			{"NullInPatch", "PATCH", ep + b.endpoint, `{"url":null}`, 422, "url"},
			{"DuplicateEventTypes", "POST", "/v1/webhook-endpoints", `{"url":"https://hooks.example.com/y","eventTypes":["` + webhooks.TypeEnabled + `","` + webhooks.TypeEnabled + `"]}`, 422, "eventTypes[1]"},
			{"DuplicateEventTypesPatch", "PATCH", ep + b.endpoint, `{"eventTypes":["` + webhooks.TypeEnabled + `","` + webhooks.TypeEnabled + `"]}`, 422, "eventTypes[1]"},
			{"ScopeWithSpace", "POST", "/v1/api-keys", `{"name":"x","scopes":[" admin"]}`, 422, "scopes"},
			{"BlankName", "POST", "/v1/tenants", `{"externalId":"blank","name":"\u00a0 "}`, 422, "name"},
			{"BlankAPIKeyName", "POST", "/v1/api-keys", `{"name":"   ","scopes":["admin"]}`, 422, "name"},
			{"NestedTooDeep", "POST", "/v1/tenants", `{"externalId":"deep","name":"x","extra":` + strings.Repeat("[", 100) + strings.Repeat("]", 100) + `}`, 400, ""},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				t.Parallel()
				resp := b.do(t, tt.method, tt.path, b.key, tt.body)
				require.Equal(t, tt.status, resp.Status, string(resp.Body))
				require.Equal(t, "application/problem+json", resp.Header.Get("Content-Type"))
				if tt.field != "" {
					require.Contains(t, fieldsOf(t, resp), tt.field, string(resp.Body))
				}
			})
		}
	})

	t.Run("Parameters", func(t *testing.T) {
		t.Parallel()
		tests := []struct {
			name         string
			method, path string
			status       int
			field        string
		}{
			{"NULInQ", "GET", "/v1/tenants?q=a%00b", 422, "q"},
			{"BadUTF8InQ", "GET", "/v1/tenants?q=a%ffb", 422, "q"},
			{"ANSIInQ", "GET", "/v1/tenants?q=%1b%5b31m", 422, "q"},
			{"QGivenTwice", "GET", "/v1/tenants?q=a&q=b", 422, "q"},
			{"NULInEventsTenant", "GET", "/v1/events?tenant=a%00b", 422, "tenant"},
			{"NULInCursor", "GET", "/v1/events?cursor=a%00b", 422, "cursor"},
			{"LimitWithSign", "GET", "/v1/events?limit=%2B5", 422, "limit"},
			{"EmptyLimit", "GET", "/v1/tenants?limit=", 422, "limit"},
			{"MalformedQuery", "GET", "/v1/tenants?q=%zz", 400, ""},
			{"NULInTenantID", "GET", "/v1/tenants/a%00b", 404, ""},
			{"NULInEndpointID", "GET", ep + "a%00b", 404, ""},
			{"NULInEndpointIDPatch", "PATCH", ep + "a%00b", 404, ""},
			{"NULInEndpointIDDelete", "DELETE", ep + "a%00b", 404, ""},
			{"NULInEndpointIDRotate", "POST", ep + "a%00b/rotate-secret", 404, ""},
			{"NULInEndpointIDDeliveries", "GET", ep + "a%00b/deliveries", 404, ""},
			{"NULInEndpointIDRetry", "POST", ep + "a%00b/deliveries/x/retry", 404, ""},
			{"NULInDeliveryID", "POST", ep + b.endpoint + "/deliveries/a%00b/retry", 404, ""},
			{"NULAsAPIKeyID", "DELETE", "/v1/api-keys/%00", 404, ""},
			{"BadUTF8AsAPIKeyID", "DELETE", "/v1/api-keys/%ff", 404, ""},
			{"EscapedSlashInID", "GET", ep + "a%2Fb", 404, ""},
			{"LongID", "GET", ep + strings.Repeat("a", 300), 404, ""},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				t.Parallel()
				body := any(nil)
				if tt.method == http.MethodPatch {
					body = `{"enabled":false}`
				}
				resp := b.do(t, tt.method, tt.path, b.key, body)
				require.Equal(t, tt.status, resp.Status, string(resp.Body))
				require.Equal(t, "application/problem+json", resp.Header.Get("Content-Type"))
				if tt.field != "" {
					require.Contains(t, fieldsOf(t, resp), tt.field, string(resp.Body))
				}
			})
		}
	})

	t.Run("AcceptedText", func(t *testing.T) {
		t.Parallel()
		// Not everything unusual is wrong: astral characters (as a surrogate pair or raw),
		// U+FFFD itself, and escaped member names are fine.
		for i, body := range []string{
			`{"externalId":"ok-1","name":"smile \ud83d\ude00"}`,
			`{"externalId":"ok-2","name":"smile 😀 \ufffd"}`,
			`{"external\u0049d":"ok-3","name":"escaped member name"}`,
		} {
			resp := b.do(t, http.MethodPost, "/v1/tenants", b.key, body)
			require.Equal(t, http.StatusAccepted, resp.Status, "%d: %s", i, resp.Body)
		}
	})

	t.Run("LengthsCountCharacters", func(t *testing.T) {
		t.Parallel()
		e100 := strings.Repeat("é", 100)
		resp := b.do(t, http.MethodPost, "/v1/api-keys", b.key, map[string]any{"name": e100, "scopes": []string{"admin"}})
		require.Equal(t, http.StatusCreated, resp.Status, string(resp.Body))
		require.Equal(t, e100, resp.JSON(t)["name"])
		resp = b.do(t, http.MethodPost, "/v1/api-keys", b.key, map[string]any{"name": e100 + "é", "scopes": []string{"admin"}})
		require.Equal(t, http.StatusUnprocessableEntity, resp.Status)

		// 500 characters of reason are fine (the tenant is pending, so the answer is 409).
		resp = b.do(t, http.MethodPost, "/v1/tenants/acme/disable", b.key, map[string]any{"reason": strings.Repeat("é", 500)})
		require.Equal(t, http.StatusConflict, resp.Status, string(resp.Body))
		resp = b.do(t, http.MethodPost, "/v1/tenants/acme/disable", b.key, map[string]any{"reason": strings.Repeat("é", 501)})
		require.Equal(t, http.StatusUnprocessableEntity, resp.Status)

		resp = b.do(t, http.MethodGet, "/v1/tenants?q="+strings.Repeat("%C3%A9", 255), b.key, nil)
		require.Equal(t, http.StatusOK, resp.Status, string(resp.Body))
		resp = b.do(t, http.MethodGet, "/v1/tenants?q="+strings.Repeat("%C3%A9", 256), b.key, nil)
		require.Equal(t, http.StatusUnprocessableEntity, resp.Status)
	})

	t.Run("LengthsCountCharactersInTheDomain", func(t *testing.T) {
		t.Parallel()
		// The tenant name and webhook description limits live in internal/tenants and
		// internal/webhooks; they count characters as the contract does.
		name := strings.Repeat("é", tenants.MaxNameLen)
		require.Empty(t, b.tenants.ValidateCreate(tenants.CreateParams{ExternalID: "e255", Name: name}))
		resp := b.do(t, http.MethodPost, "/v1/tenants", b.key, map[string]any{"externalId": "e255", "name": name})
		require.Equal(t, http.StatusAccepted, resp.Status, string(resp.Body))

		desc := strings.Repeat("é", 500)
		url := "https://hooks.example.com/probe"
		_, _, err := b.webhooks.CreateEndpoint(context.Background(), webhooks.EndpointParams{URL: &url, Description: &desc})
		require.NoError(t, err, "webhooks counts the description's characters")
		resp = b.do(t, http.MethodPost, "/v1/webhook-endpoints", b.key, map[string]any{"url": url, "description": desc})
		require.Equal(t, http.StatusCreated, resp.Status, string(resp.Body))
	})
}
