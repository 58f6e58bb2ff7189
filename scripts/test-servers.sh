#!/usr/bin/env bash
# Throwaway PostgreSQL + Redis for the test suite (local runs and CI).
#
#   scripts/test-servers.sh start <dir>   # prints two `export ...` lines on stdout
#   scripts/test-servers.sh stop  <dir>
#
#   eval "$(scripts/test-servers.sh start .ci/servers)"
#
# All state lives under <dir> (<dir>/pg, <dir>/redis). `start` is safe to
# repeat: it first stops whatever a previous `start` left running in <dir>,
# wipes <dir>/pg and <dir>/redis and builds them anew. `stop` ignores servers
# that are already gone. Both servers listen on 127.0.0.1 only.
#
# Ports: POSTGRES_PORT (default 55432), REDIS_PORT (default 56379).
# Binaries come from the Debian packages `postgresql` and `redis-server`;
# they are installed with apt-get when missing.
set -euo pipefail

# Only the export lines go to the real stdout (fd 3); everything else,
# including the output of every command run here, goes to stderr.
exec 3>&1 1>&2

log() { printf 'test-servers: %s\n' "$*"; }
die() { log "ERROR: $*"; exit 1; }

usage() {
  echo "usage: $0 start|stop <dir>"
  exit 2
}

POSTGRES_PORT="${POSTGRES_PORT:-55432}"
REDIS_PORT="${REDIS_PORT:-56379}"
READY_TIMEOUT="${READY_TIMEOUT:-30}"
# Prefix of the fallback PostgreSQL directory (see prepare_pg_root).
PG_FALLBACK_PREFIX=/tmp/test-servers-pg.

IS_ROOT=0
[[ $EUID -eq 0 ]] && IS_ROOT=1

# --- binaries ---------------------------------------------------------------

# Newest /usr/lib/postgresql/<major>/bin that has a server (PG_BIN overrides).
find_pg_bin() {
  if [[ -n "${PG_BIN:-}" ]]; then
    echo "$PG_BIN"
    return 0
  fi
  local major
  major="$(find /usr/lib/postgresql -mindepth 3 -maxdepth 3 -path '*/bin/postgres' 2>/dev/null |
    awk -F/ '{ print $5 }' | sort -V | tail -n 1)"
  [[ -n "$major" ]] || return 1
  echo "/usr/lib/postgresql/$major/bin"
}

have_binaries() {
  local bin
  bin="$(find_pg_bin)" || return 1
  for tool in initdb pg_ctl pg_isready postgres createdb; do
    [[ -x "$bin/$tool" ]] || return 1
  done
  command -v redis-server >/dev/null && command -v redis-cli >/dev/null
}

ensure_binaries() {
  have_binaries && return 0
  [[ $IS_ROOT -eq 1 ]] || die "postgresql/redis-server are missing and we are not root: install them with apt-get"
  log "installing postgresql, redis-server and prometheus-pushgateway with apt-get"
  apt-get update
  DEBIAN_FRONTEND=noninteractive apt-get install -y postgresql redis-server prometheus-pushgateway
  have_binaries || die "postgresql/redis binaries still missing after apt-get install"
}

# --- helpers ----------------------------------------------------------------

# PostgreSQL refuses to run as root, so its tools run as the `postgres`
# system user (from "/", in case the caller's cwd is not readable by it).
as_pg() {
  if [[ $IS_ROOT -eq 1 ]]; then
    (cd / && runuser -u postgres -- "$@")
  else
    "$@"
  fi
}

port_in_use() {
  (exec 9<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# True if pid $1 is alive and its command name starts with $2.
pid_is() {
  local pid="$1" name="$2" comm
  [[ "$pid" =~ ^[0-9]+$ ]] || return 1
  comm="$(cat "/proc/$pid/comm" 2>/dev/null)" || return 1
  [[ "$comm" == "$name"* ]]
}

wait_gone() {
  local pid="$1" secs="$2" i
  for ((i = 0; i < secs * 10; i++)); do
    kill -0 "$pid" 2>/dev/null || return 0
    sleep 0.1
  done
  return 1
}

log_tail() {
  local file="$1"
  log "last lines of $file:"
  tail -n 40 "$file" 2>/dev/null | sed 's/^/    /' || true
}

# --- paths ------------------------------------------------------------------

set_paths() {
  local dir="$1"
  DIR="$dir"
  PG_LINK="$DIR/pg"
  REDIS_DIR="$DIR/redis"
  REDIS_PID="$REDIS_DIR/redis.pid"
  REDIS_LOG="$REDIS_DIR/redis.log"
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
  rm -rf -- "$PG_LINK" "$REDIS_DIR"
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
  [[ -f "$REDIS_PID" ]] || return 0
  local pid
  pid="$(head -n 1 "$REDIS_PID" 2>/dev/null || true)"
  if ! pid_is "$pid" redis-server; then
    log "redis in $REDIS_DIR is not running"
    rm -f -- "$REDIS_PID"
    return 0
  fi
  log "stopping redis (pid $pid)"
  # With `--save ''` a SIGTERM shuts down without writing a snapshot
  # (same as `redis-cli shutdown nosave`), and needs no port.
  kill -TERM "$pid" 2>/dev/null || true
  if ! wait_gone "$pid" 10; then
    log "redis (pid $pid) did not stop; killing it"
    kill -KILL "$pid" 2>/dev/null || true
    wait_gone "$pid" 5 || true
  fi
  rm -f -- "$REDIS_PID"
}

cmd_stop() {
  local dir="$1"
  if [[ ! -d "$dir" ]]; then
    log "$dir does not exist; nothing to stop"
    return 0
  fi
  set_paths "$(cd "$dir" && pwd -P)"
  stop_pg
  stop_redis
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

cmd_start() {
  local dir="$1"
  [[ "$POSTGRES_PORT" =~ ^[0-9]+$ ]] || die "POSTGRES_PORT must be a number: $POSTGRES_PORT"
  [[ "$REDIS_PORT" =~ ^[0-9]+$ ]] || die "REDIS_PORT must be a number: $REDIS_PORT"
  [[ "$POSTGRES_PORT" != "$REDIS_PORT" ]] || die "POSTGRES_PORT and REDIS_PORT must differ"

  ensure_binaries
  local bin
  bin="$(find_pg_bin)"

  mkdir -p "$dir"
  set_paths "$(cd "$dir" && pwd -P)"

  # Idempotent: stop anything a previous start left in this dir, then start
  # from a clean slate.
  stop_pg
  stop_redis
  wipe

  port_in_use "$POSTGRES_PORT" && die "port $POSTGRES_PORT (POSTGRES_PORT) is already in use on 127.0.0.1"
  port_in_use "$REDIS_PORT" && die "port $REDIS_PORT (REDIS_PORT) is already in use on 127.0.0.1"

  # If anything below fails, do not leave half a set of servers running.
  trap 'log "start failed; stopping what was started"; stop_pg; stop_redis' EXIT
  start_pg "$bin"
  start_redis
  trap - EXIT

  log "ready: postgres on 127.0.0.1:$POSTGRES_PORT (db shop), redis on 127.0.0.1:$REDIS_PORT"
  printf 'export DATABASE_URL=postgres://postgres@127.0.0.1:%s/shop\n' "$POSTGRES_PORT" >&3
  printf 'export REDIS_URL=redis://127.0.0.1:%s\n' "$REDIS_PORT" >&3
}

# --- main -------------------------------------------------------------------

[[ $# -eq 2 && -n "$2" ]] || usage
case "$1" in
  start) cmd_start "$2" ;;
  stop) cmd_stop "$2" ;;
  *) usage ;;
esac
