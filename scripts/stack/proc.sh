# shellcheck shell=bash
# Process helpers for the launchers that run servers from local binaries on
# loopback (scripts/start-monitoring.sh, scripts/test-servers.sh). Source it;
# it defines functions only.
#
# A server runs in its own session with a pidfile holding its pid and its
# start time (/proc/<pid>/stat); it is signalled only while that pid still has
# that start time, so a stale pidfile never kills a stranger that reused the
# pid. (Not the command name: node renames its main thread "MainThread".)
#
# The caller sets LOG_NAME (the prefix of log lines) and READY_TIMEOUT
# (seconds to wait for a server).

log() { printf '%s: %s\n' "${LOG_NAME:-${0##*/}}" "$*"; }
die() {
  log "ERROR: $*" >&2
  exit 1
}

IS_ROOT=0
[[ $EUID -eq 0 ]] && IS_ROOT=1

# PostgreSQL refuses to run as root, so its tools run as the `postgres`
# system user (from "/", in case the caller's cwd is not readable by it).
as_pg() {
  if [[ $IS_ROOT -eq 1 ]]; then
    (cd / && runuser -u postgres -- "$@")
  else
    "$@"
  fi
}

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

port_in_use() {
  (exec 9<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# Start time of pid $1 in clock ticks since boot: field 22 of /proc/<pid>/stat,
# counted after the command name, which may contain spaces.
start_time() {
  local stat
  stat="$(cat "/proc/$1/stat" 2>/dev/null)" || return 1
  stat="${stat##*) }"
  cut -d' ' -f20 <<<"$stat"
}

# True if the server of pidfile $1 (see start_bg) is still running.
bg_running() {
  local pid since
  [[ -f "$1" ]] && { read -r pid && read -r since; } <"$1" || return 1
  [[ "$pid" =~ ^[0-9]+$ && -n "$since" && "$(start_time "$pid")" == "$since" ]]
}

# Wait up to $2 seconds until pid $1 (or, with a leading "-", its process
# group) has no process left.
wait_gone() {
  local pid="$1" secs="$2" i
  for ((i = 0; i < secs * 10; i++)); do
    kill -0 -- "$pid" 2>/dev/null || return 0
    sleep 0.1
  done
  return 1
}

# True once http://127.0.0.1:$1$2 answers 2xx.
http_ok() {
  curl -fsS -o /dev/null --max-time 2 "http://127.0.0.1:$1$2" 2>/dev/null
}

log_tail() {
  local file="$1"
  log "last lines of $file:"
  tail -n 40 "$file" 2>/dev/null | sed 's/^/    /' || true
}

# Start "$@" in the background, in its own session (so a Ctrl-C in the
# terminal reaches only the launcher, which stops servers in order), with
# stdin from /dev/null, stdout+stderr appended to $1 and fd 3 closed (a
# caller may capture its stdout on fd 3 with $(...), which must not wait for
# the server). Writes its pid and start time to $2.
start_bg() {
  local logfile="$1" pidfile="$2"
  shift 2
  # Without job control the child is not a process group leader, so setsid
  # does not fork: $! is the server's own pid, and its process group id. Its
  # start time is that of the fork, whatever it executes next.
  setsid "$@" </dev/null >>"$logfile" 2>&1 3>&- &
  printf '%s\n%s\n' "$!" "$(start_time "$!")" >"$pidfile"
}

# Stop a server started by start_bg: $1 pidfile, $2 a name for the log, $3
# "group" to signal its whole process group (a server that runs children of
# its own, such as npx).
stop_bg() {
  local pidfile="$1" name="$2" target pid
  [[ -f "$pidfile" ]] || return 0
  if ! bg_running "$pidfile"; then
    log "$name ($pidfile) is not running"
    rm -f -- "$pidfile"
    return 0
  fi
  pid="$(head -n 1 "$pidfile")"
  target="$pid"
  [[ "${3:-}" == group ]] && target="-$pid"
  log "stopping $name (pid $pid)"
  kill -TERM -- "$target" 2>/dev/null || true
  if ! wait_gone "$target" 15; then
    log "$name (pid $pid) did not stop; killing it"
    kill -KILL -- "$target" 2>/dev/null || true
    wait_gone "$target" 5 || true
  fi
  rm -f -- "$pidfile"
}

# Wait until http://127.0.0.1:$port$path answers 2xx; fail early if the
# process has died. $1 name, $2 pidfile, $3 logfile, $4 port, $5 path.
wait_http() {
  local name="$1" pidfile="$2" logfile="$3" port="$4" path="$5" pid i
  pid="$(head -n 1 "$pidfile")"
  for ((i = 0; i < READY_TIMEOUT * 10; i++)); do
    http_ok "$port" "$path" && return 0
    if ! kill -0 "$pid" 2>/dev/null; then
      log_tail "$logfile"
      die "$name exited during startup"
    fi
    sleep 0.1
  done
  log_tail "$logfile"
  die "$name not ready on 127.0.0.1:$port$path after ${READY_TIMEOUT}s"
}
