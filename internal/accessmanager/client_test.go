package accessmanager_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/pnonboard/pnonboard/internal/accessmanager"
	"github.com/pnonboard/pnonboard/internal/pubnub/sandbox"
)

// grantRequest is a valid request used across tests.
func grantRequest() accessmanager.GrantRequest {
	return accessmanager.GrantRequest{
		TTL:              90,
		AuthorizedUserID: "end-user-42",
		Resources: accessmanager.Resources{
			Channels: perms("room-1", accessmanager.Read|accessmanager.Write),
			Groups:   perms("cg-1", accessmanager.Read|accessmanager.Manage),
			UUIDs:    perms("end-user-42", accessmanager.Get|accessmanager.Update),
		},
		Patterns: accessmanager.Resources{Channels: perms(`^acme\..*$`, accessmanager.Read)},
		Meta:     map[string]any{"plan": "pro", "seats": 5},
	}
}

// requireAPIError requires an *Error with status and message.
func requireAPIError(t *testing.T, err error, status int, message string) *accessmanager.Error {
	t.Helper()
	var apiErr *accessmanager.Error
	require.ErrorAs(t, err, &apiErr)
	require.Equal(t, status, apiErr.StatusCode, "%v", err)
	require.Equal(t, message, apiErr.Message, "%v", err)
	return apiErr
}

