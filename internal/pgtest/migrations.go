package pgtest

import (
	"io/fs"

	"github.com/pnonboard/pnonboard"
)

// migrationsFS is the SQL migration set the template is built from: the service's own.
func migrationsFS() fs.FS { return pnonboard.Migrations() }
