#!/usr/bin/env bash
# Throwaway PostgreSQL, Redis, Prometheus Pushgateway and Prometheus for the
# test suite (local runs and CI).
#
#   scripts/test-servers.sh start <dir>   # prints `export ...` lines on stdout
#   scripts/test-servers.sh stop  <dir>
#
#   eval "$(scripts/test-servers.sh start .ci/servers)"
#
# `start` exports DATABASE_URL, REDIS_URL, PUSHGATEWAY_URL, PROMETHEUS_URL and
# PROMTOOL.
#
# All state lives under <dir> (<dir>/pg, <dir>/redis, <dir>/pushgateway,
# <dir>/prometheus). `start` is safe to repeat: it first stops whatever a
# previous `start` left running in <dir>, wipes those directories and builds
# them anew. `stop` ignores servers that are already gone. All servers listen
# on 127.0.0.1 only. The Pushgateway keeps pushed metrics in memory only (no
# persistence file), so every `start` begins with an empty gateway.
#
# Prometheus scrapes the Pushgateway (honor_labels) and itself every second;
# its config is rendered from monitoring/prometheus.test.yml into
# <dir>/prometheus/prometheus.yml with the actual ports.
#
# Ports: POSTGRES_PORT (default 55432), REDIS_PORT (default 56379),
# PUSHGATEWAY_PORT (default 59091), PROMETHEUS_PORT (default 59090).
# Binaries come from the Debian packages `postgresql`, `redis-server`,
# `prometheus-pushgateway` and `prometheus` (which also ships promtool);
# they are installed with apt-get when missing, together with those the
# monitoring tests start themselves (alertmanager, exporters, nginx,
# docker-compose).
set -euo pipefail

# Only the export lines go to the real stdout (fd 3); everything else,
# including the output of every command run here, goes to stderr.
exec 3>&1 1>&2

# Process helpers shared with the local stack (log, die, as_pg, find_pg_bin, port_in_use, wait_gone,
# http_ok, log_tail, start_bg, wait_http).
LOG_NAME=test-servers
# shellcheck source=scripts/stack/proc.sh
. "$(dirname "${BASH_SOURCE[0]}")/stack/proc.sh"

usage() {
  echo "usage: $0 start|stop <dir>"
  exit 2
}

POSTGRES_PORT="${POSTGRES_PORT:-55432}"
REDIS_PORT="${REDIS_PORT:-56379}"
PUSHGATEWAY_PORT="${PUSHGATEWAY_PORT:-59091}"
PROMETHEUS_PORT="${PROMETHEUS_PORT:-59090}"
READY_TIMEOUT="${READY_TIMEOUT:-30}"
# Prefix of the fallback PostgreSQL directory (see prepare_pg_root).
PG_FALLBACK_PREFIX=/tmp/test-servers-pg.

# Repository root, from this script's own location (scripts/..).
REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)"
PROMETHEUS_TEMPLATE="$REPO_ROOT/monitoring/prometheus.test.yml"
# Addresses hardcoded in the template, replaced by the actual ports.
TEMPLATE_PUSHGATEWAY_ADDR=127.0.0.1:59091
TEMPLATE_PROMETHEUS_ADDR=127.0.0.1:59090


# --- binaries ---------------------------------------------------------------

