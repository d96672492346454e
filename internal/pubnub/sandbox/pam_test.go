package sandbox_test

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/pnonboard/pnonboard/internal/accessmanager"
	"github.com/pnonboard/pnonboard/internal/pubnub/sandbox"
	"github.com/pnonboard/pnonboard/internal/testclock"
)

// pamErrorJSON is Access Manager's error answer.
type pamErrorJSON struct {
	Error struct {
		Message string `json:"message"`
		Source  string `json:"source"`
		Details []struct {
			Message      string `json:"message"`
			Location     string `json:"location"`
			LocationType string `json:"locationType"`
		} `json:"details"`
	} `json:"error"`
	Service string `json:"service"`
	Status  int    `json:"status"`
}

type pamSuccessJSON struct {
	Data struct {
		Message string `json:"message"`
		Token   string `json:"token"`
	} `json:"data"`
	Service string `json:"service"`
	Status  int    `json:"status"`
}

// pamRequest is one data-plane request, signed by send unless signature is
// set.
type pamRequest struct {
	method, path string
	query        url.Values // without signature; timestamp defaults to the clock
	body         string
	secret       string // signs; the keyset's current main key when empty
	publishKey   string
	signature    *string // sent instead of computing one
	contentType  *string // default application/json when there is a body
}

type pamBundle struct {
	sb    *sandbox.Sandbox
	clock *testclock.Clock
	ks    sandbox.Keyset // Access Manager and token revoke on
}

// newPAMBundle returns a sandbox (fake clock, edit applied to its options)
// with one keyset whose Access Manager and token revoke are on; config
// replaces that keyset's config when non-nil.
func newPAMBundle(t *testing.T, edit func(*sandbox.Opts), config map[string]any) *pamBundle {
	t.Helper()
	sb, clock := newSandbox(t, edit)
	if config == nil {
		config = map[string]any{"accessManager": map[string]any{"enabled": true, "tokenRevoke": true}}
	}
	createKeyset(t, sb, createApp(t, sb, "app").ID, config)
	return &pamBundle{sb: sb, clock: clock, ks: sb.Keysets()[0]}
}

func (b *pamBundle) mainSecret(t *testing.T) string {
	t.Helper()
	for _, ks := range b.sb.Keysets() {
		if ks.ID == b.ks.ID {
			for _, sk := range ks.SecretKeys {
				if sk.ExpiresAt == nil {
					return sk.Value
				}
			}
		}
	}
	t.Fatal("keyset has no main secret key")
	return ""
}

func (b *pamBundle) send(t *testing.T, req pamRequest) response {
	t.Helper()
	q := url.Values{}
	for k, v := range req.query {
		q[k] = v
	}
	if _, ok := q["timestamp"]; !ok {
		q.Set("timestamp", strconv.FormatInt(b.clock.Now().Unix(), 10))
	}
	secret, pub := req.secret, req.publishKey
	if secret == "" {
		secret = b.mainSecret(t)
	}
	if pub == "" {
		pub = b.ks.PublishKey
	}
	sig := accessmanager.Sign(secret, pub, req.method, req.path, q, []byte(req.body))
	if req.signature != nil {
		sig = *req.signature
	}
	raw := q.Encode()
	if sig != "" {
		raw += "&signature=" + url.QueryEscape(sig)
	}
	r := httptest.NewRequest(req.method, req.path+"?"+raw, strings.NewReader(req.body))
	switch {
	case req.contentType != nil:
		r.Header.Set("Content-Type", *req.contentType)
	case req.body != "":
		r.Header.Set("Content-Type", "application/json")
	}
	rec := httptest.NewRecorder()
	b.sb.ServeHTTP(rec, r)
	return response{Status: rec.Code, Header: rec.Header(), Body: rec.Body.Bytes()}
}

func (b *pamBundle) grantPath() string { return "/v3/pam/" + b.ks.SubscribeKey + "/grant" }

func (b *pamBundle) grant(t *testing.T, body string) response {
	t.Helper()
	return b.send(t, pamRequest{method: http.MethodPost, path: b.grantPath(), body: body})
}

func (b *pamBundle) grantToken(t *testing.T, body string) string {
	t.Helper()
	res := b.grant(t, body)
	out := decode[pamSuccessJSON](t, res, http.StatusOK)
	require.NotEmpty(t, out.Data.Token)
	return out.Data.Token
}

