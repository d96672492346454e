package api_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/stretchr/testify/require"

	"github.com/pnonboard/pnonboard"
	"github.com/pnonboard/pnonboard/internal/api"
	"github.com/pnonboard/pnonboard/internal/auth"
	"github.com/pnonboard/pnonboard/internal/logging"
	"github.com/pnonboard/pnonboard/internal/pgtest"
	"github.com/pnonboard/pnonboard/internal/provisioner"
	"github.com/pnonboard/pnonboard/internal/tenants"
	"github.com/pnonboard/pnonboard/internal/webhooks"
)

// brokenDB is a database that fails every statement (or panics, when panics is set), as a
// database does that went away under a running service.
type brokenDB struct {
	panics bool
}

// errBrokenDB carries text that must never reach a client.
var errBrokenDB = errors.New("connection to 10.1.2.3:5432 lost: password authentication failed for user secret_owner")

func (d brokenDB) fail() error {
	if d.panics {
		panic(errBrokenDB)
	}
	return errBrokenDB
}

func (d brokenDB) Exec(context.Context, string, ...any) (pgconn.CommandTag, error) {
	return pgconn.CommandTag{}, d.fail()
}
func (d brokenDB) Query(context.Context, string, ...any) (pgx.Rows, error) { return nil, d.fail() }
func (d brokenDB) QueryRow(context.Context, string, ...any) pgx.Row        { return brokenRow{d} }
func (d brokenDB) Begin(context.Context) (pgx.Tx, error)                   { return nil, d.fail() }

type brokenRow struct{ d brokenDB }

func (r brokenRow) Scan(...any) error { return r.d.fail() }

// TestInternalErrorIsTheSpecsProblem forces 500s through real routes (the endpoint adapter
// meeting a failing tenants store, and the recoverer meeting a panicking one) and holds each
// answer against openapi.yaml's InternalError: problem+json, code internal, the request ID of
// the X-Request-Id header, nothing of the cause; the cause is in the log under that ID.
func TestInternalErrorIsTheSpecsProblem(t *testing.T) {
	t.Parallel()
	db := pgtest.NewDB(t)
	keys := auth.NewService(db.Pool, nil)
	_, key, err := keys.Create(context.Background(), auth.CreateParams{Name: "test", Scopes: auth.AllScopes(), CreatedBy: auth.SystemActor("test")})
	require.NoError(t, err)
	doc := loadSpec(t)
	internal := doc.Components.Responses["InternalError"].Value.Content.Get("application/problem+json").Schema.Value
	validator := newSpecValidator(t)

	for _, tc := range []struct {
		name         string
		panics       bool
		method, path string
		body         string
	}{
		{"ListFails", false, http.MethodGet, "/v1/tenants", ""},
		{"GetFails", false, http.MethodGet, "/v1/tenants/acme", ""},
		{"CreateFails", false, http.MethodPost, "/v1/tenants", `{"externalId":"acme","name":"Acme"}`},
		{"GetPanics", true, http.MethodGet, "/v1/tenants/acme", ""},
		{"DisablePanics", true, http.MethodPost, "/v1/tenants/acme/disable", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			logs := &logging.Buffer{}
			profiles := provisioner.DefaultProfiles()
			srv := httptest.NewServer(api.NewServer(&api.ServerOpts{
				Logger: logging.New(logs, "json", slog.LevelDebug),
				Ready:  func(context.Context) error { return nil },
				Keys:   keys,
				Tenants: tenants.NewService(tenants.ServiceOpts{DB: brokenDB{panics: tc.panics}, Enqueuer: &provisioner.Enqueuer{},
					Environments: profiles.Environments(), DefaultEnvironments: profiles.Defaults()}),
				Webhooks: webhooks.NewService(webhooks.ServiceOpts{DB: db.Pool}),
				OpenAPI:  pnonboard.OpenAPI(),
			}))
			t.Cleanup(srv.Close)

			var body io.Reader
			if tc.body != "" {
				body = strings.NewReader(tc.body)
			}
			req, err := http.NewRequest(tc.method, srv.URL+tc.path, body)
			require.NoError(t, err)
			req.Header.Set("Authorization", "Bearer "+key)
			if tc.body != "" {
				req.Header.Set("Content-Type", "application/json")
			}
			resp, err := srv.Client().Do(req)
			require.NoError(t, err)
			got, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			require.NoError(t, err)

			require.Equal(t, http.StatusInternalServerError, resp.StatusCode, string(got))
			require.Equal(t, "application/problem+json", resp.Header.Get("Content-Type"))
			// The operation's documented 500, and the InternalError schema itself.
			if tc.body != "" {
				req.Body = io.NopCloser(strings.NewReader(tc.body))
			}
			validator.check(t, req, resp.StatusCode, resp.Header, got)
			var v any
			require.NoError(t, json.Unmarshal(got, &v))
			require.NoError(t, internal.VisitJSON(v), string(got))

			p := requireDecode[problemBody](t, &response{Body: got})
			require.Equal(t, "internal", p.Code)
			require.Equal(t, http.StatusInternalServerError, p.Status)
			require.NotEmpty(t, p.RequestID)
			require.Equal(t, resp.Header.Get("X-Request-Id"), p.RequestID)
			require.NotContains(t, string(got), "10.1.2.3")
			require.NotContains(t, string(got), "secret_owner")
			require.Contains(t, logs.String(), p.RequestID, "the log finds the request")
			require.Contains(t, logs.String(), "secret_owner", "the log holds the cause")
		})
	}
}

// TestEveryOperationDocumentsInternalError: every operation of openapi.yaml answers 500 as the
// one InternalError response. The exception is getDocs, whose handler writes a constant page
// and has no failure to report (the middleware it passes is every route's, and is covered by
// the operations that do fail).
func TestEveryOperationDocumentsInternalError(t *testing.T) {
	t.Parallel()
	doc := loadSpec(t)
	cannotFail := map[string]string{"getDocs": "writes a constant page"}
	n := 0
	for path, item := range doc.Paths.Map() {
		for method, op := range item.Operations() {
			n++
			r := op.Responses.Status(http.StatusInternalServerError)
			if _, ok := cannotFail[op.OperationID]; ok {
				require.Nil(t, r, "%s %s documents a 500 although it is listed as unable to fail", method, path)
				continue
			}
			require.NotNil(t, r, "%s %s (%s) does not document its 500", method, path, op.OperationID)
			require.Equal(t, "#/components/responses/InternalError", r.Ref, "%s %s: the 500 must be the InternalError response", method, path)
		}
	}
	require.Equal(t, 36, n)
}