func TestGrant(t *testing.T) {
	t.Parallel()

	type testBundle struct {
		*sandboxServer
		client *accessmanager.Client
	}
	setup := func(t *testing.T, opts *sandboxOpts) *testBundle {
		t.Helper()
		s := newSandboxServer(t, opts)
		return &testBundle{sandboxServer: s, client: accessmanager.New(s.origin(), s.srv.Client())}
	}

	t.Run("Success", func(t *testing.T) {
		t.Parallel()
		b := setup(t, nil)
		before := time.Now().Truncate(time.Second)

		token, err := b.client.Grant(t.Context(), b.keys, grantRequest())

		require.NoError(t, err)
		tok, err := accessmanager.Parse(token)
		require.NoError(t, err)
		require.Equal(t, 90, tok.TTL)
		require.Equal(t, "end-user-42", tok.AuthorizedUserID)
		require.WithinRange(t, tok.IssuedAt, before, time.Now())
		require.Equal(t, tok.IssuedAt.Add(90*time.Minute), tok.ExpiresAt)
		require.Equal(t, tokenResources(
			perms("room-1", accessmanager.Read|accessmanager.Write),
			perms("cg-1", accessmanager.Read|accessmanager.Manage),
			perms("end-user-42", accessmanager.Get|accessmanager.Update), nil, nil), tok.Resources)
		require.Equal(t, tokenResources(perms(`^acme\..*$`, accessmanager.Read), nil, nil, nil, nil), tok.Patterns)
		require.Equal(t, map[string]any{"plan": "pro", "seats": int64(5)}, tok.Meta)
		require.Equal(t, accessmanager.ResourceWords{
			Channels: map[string][]string{"room-1": {"read", "write"}},
			Groups:   map[string][]string{"cg-1": {"read", "manage"}},
			UUIDs:    map[string][]string{"end-user-42": {"get", "update"}},
		}, tok.Resources.Words())

		issued := b.sb.IssuedTokens(b.keys.SubscribeKey)
		require.Len(t, issued, 1)
		require.Equal(t, token, issued[0].Token)
		require.Equal(t, b.keys.SecretKey.Reveal(), issued[0].SecretKey, "the sandbox verified the signature with the keyset's secret key")
		call := b.sb.Calls()[len(b.sb.Calls())-1]
		require.Equal(t, sandbox.OpGrantToken, call.Op)
		require.Equal(t, "/v3/pam/"+b.keys.SubscribeKey+"/grant", call.Path)
		require.Regexp(t, `^pnsdk=pnonboard-accessmanager%2F1&timestamp=\d+&uuid=pnonboard&signature=v2\.[A-Za-z0-9_-]{43}$`, call.Query)
	})

	t.Run("RequestOnTheWire", func(t *testing.T) {
		t.Parallel()
		type seen struct {
			method, path, contentType, body string
			query                           url.Values
		}
		got := make(chan seen, 1)
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			raw, _ := io.ReadAll(r.Body)
			got <- seen{r.Method, r.URL.EscapedPath(), r.Header.Get("Content-Type"), string(raw), r.URL.Query()}
			w.Header().Set("Content-Type", "text/javascript; charset=UTF-8")
			fmt.Fprint(w, `{"data":{"message":"Success","token":"tok"},"service":"Access Manager","status":200}`)
		}))
		t.Cleanup(srv.Close)
		keys := accessmanager.Keys{SubscribeKey: "sub-c-1", PublishKey: "pub-c-1", SecretKey: "sec-c-1"}
		req := accessmanager.GrantRequest{TTL: 60, AuthorizedUserID: "u", Resources: accessmanager.Resources{Channels: perms("room-1", accessmanager.Read|accessmanager.Write)}}

		token, err := accessmanager.New(srv.URL, srv.Client()).Grant(t.Context(), keys, req)

		require.NoError(t, err)
		require.Equal(t, "tok", token)
		s := <-got
		require.Equal(t, http.MethodPost, s.method)
		require.Equal(t, "/v3/pam/sub-c-1/grant", s.path)
		require.Equal(t, "application/json", s.contentType)
		require.JSONEq(t, `{"ttl":60,"permissions":{
			"resources":{"channels":{"room-1":3},"groups":{},"uuids":{},"users":{},"spaces":{}},
			"patterns":{"channels":{},"groups":{},"uuids":{},"users":{},"spaces":{}},
			"meta":{},"uuid":"u"}}`, s.body)
		require.Equal(t, []string{"pnonboard"}, s.query["uuid"])
		require.Equal(t, []string{"pnonboard-accessmanager/1"}, s.query["pnsdk"])
		require.InDelta(t, time.Now().Unix(), mustAtoi(t, s.query.Get("timestamp")), 5)
		require.Equal(t, accessmanager.Sign("sec-c-1", "pub-c-1", http.MethodPost, s.path, s.query, []byte(s.body)), s.query.Get("signature"))
	})

	t.Run("MountedUnderAPathPrefix", func(t *testing.T) {
		t.Parallel()
		b := setup(t, &sandboxOpts{prefix: "/sandbox"})

		token, err := b.client.Grant(t.Context(), b.keys, grantRequest())

		require.NoError(t, err)
		require.NoError(t, b.client.Revoke(t.Context(), b.keys, token))
		require.Len(t, b.sb.RevokedTokens(b.keys.SubscribeKey), 1)
	})

	t.Run("WrongSecret", func(t *testing.T) {
		t.Parallel()
		b := setup(t, nil)
		keys := b.keys
		keys.SecretKey = "sec-c-NotTheKeysetsSecretAtAll"

		_, err := b.client.Grant(t.Context(), keys, grantRequest())

		apiErr := requireAPIError(t, err, http.StatusForbidden, "Invalid signature")
		require.Equal(t, "grant", apiErr.Source)
		require.Equal(t, "signature", apiErr.Details[0].Location)
		require.Equal(t, "query", apiErr.Details[0].LocationType)
		require.True(t, accessmanager.IsPermanent(err))
		require.False(t, accessmanager.IsRetryable(err))
		require.NotContains(t, err.Error(), "NotTheKeysetsSecret")
		require.Empty(t, b.sb.IssuedTokens(b.keys.SubscribeKey))
	})

	t.Run("RotatedOutSecret", func(t *testing.T) {
		t.Parallel()
		b := setup(t, nil)
		old := b.keys

		fresh := b.rotate(t)

		_, err := b.client.Grant(t.Context(), old, grantRequest())
		requireAPIError(t, err, http.StatusForbidden, "Invalid signature")
		_, err = b.client.Grant(t.Context(), fresh, grantRequest())
		require.NoError(t, err)
	})

	t.Run("AccessManagerOff", func(t *testing.T) {
		t.Parallel()
		b := setup(t, &sandboxOpts{config: map[string]any{"accessManager": map[string]any{"enabled": false}}})

		_, err := b.client.Grant(t.Context(), b.keys, grantRequest())

		requireAPIError(t, err, http.StatusForbidden, "Access Manager is disabled")
		require.True(t, accessmanager.IsPermanent(err))
	})

	t.Run("SkewedClock", func(t *testing.T) {
		t.Parallel()
		b := setup(t, &sandboxOpts{now: func() time.Time { return time.Now().Add(2 * time.Minute) }})

		_, err := b.client.Grant(t.Context(), b.keys, grantRequest())

		apiErr := requireAPIError(t, err, http.StatusForbidden, "Invalid timestamp")
		require.Equal(t, "timestamp", apiErr.Details[0].Location)
	})

	t.Run("BadTTLRefusedUpstream", func(t *testing.T) {
		t.Parallel()
		b := setup(t, nil)
		// A client that skipped validation: the body leaves with ttl 43201.
		tampering := &http.Client{Transport: resignTransport{keys: b.keys, editFn: func(body string) string {
			return strings.Replace(body, `"ttl":90`, `"ttl":43201`, 1)
		}}}

		_, err := accessmanager.New(b.origin(), tampering).Grant(t.Context(), b.keys, grantRequest())

		apiErr := requireAPIError(t, err, http.StatusBadRequest, "Invalid ttl")
		require.Equal(t, &accessmanager.Error{
			Op: "grant", StatusCode: http.StatusBadRequest, Message: "Invalid ttl", Source: "grant",
			Details: []accessmanager.ErrorDetail{{Message: "Range should be 1 to 43200 minute(s).", Location: "ttl", LocationType: "body"}},
		}, apiErr)
		require.EqualError(t, err, "accessmanager: grant: 400 Bad Request: Invalid ttl (ttl in body: Range should be 1 to 43200 minute(s).)")
		require.True(t, accessmanager.IsPermanent(err))
	})

	t.Run("InvalidRequestNotSent", func(t *testing.T) {
		t.Parallel()
		b := setup(t, nil)
		req := grantRequest()
		req.TTL = 0
		req.Resources.Groups = perms("cg-1", accessmanager.Write)
		calls := b.sb.CallCount()

		_, err := b.client.Grant(t.Context(), b.keys, req)

		var vErr *accessmanager.ValidationError
		require.ErrorAs(t, err, &vErr)
		require.Equal(t, []string{"channelGroups.cg-1", "ttl"}, []string{vErr.Fields[0].Field, vErr.Fields[1].Field})
		require.ErrorIs(t, err, accessmanager.ErrInvalidArgument)
		require.True(t, accessmanager.IsPermanent(err))
		require.Equal(t, calls, b.sb.CallCount(), "nothing was sent")
	})

	t.Run("MissingKeys", func(t *testing.T) {
		t.Parallel()
		for _, keys := range []accessmanager.Keys{
			{PublishKey: "p", SecretKey: "s"}, {SubscribeKey: "s", SecretKey: "s"}, {SubscribeKey: "s", PublishKey: "p"},
		} {
			_, err := accessmanager.New("http://127.0.0.1:1", nil).Grant(t.Context(), keys, grantRequest())
			require.ErrorIs(t, err, accessmanager.ErrInvalidArgument)
		}
	})

	t.Run("BadOrigin", func(t *testing.T) {
		t.Parallel()
		keys := accessmanager.Keys{SubscribeKey: "s", PublishKey: "p", SecretKey: "sec-c-x"}

		_, err := accessmanager.New("ftp://127.0.0.1", nil).Grant(t.Context(), keys, grantRequest())

		require.ErrorIs(t, err, accessmanager.ErrInvalidArgument)
	})

	// A 5xx and a 408 are retried at once. A 429 asks for fewer calls: neither retried at once
	// nor a refusal for good (issue 13: retries are for 5xx and timeouts).
	for _, tc := range []struct {
		name      string
		status    int
		retryable bool
	}{
		{"ServerError", http.StatusServiceUnavailable, true},
		{"TooManyRequests", http.StatusTooManyRequests, false},
		{"RequestTimeoutStatus", http.StatusRequestTimeout, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t, nil)
			b.sb.InjectFault(sandbox.OpGrantToken, sandbox.Fault{Kind: sandbox.FaultStatus, Status: tc.status}, 1)

			_, err := b.client.Grant(t.Context(), b.keys, grantRequest())

			requireAPIError(t, err, tc.status, fmt.Sprintf("Injected %d fault", tc.status))
			require.Equal(t, tc.retryable, accessmanager.IsRetryable(err))
			require.False(t, accessmanager.IsPermanent(err))
		})
	}

	t.Run("Timeout", func(t *testing.T) {
		t.Parallel()
		b := setup(t, nil)
		b.sb.InjectFault(sandbox.OpGrantToken, sandbox.Fault{Kind: sandbox.FaultTimeout}, 1)
		client := accessmanager.New(b.origin(), &http.Client{Timeout: 100 * time.Millisecond})

		_, err := client.Grant(t.Context(), b.keys, grantRequest())

		var tErr *accessmanager.TransportError
		require.ErrorAs(t, err, &tErr)
		require.False(t, tErr.Canceled)
		require.True(t, accessmanager.IsRetryable(err))
		require.NotContains(t, err.Error(), "signature=", "the URL is not in the error")
	})

	t.Run("CallerCanceled", func(t *testing.T) {
		t.Parallel()
		b := setup(t, nil)
		b.sb.InjectFault(sandbox.OpGrantToken, sandbox.Fault{Kind: sandbox.FaultTimeout}, 1)
		ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
		defer cancel()

		_, err := b.client.Grant(ctx, b.keys, grantRequest())

		var tErr *accessmanager.TransportError
		require.ErrorAs(t, err, &tErr)
		require.True(t, tErr.Canceled)
		require.ErrorIs(t, err, context.DeadlineExceeded)
		require.False(t, accessmanager.IsRetryable(err))
		require.False(t, accessmanager.IsPermanent(err))
	})

	t.Run("ConnectionRefused", func(t *testing.T) {
		t.Parallel()
		srv := httptest.NewServer(http.NotFoundHandler())
		origin := srv.URL
		srv.Close()

		_, err := accessmanager.New(origin, nil).Grant(t.Context(), accessmanager.Keys{SubscribeKey: "s", PublishKey: "p", SecretKey: "sec-c-x"}, grantRequest())

		var tErr *accessmanager.TransportError
		require.ErrorAs(t, err, &tErr)
		require.True(t, accessmanager.IsRetryable(err))
	})

	t.Run("AnswerWithoutToken", func(t *testing.T) {
		t.Parallel()
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			fmt.Fprint(w, `{"data":{"message":"Success"}}`)
		}))
		t.Cleanup(srv.Close)

		_, err := accessmanager.New(srv.URL, srv.Client()).Grant(t.Context(), accessmanager.Keys{SubscribeKey: "s", PublishKey: "p", SecretKey: "sec-c-x"}, grantRequest())

		var tErr *accessmanager.TransportError
		require.ErrorAs(t, err, &tErr)
		require.Equal(t, http.StatusOK, tErr.StatusCode)
		require.True(t, accessmanager.IsRetryable(err))
	})
}

