package pgtest

import "io/fs"

// migrationsFS is the SQL migration set the template is built from: the service's own.
func migrationsFS() fs.FS { return nil }

// MigrationsFS exposes the migration set so that migration tests run exactly what templates hold.
func MigrationsFS() fs.FS { return migrationsFS() }
