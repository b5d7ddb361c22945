#!/usr/bin/env bash
# Installs the JS driver's pinned packages (npm ci) when they are missing or
# older than package-lock.json; a no-op otherwise, so `make test` can call it
# every time. npm's cache makes a re-install cheap.
set -euo pipefail
cd "$(dirname "$0")"
stamp=node_modules/.reactor-harness-lock.sha256
want=$(sha256sum package-lock.json | cut -d' ' -f1)
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
  exit 0
fi
echo "drivers/js: npm ci (package-lock.json changed or node_modules missing)"
npm ci --no-audit --no-fund
echo "$want" > "$stamp"
