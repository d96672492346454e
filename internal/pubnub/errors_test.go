package pubnub_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/pnonboard/pnonboard/internal/pubnub"
	"github.com/pnonboard/pnonboard/internal/pubnub/sandbox"
)

// classification is what the helpers say about an error.
type classification struct {
	Retryable, Permanent, RateLimited, NotFound bool
	Status                                      int
}

func classify(err error) classification {
	return classification{
		Retryable: pubnub.IsRetryable(err), Permanent: pubnub.IsPermanent(err),
		RateLimited: pubnub.IsRateLimited(err), NotFound: pubnub.IsNotFound(err),
		Status: pubnub.StatusCode(err),
	}
}

func TestRateLimitErrors(t *testing.T) {
	t.Parallel()

	t.Run("SixthRequestWaitsForTheWindow", func(t *testing.T) {
		t.Parallel()
		up := startSandbox(t, func(o *sandbox.Opts) { o.RatePerMinute = 5 })
		for range 5 {
			_, err := up.client.ListApps(t.Context())
			require.NoError(t, err)
		}
		up.clock.Advance(18 * time.Second)

		_, err := up.client.ListApps(t.Context())

		require.Equal(t, classification{Retryable: true, RateLimited: true, Status: 429}, classify(err))
		wait, ok := pubnub.RateLimitWait(err)
		require.True(t, ok)
		require.Equal(t, 42*time.Second, wait)
		var apiErr *pubnub.Error
		require.ErrorAs(t, err, &apiErr)
		require.Equal(t, pubnub.RateLimit{Limit: 5, Remaining: 0, Reset: 42 * time.Second}, apiErr.RateLimit)
		require.Equal(t, 42*time.Second, apiErr.RetryAfter)
		require.Equal(t, "TooManyRequests", apiErr.Body.Error)
		require.Contains(t, err.Error(), "pubnub: list apps: GET /v2/apps: 429 TooManyRequests: ")
		require.Contains(t, err.Error(), "(retry in 42s)")

		up.clock.Advance(wait)
		_, err = up.client.ListApps(t.Context())
		require.NoError(t, err, "the next window admits requests again")
	})

	t.Run("InjectedOnce", func(t *testing.T) {
		t.Parallel()
		up := startSandbox(t, nil)
		up.sb.InjectFault(sandbox.OpCreateCustomer, sandbox.Fault{Kind: sandbox.FaultStatus, Status: http.StatusTooManyRequests}, 1)

		_, err := up.client.CreateCustomer(t.Context(), pubnub.CreateCustomerParams{ExternalID: "t", Name: "T"})
		require.True(t, pubnub.IsRateLimited(err))
		wait, ok := pubnub.RateLimitWait(err)
		require.True(t, ok)
		require.Equal(t, time.Minute, wait)
		require.Empty(t, up.sb.Customers())

		_, err = up.client.CreateCustomer(t.Context(), pubnub.CreateCustomerParams{ExternalID: "t", Name: "T"})
		require.NoError(t, err)
	})

	t.Run("HeaderVariants", func(t *testing.T) {
		t.Parallel()
		date := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
		tests := []struct {
			name    string
			headers map[string]string
			wait    time.Duration
			ok      bool
		}{
			{"RetryAfterSeconds", map[string]string{"Retry-After": "7"}, 7 * time.Second, true},
			{"RetryAfterHTTPDate", map[string]string{"Date": date.Format(http.TimeFormat), "Retry-After": date.Add(90 * time.Second).Format(http.TimeFormat)}, 90 * time.Second, true},
			{"ResetWinsOverRetryAfter", map[string]string{"X-RateLimit-Reset": "3", "Retry-After": "30"}, 3 * time.Second, true},
			{"ResetAsUnixTime", map[string]string{"Date": date.Format(http.TimeFormat), "X-RateLimit-Reset": fmt.Sprint(date.Add(20 * time.Second).Unix())}, 20 * time.Second, true},
			{"NoHint", nil, 0, false},
			{"Garbage", map[string]string{"Retry-After": "soon", "X-RateLimit-Reset": "later"}, 0, false},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				t.Parallel()
				client, _ := startServer(t, func(w http.ResponseWriter, r *http.Request) {
					for k, v := range tt.headers {
						w.Header().Set(k, v)
					}
					w.WriteHeader(http.StatusTooManyRequests)
				})

				_, err := client.ListApps(t.Context())

				require.True(t, pubnub.IsRateLimited(err))
				require.True(t, pubnub.IsRetryable(err))
				wait, ok := pubnub.RateLimitWait(err)
				require.Equal(t, tt.ok, ok)
				require.Equal(t, tt.wait, wait)
			})
		}
	})

	t.Run("OnlyFor429", func(t *testing.T) {
		t.Parallel()
		client, _ := startServer(t, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Retry-After", "5")
			w.WriteHeader(http.StatusServiceUnavailable)
		})

		_, err := client.ListApps(t.Context())

		_, ok := pubnub.RateLimitWait(err)
		require.False(t, ok)
		var apiErr *pubnub.Error
		require.ErrorAs(t, err, &apiErr)
		require.Equal(t, 5*time.Second, apiErr.RetryAfter, "still available on the error")
	})
}

