package tokens

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/pnonboard/pnonboard/internal/postgres"
	"github.com/pnonboard/pnonboard/internal/secrets"
)

// LatestSealedToken returns the token granted most recently, sealed, for the start-up check
// of the encryption key (secrets.CheckKeyring); ok is false when no token is stored.
func LatestSealedToken(ctx context.Context, db postgres.DBTX) (secrets.Sample, bool, error) {
	var id, hash string
	var tenantID int64
	var sealed []byte
	err := db.QueryRow(ctx, `SELECT id, tenant_id, token_hash, token_sealed FROM issued_tokens ORDER BY created_at DESC LIMIT 1`).
		Scan(&id, &tenantID, &hash, &sealed)
	if errors.Is(err, pgx.ErrNoRows) {
		return secrets.Sample{}, false, nil
	}
	if err != nil {
		return secrets.Sample{}, false, fmt.Errorf("read a sealed access token: %w", err)
	}
	return secrets.Sample{What: fmt.Sprintf("the Access Manager token %s of tenant %d", id, tenantID), Sealed: sealed, AAD: TokenAAD(tenantID, hash)}, true, nil
}