func TestRevoke(t *testing.T) {
	t.Parallel()

	type testBundle struct {
		*sandboxServer
		client *accessmanager.Client
	}
	setup := func(t *testing.T, opts *sandboxOpts) *testBundle {
		t.Helper()
		s := newSandboxServer(t, opts)
		return &testBundle{sandboxServer: s, client: accessmanager.New(s.origin(), s.srv.Client())}
	}

	t.Run("Success", func(t *testing.T) {
		t.Parallel()
		b := setup(t, nil)
		token, err := b.client.Grant(t.Context(), b.keys, grantRequest())
		require.NoError(t, err)

		require.NoError(t, b.client.Revoke(t.Context(), b.keys, token))

		revoked := b.sb.RevokedTokens(b.keys.SubscribeKey)
		require.Len(t, revoked, 1)
		require.Equal(t, token, revoked[0].Token)
		require.NotNil(t, b.sb.IssuedTokens(b.keys.SubscribeKey)[0].RevokedAt)
		call := b.sb.Calls()[len(b.sb.Calls())-1]
		require.Equal(t, sandbox.OpRevokeToken, call.Op)
		require.Equal(t, http.StatusOK, call.Status)
	})

	t.Run("TokenRevokeOff", func(t *testing.T) {
		t.Parallel()
		b := setup(t, &sandboxOpts{config: map[string]any{"accessManager": map[string]any{"enabled": true, "tokenRevoke": false}}})
		token, err := b.client.Grant(t.Context(), b.keys, grantRequest())
		require.NoError(t, err)

		err = b.client.Revoke(t.Context(), b.keys, token)

		requireAPIError(t, err, http.StatusForbidden, "Token revoke is disabled")
		require.True(t, accessmanager.IsPermanent(err))
		require.NotContains(t, err.Error(), token)
	})

	t.Run("RotatedOutSecret", func(t *testing.T) {
		t.Parallel()
		b := setup(t, nil)
		token, err := b.client.Grant(t.Context(), b.keys, grantRequest())
		require.NoError(t, err)
		fresh := b.rotate(t)

		requireAPIError(t, b.client.Revoke(t.Context(), b.keys, token), http.StatusForbidden, "Invalid signature")
		require.NoError(t, b.client.Revoke(t.Context(), fresh, token), "a token survives a rotation until revoked")
	})

	t.Run("UnknownToken", func(t *testing.T) {
		t.Parallel()
		b := setup(t, nil)

		err := b.client.Revoke(t.Context(), b.keys, allPermissionsToken)

		apiErr := requireAPIError(t, err, http.StatusBadRequest, "Invalid token")
		require.Equal(t, "token", apiErr.Details[0].Location)
		require.NotContains(t, err.Error(), allPermissionsToken)
	})

	t.Run("TokenWithPadding", func(t *testing.T) {
		t.Parallel()
		// "=" must be escaped in the path (as %3D) and signed so.
		b := setup(t, nil)
		var token string
		for user := "u"; len(token)%4 == 0; user += "u" { // find a length that needs padding
			req := grantRequest()
			req.AuthorizedUserID = user
			var err error
			token, err = b.client.Grant(t.Context(), b.keys, req)
			require.NoError(t, err)
		}
		padded := token + strings.Repeat("=", 4-len(token)%4)

		require.NoError(t, b.client.Revoke(t.Context(), b.keys, padded))
		require.Contains(t, b.sb.Calls()[len(b.sb.Calls())-1].Path, token)
	})

	t.Run("InvalidArguments", func(t *testing.T) {
		t.Parallel()
		c := accessmanager.New("http://127.0.0.1:1", nil)
		keys := accessmanager.Keys{SubscribeKey: "s", PublishKey: "p", SecretKey: "sec-c-x"}

		require.ErrorIs(t, c.Revoke(t.Context(), keys, ""), accessmanager.ErrInvalidArgument)
		require.ErrorIs(t, c.Revoke(t.Context(), keys, strings.Repeat("A", accessmanager.MaxTokenLen+1)), accessmanager.ErrInvalidArgument)
		require.ErrorIs(t, c.Revoke(t.Context(), accessmanager.Keys{}, "tok"), accessmanager.ErrInvalidArgument)
	})

	t.Run("TransportErrorHidesToken", func(t *testing.T) {
		t.Parallel()
		srv := httptest.NewServer(http.NotFoundHandler())
		origin := srv.URL
		srv.Close()

		err := accessmanager.New(origin, nil).Revoke(t.Context(), accessmanager.Keys{SubscribeKey: "sub-c-1", PublishKey: "p", SecretKey: "sec-c-x"}, "secretTokenValue")

		var tErr *accessmanager.TransportError
		require.ErrorAs(t, err, &tErr)
		require.Equal(t, "/v3/pam/sub-c-1/grant/(token)", tErr.Path)
		require.NotContains(t, err.Error(), "secretTokenValue")
		var urlErr *url.Error
		require.False(t, errors.As(err, &urlErr), "the *url.Error, which holds the URL, is dropped")
	})
}