func TestStatusErrors(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name   string
		status int
		body   string
		want   classification
		text   string
	}{
		{"BadRequest", 400, `{"statusCode":400,"error":"BadRequest","message":["a","b"]}`, classification{Permanent: true, Status: 400}, "400 BadRequest: a; b"},
		{"Unauthorized", 401, `{"statusCode":401,"error":"Unauthorized","message":["Invalid API key"]}`, classification{Permanent: true, Status: 401}, "401 Unauthorized: Invalid API key"},
		{"Forbidden", 403, `{"statusCode":403,"error":"Forbidden","message":"Missing keyset:write"}`, classification{Permanent: true, Status: 403}, "403 Forbidden: Missing keyset:write"},
		{"NotFound", 404, `{"statusCode":"404","error":"NotFound","message":[]}`, classification{Permanent: true, NotFound: true, Status: 404}, "404 NotFound"},
		{"Conflict", 409, `{"statusCode":409,"error":"Conflict","message":["exists"]}`, classification{Permanent: true, Status: 409}, "409 Conflict: exists"},
		{"RequestTimeout", 408, ``, classification{Retryable: true, Status: 408}, "408 Request Timeout"},
		{"Internal", 500, `{"statusCode":500,"error":"InternalError","message":["boom"]}`, classification{Retryable: true, Status: 500}, "500 InternalError: boom"},
		{"BadGatewayHTML", 502, `<html>bad gateway</html>`, classification{Retryable: true, Status: 502}, "502 Bad Gateway"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			client, _ := startServer(t, func(w http.ResponseWriter, r *http.Request) {
				w.WriteHeader(tt.status)
				fmt.Fprint(w, tt.body)
			})

			_, err := client.GetApp(t.Context(), "1")

			require.Equal(t, tt.want, classify(err))
			require.Equal(t, tt.want, classify(fmt.Errorf("provision step: %w", err)), "classification sees through wrapping")
			require.EqualError(t, err, "pubnub: get app: GET /v2/apps/1: "+tt.text)
		})
	}

	t.Run("NilAndForeignErrors", func(t *testing.T) {
		t.Parallel()

		for _, err := range []error{nil, errors.New("other")} {
			require.Equal(t, classification{}, classify(err))
			_, ok := pubnub.RateLimitWait(err)
			require.False(t, ok)
		}
	})
}

func TestFaultErrors(t *testing.T) {
	t.Parallel()

	t.Run("ServerErrorIsRetryable", func(t *testing.T) {
		t.Parallel()
		up := startSandbox(t, func(o *sandbox.Opts) { o.Faults = sandbox.FaultRates{ServerError: 1} })

		_, err := up.client.CreateApp(t.Context(), "a")

		require.Equal(t, classification{Retryable: true, Status: 500}, classify(err))
		require.Empty(t, up.sb.Apps())
	})

	t.Run("LostKeysetCreateLeavesOneKeyset", func(t *testing.T) {
		t.Parallel()
		up := startSandbox(t, nil)
		app, err := up.client.CreateApp(t.Context(), "app")
		require.NoError(t, err)
		up.sb.InjectFault(sandbox.OpCreateKeyset, sandbox.Fault{Kind: sandbox.FaultLost}, 1)

		_, err = up.client.CreateKeyset(t.Context(), pubnub.CreateKeysetParams{Name: "acme-dev", AppID: app.ID, Type: pubnub.KeysetTypeTesting})

		require.True(t, pubnub.IsRetryable(err))
		require.False(t, pubnub.IsPermanent(err))
		require.Len(t, up.sb.Keysets(), 1, "the change was applied upstream")
		// Recovery as the provisioner does it: find by name, read the secret.
		keysets, err := up.client.ListKeysets(t.Context())
		require.NoError(t, err)
		require.Len(t, keysets, 1)
		require.Equal(t, "acme-dev", keysets[0].Name)
		secrets, err := up.client.ListSecretKeys(t.Context(), keysets[0].ID, true)
		require.NoError(t, err)
		require.Equal(t, up.sb.Keysets()[0].SecretKeys[0].Value, secrets[0].SecretKey.Reveal())
	})

	t.Run("ClientTimeoutIsRetryable", func(t *testing.T) {
		t.Parallel()
		up := startSandbox(t, func(o *sandbox.Opts) { o.Faults = sandbox.FaultRates{Timeout: 1} })
		httpClient := up.srv.Client()
		httpClient.Timeout = 20 * time.Millisecond
		client := pubnub.New(up.srv.URL+"/v2", testKey, "", httpClient)
		start := time.Now()

		_, err := client.CreateApp(t.Context(), "a")

		require.Less(t, time.Since(start), 5*time.Second)
		var tErr *pubnub.TransportError
		require.ErrorAs(t, err, &tErr)
		require.False(t, tErr.Canceled)
		require.True(t, pubnub.IsRetryable(err))
		require.False(t, pubnub.IsPermanent(err))
		require.Zero(t, pubnub.StatusCode(err))
		require.Contains(t, err.Error(), "pubnub: create app: POST /v2/apps: ")
		require.Len(t, up.sb.Apps(), 1, "the timed-out create was applied")
	})

	t.Run("CallerContextIsNotAnUpstreamFault", func(t *testing.T) {
		t.Parallel()
		up := startSandbox(t, func(o *sandbox.Opts) { o.Faults = sandbox.FaultRates{Timeout: 1} })
		ctx, cancel := context.WithTimeout(t.Context(), 20*time.Millisecond)
		defer cancel()

		_, err := up.client.CreateApp(ctx, "a")

		var tErr *pubnub.TransportError
		require.ErrorAs(t, err, &tErr)
		require.True(t, tErr.Canceled)
		require.ErrorIs(t, err, context.DeadlineExceeded)
		require.False(t, pubnub.IsRetryable(err))
		require.False(t, pubnub.IsPermanent(err))
	})

	t.Run("CallerCancel", func(t *testing.T) {
		t.Parallel()
		up := startSandbox(t, func(o *sandbox.Opts) { o.Latency = time.Minute })
		ctx, cancel := context.WithCancel(t.Context())
		time.AfterFunc(5*time.Millisecond, cancel)

		_, err := up.client.ListApps(ctx)

		require.ErrorIs(t, err, context.Canceled)
		require.False(t, pubnub.IsRetryable(err))
	})
}

