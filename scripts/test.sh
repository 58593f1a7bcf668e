#!/usr/bin/env bash
# The test command. Installs what the tests need when it is missing (Debian
# packages when root: PostgreSQL, NATS server, Chromium, fonts), builds the web assets,
# starts a throwaway PostgreSQL on a loopback port, then runs every test:
# go vet, the Go tests on SQLite and PostgreSQL, a short fuzz run, the web
# unit tests and the browser end-to-end tests. Stops what it started.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
FUZZTIME=${FUZZTIME:-15s}
log() { printf '\n==> %s\n' "$*"; }

# --- 1. Dependencies ----------------------------------------------------------
need=()
pg_bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n1 || true)
{ command -v initdb >/dev/null || [ -n "$pg_bin" ]; } || need+=(postgresql)
[ -x /usr/bin/chromium ] || need+=(chromium)
fc-list 2>/dev/null | grep -qi "noto sans cjk" || need+=(fonts-noto-cjk)
fc-list 2>/dev/null | grep -qi "thai" || need+=(fonts-thai-tlwg)
command -v node >/dev/null || need+=(nodejs npm)
{ [ -x /usr/sbin/nats-server ] || command -v nats-server >/dev/null; } || need+=(nats-server)
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then
    log "installing ${need[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
  else
    echo "missing: ${need[*]} (run as root to install them, or install them yourself)" >&2
    exit 1
  fi
fi

scripts/check-tools.sh

# --- 2. Web assets -------------------------------------------------------------
log "building web assets"
scripts/build-web.sh

# --- 3. PostgreSQL ---------------------------------------------------------------
PGDIR=$(mktemp -d /tmp/custos-pg.XXXXXX)
PGPORT=${CUSTOS_TEST_PG_PORT:-55432}
cleanup() { scripts/pg-test-server.sh stop "$PGDIR" >/dev/null 2>&1 || true; rm -rf "$PGDIR"; }
trap cleanup EXIT
log "starting PostgreSQL on 127.0.0.1:$PGPORT"
export CUSTOS_TEST_PG
CUSTOS_TEST_PG=$(scripts/pg-test-server.sh start "$PGDIR" "$PGPORT" | tail -n1)
export CUSTOS_TEST_REQUIRE_PG=1
# The multi-node tests start their own nats-server on a free loopback port;
# here they must run, not skip.
export CUSTOS_TEST_REQUIRE_NATS=1

# --- 4. Go -----------------------------------------------------------------------
log "go vet"
go vet ./...
unformatted=$(gofmt -l cmd internal)
if [ -n "$unformatted" ]; then echo "gofmt needed: $unformatted" >&2; exit 1; fi

log "go test (SQLite and PostgreSQL)"
go test -count=1 -timeout 15m ./... 2>&1 | tee /tmp/custos-go-test.log

log "go test -race (concurrency-heavy packages)"
go test -race -count=1 -timeout 10m ./internal/store/ ./internal/realtime/... ./internal/chat/ ./internal/tickets/ ./internal/auth/

log "fuzz FuzzCreateTicket for $FUZZTIME"
go test -run='^$' -fuzz='^FuzzCreateTicket$' -fuzztime="$FUZZTIME" ./internal/httpapi/

# --- 5. Web unit tests and browser tests ----------------------------------------------
log "web unit tests"
(cd web/widget && npm test --silent)
(cd web/console && npm test --silent)

log "browser end-to-end tests (Chromium)"
go build -o bin/custos ./cmd/custos
if [ ! -d e2e/node_modules ] || [ e2e/package-lock.json -nt e2e/node_modules/.package-lock.json ]; then
  (cd e2e && npm ci --no-audit --no-fund --loglevel=error)
fi
(cd e2e && CUSTOS_BIN="$ROOT/bin/custos" node --test --test-concurrency=1 --test-timeout=180000 tests/)

log "all tests passed"
