package console

// FormatNumber is formatNumber, for the external tests.
func FormatNumber(n float64) string { return formatNumber(n) }
