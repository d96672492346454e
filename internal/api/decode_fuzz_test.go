package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"github.com/pnonboard/pnonboard/internal/webhooks"
)

// decodeTargets are the request bodies of the API, by index: what FuzzDecode decodes into.
func decodeTargets() []func() any {
	return []func() any{
		func() any { return &(&createTenantRequest{}).Body },
		func() any { return &(&reasonRequest{}).Body },
		func() any { return &(&retryRequest{}).Body },
		func() any { return &(&createEndpointRequest{}).Body },
		func() any { return &(&createAPIKeyRequest{}).Body },
		func() any { return &(&patchTenantRequest{}).Body },
		func() any { return &(&grantTokenRequest{}).Body },
		func() any { return &(&parseTokenRequest{}).Body },
	}
}

// decodeSeeds is the seed corpus: every case of issue 11 and its neighbours. It runs in every
// go test; `go test -fuzz FuzzDecode` grows it.
func decodeSeeds() []string {
	return []string{
		`{"externalId":"acme","name":"Acme","environments":["production"],"metadata":{"plan":"pro"}}`,
		`{"externalId":"nul1","name":"a\u0000b"}`,
		`{"externalId":"a","name":"x","metadata":{"a\u0000":"b"}}`,
		`{"externalId":"a","name":"x","metadata":{"plan":"a\u0000"}}`,
		`{"name":"a\u0000b","scopes":["admin"]}`,
		`{"reason":"a\u0000b"}`,
		`{"url":"https://hooks.example.com/x","description":"a\u0000b"}`,
		`{"externalId":"a","name":"\u001b[31mred\u001b[0m"}`,
		`{"externalId":"a","name":"two\nlines"}`,
		`{"externalId":"a","name":"a\u009bb"}`,
		"{\"externalId\":\"a\",\"name\":\"a\xffb\"}",
		"{\"externalId\":\"a\",\"n\xffme\":\"b\"}",
		"{\"externalId\":\"a\",\"name\":\"\xed\xa0\x80\"}", // a surrogate, UTF-8 encoded
		`{"externalId":"a","name":"a\ud800b"}`,
		`{"externalId":"a","name":"\udc00"}`,
		`{"externalId":"a","name":"\ude00\ud83d"}`,
		`{"externalId":"a","name":"\ud83d\ude00"}`,
		`{"externalId":"a","name":"\ud800\u0041"}`,
		`{"ExternalID":"a","name":"x"}`,
		`{"externalid":"a","NAME":"x"}`,
		`{"external\u0049d":"a","name":"x"}`,
		`{"externalId":"a","name":"x","name":"y"}`,
		`{"externalId":"a","name":"x","metadata":{"k":"1","k":"2"}}`,
		`{"name":"x","scopes":["admin"],"scopes":["credentials:read"]}`,
		`{"name":"x","scopes":["admin"],"expiresIn":"213504d"}`,
		`{"name":"x","scopes":["admin"],"expiresIn":"+1d"}`,
		`{"name":"x","scopes":["admin"],"expiresIn":"1ns"}`,
		`{"name":"x","scopes":["admin"],"expiresIn":""}`,
		`{"name":"   ","scopes":[" admin"]}`,
		`{"externalId":"a","name":null}`,
		`{"url":null}`,
		`{"url":"https://x","eventTypes":["` + webhooks.TypeEnabled + `","` + webhooks.TypeEnabled + `"]}`,
		`{"url":"https://x","enabled":"yes"}`,
		`{"externalId":1,"name":true,"environments":"production","metadata":[]}`,
		`{"externalId":"a","name":"` + strings.Repeat("é", 255) + `"}`,
		`{"reason":"` + strings.Repeat("é", 500) + `"}`,
		`{"name":"Acme","metadata":{"plan":null,"tier":"gold"},"environments":["production"]}`,
		`{"metadata":{"a\u0000":null}}`, `{"metadata":{"plan":1}}`, `{"environments":null}`, `{"Name":"x"}`,
		`{"environment":"production","ttl":60,"authorizedUserId":"u1","channels":{"c":["read"]},` +
			`"channelGroups":{"g":["manage"]},"userIds":{"u":["get"]},"patterns":{"channels":{"^a.*$":["read"]}},"meta":{"k":1,"b":true,"s":"x"}}`,
		`{"environment":"production","ttl":1e400}`, `{"environment":"production","ttl":99999999999999999999}`,
		`{"environment":"production","ttl":-1.5}`, `{"environment":"production","ttl":60,"meta":{"a\u0000":1}}`,
		`{"environment":"production","ttl":60,"channels":{"\u001b[31m":["read"]}}`,
		`{"environment":"production","ttl":60,"patterns":{"channels":{"(":["read"]},"zzz":{}}}`,
		`{"environment":"production","ttl":60,"meta":{"nested":{"a":1}}}`,
		`{"token":"qEF2AkF0GmEI03xDdHRsGDxDcmVzpURjaGFuoWljaGFubmVsLTEY70NncnCgQ3NwY6BDdXNyoENzcGOgRHV1aWShZnV1aWQtMRhoQ3BhdKVEY2hhbqFtXmNoYW5uZWwtXFMqJBjvQ2dycKFrXjpjaGFubmVsLnIqJEZ1c3JzcGNAQ3V1aWShZF5cUyokGGhDc3BjoENtZXRhoENzaWdYIBvd1Pt5yN6iSJcnkPJiTT2ZDJ7gR0uhJ1lrbuxYb5I7"}`,
		`{"token":"a\u0000b"}`, `{"token":"   "}`, `{"token":""}`, `{"token":"` + strings.Repeat("A", 40000) + `"}`,
		`{}`, ``, `   `, `null`, `[]`, `"x"`, `1`, `{} {}`, `{"a":`, `{"a" 1}`, `{,}`, `{"a":1,}`,
		`{"a":01}`, `{"a":1.}`, `{"a":-}`, `{"a":1e}`, `{"a":tru}`, `{"a":"\x"}`, `{"a":"\u12"}`,
		"{\"a\":\"\x00\"}", "\xef\xbb\xbf{}", `{"zzz":1}`,
		`{"x":` + strings.Repeat("[", 40) + strings.Repeat("]", 40) + `}`,
		`{"x":{"y":{"z":[1,2,{"w":null}]}}}`,
	}
}

