# Shared by the scripts in scripts/: paths, versions and small helpers.
# shellcheck shell=bash
KAFKA_VERSION=${BURNRATE_KAFKA_VERSION:-3.9.1}
KAFKA_HOME=${BURNRATE_KAFKA_HOME:-$ROOT/.cache/kafka-$KAFKA_VERSION}

log() { printf '[%s] %s\n' "$(basename "$0")" "$*" >&2; }
die() { log "error: $*"; exit 1; }

# Prints a TCP port on 127.0.0.1 that nothing listens on right now. Callers
# still retry on a bind failure, since another process may take it first.
free_port() {
  local port
  for _ in $(seq 1 200); do
    port=$((20000 + RANDOM % 40000))
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
      if ! ss -ltnH "sport = :$port" 2>/dev/null | grep -q .; then
        echo "$port"
        return 0
      fi
    fi
  done
  return 1
}

# wait_until SECONDS CMD...: runs CMD every 0.2 s until it succeeds or the deadline passes.
wait_until() {
  local deadline=$((SECONDS + $1))
  shift
  until "$@" >/dev/null 2>&1; do
    ((SECONDS < deadline)) || return 1
    sleep 0.2
  done
}