// TestErrorDecoding decodes the error bodies PubNub answered live and the
// older shape, and checks that no secret survives into them.
func TestErrorDecoding(t *testing.T) {
	t.Parallel()

	serve := func(t *testing.T, status int, body string) string {
		t.Helper()
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/javascript; charset=UTF-8")
			w.WriteHeader(status)
			fmt.Fprint(w, body)
		}))
		t.Cleanup(srv.Close)
		return srv.URL
	}
	keys := accessmanager.Keys{SubscribeKey: "sub-c-1", PublishKey: "pub-c-1", SecretKey: "sec-c-TheSecretValue"}

	t.Run("LiveRevokeExpired", func(t *testing.T) {
		t.Parallel()
		// Recorded by PubNub's Python SDK tests (revoke_expired_token).
		origin := serve(t, http.StatusBadRequest, `{"error":{"details":[{"location":"token","locationType":"path","message":"Token is expired."}],"message":"Invalid token","source":"revoke"},"service":"Access Manager","status":400}`)

		err := accessmanager.New(origin, nil).Revoke(t.Context(), keys, liveToken)

		require.Equal(t, &accessmanager.Error{
			Op: "revoke", StatusCode: http.StatusBadRequest, Message: "Invalid token", Source: "revoke",
			Details: []accessmanager.ErrorDetail{{Message: "Token is expired.", Location: "token", LocationType: "path"}},
		}, err)
	})

	t.Run("OlderShape", func(t *testing.T) {
		t.Parallel()
		origin := serve(t, http.StatusForbidden, `{"message":"Forbidden","payload":{"channels":["c"]},"error":true,"service":"Access Manager","status":403}`)

		_, err := accessmanager.New(origin, nil).Grant(t.Context(), keys, grantRequest())

		require.Equal(t, &accessmanager.Error{Op: "grant", StatusCode: http.StatusForbidden, Message: "Forbidden"}, err)
		require.EqualError(t, err, "accessmanager: grant: 403 Forbidden: Forbidden")
	})

	t.Run("NotJSON", func(t *testing.T) {
		t.Parallel()
		origin := serve(t, http.StatusBadGateway, `<html>bad gateway</html>`)

		_, err := accessmanager.New(origin, nil).Grant(t.Context(), keys, grantRequest())

		require.Equal(t, &accessmanager.Error{Op: "grant", StatusCode: http.StatusBadGateway}, err)
		require.True(t, accessmanager.IsRetryable(err))
	})

	t.Run("SecretsAndTokenRedacted", func(t *testing.T) {
		t.Parallel()
		origin := serve(t, http.StatusBadRequest, `{"error":{"message":"bad sec-c-TheSecretValue and sec-c-AnotherOne","source":"revoke","details":[{"message":"token theRevokedToken refused","location":"token","locationType":"path"}]},"status":400}`)

		err := accessmanager.New(origin, nil).Revoke(t.Context(), keys, "theRevokedToken")

		require.Error(t, err)
		require.NotContains(t, err.Error(), "TheSecretValue")
		require.NotContains(t, err.Error(), "AnotherOne")
		require.NotContains(t, err.Error(), "theRevokedToken")
		require.Contains(t, err.Error(), "(redacted)")
	})
}

