#!/bin/sh
# Makes sure PostgreSQL server binaries (initdb, postgres) are installed: `make run` and
# `make test` start their own throwaway or dev server from them. Installs Debian's
# `postgresql` package when they are missing and we may (root with apt-get); otherwise says how.
# Usage: ensure-postgres.sh run|test  (for test, TEST_DATABASE_URL makes the binaries optional)
set -eu
purpose=${1:-run}

found() {
	dir=$(pg_config --bindir 2>/dev/null || true)
	if [ -n "$dir" ] && [ -x "$dir/initdb" ] && [ -x "$dir/postgres" ]; then return 0; fi
	for dir in /usr/lib/postgresql/*/bin; do
		if [ -x "$dir/initdb" ] && [ -x "$dir/postgres" ]; then return 0; fi
	done
	return 1
}

if found; then exit 0; fi
if [ "$purpose" = test ] && [ -n "${TEST_DATABASE_URL:-}" ]; then exit 0; fi # tests use that server

if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
	echo "PostgreSQL server binaries not found; installing Debian's postgresql package..." >&2
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq >&2
	apt-get install -y -qq --no-install-recommends postgresql >&2
	# Debian starts a system cluster on install; pnonboard never uses it.
	if command -v pg_ctlcluster >/dev/null 2>&1; then
		for v in $(ls /etc/postgresql 2>/dev/null); do pg_ctlcluster "$v" main stop 2>/dev/null || true; done
	fi
	if found; then exit 0; fi
	echo "installed postgresql, but still cannot find initdb and postgres" >&2
	exit 1
fi

cat >&2 <<'MSG'
PostgreSQL server binaries (initdb, postgres) are needed and were not found.
Install them, then run make again:
  Debian/Ubuntu:  sudo apt-get install postgresql
  Fedora:         sudo dnf install postgresql-server
  macOS:          brew install postgresql@15
Or point the tests at an existing server: export TEST_DATABASE_URL=postgres://user:pass@host:5432/postgres
MSG
exit 1
