#!/usr/bin/env bash
# Checks the toolchain both commands need and names what is missing or too
# old, with the fix. Debian's own packages are too old for some of it (Go,
# and Node.js on Debian 12), so these are not installed automatically.
set -euo pipefail
fail=0
ver_ge() { [ "$(printf '%s\n%s\n' "$2" "$1" | sort -V | head -n1)" = "$2" ]; }

want_go=$(awk '/^go /{print $2; exit}' "$(dirname "$0")/../go.mod")
if ! command -v go >/dev/null; then
  echo "custos: Go $want_go or newer is required (https://go.dev/dl/), and 'go' must be on PATH" >&2
  fail=1
else
  have_go=$(go env GOVERSION | sed 's/^go//')
  if ! ver_ge "$have_go" "$want_go"; then
    echo "custos: Go $want_go or newer is required; found $have_go (https://go.dev/dl/)" >&2
    fail=1
  fi
fi
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  echo "custos: Node.js 20 or newer with npm is required (Debian: apt-get install nodejs npm on Debian 13; NodeSource for Debian 12)" >&2
  fail=1
else
  have_node=$(node --version | sed 's/^v//')
  if ! ver_ge "$have_node" "20"; then
    echo "custos: Node.js 20 or newer is required (Vite 8); found $have_node" >&2
    fail=1
  fi
fi
exit $fail
