#!/usr/bin/env bash
# The whole serverless-shop stack on this machine (`npm run stack`): the API, its databases, the
# Pushgateway, Prometheus with the rules, Alertmanager, the exporters and the nginx edge.
#
#   scripts/start-monitoring.sh          # start, print the URLs, run until Ctrl-C (or SIGTERM)
#   scripts/start-monitoring.sh stop     # stop what a launcher that was killed left running
#
# With a Docker engine (`docker info` succeeds): docker-compose.full.yml, brought up and followed; Ctrl-C
# stops the containers (volumes stay). Without one (or STACK_MODE=local): the same services from the
# Debian packages on 127.0.0.1, with configs rendered from monitoring/ by scripts/stack/render.ts, then
# serverless-offline (`npm start`), all started by scripts/stack/local.ts through scripts/servers/ (the module
# the test servers, the bench and the load run start theirs with). Ctrl-C stops everything this launcher
# started, and nothing else.
#
# Local ports (environment overrides; the defaults are the compose ports):
#   HTTP_PORT 3000 (API, serverless-offline; LAMBDA_PORT 3002)   NGINX_PORT 8080 (edge, if nginx is installed)
#   POSTGRES_PORT 5432   REDIS_PORT 6379   PUSHGATEWAY_PORT 9091   PROMETHEUS_PORT 9090   ALERTMANAGER_PORT 9093
#   POSTGRES_EXPORTER_PORT 9187   REDIS_EXPORTER_PORT 9121   NODE_EXPORTER_PORT 9100
# A port already taken is refused before anything starts.
#
# Data survives restarts in STACK_DIR (default .stack/, gitignored): Postgres, Redis (append-only file),
# the Pushgateway's persistence file, Prometheus's TSDB, Alertmanager's silences; logs in .stack/logs/.
# Delete .stack/ for a fresh start.
set -euo pipefail

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)"
cd "$REPO_ROOT"

log() { printf 'stack: %s\n' "$*"; }

# --- with Docker ---------------------------------------------------------------------------------------

compose_stack() {
  COMPOSE=(docker compose -f docker-compose.full.yml)
  docker compose version >/dev/null 2>&1 || COMPOSE=(docker-compose -f docker-compose.full.yml)
  # Also when `up` fails: a half-started stack is stopped (`docker compose logs` still shows why).
  trap '[[ -n "${LOGS_PID:-}" ]] && kill "$LOGS_PID" 2>/dev/null; log "stopping the containers"; "${COMPOSE[@]}" stop' EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM
  if [[ "${COMPOSE[0]}" == docker ]]; then
    "${COMPOSE[@]}" up -d --build --wait
  else
    log "docker-compose v1 cannot wait for healthchecks; see \`docker-compose -f docker-compose.full.yml ps\`"
    "${COMPOSE[@]}" up -d --build
  fi
  cat <<EOF
serverless-shop stack is up (Docker):
  shop, through the nginx edge   http://127.0.0.1:8080
  Grafana                        http://127.0.0.1:3001   (admin / \$GF_SECURITY_ADMIN_PASSWORD, default admin: change it)
  Prometheus, Alertmanager and the gateway are on the internal network only: see them through Grafana.
Traffic: npm run traffic -- --base-url http://127.0.0.1:8080
Following the logs; Ctrl-C stops the containers.
EOF
  "${COMPOSE[@]}" logs -f --tail=0 &
  LOGS_PID=$!
  wait "$LOGS_PID"
}

case "${1:-}" in
  stop)
    exec node scripts/stack/local.ts stop
    ;;
  "")
    if [[ "${STACK_MODE:-auto}" != local ]] && command -v docker >/dev/null && docker info >/dev/null 2>&1; then
      compose_stack
    else
      exec node scripts/stack/local.ts
    fi
    ;;
  *)
    echo "usage: $0 [stop]" >&2
    exit 2
    ;;
esac
