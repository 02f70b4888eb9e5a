#!/usr/bin/env bash
# Seed benchmark: times `taquilla seed --scale ticketbis` against the reference of loading
# the very same rows with plain COPY FROM files (psql \copy, one transaction, same table
# order, same indexes and constraints) into another freshly migrated database.
#
#   bench/seed/run.sh                      # starts a throwaway PostgreSQL 15 cluster
#   BENCH_ADMIN_URL=postgresql://u@h:p/postgres bench/seed/run.sh   # use a running server
#
#   bench/seed/run.sh --smoke              # the demo scale, for CI
#
# Env: TQ_BIN (default build/taquilla), SCALE (default ticketbis), SEED (default 1),
#      PG_BIN (default /usr/lib/postgresql/15/bin).
# Prints: seed_seconds=… copy_seconds=… ratio=…   (ratio = seed / copy; lower is better)
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
BIN="${TQ_BIN:-$ROOT/build/taquilla}"
. "$ROOT/bench/lib.sh"
parse_mode bench/seed/run.sh "${1:-}"
[[ "$MODE" == smoke ]] && SCALE="${SCALE:-demo}"
SCALE="${SCALE:-ticketbis}"
SEED="${SEED:-1}"
PG_BIN="${PG_BIN:-/usr/lib/postgresql/15/bin}"
TABLES=(languages countries country_translations sites site_languages categories
        category_translations cities city_translations venues performers events event_sites
        event_performers event_translations users listings exchange_rates)

[[ -x "$BIN" ]] || { echo "taquilla binary not found at $BIN (set TQ_BIN)" >&2; exit 2; }

WORK="$(mktemp -d /tmp/taquilla-seed-bench-XXXXXX)"
chmod 755 "$WORK"
PG_PID=""
cleanup() {
  if [[ -n "$PG_PID" ]]; then
    # runuser does not pass signals on: stop the postmaster itself.
    as_postgres "$PG_BIN/pg_ctl" -D "$WORK/data" stop -m fast -w >/dev/null 2>&1 ||
      kill "$PG_PID" 2>/dev/null || true
    wait "$PG_PID" 2>/dev/null || true
  fi
  rm -rf "$WORK"
}
trap cleanup EXIT

as_postgres() {
  if [[ "$(id -u)" == 0 ]]; then runuser -u postgres -- "$@"; else "$@"; fi
}

if [[ -n "${BENCH_ADMIN_URL:-}" ]]; then
  ADMIN="$BENCH_ADMIN_URL"
else
  PORT="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
  [[ "$(id -u)" == 0 ]] && chown postgres "$WORK"
  as_postgres "$PG_BIN/initdb" -D "$WORK/data" -U taquilla --auth=trust >"$WORK/initdb.log" 2>&1
  as_postgres "$PG_BIN/postgres" -D "$WORK/data" -p "$PORT" -c listen_addresses=127.0.0.1 \
    -c unix_socket_directories='' -c max_wal_size=4GB >"$WORK/postgres.log" 2>&1 &
  PG_PID=$!
  ADMIN="postgresql://taquilla@127.0.0.1:$PORT/postgres"
  for _ in $(seq 1 100); do
    psql "$ADMIN" -qAtc 'SELECT 1' >/dev/null 2>&1 && break
    sleep 0.1
  done
fi
BASE="${ADMIN%/*}"
SUFFIX="$$"
A="$BASE/seed_bench_a_$SUFFIX"
B="$BASE/seed_bench_b_$SUFFIX"
psql "$ADMIN" -qc "CREATE DATABASE seed_bench_a_$SUFFIX" -c "CREATE DATABASE seed_bench_b_$SUFFIX"
"$BIN" migrate --postgres-url "$A" >/dev/null 2>&1
"$BIN" migrate --postgres-url "$B" >/dev/null 2>&1

now() { date +%s.%N; }

# (1) taquilla seed.
t0=$(now)
"$BIN" seed --postgres-url "$A" --scale "$SCALE" --seed "$SEED" --no-progress >"$WORK/seed.out" 2>&1 ||
  { cat "$WORK/seed.out" >&2; exit 1; }
t1=$(now)

# (2) The same rows through plain COPY: dump each table, load them in one transaction.
mkdir -p "$WORK/dump"
for t in "${TABLES[@]}"; do
  psql "$A" -qc "\\copy $t TO '$WORK/dump/$t.copy'"
done
{
  for t in "${TABLES[@]}"; do echo "\\copy $t FROM '$WORK/dump/$t.copy'"; done
} >"$WORK/load.sql"
t2=$(now)
psql "$B" -q -v ON_ERROR_STOP=1 --single-transaction -f "$WORK/load.sql"
t3=$(now)

for t in "${TABLES[@]}"; do
  a=$(psql "$A" -qAtc "SELECT count(*) FROM $t")
  b=$(psql "$B" -qAtc "SELECT count(*) FROM $t")
  [[ "$a" == "$b" ]] || { echo "row count mismatch in $t: $a vs $b" >&2; exit 1; }
done

psql "$ADMIN" -qc "DROP DATABASE seed_bench_a_$SUFFIX" -c "DROP DATABASE seed_bench_b_$SUFFIX"
python3 - "$t0" "$t1" "$t2" "$t3" <<'PY'
import sys
t0, t1, t2, t3 = map(float, sys.argv[1:])
seed, copy = t1 - t0, t3 - t2
print(f"seed_seconds={seed:.2f} copy_seconds={copy:.2f} ratio={seed / copy:.2f}")
PY
