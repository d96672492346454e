// Package pnonboard holds what belongs to the repository as a whole: the HTTP contract
// (openapi.yaml) and the database migrations, embedded so the binary is self-contained.
package pnonboard

import (
	"embed"
	"io/fs"
)

//go:embed openapi.yaml
var openAPI string

// OpenAPI returns the HTTP contract served at /openapi.yaml.
func OpenAPI() []byte { return []byte(openAPI) }

//go:embed migrations/*.sql
var migrations embed.FS

// Migrations returns the goose SQL migrations (River's schema is added by internal/postgres as
// version 1, so these start at 2).
func Migrations() fs.FS {
	sub, err := fs.Sub(migrations, "migrations")
	if err != nil {
		panic(err) // the directory is embedded at build time; it cannot be missing
	}
	return sub
}