func TestTransportErrors(t *testing.T) {
	t.Parallel()

	t.Run("ConnectionRefused", func(t *testing.T) {
		t.Parallel()
		srv := httptest.NewServer(http.NotFoundHandler())
		url := srv.URL
		srv.Close()

		_, err := pubnub.New(url+"/v2", testKey, "", nil).ListApps(t.Context())

		var tErr *pubnub.TransportError
		require.ErrorAs(t, err, &tErr)
		require.True(t, pubnub.IsRetryable(err))
		require.Contains(t, err.Error(), "connection refused")
		require.NotContains(t, err.Error(), testKey)
	})

	t.Run("ConnectionClosedWithoutAnswer", func(t *testing.T) {
		t.Parallel()
		client, _ := startServer(t, func(w http.ResponseWriter, r *http.Request) {
			conn, _, err := http.NewResponseController(w).Hijack()
			if err == nil {
				conn.Close()
			}
		})

		_, err := client.CreateApp(t.Context(), "a")

		var tErr *pubnub.TransportError
		require.ErrorAs(t, err, &tErr)
		require.True(t, pubnub.IsRetryable(err))
		require.Contains(t, err.Error(), "EOF")
	})

	t.Run("UndecodableSuccessBody", func(t *testing.T) {
		t.Parallel()
		client, _ := startServer(t, func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(http.StatusCreated)
			fmt.Fprint(w, `{"keyset": {"id": "5000001", "name": `)
		})

		_, err := client.CreateKeyset(t.Context(), pubnub.CreateKeysetParams{Name: "n", AppID: "1", Type: pubnub.KeysetTypeTesting})

		var tErr *pubnub.TransportError
		require.ErrorAs(t, err, &tErr)
		require.Equal(t, http.StatusCreated, tErr.StatusCode)
		require.True(t, pubnub.IsRetryable(err), "like a lost answer: the change may have been made")
		require.Zero(t, pubnub.StatusCode(err))
		require.Contains(t, err.Error(), "pubnub: create keyset: POST /v2/keysets: decode 201 response: unexpected end of JSON input")
	})

	t.Run("CreateAnswerWithoutID", func(t *testing.T) {
		t.Parallel()
		client, _ := startServer(t, func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(http.StatusCreated)
			fmt.Fprint(w, `{"name":"a"}`)
		})

		_, err := client.CreateApp(t.Context(), "a")

		require.True(t, pubnub.IsRetryable(err))
		require.EqualError(t, err, "pubnub: create app: POST /v2/apps: answer has no id")
	})
}

// A missing Service Integration permission is a permanent 403 whose text
// names the row to add, so an operator reading a tenant's lastError knows
// what to grant.
func TestForbiddenNamesThePermissionRow(t *testing.T) {
	t.Parallel()
	perms, err := sandbox.ParsePermissions("account:app:rw,account:keyset:rw,account:secret-key:rw")
	require.NoError(t, err)
	up := startSandbox(t, func(o *sandbox.Opts) { o.Permissions = perms })

	_, err = up.client.CreateCustomer(t.Context(), pubnub.CreateCustomerParams{ExternalID: "acme", Name: "Acme"})

	require.True(t, pubnub.IsForbidden(err))
	require.True(t, pubnub.IsPermanent(err))
	require.False(t, pubnub.IsRetryable(err))
	require.Equal(t, "pubnub: create customer: POST /v2/oem/customers: 403 Forbidden: Service Integration lacks permission account:oem-customer:rw", err.Error())
	_, err = up.client.ListApps(t.Context())
	require.NoError(t, err)
	require.False(t, pubnub.IsForbidden(err))
}
