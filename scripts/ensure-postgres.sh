#!/bin/sh
# Makes sure what `make run` and `make test` need from the system is installed:
#   - PostgreSQL server binaries (initdb, postgres): both start their own throwaway or dev
#     server from them. For test, TEST_DATABASE_URL makes them optional.
#   - for test, a headless-capable Chromium: the browser tests (cmd/server/console_test.go,
#     driven with chromedp) run it.
# What is missing is installed from Debian's packages (`postgresql`, `chromium`) when we may
# (root with apt-get); `apt-get update` runs only when an install cannot be made from the lists
# already there. Otherwise it says how. When everything is there it only looks, and exits 0.
# A missing PostgreSQL that cannot be installed fails the run. A missing Chromium that cannot be
# installed is a warning (the browser tests skip), except under CI=true, where it fails too:
# there the browser tests must run.
# Usage: ensure-postgres.sh run|test
set -eu
purpose=${1:-run}

pg_found() {
	dir=$(pg_config --bindir 2>/dev/null || true)
	if [ -n "$dir" ] && [ -x "$dir/initdb" ] && [ -x "$dir/postgres" ]; then return 0; fi
	for dir in /usr/lib/postgresql/*/bin; do
		if [ -x "$dir/initdb" ] && [ -x "$dir/postgres" ]; then return 0; fi
	done
	return 1
}

# The names cmd/server/console_test.go looks for.
chromium_found() {
	for name in chromium chromium-browser google-chrome google-chrome-stable; do
		if command -v "$name" >/dev/null 2>&1; then return 0; fi
	done
	return 1
}

ci() {
	case "$(printf %s "${CI:-}" | tr 'A-Z' 'a-z')" in true | 1) return 0 ;; esac
	return 1
}

need_pg=false
if ! pg_found && ! { [ "$purpose" = test ] && [ -n "${TEST_DATABASE_URL:-}" ]; }; then need_pg=true; fi
need_chromium=false
if [ "$purpose" = test ] && ! chromium_found; then need_chromium=true; fi
if ! $need_pg && ! $need_chromium; then exit 0; fi

updated=false
# apt_install installs packages (with apt-get's own flags first), running apt-get update once,
# and only when the install fails from the lists already there.
apt_install() {
	if apt-get install -y -qq "$@" >&2 2>/dev/null; then return 0; fi
	if ! $updated; then
		apt-get update -qq >&2 || return 1
		updated=true
	fi
	apt-get install -y -qq "$@" >&2
}

if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
	export DEBIAN_FRONTEND=noninteractive
	if $need_pg; then
		echo "PostgreSQL server binaries not found; installing Debian's postgresql package..." >&2
		apt_install --no-install-recommends postgresql || true
		# Debian starts a system cluster on install; pnonboard never uses it.
		if command -v pg_ctlcluster >/dev/null 2>&1; then
			for v in $(ls /etc/postgresql 2>/dev/null); do pg_ctlcluster "$v" main stop 2>/dev/null || true; done
		fi
		if pg_found; then
			need_pg=false
		else
			echo "could not install postgresql, or still cannot find initdb and postgres" >&2
		fi
	fi
	if $need_chromium; then
		echo "Chromium not found; installing Debian's chromium package for the browser tests..." >&2
		apt_install chromium || true
		if chromium_found; then
			need_chromium=false
		else
			echo "could not install chromium, or still cannot find it on PATH" >&2
		fi
	fi
fi

status=0
if $need_pg; then
	cat >&2 <<'MSG'
PostgreSQL server binaries (initdb, postgres) are needed and were not found.
Install them, then run make again:
  Debian/Ubuntu:  sudo apt-get install postgresql
  Fedora:         sudo dnf install postgresql-server
  macOS:          brew install postgresql@15
Or point the tests at an existing server: export TEST_DATABASE_URL=postgres://user:pass@host:5432/postgres
MSG
	status=1
fi
if $need_chromium; then
	cat >&2 <<'MSG'
Chromium is needed for the browser tests (the support console, /docs) and was not found.
Install it, then run make test again:
  Debian/Ubuntu:  sudo apt-get install chromium
  Fedora:         sudo dnf install chromium
  macOS:          brew install --cask chromium
Without it those tests skip (and fail under CI=true).
MSG
	if ci; then status=1; fi
fi
exit $status
