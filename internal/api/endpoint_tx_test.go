package api

import (
	"context"
	"net/http"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/rivertest"
	"github.com/stretchr/testify/require"

	"github.com/pnonboard/pnonboard/internal/auth"
	"github.com/pnonboard/pnonboard/internal/pgtest"
	"github.com/pnonboard/pnonboard/internal/provisioner"
	"github.com/pnonboard/pnonboard/internal/tenants"
)

// txServer is a Server whose tenants service runs inside one transaction that the test rolls
// back: typed endpoints are called directly, their typed answers asserted, and nothing is
// left behind (no database of its own, no HTTP).
func txServer(t *testing.T) (*Server, context.Context, pgx.Tx) {
	t.Helper()
	tx := pgtest.TestTx(t)
	workers := river.NewWorkers()
	river.AddWorker(workers, provisioner.NewWorker(provisioner.WorkerOpts{}))
	// A pool-less client: its InsertTx works inside the test's transaction.
	rc, err := river.NewClient(riverpgxv5.New(nil), &river.Config{Workers: workers})
	require.NoError(t, err)
	profiles := provisioner.DefaultProfiles()
	s := &Server{tenants: tenants.NewService(tenants.ServiceOpts{
		DB: tx, Enqueuer: &provisioner.Enqueuer{Client: rc},
		Environments: profiles.Environments(), DefaultEnvironments: profiles.Defaults(),
	})}
	return s, auth.WithActor(context.Background(), auth.SystemActor("tx-test")), tx
}

func TestEndpointsInATransaction(t *testing.T) {
	t.Parallel()

	t.Run("CreateThenGetThenDisableTooEarly", func(t *testing.T) {
		t.Parallel()
		s, ctx, tx := txServer(t)
		create := &createTenantRequest{}
		create.Body.ExternalID, create.Body.Name = "in-tx", "In a transaction"
		created, err := s.createTenant(ctx, create)
		require.NoError(t, err)
		require.Equal(t, http.StatusAccepted, created.statusCode())
		require.Equal(t, tenants.StatePending, created.State)
		require.Equal(t, []string{"development", "staging", "production"}, created.Environments)
		rivertest.RequireInsertedTx[*riverpgxv5.Driver](ctx, t, tx, &provisioner.ReconcileArgs{}, nil)

		got, err := s.getTenant(ctx, &getTenantRequest{externalIDParam{"in-tx"}})
		require.NoError(t, err)
		require.Equal(t, created.View.ExternalID, got.ExternalID)
		require.Len(t, got.Keysets, 3)
		for _, k := range got.Keysets {
			require.Equal(t, tenants.KeysetPending, k.State)
		}

		_, err = s.disableTenant(ctx, &reasonRequest{externalIDParam: externalIDParam{"in-tx"}})
		var refused *tenants.StateError
		require.ErrorAs(t, err, &refused)
		require.Equal(t, tenants.StatePending, refused.Current)
		p, ok := problemFor(s.mapError(err))
		require.True(t, ok)
		require.Equal(t, http.StatusConflict, p.Status)
		require.Equal(t, "invalid_state", p.Code)
	})

	t.Run("InvalidCreateNamesTheFields", func(t *testing.T) {
		t.Parallel()
		s, ctx, _ := txServer(t)
		create := &createTenantRequest{}
		create.Body.ExternalID, create.Body.Environments = "bad id", []string{"nowhere"}
		_, err := s.createTenant(ctx, create)
		p, ok := problemFor(s.mapError(err))
		require.True(t, ok)
		require.Equal(t, http.StatusUnprocessableEntity, p.Status)
		var fields []string
		for _, f := range p.Errors {
			fields = append(fields, f.Field)
		}
		require.ElementsMatch(t, []string{"externalId", "name", "environments[0]"}, fields)
	})
}