func (b *pamBundle) revoke(t *testing.T, token string) response {
	t.Helper()
	return b.send(t, pamRequest{method: http.MethodDelete, path: b.grantPath() + "/" + url.PathEscape(token)})
}

// requirePAMError requires an Access Manager error answer and returns it.
func requirePAMError(t *testing.T, res response, status int, message string) pamErrorJSON {
	t.Helper()
	body := decode[pamErrorJSON](t, res, status)
	require.Equal(t, status, body.Status)
	require.Equal(t, "Access Manager", body.Service)
	require.Equal(t, message, body.Error.Message, "body: %s", res.Body)
	require.Equal(t, "text/javascript; charset=UTF-8", res.Header.Get("Content-Type"))
	return body
}

const simpleGrant = `{"ttl":60,"permissions":{"resources":{"channels":{"room-1":3}},"uuid":"user-1"}}`

func TestPAMSignatureVector(t *testing.T) {
	t.Parallel()

	// The request of the Go SDK's TestSignatureV2_granttoken, sent verbatim
	// to a keyset with its keys at its time: the sandbox must accept the
	// published signature.
	const (
		sub = "sub-c-4757f09c-c3f2-11e9-9d00-8a58a5558306"
		pub = "pub-c-cdea0ef1-c571-4b72-b43f-ff1dc8aa4c5d"
		sec = "sec-c-YTYxNzVjYzctNDY2MS00N2NmLTg2NjYtNGRlNWY1NjMxMDBm"
		// body grants the deprecated users and spaces types only.
		body = `{"ttl":10,"permissions":{"resources":{"channels":{},"groups":{},"users":{"u1":7,"u2":7},"spaces":{"s1":31,"s2":31}},"patterns":{"channels":{},"groups":{},"users":{"^u-[0-9a-f]*$":15},"spaces":{"^s-[0-9a-f]*$":27}},"meta":{}}}`
	)
	sb := sandbox.New(&sandbox.Opts{APIKey: testKey, RatePerMinute: -1, Now: func() time.Time { return time.Unix(1583755527, 0) }})
	cfg := sandbox.DefaultConfig()
	cfg.AccessManager.Enabled = true
	require.NoError(t, sb.Restore(sandbox.State{
		Apps:    []sandbox.App{{ID: "1000001", Name: "app"}},
		Keysets: []sandbox.Keyset{{ID: "5000001", Name: "ks", AppID: "1000001", Type: "testing", PublishKey: pub, SubscribeKey: sub, Config: cfg, SecretKeys: []sandbox.SecretKey{{Value: sec}}}},
	}))
	path := "/v3/pam/" + sub + "/grant?pnsdk=PubNub-Go%2F4.6.5&timestamp=1583755527&uuid=pn-f1df31f1-6ba9-49e1-ae72-084c15404302&signature=v2.Dd2YCsd-Ds_fFpGyuHIetndf2UrgZ-FTwcLggcPfx98"

	send := func(path string) *httptest.ResponseRecorder {
		r := httptest.NewRequest(http.MethodPost, path, strings.NewReader(body))
		r.Header.Set("Content-Type", "application/json")
		rec := httptest.NewRecorder()
		sb.ServeHTTP(rec, r)
		return rec
	}

	rec := send(path)
	require.Equal(t, http.StatusOK, rec.Code, "body: %s", rec.Body)
	issued := sb.IssuedTokens(sub)
	require.Len(t, issued, 1)
	require.Equal(t, map[string]int{"u1": 7, "u2": 7}, issued[0].Resources.Users)
	require.Equal(t, map[string]int{"^s-[0-9a-f]*$": 27}, issued[0].Patterns.Spaces)

	rec = send(strings.Replace(path, "Dd2Y", "Dd2Z", 1))
	require.Equal(t, http.StatusForbidden, rec.Code, "body: %s", rec.Body)
}

