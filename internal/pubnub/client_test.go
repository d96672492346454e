package pubnub_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/pnonboard/pnonboard/internal/pubnub"
)

func TestClientRequests(t *testing.T) {
	t.Parallel()

	t.Run("Headers", func(t *testing.T) {
		t.Parallel()
		up := startSandbox(t, nil)

		_, err := up.client.CreateApp(t.Context(), "Acme")
		require.NoError(t, err)
		_, err = up.client.ListApps(t.Context())
		require.NoError(t, err)

		for _, r := range up.requests.all() {
			require.Equal(t, testKey, r.Header.Get("Authorization"), "raw key, no Bearer")
			require.Equal(t, pubnub.DefaultVersion, r.Header.Get("PubNub-Version"))
			require.Equal(t, "application/json", r.Header.Get("Content-Type"))
			require.Equal(t, "application/json", r.Header.Get("Accept"))
		}
	})

	t.Run("CustomVersion", func(t *testing.T) {
		t.Parallel()
		up := startSandbox(t, nil)
		client := pubnub.New(up.srv.URL+"/v2/", testKey, "2026-03-23", up.srv.Client())

		_, err := client.ListApps(t.Context())

		require.NoError(t, err)
		require.Equal(t, "2026-03-23", up.requests.last().Header.Get("PubNub-Version"))
		require.Equal(t, "/v2/apps", up.requests.last().Path, "a trailing slash on the base URL is dropped")
	})

	t.Run("Defaults", func(t *testing.T) {
		t.Parallel()

		client := pubnub.New("", "k", "", nil)

		require.Equal(t, pubnub.DefaultBaseURL, client.BaseURL())
		require.Equal(t, pubnub.DefaultVersion, client.Version())
	})

	t.Run("HonoursContext", func(t *testing.T) {
		t.Parallel()
		up := startSandbox(t, nil)
		ctx, cancel := context.WithCancel(t.Context())
		cancel()

		_, err := up.client.ListApps(ctx)

		require.ErrorIs(t, err, context.Canceled)
		require.Zero(t, up.sb.CallCount(), "nothing was sent")
	})

	t.Run("BadBaseURL", func(t *testing.T) {
		t.Parallel()

		_, err := pubnub.New("ftp://example.com/v2", testKey, "", nil).ListApps(t.Context())

		require.ErrorContains(t, err, "must be http or https")
		require.False(t, pubnub.IsRetryable(err))
	})

	t.Run("WrongKeyRefusedBySandbox", func(t *testing.T) {
		t.Parallel()
		up := startSandbox(t, nil)

		_, err := pubnub.New(up.srv.URL+"/v2", "Bearer "+testKey, "", up.srv.Client()).ListApps(t.Context())

		require.Equal(t, http.StatusUnauthorized, pubnub.StatusCode(err))
		require.True(t, pubnub.IsPermanent(err))
	})
}

func TestClientDoesNotLeakKey(t *testing.T) {
	t.Parallel()

	client := pubnub.New("https://admin-api.pubnub.com/v2", testKey, "", nil)
	type holder struct {
		Exported   *pubnub.Client
		unexported *pubnub.Client
		value      pubnub.Client
	}
	h := holder{Exported: client, unexported: client, value: *client}

	var logged bytes.Buffer
	slog.New(slog.NewJSONHandler(&logged, nil)).Info("client", "client", client, "holder", h)
	for _, out := range []string{
		fmt.Sprint(client), fmt.Sprintf("%v|%+v|%#v|%s|%q|%x", client, client, client, client, client, client),
		fmt.Sprintf("%v|%+v|%#v", *client, *client, *client),
		fmt.Sprintf("%v|%+v|%#v", h, h, h),
		logged.String(),
	} {
		require.NotContains(t, out, testKey)
		require.NotContains(t, out, fmt.Sprintf("%x", testKey))
	}
	require.Contains(t, client.String(), "(redacted)")
	require.Contains(t, client.String(), "https://admin-api.pubnub.com/v2")
}

func TestErrorsDoNotLeakSecrets(t *testing.T) {
	t.Parallel()

	// A misbehaving upstream echoes the key and a secret key in its message.
	client, _ := startServer(t, func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusBadRequest)
		fmt.Fprintf(w, `{"statusCode":400,"error":"BadRequest %[1]s","message":["key %[1]s rejected","secret sec-c-ABCDEFxyz123 invalid"]}`, r.Header.Get("Authorization"))
	})

	_, err := client.RotateSecretKey(t.Context(), "5000001", nil)

	require.Error(t, err)
	require.NotContains(t, err.Error(), testKey)
	require.NotContains(t, err.Error(), "ABCDEFxyz123")
	require.Equal(t, "pubnub: rotate secret key: POST /v2/keysets/5000001/secret-keys: 400 BadRequest (redacted): key (redacted) rejected; secret sec-c-…(redacted) invalid", err.Error())
	var apiErr *pubnub.Error
	require.True(t, errors.As(err, &apiErr))
	require.NotContains(t, fmt.Sprintf("%+v", apiErr.Body), testKey)
}
