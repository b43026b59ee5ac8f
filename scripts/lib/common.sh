# Shared by the scripts in scripts/: paths, versions and small helpers.
# shellcheck shell=bash
KAFKA_VERSION=${BURNRATE_KAFKA_VERSION:-3.9.1}
KAFKA_HOME=${BURNRATE_KAFKA_HOME:-$ROOT/.cache/kafka-$KAFKA_VERSION}

log() { printf '[%s] %s\n' "$(basename "$0")" "$*" >&2; }
die() { log "error: $*"; exit 1; }

# Prints a TCP port on 127.0.0.1 that nothing listens on right now. Callers
# still retry on a bind failure, since another process may take it first.
# The port is below the kernel's ephemeral range: a service stopped for a
# failure test must get its port back, and a client's own connection
# attempts could otherwise be given that port (even connect to itself on it).
free_port() {
  local port low=32768 span
  if [ -r /proc/sys/net/ipv4/ip_local_port_range ]; then
    read -r low _ </proc/sys/net/ipv4/ip_local_port_range
  fi
  span=$((low - 20000))
  ((span >= 1000)) || span=12768  # an unusual range: keep the usual window
  for _ in $(seq 1 200); do
    port=$((20000 + (RANDOM * 32768 + RANDOM) % span))
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
      if ! prints_match . ss -ltnH "sport = :$port" 2>/dev/null; then
        echo "$port"
        return 0
      fi
    fi
  done
  return 1
}

# prints_match PATTERN CMD...: CMD succeeds and prints a line matching PATTERN.
# Not `CMD | grep -q PATTERN`: under pipefail that fails whenever grep stops
# reading at the first match while CMD still writes (CMD dies of SIGPIPE),
# which happens only for long enough output, so only sometimes.
prints_match() {
  local pattern=$1 out
  shift
  out=$("$@") || return 1
  grep -- "$pattern" <<<"$out" >/dev/null
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