func TestPAMGrant(t *testing.T) {
	t.Parallel()

	setup := func(t *testing.T) *pamBundle {
		t.Helper()
		return newPAMBundle(t, nil, nil)
	}

	t.Run("Success", func(t *testing.T) {
		t.Parallel()
		b := setup(t)

		res := b.grant(t, `{"ttl":60,"permissions":{"resources":{"channels":{"room-1":3},"groups":{"cg":5},"uuids":{"user-1":104}},"patterns":{"channels":{"^acme\\..*$":1}},"meta":{"plan":"pro","seats":5,"ratio":0.5,"beta":true},"uuid":"user-1"}}`)

		out := decode[pamSuccessJSON](t, res, http.StatusOK)
		require.Equal(t, "Success", out.Data.Message)
		require.Equal(t, "Access Manager", out.Service)
		require.Equal(t, http.StatusOK, out.Status)
		require.Equal(t, "text/javascript; charset=UTF-8", res.Header.Get("Content-Type"))
		empty := map[string]int{}
		require.Equal(t, []sandbox.IssuedToken{{
			Token:            out.Data.Token,
			IssuedAt:         b.clock.Now(),
			TTL:              60,
			AuthorizedUserID: "user-1",
			Resources:        sandbox.TokenPermissions{Channels: map[string]int{"room-1": 3}, Groups: map[string]int{"cg": 5}, UUIDs: map[string]int{"user-1": 104}, Users: empty, Spaces: empty},
			Patterns:         sandbox.TokenPermissions{Channels: map[string]int{"^acme\\..*$": 1}, Groups: empty, UUIDs: empty, Users: empty, Spaces: empty},
			Meta:             map[string]any{"plan": "pro", "seats": int64(5), "ratio": 0.5, "beta": true},
			SecretKey:        b.mainSecret(t),
		}}, b.sb.IssuedTokens(b.ks.SubscribeKey))
		require.Equal(t, sandbox.OpGrantToken, b.sb.Calls()[len(b.sb.Calls())-1].Op)
	})

	t.Run("TokenFormat", func(t *testing.T) {
		t.Parallel()
		b := setup(t)

		token := b.grantToken(t, `{"ttl":90,"permissions":{"resources":{"channels":{"room-1":3}},"patterns":{"uuids":{"^u-.*$":32}},"meta":{"plan":"pro","n":-2},"uuid":"user-1"}}`)

		raw, err := base64.RawURLEncoding.DecodeString(token)
		require.NoError(t, err, "base64 URL-safe without padding")
		require.Equal(t, byte(0xa8), raw[0], "a map of 8 entries")
		require.Equal(t, []byte{0x41, 'v', 0x02}, raw[1:4], "byte-string keys, v = 2")
		parsed, err := accessmanager.Parse(token)
		require.NoError(t, err)
		require.Equal(t, 2, parsed.Version)
		require.Equal(t, b.clock.Now(), parsed.IssuedAt)
		require.Equal(t, 90, parsed.TTL)
		require.Equal(t, b.clock.Now().Add(90*time.Minute), parsed.ExpiresAt)
		require.Equal(t, "user-1", parsed.AuthorizedUserID)
		require.Equal(t, map[string]accessmanager.Permissions{"room-1": accessmanager.Read | accessmanager.Write}, parsed.Resources.Channels)
		require.Equal(t, map[string]accessmanager.Permissions{"^u-.*$": accessmanager.Get}, parsed.Patterns.UUIDs)
		require.Equal(t, map[string]any{"plan": "pro", "n": int64(-2)}, parsed.Meta)
		require.Equal(t, 32, parsed.SignatureLen)
	})

	t.Run("SameGrantSameSecondSameToken", func(t *testing.T) {
		t.Parallel()
		b := setup(t)

		// A token holds no nonce, so identical grants within one second are
		// the same token. [U] Upstream's format has no nonce either, so it
		// likely does the same.
		first := b.grantToken(t, simpleGrant)
		require.Equal(t, first, b.grantToken(t, simpleGrant))
		b.clock.Advance(time.Second)
		require.NotEqual(t, first, b.grantToken(t, simpleGrant))
	})

	t.Run("WithoutAuthorizedUser", func(t *testing.T) {
		t.Parallel()
		b := setup(t)

		token := b.grantToken(t, `{"ttl":1,"permissions":{"patterns":{"channels":{".*":1}}}}`)

		raw, err := base64.RawURLEncoding.DecodeString(token)
		require.NoError(t, err)
		require.Equal(t, byte(0xa7), raw[0], "no uuid entry")
		parsed, err := accessmanager.Parse(token)
		require.NoError(t, err)
		require.Empty(t, parsed.AuthorizedUserID)
	})

	t.Run("NeedsNoAdminAPIKeyAndIsNotRateLimited", func(t *testing.T) {
		t.Parallel()
		// Two Admin API requests per window: creating the app and the
		// keyset spends them.
		b := newPAMBundle(t, func(o *sandbox.Opts) { o.RatePerMinute = 2 }, nil)

		for range 5 {
			b.grantToken(t, simpleGrant)
		}

		requireError(t, do(t, b.sb, http.MethodGet, "/v2/apps", nil), http.StatusTooManyRequests)
	})

	t.Run("WrongSecret", func(t *testing.T) {
		t.Parallel()
		b := setup(t)

		res := b.send(t, pamRequest{method: http.MethodPost, path: b.grantPath(), body: simpleGrant, secret: "sec-c-wrong"})

		body := requirePAMError(t, res, http.StatusForbidden, "Invalid signature")
		require.Equal(t, "grant", body.Error.Source)
		require.Equal(t, "signature", body.Error.Details[0].Location)
		require.Empty(t, b.sb.IssuedTokens(b.ks.SubscribeKey))
	})

	t.Run("WrongPublishKey", func(t *testing.T) {
		t.Parallel()
		b := setup(t)

		res := b.send(t, pamRequest{method: http.MethodPost, path: b.grantPath(), body: simpleGrant, publishKey: "pub-c-other"})

		requirePAMError(t, res, http.StatusForbidden, "Invalid signature")
	})

	t.Run("BodyChangedAfterSigning", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		sig := accessmanager.Sign(b.mainSecret(t), b.ks.PublishKey, http.MethodPost, b.grantPath(),
			url.Values{"timestamp": {strconv.FormatInt(b.clock.Now().Unix(), 10)}}, []byte(simpleGrant))

		res := b.send(t, pamRequest{method: http.MethodPost, path: b.grantPath(), body: strings.Replace(simpleGrant, ":3}", ":7}", 1), signature: &sig})

		requirePAMError(t, res, http.StatusForbidden, "Invalid signature")
	})

	t.Run("MissingSignature", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		none := ""

		res := b.send(t, pamRequest{method: http.MethodPost, path: b.grantPath(), body: simpleGrant, signature: &none})

		body := requirePAMError(t, res, http.StatusForbidden, "Invalid signature")
		require.Equal(t, "Signature is missing.", body.Error.Details[0].Message)
	})

	t.Run("RotatedOutSecret", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		old := b.mainSecret(t)

		rotated := decode[struct {
			SecretKey string `json:"secretKey"`
		}](t, do(t, b.sb, http.MethodPost, "/v2/keysets/"+b.ks.ID+"/secret-keys", nil), http.StatusCreated)

		requirePAMError(t, b.send(t, pamRequest{method: http.MethodPost, path: b.grantPath(), body: simpleGrant, secret: old}), http.StatusForbidden, "Invalid signature")
		b.grantToken(t, simpleGrant)
		require.Equal(t, rotated.SecretKey, b.sb.IssuedTokens(b.ks.SubscribeKey)[0].SecretKey)
	})

	t.Run("RotatedSecretStillValidForAdminAPIIsNot", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		old := b.mainSecret(t)

		// The old key keeps an expiry an hour ahead, but Access Manager
		// signatures need the current main key.
		do(t, b.sb, http.MethodPost, "/v2/keysets/"+b.ks.ID+"/secret-keys", map[string]any{"expiresAt": b.clock.Now().Add(time.Hour).Format("2006-01-02T15:04:05.000Z")})

		requirePAMError(t, b.send(t, pamRequest{method: http.MethodPost, path: b.grantPath(), body: simpleGrant, secret: old}), http.StatusForbidden, "Invalid signature")
	})

	t.Run("Timestamp", func(t *testing.T) {
		t.Parallel()
		tests := []struct {
			name   string
			offset string // added to the clock, in seconds; "" sends no timestamp, "x" a non-number
			status int
		}{
			{"OneMinuteBehind", "-60", http.StatusOK},
			{"OneMinuteAhead", "60", http.StatusOK},
			{"TooFarBehind", "-61", http.StatusForbidden},
			{"TooFarAhead", "61", http.StatusForbidden},
			{"Missing", "", http.StatusForbidden},
			{"NotANumber", "x", http.StatusForbidden},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				t.Parallel()
				b := setup(t)
				ts := tt.offset
				if n, err := strconv.ParseInt(tt.offset, 10, 64); err == nil {
					ts = strconv.FormatInt(b.clock.Now().Unix()+n, 10)
				}
				q := url.Values{"timestamp": {ts}}
				if tt.offset == "" {
					q = url.Values{"timestamp": nil}
				}

				res := b.send(t, pamRequest{method: http.MethodPost, path: b.grantPath(), body: simpleGrant, query: q})

				if tt.status == http.StatusOK {
					decode[pamSuccessJSON](t, res, http.StatusOK)
					return
				}
				body := requirePAMError(t, res, tt.status, "Invalid timestamp")
				require.Equal(t, "timestamp", body.Error.Details[0].Location)
			})
		}
	})

	t.Run("AccessManagerOff", func(t *testing.T) {
		t.Parallel()
		b := newPAMBundle(t, nil, map[string]any{"accessManager": map[string]any{"enabled": false}})

		requirePAMError(t, b.grant(t, simpleGrant), http.StatusForbidden, "Access Manager is disabled")
	})

	t.Run("UnknownSubscribeKey", func(t *testing.T) {
		t.Parallel()
		b := setup(t)

		res := b.send(t, pamRequest{method: http.MethodPost, path: "/v3/pam/sub-c-nope/grant", body: simpleGrant})

		body := requirePAMError(t, res, http.StatusBadRequest, "Invalid subscribe key")
		require.Equal(t, "subscribeKey", body.Error.Details[0].Location)
	})

	t.Run("InvalidTTL", func(t *testing.T) {
		t.Parallel()
		for _, ttl := range []string{"0", "43201", "-1", `"60"`, "1.5", "null"} {
			t.Run(ttl, func(t *testing.T) {
				t.Parallel()
				b := setup(t)

				res := b.grant(t, `{"ttl":`+ttl+`,"permissions":{"resources":{"channels":{"a":1}}}}`)

				// The body PubNub answered live for ttl 43201.
				require.Equal(t, http.StatusBadRequest, res.Status)
				require.JSONEq(t, `{"error":{"message":"Invalid ttl","source":"grant","details":[{"message":"Range should be 1 to 43200 minute(s).","location":"ttl","locationType":"body"}]},"service":"Access Manager","status":400}`, string(res.Body))
			})
		}
	})

	t.Run("TTLBounds", func(t *testing.T) {
		t.Parallel()
		b := setup(t)

		b.grantToken(t, `{"ttl":1,"permissions":{"resources":{"channels":{"a":1}}}}`)
		b.grantToken(t, `{"ttl":43200,"permissions":{"resources":{"channels":{"a":1}}}}`)
	})

	t.Run("InvalidPermissions", func(t *testing.T) {
		t.Parallel()
		tests := []struct {
			name, permissions, location string
		}{
			{"GroupWrite", `{"resources":{"groups":{"cg":2}}}`, "permissions.resources.groups.cg"},
			{"UUIDRead", `{"resources":{"uuids":{"u":1}}}`, "permissions.resources.uuids.u"},
			{"ChannelCreate", `{"resources":{"channels":{"c":16}}}`, "permissions.resources.channels.c"},
			{"Zero", `{"resources":{"channels":{"c":0}}}`, "permissions.resources.channels.c"},
			{"NotAnInteger", `{"resources":{"channels":{"c":1.5}}}`, "permissions.resources.channels.c"},
			{"BadPattern", `{"patterns":{"channels":{"(":1}}}`, "permissions.patterns.channels.("},
			{"NoResources", `{"resources":{"channels":{}},"patterns":{}}`, "permissions"},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				t.Parallel()
				b := setup(t)

				res := b.grant(t, `{"ttl":60,"permissions":`+tt.permissions+`}`)

				body := requirePAMError(t, res, http.StatusBadRequest, "Invalid permissions")
				require.Len(t, body.Error.Details, 1)
				require.Equal(t, tt.location, body.Error.Details[0].Location)
				require.Equal(t, "body", body.Error.Details[0].LocationType)
			})
		}
	})

	t.Run("NonScalarMeta", func(t *testing.T) {
		t.Parallel()
		for _, v := range []string{`{"a":1}`, `[1]`, `null`} {
			t.Run(v, func(t *testing.T) {
				t.Parallel()
				b := setup(t)

				res := b.grant(t, `{"ttl":60,"permissions":{"resources":{"channels":{"c":1}},"meta":{"k":`+v+`}}}`)

				body := requirePAMError(t, res, http.StatusBadRequest, "Invalid meta")
				require.Equal(t, "permissions.meta.k", body.Error.Details[0].Location)
			})
		}
	})

	t.Run("InvalidJSON", func(t *testing.T) {
		t.Parallel()
		json := "application/json"
		text := "text/plain"
		tests := []struct {
			name, body  string
			contentType *string
			detail      string
		}{
			{"WrongContentType", simpleGrant, &text, "Content-Type must be `application/json`."},
			{"Malformed", `{"ttl":`, &json, "Request body is not valid JSON."},
			{"UnknownProperty", `{"ttl":60,"extra":1,"permissions":{"resources":{"channels":{"c":1}}}}`, &json, `Unknown property "extra".`},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				t.Parallel()
				b := setup(t)

				res := b.send(t, pamRequest{method: http.MethodPost, path: b.grantPath(), body: tt.body, contentType: tt.contentType})

				body := requirePAMError(t, res, http.StatusBadRequest, "Invalid JSON")
				require.Equal(t, tt.detail, body.Error.Details[0].Message)
			})
		}
	})

	t.Run("ScriptedFault", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		b.sb.InjectFault(sandbox.OpAny, sandbox.Fault{Kind: sandbox.FaultServerError}, 1)
		b.sb.InjectFault(sandbox.OpGrantToken, sandbox.Fault{Kind: sandbox.FaultStatus, Status: http.StatusServiceUnavailable}, 1)

		requirePAMError(t, b.grant(t, simpleGrant), http.StatusServiceUnavailable, "Injected 503 fault")
		b.grantToken(t, simpleGrant) // the OpAny fault is left to the Admin API
		requireError(t, do(t, b.sb, http.MethodGet, "/v2/apps", nil), http.StatusInternalServerError)
	})

	t.Run("LostFaultIssues", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		b.sb.InjectFault(sandbox.OpGrantToken, sandbox.Fault{Kind: sandbox.FaultLost}, 1)

		requirePAMError(t, b.grant(t, simpleGrant), http.StatusInternalServerError, "Internal Server Error")
		require.Len(t, b.sb.IssuedTokens(b.ks.SubscribeKey), 1)
	})

	t.Run("ResetForgetsTokens", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		b.grantToken(t, simpleGrant)

		b.sb.Reset()

		require.Empty(t, b.sb.IssuedTokens(b.ks.SubscribeKey))
	})
}

