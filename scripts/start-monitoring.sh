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
# serverless-offline (`npm start`). Ctrl-C stops everything this launcher started, and nothing else.
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
LOG_NAME=stack
READY_TIMEOUT="${READY_TIMEOUT:-60}"
# serverless-offline bundles every function with esbuild before it answers.
API_READY_TIMEOUT="${API_READY_TIMEOUT:-300}"
# shellcheck source=scripts/stack/proc.sh
. "$REPO_ROOT/scripts/stack/proc.sh"

export HTTP_PORT="${HTTP_PORT:-3000}" LAMBDA_PORT="${LAMBDA_PORT:-3002}"
export NGINX_PORT="${NGINX_PORT:-8080}"
export POSTGRES_PORT="${POSTGRES_PORT:-5432}" REDIS_PORT="${REDIS_PORT:-6379}"
export PUSHGATEWAY_PORT="${PUSHGATEWAY_PORT:-9091}" PROMETHEUS_PORT="${PROMETHEUS_PORT:-9090}"
export ALERTMANAGER_PORT="${ALERTMANAGER_PORT:-9093}" POSTGRES_EXPORTER_PORT="${POSTGRES_EXPORTER_PORT:-9187}"
export REDIS_EXPORTER_PORT="${REDIS_EXPORTER_PORT:-9121}" NODE_EXPORTER_PORT="${NODE_EXPORTER_PORT:-9100}"
PORT_VARS=(HTTP_PORT LAMBDA_PORT NGINX_PORT POSTGRES_PORT REDIS_PORT PUSHGATEWAY_PORT PROMETHEUS_PORT
  ALERTMANAGER_PORT POSTGRES_EXPORTER_PORT REDIS_EXPORTER_PORT NODE_EXPORTER_PORT)

STACK_DIR="${STACK_DIR:-$REPO_ROOT/.stack}"
RUN_DIR="$STACK_DIR/run"
LOG_DIR="$STACK_DIR/logs"
PG_DATA="$STACK_DIR/postgres"
DATABASE_URL="postgres://postgres@127.0.0.1:$POSTGRES_PORT/shop"

# Stop order: the edge and the API first, the databases last. (Postgres is not in the list: pg_ctl.)
SERVICES=(nginx api node-exporter redis-exporter postgres-exporter alertmanager prometheus pushgateway redis)

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

# --- without Docker: checks ----------------------------------------------------------------------------

