#!/usr/bin/env bash
# The run command: builds everything and starts Custos on the embedded SQLite
# database in ./data with demo data. Prints the URL and the demo logins.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/check-tools.sh
scripts/build-web.sh
go build -o bin/custos ./cmd/custos
DATA="${CUSTOS_DATA:-./data}"
bin/custos demo --data "$DATA"
exec bin/custos serve --data "$DATA" "$@"