// FuzzDecode feeds the strict decoder arbitrary bytes for every request body. It must never
// panic, and what it accepts must be what encoding/json makes of the same bytes, with only
// valid text in it; what it refuses must be a 400 or a 422 naming fields.
//
//	go test -run '^$' -fuzz '^FuzzDecode$' -fuzztime 10s ./internal/api
func FuzzDecode(f *testing.F) {
	targets := decodeTargets()
	for _, seed := range decodeSeeds() {
		for target := range targets {
			f.Add(uint8(target), []byte(seed))
		}
	}
	f.Fuzz(func(t *testing.T, target uint8, data []byte) {
		newDst := targets[int(target)%len(targets)]
		dst := newDst()
		err := unmarshalStrict(data, dst)

		if msg := textProblem(string(data)); msg == "" {
			if !utf8.Valid(data) || strings.IndexFunc(string(data), unicode.IsControl) >= 0 {
				t.Fatalf("textProblem passed %q", data)
			}
		}

		var apiErr *Error
		switch {
		case err == nil:
			if !json.Valid(data) {
				t.Fatalf("accepted invalid JSON %q", data)
			}
			std := newDst()
			dec := json.NewDecoder(bytes.NewReader(data))
			dec.DisallowUnknownFields()
			if err := dec.Decode(std); err != nil {
				t.Fatalf("accepted %q, which encoding/json refuses: %v", data, err)
			}
			if !reflect.DeepEqual(dst, std) {
				t.Fatalf("decoded %q as %#v; encoding/json says %#v", data, dst, std)
			}
			walkStrings(reflect.ValueOf(dst), func(s string) {
				if p := textProblem(s); p != "" {
					t.Fatalf("accepted %q holding %q: %s", data, s, p)
				}
			})
		case errors.Is(err, io.EOF):
			if len(bytes.TrimSpace(data)) != 0 {
				t.Fatalf("io.EOF for a non-empty body %q", data)
			}
		case errors.As(err, &apiErr):
			switch apiErr.Status {
			case http.StatusBadRequest:
			case http.StatusUnprocessableEntity:
				if len(apiErr.Errors) == 0 {
					t.Fatalf("422 naming no field for %q", data)
				}
				for _, fe := range apiErr.Errors {
					if fe.Field == "" || fe.Message == "" {
						t.Fatalf("422 with an empty field error for %q: %+v", data, apiErr.Errors)
					}
				}
			default:
				t.Fatalf("status %d for %q", apiErr.Status, data)
			}
			if json.Valid(data) && apiErr.Status == http.StatusBadRequest && !strings.Contains(apiErr.Detail, "twice") &&
				!strings.Contains(apiErr.Detail, "object") && !strings.Contains(apiErr.Detail, "nests") {
				t.Fatalf("400 %q for valid JSON %q", apiErr.Detail, data)
			}
		default:
			t.Fatalf("unexpected error %T %v for %q", err, err, data)
		}
	})
}

// walkStrings calls f on every string in v, map keys included.
func walkStrings(v reflect.Value, f func(string)) {
	switch v.Kind() {
	case reflect.Pointer, reflect.Interface:
		if !v.IsNil() {
			walkStrings(v.Elem(), f)
		}
	case reflect.String:
		f(v.String())
	case reflect.Struct:
		for i := range v.NumField() {
			if v.Type().Field(i).IsExported() {
				walkStrings(v.Field(i), f)
			}
		}
	case reflect.Slice, reflect.Array:
		for i := range v.Len() {
			walkStrings(v.Index(i), f)
		}
	case reflect.Map:
		for _, k := range v.MapKeys() {
			walkStrings(k, f)
			walkStrings(v.MapIndex(k), f)
		}
	}
}

// TestTextProblem pins the text rule the decoders share.
func TestTextProblem(t *testing.T) {
	t.Parallel()
	for _, ok := range []string{"", "Acme Corp", "é", "😀", "\ufffd", "a b", "\u00a0", "\u200b"} {
		if p := textProblem(ok); p != "" {
			t.Errorf("%q: %s", ok, p)
		}
	}
	for s, want := range map[string]string{
		"a\x00b": msgControl, "\x1b[31m": msgControl, "a\nb": msgControl, "\t": msgControl, "\u0085": msgControl,
		"\u009b": msgControl, "\x7f": msgControl, "a\xffb": msgBadUTF8, "\xed\xa0\x80": msgBadUTF8, "\xc3": msgBadUTF8,
	} {
		if got := textProblem(s); got != want {
			t.Errorf("%q: got %q, want %q", s, got, want)
		}
	}
}