func TestSecretNeverPrinted(t *testing.T) {
	t.Parallel()

	keys := accessmanager.Keys{SubscribeKey: "sub-c-1", PublishKey: "pub-c-1", SecretKey: "sec-c-TheSecretValue"}
	var logged strings.Builder
	slog.New(slog.NewTextHandler(&logged, nil)).Info("keys", "keys", keys, "secret", keys.SecretKey)
	raw, err := json.Marshal(keys)
	require.NoError(t, err)

	for _, s := range []string{
		fmt.Sprintf("%v", keys), fmt.Sprintf("%+v", keys), fmt.Sprintf("%#v", keys), fmt.Sprintf("%s", keys.SecretKey),
		fmt.Sprintf("%q", keys.SecretKey), fmt.Sprintf("%x", keys.SecretKey), string(raw), logged.String(),
	} {
		require.NotContains(t, s, "TheSecretValue")
	}
	require.Equal(t, "sec-c-…(redacted)", keys.SecretKey.String())
	require.Equal(t, "sec-c-TheSecretValue", keys.SecretKey.Reveal())
	require.Equal(t, `accessmanager.Client{origin: "https://ps.pndsn.com"}`, accessmanager.New("", nil).String())
}

func mustAtoi(t *testing.T, s string) int64 {
	t.Helper()
	var n int64
	_, err := fmt.Sscan(s, &n)
	require.NoError(t, err)
	return n
}
