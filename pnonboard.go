// Package pnonboard holds what belongs to the repository as a whole: the HTTP contract
// (openapi.yaml) and the database migrations, embedded so the binary is self-contained.
package pnonboard

import (
	_ "embed"
	"io/fs"
)

//go:embed openapi.yaml
var openAPI string

// OpenAPI returns the HTTP contract served at /openapi.yaml.
func OpenAPI() []byte { return []byte(openAPI) }

// Migrations returns the goose SQL migrations (River's schema is added by internal/postgres).
func Migrations() fs.FS { return nil }
