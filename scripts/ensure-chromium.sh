#!/bin/sh
# Makes sure a headless-capable Chromium is installed for the browser tests (cmd/server/console_test.go,
# driven with chromedp). Installs Debian's `chromium` package when it is missing and we may (root
# with apt-get), as ensure-postgres.sh does for PostgreSQL; apt-get update runs only when the
# package cannot be installed from the lists already there. Otherwise it says how.
# Without Chromium the browser tests skip locally; under CI=true they fail, and so does this script.
set -eu

found() {
	for name in chromium chromium-browser google-chrome google-chrome-stable; do
		if command -v "$name" >/dev/null 2>&1; then return 0; fi
	done
	return 1
}

ci() {
	case "$(printf %s "${CI:-}" | tr 'A-Z' 'a-z')" in true | 1) return 0 ;; esac
	return 1
}

if found; then exit 0; fi

if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
	echo "Chromium not found; installing Debian's chromium package for the browser tests..." >&2
	export DEBIAN_FRONTEND=noninteractive
	if ! apt-get install -y -qq chromium >&2 2>/dev/null; then
		apt-get update -qq >&2
		apt-get install -y -qq chromium >&2
	fi
	if found; then exit 0; fi
	echo "installed chromium, but still cannot find it on PATH" >&2
	exit 1
fi

cat >&2 <<'MSG'
Chromium is needed for the browser tests (the support console, /docs) and was not found.
Install it, then run make test again:
  Debian/Ubuntu:  sudo apt-get install chromium
  Fedora:         sudo dnf install chromium
  macOS:          brew install --cask chromium
Without it those tests skip (and fail under CI=true).
MSG
if ci; then exit 1; fi
exit 0
