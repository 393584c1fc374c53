#!/usr/bin/env bash
# Start a throwaway PostgreSQL server on 127.0.0.1 for the store tests and print
#   export COMPUTEMOAT_TEST_PG_URL=postgresql+psycopg://postgres@127.0.0.1:PORT/computemoat_test
# Usage from .ci/run:  eval "$(.ci/postgres.sh)"   (progress goes to stderr, the export line to stdout).
# Installs Debian's postgresql package when no server binaries are present. Idempotent: a server it
# already started (same data dir) is reused.
set -euo pipefail

DATA_DIR="${COMPUTEMOAT_PG_DATA:-/tmp/computemoat-pg}"
DB_NAME="computemoat_test"
log() { echo "postgres.sh: $*" >&2; }

find_bindir() {
  local d
  for d in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V -r); do
    [[ -x "$d/initdb" && -x "$d/pg_ctl" ]] && { echo "$d"; return 0; }
  done
  return 1
}

if ! BIN="$(find_bindir)"; then
  log "no PostgreSQL server found; installing Debian's postgresql package"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update >&2 && apt-get install -y postgresql >&2
  BIN="$(find_bindir)"
fi

# The server refuses to run as root: run it as the 'postgres' user (created by the package).
if [[ "$(id -u)" == 0 ]]; then
  id postgres >/dev/null 2>&1 || useradd --system --home-dir /var/lib/postgresql --shell /bin/bash postgres
  as_pg() { runuser -u postgres -- "$@"; }
else
  as_pg() { "$@"; }
fi

free_port() {
  python3 - <<'PY'
import socket
for port in [5432, *range(54320, 54400)]:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            continue
        print(port)
        break
PY
}

if [[ -f "$DATA_DIR/postmaster.pid" ]] && as_pg "$BIN/pg_ctl" -D "$DATA_DIR" status >/dev/null 2>&1; then
  PORT="$(sed -n 4p "$DATA_DIR/postmaster.pid")"
  log "reusing server in $DATA_DIR on port $PORT"
else
  rm -rf "$DATA_DIR"
  mkdir -p "$DATA_DIR"
  [[ "$(id -u)" == 0 ]] && chown postgres: "$DATA_DIR"
  as_pg "$BIN/initdb" -D "$DATA_DIR" -U postgres --auth=trust --encoding=UTF8 --no-sync >/dev/null
  PORT="$(free_port)"
  # fsync stays on: the durability tests must see what a real server does.
  as_pg "$BIN/pg_ctl" -D "$DATA_DIR" -l "$DATA_DIR/server.log" -w \
    -o "-h 127.0.0.1 -p $PORT -k $DATA_DIR -c max_connections=200" start >&2
  log "started server in $DATA_DIR on port $PORT"
fi

if ! as_pg "$BIN/psql" -h 127.0.0.1 -p "$PORT" -U postgres -tAc \
    "SELECT 1 FROM pg_database WHERE datname='$DB_NAME'" | grep -q 1; then
  as_pg "$BIN/createdb" -h 127.0.0.1 -p "$PORT" -U postgres "$DB_NAME"
fi

echo "export COMPUTEMOAT_TEST_PG_URL=postgresql+psycopg://postgres@127.0.0.1:$PORT/$DB_NAME"