check_binaries() {
  local missing=() tool pkg pg
  pg="$(find_pg_bin)" || missing+=(postgresql)
  for pkg in redis-server:redis-server prometheus-pushgateway:prometheus-pushgateway prometheus:prometheus \
    promtool:prometheus prometheus-alertmanager:prometheus-alertmanager amtool:prometheus-alertmanager \
    prometheus-postgres-exporter:prometheus-postgres-exporter prometheus-redis-exporter:prometheus-redis-exporter \
    prometheus-node-exporter:prometheus-node-exporter curl:curl; do
    tool="${pkg%%:*}"
    command -v "$tool" >/dev/null || missing+=("${pkg#*:}")
  done
  ((${#missing[@]} == 0)) || die "missing Debian packages: apt-get install $(printf '%s\n' "${missing[@]}" | sort -u | tr '\n' ' ')"
  PG_BIN="$pg"
  HAVE_NGINX=0
  if command -v nginx >/dev/null; then HAVE_NGINX=1; else log "nginx is not installed: no edge, the API answers on :$HTTP_PORT"; fi
}

check_ports() {
  local var taken=()
  for var in "${PORT_VARS[@]}"; do
    [[ "${!var}" =~ ^[0-9]+$ ]] || die "$var must be a port number: ${!var}"
  done
  [[ "$(for var in "${PORT_VARS[@]}"; do echo "${!var}"; done | sort -u | wc -l)" -eq ${#PORT_VARS[@]} ]] ||
    die "the ports must differ: $(for var in "${PORT_VARS[@]}"; do printf '%s=%s ' "$var" "${!var}"; done)"
  for var in "${PORT_VARS[@]}"; do
    [[ "$var" == NGINX_PORT && $HAVE_NGINX -eq 0 ]] && continue
    port_in_use "${!var}" && taken+=("$var=${!var}")
  done
  ((${#taken[@]} == 0)) || die "ports already in use on 127.0.0.1: ${taken[*]} (stop what holds them, or set other ports)"
}

# A launcher killed without its trap leaves its servers running: say so rather than start a second set.
check_not_running() {
  local name
  for name in "${SERVICES[@]}"; do
    bg_running "$RUN_DIR/$name.pid" &&
      die "$name from an earlier start is still running (pid $(head -n 1 "$RUN_DIR/$name.pid")); stop it with: bash scripts/start-monitoring.sh stop"
  done
  pg_running && die "postgres in $PG_DATA is still running; stop it with: bash scripts/start-monitoring.sh stop"
  return 0
}

# --- without Docker: services --------------------------------------------------------------------------

# Start a server in the background and wait for its HTTP readiness path. $1 name, $2 port, $3 path, then
# the command.
run_service() {
  local name="$1" port="$2" path="$3"
  shift 3
  log "starting $name on 127.0.0.1:$port"
  start_bg "$LOG_DIR/$name.log" "$RUN_DIR/$name.pid" "$@"
  wait_http "$name" "$RUN_DIR/$name.pid" "$LOG_DIR/$name.log" "$port" "$path"
}

pg_running() {
  [[ -f "$PG_DATA/PG_VERSION" ]] && as_pg "$PG_BIN/pg_ctl" status -D "$PG_DATA" >/dev/null 2>&1
}

start_postgres() {
  mkdir -p "$PG_DATA"
  [[ $IS_ROOT -eq 1 ]] && chown postgres:postgres "$PG_DATA" && chmod 700 "$PG_DATA"
  if [[ ! -f "$PG_DATA/PG_VERSION" ]]; then
    log "postgres: new cluster in $PG_DATA"
    # A developer's loopback-only cluster: trust auth for 127.0.0.1, as in scripts/test-servers.sh.
    as_pg "$PG_BIN/initdb" -D "$PG_DATA" --username=postgres --auth=trust --encoding=UTF8 --locale=C \
      >"$LOG_DIR/initdb.log" 2>&1 || {
      log_tail "$LOG_DIR/initdb.log"
      die "initdb failed"
    }
  fi
  log "starting postgres on 127.0.0.1:$POSTGRES_PORT"
  touch "$LOG_DIR/postgres.log"
  [[ $IS_ROOT -eq 1 ]] && chown postgres "$LOG_DIR/postgres.log"
  # Port and addresses on the command line, so that another POSTGRES_PORT works on the same data; TCP only.
  as_pg "$PG_BIN/pg_ctl" start -D "$PG_DATA" -l "$LOG_DIR/postgres.log" -w -t "$READY_TIMEOUT" \
    -o "-p $POSTGRES_PORT -c listen_addresses=127.0.0.1 -c unix_socket_directories=''" >/dev/null || {
    log_tail "$LOG_DIR/postgres.log"
    die "postgres did not start"
  }
  if [[ -z "$("$PG_BIN/psql" "postgres://postgres@127.0.0.1:$POSTGRES_PORT/postgres" -tAc \
    "SELECT 1 FROM pg_database WHERE datname = 'shop'")" ]]; then
    "$PG_BIN/createdb" -h 127.0.0.1 -p "$POSTGRES_PORT" -U postgres shop
  fi
}

stop_postgres() {
  pg_running || return 0
  log "stopping postgres"
  as_pg "$PG_BIN/pg_ctl" stop -D "$PG_DATA" -m fast -w -t 30 >/dev/null ||
    as_pg "$PG_BIN/pg_ctl" stop -D "$PG_DATA" -m immediate -w -t 10 >/dev/null || true
}

start_redis() {
  mkdir -p "$STACK_DIR/redis"
  log "starting redis on 127.0.0.1:$REDIS_PORT"
  start_bg "$LOG_DIR/redis.log" "$RUN_DIR/redis.pid" redis-server --port "$REDIS_PORT" --bind 127.0.0.1 \
    --dir "$STACK_DIR/redis" --appendonly yes --save ''
  local i
  for ((i = 0; i < READY_TIMEOUT * 10; i++)); do
    [[ "$(redis-cli -h 127.0.0.1 -p "$REDIS_PORT" ping 2>/dev/null)" == PONG ]] && return 0
    sleep 0.1
  done
  log_tail "$LOG_DIR/redis.log"
  die "redis not ready on 127.0.0.1:$REDIS_PORT"
}

render_configs() {
  node scripts/stack/render.ts "$RUN_DIR" >/dev/null || die "could not render the configs from monitoring/"
  promtool check config "$RUN_DIR/prometheus.yml" >"$LOG_DIR/promtool.log" 2>&1 || {
    log_tail "$LOG_DIR/promtool.log"
    die "invalid $RUN_DIR/prometheus.yml (rendered from monitoring/prometheus.yml)"
  }
  amtool check-config "$RUN_DIR/alertmanager.yml" >"$LOG_DIR/amtool.log" 2>&1 || {
    log_tail "$LOG_DIR/amtool.log"
    die "invalid $RUN_DIR/alertmanager.yml (rendered from monitoring/alertmanager.yml)"
  }
  if [[ $HAVE_NGINX -eq 1 ]]; then
    nginx -t -q -c "$RUN_DIR/nginx.conf" -e "$RUN_DIR/nginx/error.log" >"$LOG_DIR/nginx-t.log" 2>&1 || {
      log_tail "$LOG_DIR/nginx-t.log"
      die "invalid $RUN_DIR/nginx.conf (rendered from monitoring/nginx/nginx.conf)"
    }
  fi
}

start_local() {
  run_service pushgateway "$PUSHGATEWAY_PORT" /-/ready prometheus-pushgateway \
    --web.listen-address="127.0.0.1:$PUSHGATEWAY_PORT" --persistence.file="$STACK_DIR/pushgateway.db" \
    --web.enable-admin-api --web.enable-lifecycle
  run_service prometheus "$PROMETHEUS_PORT" /-/ready prometheus --config.file="$RUN_DIR/prometheus.yml" \
    --storage.tsdb.path="$STACK_DIR/prometheus" --web.listen-address="127.0.0.1:$PROMETHEUS_PORT" \
    --web.enable-lifecycle
  # No cluster: a single Alertmanager needs no gossip port.
  run_service alertmanager "$ALERTMANAGER_PORT" /-/ready prometheus-alertmanager \
    --config.file="$RUN_DIR/alertmanager.yml" --storage.path="$STACK_DIR/alertmanager" \
    --web.listen-address="127.0.0.1:$ALERTMANAGER_PORT" --cluster.listen-address=
  DATA_SOURCE_NAME="postgresql://postgres@127.0.0.1:$POSTGRES_PORT/shop?sslmode=disable" \
    run_service postgres-exporter "$POSTGRES_EXPORTER_PORT" /metrics prometheus-postgres-exporter \
    --web.listen-address="127.0.0.1:$POSTGRES_EXPORTER_PORT"
  run_service redis-exporter "$REDIS_EXPORTER_PORT" /metrics prometheus-redis-exporter \
    -redis.addr="redis://127.0.0.1:$REDIS_PORT" -web.listen-address="127.0.0.1:$REDIS_EXPORTER_PORT"
  run_service node-exporter "$NODE_EXPORTER_PORT" /metrics prometheus-node-exporter \
    --web.listen-address="127.0.0.1:$NODE_EXPORTER_PORT" --no-collector.textfile

  # What `npm start` runs (without npm, whose process title would not be "node"): it migrates and seeds
  # the database, then runs serverless-offline. The bundles go to a folder of their own, so that tests or
  # another `npm start` in this checkout never rebuild them under the stack.
  DATABASE_URL="$DATABASE_URL" REDIS_URL="redis://127.0.0.1:$REDIS_PORT" \
    PUSHGATEWAY_URL="http://127.0.0.1:$PUSHGATEWAY_PORT" ESBUILD_WORK_FOLDER=.stack/esbuild \
    READY_TIMEOUT="$API_READY_TIMEOUT" run_service api "$HTTP_PORT" /healthz node scripts/start.ts
  if [[ $HAVE_NGINX -eq 1 ]]; then
    run_service nginx "$NGINX_PORT" /healthz nginx -c "$RUN_DIR/nginx.conf" -e "$RUN_DIR/nginx/error.log" \
      -g 'daemon off;'
  fi
}

# Lines "job url health error" for every active target not up (none once all are scraped).
targets_not_up() {
  # shellcheck disable=SC2016 # JavaScript, not shell
  curl -fsS --max-time 2 "http://127.0.0.1:$PROMETHEUS_PORT/api/v1/targets?state=active" | node -e '
    let s = ""; process.stdin.on("data", (d) => (s += d)).on("end", () => {
      const targets = JSON.parse(s).data.activeTargets;
      if (targets.length === 0) console.log("no targets yet");
      for (const t of targets) if (t.health !== "up") console.log(`${t.labels.job} ${t.scrapeUrl} ${t.health} ${t.lastError}`);
    });'
}

wait_for_targets() {
  local i down
  for ((i = 0; i < READY_TIMEOUT; i++)); do
    down="$(targets_not_up 2>&1)" && [[ -z "$down" ]] && return 0
    sleep 1
  done
  die "Prometheus targets not up after ${READY_TIMEOUT}s:"$'\n'"$down"
}

print_urls() {
  local edge="" base="http://127.0.0.1:$HTTP_PORT"
  if [[ $HAVE_NGINX -eq 1 ]]; then
    edge="  shop through the nginx edge   http://127.0.0.1:$NGINX_PORT"$'\n'
    base="http://127.0.0.1:$NGINX_PORT"
  fi
  cat <<EOF

serverless-shop stack is up (local binaries, data in ${STACK_DIR#"$REPO_ROOT"/}/, logs in ${LOG_DIR#"$REPO_ROOT"/}/):
${edge}  API (serverless-offline)      http://127.0.0.1:$HTTP_PORT      (curl $base/api/products?limit=3)
  Prometheus                    http://127.0.0.1:$PROMETHEUS_PORT      (/targets, /alerts, /rules)
  Pushgateway                   http://127.0.0.1:$PUSHGATEWAY_PORT
  Alertmanager                  http://127.0.0.1:$ALERTMANAGER_PORT
  exporters                     http://127.0.0.1:$POSTGRES_EXPORTER_PORT/metrics (postgres)  http://127.0.0.1:$REDIS_EXPORTER_PORT/metrics (redis)  http://127.0.0.1:$NODE_EXPORTER_PORT/metrics (node)
  Postgres                      $DATABASE_URL
  Redis                         redis://127.0.0.1:$REDIS_PORT
Grafana is not part of the local stack: import monitoring/grafana/dashboards/*.json into a Grafana whose
Prometheus datasource (uid "prometheus") points at http://127.0.0.1:$PROMETHEUS_PORT, or use Docker
(docker-compose.full.yml brings Grafana with them provisioned).
Traffic: npm run traffic -- --base-url $base --duration 60
Ctrl-C stops everything.
EOF
}

# --- without Docker: stop ------------------------------------------------------------------------------

STOPPING=0
stop_all() {
  ((STOPPING == 0)) || return 0
  STOPPING=1
  local name
  for name in "${SERVICES[@]}"; do
    # The API runs npx and serverless-offline under it: the whole process group goes.
    if [[ "$name" == api ]]; then stop_bg "$RUN_DIR/api.pid" api group; else stop_bg "$RUN_DIR/$name.pid" "$name"; fi
  done
  stop_postgres
}

# Returns when a server has died, naming it.
watch_services() {
  local name
  while true; do
    for name in "${SERVICES[@]}"; do
      [[ -f "$RUN_DIR/$name.pid" ]] || continue
      bg_running "$RUN_DIR/$name.pid" || {
        log_tail "$LOG_DIR/$name.log"
        log "ERROR: $name exited"
        return 0
      }
    done
    pg_running || {
      log_tail "$LOG_DIR/postgres.log"
      log "ERROR: postgres exited"
      return 0
    }
    # In the background, so that a signal is handled at once rather than after the sleep.
    sleep 2 &
    wait $! || true
  done
}

local_stack() {
  check_binaries
  mkdir -p "$RUN_DIR" "$LOG_DIR"
  check_not_running
  check_ports
  render_configs

  # From here on, whatever happens, what was started is stopped.
  trap 'stop_all' EXIT
  trap 'log "interrupted"; exit 130' INT
  trap 'log "terminated"; exit 143' TERM
  start_postgres
  start_redis
  start_local
  log "waiting for Prometheus to scrape every target"
  wait_for_targets
  print_urls
  watch_services
  exit 1
}

case "${1:-}" in
  stop)
    mkdir -p "$RUN_DIR"
    PG_BIN="$(find_pg_bin)" || die "no PostgreSQL binaries found"
    stop_all
    ;;
  "")
    if [[ "${STACK_MODE:-auto}" != local ]] && command -v docker >/dev/null && docker info >/dev/null 2>&1; then
      compose_stack
    else
      local_stack
    fi
    ;;
  *)
    echo "usage: $0 [stop]" >&2
    exit 2
    ;;
esac