# Debian packages whose binaries are missing (none when all are there).
missing_packages() {
  local bin tool pkg missing=()
  if ! bin="$(find_pg_bin)"; then
    missing+=(postgresql)
  else
    for tool in initdb pg_ctl pg_isready postgres createdb; do
      if [[ ! -x "$bin/$tool" ]]; then
        missing+=(postgresql)
        break
      fi
    done
  fi
  # tool:package (promtool ships with prometheus, amtool with alertmanager).
  # The monitoring tests also need Alertmanager, the exporters, nginx and
  # docker-compose (only for `docker-compose config`; there is no engine).
  for pkg in redis-server:redis-server redis-cli:redis-tools \
    prometheus-pushgateway:prometheus-pushgateway prometheus:prometheus \
    promtool:prometheus curl:curl \
    prometheus-alertmanager:prometheus-alertmanager amtool:prometheus-alertmanager \
    prometheus-node-exporter:prometheus-node-exporter \
    prometheus-postgres-exporter:prometheus-postgres-exporter \
    prometheus-redis-exporter:prometheus-redis-exporter \
    nginx:nginx docker-compose:docker-compose; do
    command -v "${pkg%%:*}" >/dev/null || missing+=("${pkg#*:}")
  done
  ((${#missing[@]} == 0)) || printf '%s\n' "${missing[@]}" | sort -u
}

ensure_binaries() {
  local missing
  missing="$(missing_packages)"
  [[ -n "$missing" ]] || return 0
  # shellcheck disable=SC2086 # one package name per word
  set -- $missing
  [[ $IS_ROOT -eq 1 ]] || die "missing packages and we are not root: apt-get install $*"
  log "installing $* with apt-get"
  apt-get update
  # --no-install-recommends: prometheus would otherwise pull in
  # prometheus-node-exporter and friends, which the tests do not need.
  DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "$@"
  missing="$(missing_packages)"
  [[ -z "$missing" ]] || die "still missing after apt-get install: $missing"
}

# --- helpers ----------------------------------------------------------------

# True if pid $1 is alive and its command name starts with $2.
pid_is() {
  local pid="$1" name="$2" comm
  [[ "$pid" =~ ^[0-9]+$ ]] || return 1
  comm="$(cat "/proc/$pid/comm" 2>/dev/null)" || return 1
  [[ "$comm" == "$name"* ]]
}

# --- paths ------------------------------------------------------------------

set_paths() {
  local dir="$1"
  DIR="$dir"
  PG_LINK="$DIR/pg"
  REDIS_DIR="$DIR/redis"
  REDIS_PID="$REDIS_DIR/redis.pid"
  REDIS_LOG="$REDIS_DIR/redis.log"
  PGW_DIR="$DIR/pushgateway"
  PGW_PID="$PGW_DIR/pushgateway.pid"
  PGW_LOG="$PGW_DIR/pushgateway.log"
  PROM_DIR="$DIR/prometheus"
  PROM_PID="$PROM_DIR/prometheus.pid"
  PROM_LOG="$PROM_DIR/prometheus.log"
  PROM_CONFIG="$PROM_DIR/prometheus.yml"
  PROM_DATA="$PROM_DIR/data"
  set_pg_paths
}

# PG_ROOT is <dir>/pg, or its target when it is a symlink (see
# prepare_pg_root): the postgres user may be unable to resolve <dir>/pg.
set_pg_paths() {
  PG_ROOT="$PG_LINK"
  if [[ -L "$PG_LINK" ]]; then
    PG_ROOT="$(readlink "$PG_LINK")"
  fi
  PG_DATA="$PG_ROOT/data"
  PG_RUN="$PG_ROOT/run"
  PG_LOG="$PG_ROOT/postgres.log"
}

# Create <dir>/pg owned by postgres. If the postgres user cannot reach
# <dir> (e.g. a checkout under /root, mode 700), put the cluster in a fresh
# directory under /tmp and make <dir>/pg a symlink to it.
prepare_pg_root() {
  mkdir -p "$PG_LINK"
  if [[ $IS_ROOT -eq 1 ]]; then
    chown postgres:postgres "$PG_LINK"
    chmod 700 "$PG_LINK"
    if ! as_pg test -w "$PG_LINK"; then
      local real
      real="$(mktemp -d "${PG_FALLBACK_PREFIX}XXXXXX")"
      log "user postgres cannot reach $PG_LINK; using $real (symlinked as $PG_LINK)"
      rmdir "$PG_LINK"
      chown postgres:postgres "$real"
      chmod 700 "$real"
      ln -s "$real" "$PG_LINK"
    fi
  fi
  set_pg_paths
}

wipe_pg_link() {
  local target
  target="$(readlink "$PG_LINK")"
  if [[ "$target" == "$PG_FALLBACK_PREFIX"* ]]; then
    rm -rf -- "$target"
  fi
  rm -f -- "$PG_LINK"
  set_pg_paths
}

wipe() {
  if [[ -L "$PG_LINK" ]]; then
    wipe_pg_link
  fi
  rm -rf -- "$PG_LINK" "$REDIS_DIR" "$PGW_DIR" "$PROM_DIR"
  set_pg_paths
}

# --- stop -------------------------------------------------------------------

stop_pg() {
  local pidfile="$PG_DATA/postmaster.pid" pid
  [[ -f "$pidfile" ]] || return 0
  pid="$(head -n 1 "$pidfile" 2>/dev/null || true)"
  if ! pid_is "$pid" postgres; then
    log "postgres in $PG_DATA is not running"
    return 0
  fi
  log "stopping postgres (pid $pid)"
  local bin
  if bin="$(find_pg_bin)" && [[ -x "$bin/pg_ctl" ]]; then
    as_pg "$bin/pg_ctl" stop -D "$PG_DATA" -m fast -w -t 30 ||
      as_pg "$bin/pg_ctl" stop -D "$PG_DATA" -m immediate -w -t 10 || true
  else
    kill -INT "$pid" 2>/dev/null || true # SIGINT = fast shutdown
  fi
  if ! wait_gone "$pid" 10; then
    log "postgres (pid $pid) did not stop; killing it"
    kill -KILL "$pid" 2>/dev/null || true
    wait_gone "$pid" 5 || true
  fi
}

stop_redis() {
  # With `--save ''` a SIGTERM shuts down without writing a snapshot
  # (same as `redis-cli shutdown nosave`), and needs no port.
  stop_by_comm "$REDIS_PID" redis-server redis
}

# Stop a server by its pidfile (start_bg's, or redis-server's own, which has
# no start time): $1 pidfile, $2 its /proc/<pid>/comm (at most 15
# characters), $3 a name for the log.
stop_by_comm() {
  local pidfile="$1" comm="$2" name="$3" pid
  [[ -f "$pidfile" ]] || return 0
  pid="$(head -n 1 "$pidfile" 2>/dev/null || true)"
  # Exact comm match: a prefix match on "prometheus" would also accept
  # "prometheus-push".
  if ! pid_is "$pid" "$comm" || [[ "$(cat "/proc/$pid/comm" 2>/dev/null)" != "$comm" ]]; then
    log "$name ($pidfile) is not running"
    rm -f -- "$pidfile"
    return 0
  fi
  log "stopping $name (pid $pid)"
  kill -TERM "$pid" 2>/dev/null || true
  if ! wait_gone "$pid" 15; then
    log "$name (pid $pid) did not stop; killing it"
    kill -KILL "$pid" 2>/dev/null || true
    wait_gone "$pid" 5 || true
  fi
  rm -f -- "$pidfile"
}

# /proc/<pid>/comm is cut to 15 characters: "prometheus-push".
stop_pushgateway() { stop_by_comm "$PGW_PID" prometheus-push pushgateway; }
stop_prometheus() { stop_by_comm "$PROM_PID" prometheus prometheus; }

stop_all() {
  stop_prometheus
  stop_pushgateway
  stop_pg
  stop_redis
}

cmd_stop() {
  local dir="$1"
  if [[ ! -d "$dir" ]]; then
    log "$dir does not exist; nothing to stop"
    return 0
  fi
  set_paths "$(cd "$dir" && pwd -P)"
  stop_all
  # A fallback cluster under /tmp (see prepare_pg_root) would outlive a
  # deleted checkout: remove it now. A cluster inside <dir> is kept (its log
  # may help) until the next start wipes it.
  if [[ -L "$PG_LINK" ]]; then
    wipe_pg_link
  fi
  log "stopped"
}

# --- start ------------------------------------------------------------------

start_pg() {
  local bin="$1"
  prepare_pg_root
  log "postgres: $("$bin/postgres" --version), data in $PG_DATA, port $POSTGRES_PORT"
  as_pg mkdir -p "$PG_RUN"

  # Throwaway, loopback-only cluster: trust auth (no password) is acceptable
  # here. The server listens on 127.0.0.1 only, and pg_hba.conf below allows
  # nothing but the local socket (inside <dir>) and 127.0.0.1.
  as_pg "$bin/initdb" -D "$PG_DATA" --username=postgres --auth=trust \
    --encoding=UTF8 --locale=C --no-sync >"$PG_ROOT/initdb.log" 2>&1 ||
    {
      log_tail "$PG_ROOT/initdb.log"
      die "initdb failed"
    }

  as_pg tee "$PG_DATA/pg_hba.conf" >/dev/null <<'EOF'
# Throwaway test cluster (scripts/test-servers.sh): loopback only, trust auth.
local   all   all                 trust
host    all   all   127.0.0.1/32  trust
EOF

  # A unix socket path is limited to ~107 bytes; if <dir> is too deep, run
  # TCP-only (still no clash with a system postgres, whose socket is elsewhere).
  local sockdir="$PG_RUN"
  if ((${#PG_RUN} + 20 > 107)); then
    log "socket path under $PG_RUN would be too long; unix sockets disabled"
    sockdir=""
  fi

  as_pg tee -a "$PG_DATA/postgresql.conf" >/dev/null <<EOF

# --- scripts/test-servers.sh (throwaway test cluster) ---
listen_addresses = '127.0.0.1'
port = $POSTGRES_PORT
unix_socket_directories = '$sockdir'
max_connections = 200          # the tests open many pools
fsync = off                    # throwaway cluster: speed over durability
synchronous_commit = off
full_page_writes = off
EOF

  # `3>&-`: the server must not inherit the caller's stdout (fd 3), or a
  # caller's $(...) would wait for it to exit.
  if ! as_pg "$bin/pg_ctl" start -D "$PG_DATA" -l "$PG_LOG" -w -t "$READY_TIMEOUT" \
    </dev/null >/dev/null 3>&-; then
    log_tail "$PG_LOG"
    die "postgres did not start"
  fi

  local i
  for ((i = 0; i < READY_TIMEOUT * 10; i++)); do
    if "$bin/pg_isready" -q -h 127.0.0.1 -p "$POSTGRES_PORT" -U postgres -d postgres; then
      break
    fi
    sleep 0.1
  done
  if ! "$bin/pg_isready" -h 127.0.0.1 -p "$POSTGRES_PORT" -U postgres -d postgres; then
    log_tail "$PG_LOG"
    die "postgres not ready on 127.0.0.1:$POSTGRES_PORT after ${READY_TIMEOUT}s"
  fi

  PGPASSWORD='' "$bin/createdb" -h 127.0.0.1 -p "$POSTGRES_PORT" -U postgres shop ||
    die "could not create database shop"
}

start_redis() {
  log "redis: $(redis-server --version), data in $REDIS_DIR, port $REDIS_PORT"
  mkdir -p "$REDIS_DIR"
  : >"$REDIS_LOG"
  redis-server \
    --port "$REDIS_PORT" \
    --bind 127.0.0.1 \
    --save '' \
    --appendonly no \
    --daemonize yes \
    --pidfile "$REDIS_PID" \
    --logfile "$REDIS_LOG" \
    --dir "$REDIS_DIR" </dev/null 3>&- ||
    {
      log_tail "$REDIS_LOG"
      die "redis-server failed to start"
    }

  local i
  for ((i = 0; i < READY_TIMEOUT * 10; i++)); do
    if [[ "$(redis-cli -h 127.0.0.1 -p "$REDIS_PORT" ping 2>/dev/null)" == PONG ]]; then
      return 0
    fi
    sleep 0.1
  done
  log_tail "$REDIS_LOG"
  die "redis not ready on 127.0.0.1:$REDIS_PORT after ${READY_TIMEOUT}s"
}

start_pushgateway() {
  local bin
  bin="$(command -v prometheus-pushgateway)"
  log "pushgateway: $("$bin" --version 2>&1 | head -n 1), port $PUSHGATEWAY_PORT"
  mkdir -p "$PGW_DIR"
  : >"$PGW_LOG"
  # Debian builds it with --persistence.file=/var/lib/prometheus/pushgateway.data
  # as the default: an explicit empty value keeps pushed metrics in memory
  # only, so nothing leaks between runs (or into a system pushgateway's file).
  start_bg "$PGW_LOG" "$PGW_PID" "$bin" \
    --web.listen-address="127.0.0.1:$PUSHGATEWAY_PORT" \
    --persistence.file= \
    --web.enable-admin-api \
    --web.enable-lifecycle
  wait_http pushgateway "$PGW_PID" "$PGW_LOG" "$PUSHGATEWAY_PORT" /-/ready
}

# Render monitoring/prometheus.test.yml with the actual ports.
render_prometheus_config() {
  [[ -f "$PROMETHEUS_TEMPLATE" ]] || die "missing $PROMETHEUS_TEMPLATE"
  grep -qF "$TEMPLATE_PUSHGATEWAY_ADDR" "$PROMETHEUS_TEMPLATE" ||
    die "$PROMETHEUS_TEMPLATE does not contain $TEMPLATE_PUSHGATEWAY_ADDR"
  sed -e "s/${TEMPLATE_PUSHGATEWAY_ADDR//./\\.}/127.0.0.1:$PUSHGATEWAY_PORT/g" \
    -e "s/${TEMPLATE_PROMETHEUS_ADDR//./\\.}/127.0.0.1:$PROMETHEUS_PORT/g" \
    "$PROMETHEUS_TEMPLATE" >"$PROM_CONFIG"
  promtool check config "$PROM_CONFIG" >"$PROM_DIR/promtool-check.log" 2>&1 || {
    log_tail "$PROM_DIR/promtool-check.log"
    die "invalid Prometheus config $PROM_CONFIG (from $PROMETHEUS_TEMPLATE)"
  }
}

start_prometheus() {
  local bin
  bin="$(command -v prometheus)"
  log "prometheus: $("$bin" --version 2>&1 | head -n 1), data in $PROM_DATA, port $PROMETHEUS_PORT"
  mkdir -p "$PROM_DATA"
  : >"$PROM_LOG"
  render_prometheus_config
  start_bg "$PROM_LOG" "$PROM_PID" "$bin" \
    --config.file="$PROM_CONFIG" \
    --storage.tsdb.path="$PROM_DATA" \
    --web.listen-address="127.0.0.1:$PROMETHEUS_PORT" \
    --web.enable-admin-api \
    --web.enable-lifecycle
  wait_http prometheus "$PROM_PID" "$PROM_LOG" "$PROMETHEUS_PORT" /-/ready

  # /-/ready answers long before the first scrape: Prometheus applies its
  # scrape targets only on a 5 s reload tick. Wait until both targets have
  # been scraped successfully, so that a test pushing right after start sees
  # its metric after one scrape interval.
  local i query='count(up{job=~"pushgateway|prometheus"} == 1) == 2'
  for ((i = 0; i < READY_TIMEOUT * 10; i++)); do
    if curl -fsS --max-time 2 -G --data-urlencode "query=$query" \
      "http://127.0.0.1:$PROMETHEUS_PORT/api/v1/query" 2>/dev/null |
      grep -q '"result":\[{'; then
      return 0
    fi
    sleep 0.1
  done
  log_tail "$PROM_LOG"
  die "prometheus did not scrape the pushgateway and itself within ${READY_TIMEOUT}s"
}

cmd_start() {
  local dir="$1"
  local var
  for var in POSTGRES_PORT REDIS_PORT PUSHGATEWAY_PORT PROMETHEUS_PORT; do
    [[ "${!var}" =~ ^[0-9]+$ ]] || die "$var must be a number: ${!var}"
  done
  [[ "$(printf '%s\n' "$POSTGRES_PORT" "$REDIS_PORT" "$PUSHGATEWAY_PORT" "$PROMETHEUS_PORT" |
    sort -u | wc -l)" -eq 4 ]] ||
    die "POSTGRES_PORT, REDIS_PORT, PUSHGATEWAY_PORT and PROMETHEUS_PORT must differ"

  ensure_binaries
  local bin
  bin="$(find_pg_bin)"

  mkdir -p "$dir"
  set_paths "$(cd "$dir" && pwd -P)"

  # Idempotent: stop anything a previous start left in this dir, then start
  # from a clean slate.
  stop_all
  wipe

  for var in POSTGRES_PORT REDIS_PORT PUSHGATEWAY_PORT PROMETHEUS_PORT; do
    port_in_use "${!var}" && die "port ${!var} ($var) is already in use on 127.0.0.1"
  done

  # If anything below fails, do not leave half a set of servers running.
  trap 'log "start failed; stopping what was started"; stop_all' EXIT
  start_pg "$bin"
  start_redis
  start_pushgateway
  start_prometheus
  trap - EXIT

  local promtool
  promtool="$(command -v promtool)"
  log "ready: postgres on 127.0.0.1:$POSTGRES_PORT (db shop), redis on 127.0.0.1:$REDIS_PORT," \
    "pushgateway on 127.0.0.1:$PUSHGATEWAY_PORT, prometheus on 127.0.0.1:$PROMETHEUS_PORT"
  printf 'export DATABASE_URL=postgres://postgres@127.0.0.1:%s/shop\n' "$POSTGRES_PORT" >&3
  printf 'export REDIS_URL=redis://127.0.0.1:%s\n' "$REDIS_PORT" >&3
  printf 'export PUSHGATEWAY_URL=http://127.0.0.1:%s\n' "$PUSHGATEWAY_PORT" >&3
  printf 'export PROMETHEUS_URL=http://127.0.0.1:%s\n' "$PROMETHEUS_PORT" >&3
  printf 'export PROMTOOL=%s\n' "$promtool" >&3
}

# --- main -------------------------------------------------------------------

[[ $# -eq 2 && -n "$2" ]] || usage
case "$1" in
  start) cmd_start "$2" ;;
  stop) cmd_stop "$2" ;;
  *) usage ;;
esac