func TestPAMRevoke(t *testing.T) {
	t.Parallel()

	setup := func(t *testing.T) *pamBundle {
		t.Helper()
		return newPAMBundle(t, nil, nil)
	}

	t.Run("Success", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		token := b.grantToken(t, simpleGrant)
		other := b.grantToken(t, strings.Replace(simpleGrant, "user-1", "user-2", 1))
		b.clock.Advance(time.Minute)

		res := b.revoke(t, token)

		require.Equal(t, http.StatusOK, res.Status, "body: %s", res.Body)
		require.JSONEq(t, `{"data":{"message":"Success"},"service":"Access Manager","status":200}`, string(res.Body))
		require.Equal(t, []sandbox.RevokedToken{{Token: token, RevokedAt: b.clock.Now()}}, b.sb.RevokedTokens(b.ks.SubscribeKey))
		issued := b.sb.IssuedTokens(b.ks.SubscribeKey)
		require.Equal(t, token, issued[0].Token)
		require.Equal(t, b.clock.Now(), *issued[0].RevokedAt)
		require.Equal(t, other, issued[1].Token)
		require.Nil(t, issued[1].RevokedAt)
	})

	t.Run("TwiceKeepsTheFirstTime", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		token := b.grantToken(t, simpleGrant)
		first := b.clock.Now()
		require.Equal(t, http.StatusOK, b.revoke(t, token).Status)
		b.clock.Advance(time.Minute)

		require.Equal(t, http.StatusOK, b.revoke(t, token).Status)

		require.Equal(t, []sandbox.RevokedToken{{Token: token, RevokedAt: first}}, b.sb.RevokedTokens(b.ks.SubscribeKey))
	})

	t.Run("TokenRevokeOff", func(t *testing.T) {
		t.Parallel()
		for name, revoke := range map[string]any{"False": false, "Null": nil} {
			t.Run(name, func(t *testing.T) {
				t.Parallel()
				b := newPAMBundle(t, nil, map[string]any{"accessManager": map[string]any{"enabled": true, "tokenRevoke": revoke}})
				token := b.grantToken(t, simpleGrant)

				body := requirePAMError(t, b.revoke(t, token), http.StatusForbidden, "Token revoke is disabled")
				require.Equal(t, "revoke", body.Error.Source)
				require.Empty(t, b.sb.RevokedTokens(b.ks.SubscribeKey))
			})
		}
	})

	t.Run("Expired", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		token := b.grantToken(t, `{"ttl":1,"permissions":{"resources":{"channels":{"c":1}}}}`)
		b.clock.Advance(time.Minute)

		body := requirePAMError(t, b.revoke(t, token), http.StatusBadRequest, "Invalid token")

		require.Equal(t, "Token is expired.", body.Error.Details[0].Message)
		require.Equal(t, "token", body.Error.Details[0].Location)
		require.Equal(t, "path", body.Error.Details[0].LocationType)
	})

	t.Run("IssuedForAnotherKeyset", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		token := b.grantToken(t, simpleGrant)
		createKeyset(t, b.sb, b.ks.AppID, map[string]any{"accessManager": map[string]any{"enabled": true, "tokenRevoke": true}})
		other := &pamBundle{sb: b.sb, clock: b.clock, ks: b.sb.Keysets()[1]}

		requirePAMError(t, other.revoke(t, token), http.StatusBadRequest, "Invalid token")
	})

	t.Run("NotASandboxToken", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		token := b.grantToken(t, simpleGrant)
		raw, err := base64.RawURLEncoding.DecodeString(token)
		require.NoError(t, err)
		raw[len(raw)-1] ^= 1

		for _, bad := range []string{"garbage!", "qEF2AkF0", base64.RawURLEncoding.EncodeToString(raw)} {
			requirePAMError(t, b.revoke(t, bad), http.StatusBadRequest, "Invalid token")
		}
	})

	t.Run("PaddedStandardBase64", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		token := b.grantToken(t, simpleGrant)
		raw, err := base64.RawURLEncoding.DecodeString(token)
		require.NoError(t, err)

		require.Equal(t, http.StatusOK, b.revoke(t, base64.StdEncoding.EncodeToString(raw)).Status)
	})

	t.Run("RotatedOutSecret", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		token := b.grantToken(t, simpleGrant)
		old := b.mainSecret(t)
		do(t, b.sb, http.MethodPost, "/v2/keysets/"+b.ks.ID+"/secret-keys", nil)

		res := b.send(t, pamRequest{method: http.MethodDelete, path: b.grantPath() + "/" + token, secret: old})

		requirePAMError(t, res, http.StatusForbidden, "Invalid signature")
		require.Equal(t, http.StatusOK, b.revoke(t, token).Status, "the new key works")
	})
}

func TestPAMRouting(t *testing.T) {
	t.Parallel()

	sb, _ := newSandbox(t, nil)
	r := httptest.NewRequest(http.MethodGet, "/v3/pam/sub-c-x/grant", nil)
	rec := httptest.NewRecorder()

	sb.ServeHTTP(rec, r)

	require.Equal(t, http.StatusNotFound, rec.Code)
	require.Equal(t, "text/javascript; charset=UTF-8", rec.Header().Get("Content-Type"))
	var body pamErrorJSON
	require.NoError(t, json.NewDecoder(bytes.NewReader(rec.Body.Bytes())).Decode(&body))
	require.Equal(t, "Access Manager", body.Service)
	require.Equal(t, []sandbox.Operation{sandbox.OpUnknown}, ops(sb.Calls()))
}
