#!/usr/bin/env bash
# Builds the agent console and the customer widget and copies the output into
# internal/webui/dist so `go build` embeds them. Skips npm ci when
# node_modules is already in step with package-lock.json.
set -euo pipefail
cd "$(dirname "$0")/.."
for app in console widget; do
  dir="web/$app"
  [ -f "$dir/package.json" ] || { echo "build-web: $dir missing" >&2; exit 1; }
  if [ ! -d "$dir/node_modules" ] || [ "$dir/package-lock.json" -nt "$dir/node_modules/.package-lock.json" ]; then
    (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error)
  fi
  (cd "$dir" && npm run --silent build)
  out="internal/webui/dist/$app"
  find "$out" -mindepth 1 ! -name .keep -delete
  cp -r "$dir/dist/." "$out/"
done
cp web/widget/demo.html web/widget/demo.js internal/webui/dist/widget/
echo "build-web: console and widget built into internal/webui/dist"
