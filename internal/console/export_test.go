package console

import "github.com/pnonboard/pnonboard/internal/tenants"

// FormatNumber is formatNumber, for the external tests.
func FormatNumber(n float64) string { return formatNumber(n) }

// Advice is advice, for the external tests.
func Advice(t *tenants.Tenant) string { return advice(t) }
