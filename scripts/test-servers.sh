#!/usr/bin/env bash
# Throwaway PostgreSQL, Redis, Prometheus Pushgateway and Prometheus for the test suite (local runs and CI):
#
#   eval "$(bash scripts/test-servers.sh start <dir>)"   # exports DATABASE_URL, REDIS_URL, PUSHGATEWAY_URL,
#   bash scripts/test-servers.sh stop <dir>              # PROMETHEUS_URL and PROMTOOL
#
# The servers are started by scripts/servers/cli.ts (what it does, the ports and their environment variables
# are described there); this name stays for .ci/run and the habits of whoever runs the tests.
set -euo pipefail
# The launcher is TypeScript, which node runs as is from version 24 (.ci/run puts one on PATH).
major="$(node --version 2>/dev/null | sed -E 's/^v([0-9]+).*/\1/')" || true
if ! [[ "$major" =~ ^[0-9]+$ ]] || ((major < 24)); then
  echo "test-servers: node >= 24 is needed on PATH (found: ${major:-none})" >&2
  exit 1
fi
exec node "$(dirname "${BASH_SOURCE[0]}")/servers/cli.ts" "$@"
