#!/usr/bin/env bash
# Sync benchmark: the change-capture pipeline (PostgreSQL logical slot -> taquilla sync ->
# Redis master -> replica), each figure beside a reference measured in the same run.
#
#   bench/sync/run.sh            # --full: the ticketbis scale, 20 s runs
#   bench/sync/run.sh --smoke    # the demo scale, 3 s runs, for CI
#
# It starts a throwaway stack (`taquilla up` on free ports; sync builds Redis from its new
# slot's snapshot) and measures:
#   (1) full rebuild: `taquilla rebuild` of every projection, seconds (goal <= 60 s at the
#       ticketbis scale); reference: COPY of the source tables' rows to /dev/null;
#   (2) Redis memory per ticket on sale (used_memory / tickets); reference: PostgreSQL's
#       bytes for the same tables per ticket;
#   (3) commit-to-visible latency on the replica at 500 commits/s (taquilla-synclat), p50 and
#       p99 (goal p99 <= 10 ms); reference: the same rate of SETs on the master seen on the
#       replica (replication alone);
#   (4) sustained row changes: pgbench commits 10-row listing updates as fast as PostgreSQL
#       takes them for DUR s; rows/s written (the reference) against rows/s sync applied until
#       it caught up (goal >= 10,000/s and >= 1.0x the write rate), and the largest lag seen;
#   (4b) capacity: the same writes with sync stopped (SIGSTOP), then the rate it drains the
#       backlog at (goal >= 1.0x PostgreSQL's write rate);
#   (5) one transaction updating every listing: rows/s until sync caught up, and sync's
#       resident memory before and after (bounded memory).
# Env: TQ_BIN (default build/taquilla), SYNCLAT (default beside TQ_BIN), DUR, KEEP_WORK=1.
# Prints key=value lines; exits non-zero when a check fails.
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
. "$ROOT/bench/lib.sh"
BIN="${TQ_BIN:-$ROOT/build/taquilla}"
SYNCLAT="${SYNCLAT:-$(dirname "$BIN")/taquilla-synclat}"
parse_mode bench/sync/run.sh "${1:-}"
if [[ "$MODE" == smoke ]]; then
  DUR="${DUR:-3}" SCALE=demo
else
  DUR="${DUR:-20}" SCALE=ticketbis
fi
[[ -x "$BIN" ]] || { echo "taquilla binary not found at $BIN (set TQ_BIN)" >&2; exit 2; }
[[ -x "$SYNCLAT" ]] || { echo "taquilla-synclat not found at $SYNCLAT" >&2; exit 2; }

WORK="$(mktemp -d /tmp/taquilla-sync-bench-XXXXXX)"
chmod 755 "$WORK"
UP_PID=""
cleanup() {
  local status=$?
  stop_up "$UP_PID"
  if [[ "$status" != 0 || "${KEEP_WORK:-0}" == 1 ]]; then
    echo "bench/sync: data dir and logs kept in $WORK" >&2
  else
    rm -rf "$WORK"
  fi
}
trap cleanup EXIT
fail() { echo "bench/sync: $*" >&2; for f in "$WORK"/logs/sync.log; do [[ -f $f ]] && tail -n 20 "$f" >&2; done; exit 1; }
json_get() {
  python3 -c 'import json,sys
v = json.load(open(sys.argv[1])).get(sys.argv[2])
print("" if v is None else (v if not isinstance(v, list) else v[0]))' "$1" "$2" 2>/dev/null || true
}
now_ms() { date +%s%3N; }

PORT_BASE="$(free_port_block 30)"

"$BIN" up --data-dir "$WORK" --port-base "$PORT_BASE" --scale "$SCALE" >"$WORK/up.out" 2>&1 &
UP_PID=$!
deadline=$((SECONDS + 600))
until [[ -f "$WORK/endpoints.json" ]] && grep -q '"secure":"http' "$WORK/endpoints.json"; do
  kill -0 "$UP_PID" 2>/dev/null || fail "taquilla up exited"
  ((SECONDS < deadline)) || fail "the stack did not come up"
  sleep 0.5
done
PG="$(json_get "$WORK/endpoints.json" postgres)"
MASTER="$(json_get "$WORK/endpoints.json" redis_master)"
REPLICA="$(json_get "$WORK/endpoints.json" redis_replicas)"
METRICS="$(json_get "$WORK/endpoints.json" sync_metrics)"
MPORT="${MASTER##*:}"
RPORT="${REPLICA##*:}"
metric() { curl -fsS --max-time 2 "$METRICS" | awk -v m="$1" '$1 == m { print $2 }'; }
caught_up() { sync_caught_up "$PG" "$MPORT"; }  # sync has applied all PostgreSQL wrote
wait_caught_up() {
  local deadline=$((SECONDS + ${1:-600}))
  until caught_up; do
    ((SECONDS < deadline)) || fail "sync did not catch up"
    sleep 0.05
  done
}
wait_caught_up 900
echo "stack up; sync caught up (scale $SCALE)" >&2
SYNC_PID="$(python3 -c 'import json,sys; s=json.load(open(sys.argv[1])); print(next(v["pid"] for k,v in s.items() if k=="sync") if isinstance(s,dict) and "sync" in s else "")' "$WORK/state.json" 2>/dev/null || true)"
[[ -n "$SYNC_PID" ]] || SYNC_PID="$(pgrep -f -- "--listen 127.0.0.1:$((PORT_BASE + 2))" | head -1)"
hwm_kb() { awk '/VmHWM/ { print $2 }' "/proc/$SYNC_PID/status"; }
rss_kb() { awk '/VmRSS/ { print $2 }' "/proc/$SYNC_PID/status"; }

# (1) full rebuild, against COPY of the source rows.
TABLES="events event_translations event_sites event_performers listings venues cities city_translations performers categories category_translations sites site_languages exchange_rates"
t0=$(now_ms)
for t in $TABLES; do psql "$PG" -qAt -c "COPY $t TO STDOUT" >/dev/null; done
copy_ms=$(( $(now_ms) - t0 ))
t0=$(now_ms)
"$BIN" rebuild --postgres-url "$PG" --redis-url "$MASTER" --no-progress >"$WORK/rebuild.out"
rebuild_ms=$(( $(now_ms) - t0 ))
cat "$WORK/rebuild.out" >&2

# (2) memory per ticket.
used="$(redis-cli -p "$MPORT" INFO memory | awk -F: '/^used_memory:/ { print $2 }' | tr -d '\r')"
tickets="$(psql "$PG" -qAt -c "SELECT sum(quantity_available) FROM listings WHERE status = 'active'")"
pg_bytes=0
for t in $TABLES; do
  b="$(psql "$PG" -qAt -c "SELECT pg_total_relation_size('$t')")"
  pg_bytes=$((pg_bytes + b))
done

# Steady state first: the rebuild's writes may have started an AOF rewrite, and the seed
# leaves a checkpoint due; neither should land inside the latency run.
quiet() {
  psql "$PG" -qAt -c "CHECKPOINT" >/dev/null
  local deadline=$((SECONDS + 300))
  until redis-cli -p "$MPORT" INFO persistence | grep -q '^aof_rewrite_in_progress:0' &&
        redis-cli -p "$MPORT" INFO persistence | grep -q '^rdb_bgsave_in_progress:0'; do
    ((SECONDS < deadline)) || fail "Redis stayed busy persisting"
    sleep 0.2
  done
}
quiet

# (3) commit-to-visible latency at 500 commits/s, against replication alone.
"$SYNCLAT" --master "$MASTER" --replica "$REPLICA" --rate 500 --seconds "$DUR" --direct >"$WORK/lat_direct.json"
wait_caught_up 60
"$SYNCLAT" --postgres "$PG" --master "$MASTER" --replica "$REPLICA" --rate 500 --seconds "$DUR" >"$WORK/lat_sync.json" || fail "commits never became visible: $(cat "$WORK/lat_sync.json")"
cat "$WORK/lat_direct.json" "$WORK/lat_sync.json" >&2

# (4) sustained row changes: 10-row listing updates at PostgreSQL's own pace.
wait_caught_up 120
maxid="$(psql "$PG" -qAt -c "SELECT max(id) FROM listings")"
cat >"$WORK/update10.sql" <<SQL
\set a random(1, $((maxid - 10)))
UPDATE listings SET price_minor = price_minor + 1 WHERE id BETWEEN :a AND :a + 9;
SQL
c0="$(metric taquilla_sync_changes_total)"
t0=$(now_ms)
pgbench -n -f "$WORK/update10.sql" -c 4 -j 2 -T "$DUR" "$PG" >"$WORK/pgbench.out" 2>&1 &
PGB=$!
max_lag=0
while kill -0 "$PGB" 2>/dev/null; do
  lag="$(metric taquilla_sync_lag_bytes)"; lag="${lag:-0}"
  ((lag > max_lag)) && max_lag=$lag
  sleep 0.5
done
wait "$PGB" || { cat "$WORK/pgbench.out" >&2; fail "pgbench failed"; }
t_written=$(now_ms)
wait_caught_up 600
t_applied=$(now_ms)
c1="$(metric taquilla_sync_changes_total)"
tps="$(awk '/^tps = / { print $3; exit }' "$WORK/pgbench.out")"
rows=$((c1 - c0))
write_rows_s="$(python3 -c "print(round($tps * 10))")"
apply_rows_s="$(python3 -c "print(round($rows * 1000 / max(1, $t_applied - $t0)))")"
drain_ms=$((t_applied - t_written))

# (4b) capacity: the same writes while sync is stopped (SIGSTOP), then the backlog it
# drains once it continues, with PostgreSQL idle: rows/s sync can apply, against the rows/s
# PostgreSQL could write (goal >= 1.0x: sync is never the bottleneck).
wait_caught_up 120
c0="$(metric taquilla_sync_changes_total)"
kill -STOP "$SYNC_PID"
pgbench -n -f "$WORK/update10.sql" -c 4 -j 2 -T "$DUR" "$PG" >"$WORK/pgbench2.out" 2>&1 || { kill -CONT "$SYNC_PID"; cat "$WORK/pgbench2.out" >&2; fail "pgbench failed"; }
t_cont=$(now_ms)
kill -CONT "$SYNC_PID"
wait_caught_up 600
t_drained=$(now_ms)
c1="$(metric taquilla_sync_changes_total)"
tps2="$(awk '/^tps = / { print $3; exit }' "$WORK/pgbench2.out")"
backlog_rows=$((c1 - c0))
drain_rows_s="$(python3 -c "print(round($backlog_rows * 1000 / max(1, $t_drained - $t_cont)))")"
write2_rows_s="$(python3 -c "print(round($tps2 * 10))")"

# (5) one transaction updating every listing.
rss0="$(rss_kb)"
nrows="$(psql "$PG" -qAt -c "SELECT count(*) FROM listings")"
c0="$(metric taquilla_sync_changes_total)"
t0=$(now_ms)
psql "$PG" -qAt -c "UPDATE listings SET price_minor = price_minor + 1" >/dev/null
t_commit=$(now_ms)
wait_caught_up 900
t_done=$(now_ms)
c1="$(metric taquilla_sync_changes_total)"
hwm1="$(hwm_kb)"
big_rows_s="$(python3 -c "print(round($nrows * 1000 / max(1, $t_done - $t_commit)))")"

"$BIN" verify --postgres-url "$PG" --redis-url "$MASTER" --wait-ms 60000 >"$WORK/verify.out" || { cat "$WORK/verify.out" >&2; fail "verify found differences"; }

python3 - "$WORK" <<PY
import json, sys
w = sys.argv[1]
d = json.load(open(w + "/lat_direct.json")); s = json.load(open(w + "/lat_sync.json"))
print(f"scale=$SCALE")
print(f"rebuild_s={$rebuild_ms/1000:.1f} copy_reference_s={$copy_ms/1000:.1f} ratio={$rebuild_ms/max(1,$copy_ms):.1f}x")
print(f"redis_used_bytes=$used tickets=$tickets bytes_per_ticket={$used/max(1,$tickets):.0f} pg_bytes_per_ticket={$pg_bytes/max(1,$tickets):.0f} ratio={$used/max(1,$pg_bytes):.2f}x")
print(f"latency_p50_ms={s['p50_ms']:.2f} latency_p99_ms={s['p99_ms']:.2f} latency_max_ms={s['max_ms']:.2f} commits={s['commits']} unseen={s['unseen']}")
print(f"replication_only_p50_ms={d['p50_ms']:.2f} replication_only_p99_ms={d['p99_ms']:.2f}")
print(f"pgbench_tps=$tps write_rows_per_s=$write_rows_s applied_rows_per_s=$apply_rows_s ratio={$apply_rows_s/max(1,$write_rows_s):.2f}x drain_after_writes_ms=$drain_ms max_lag_bytes=$max_lag")
print(f"backlog_rows=$backlog_rows drained_rows_per_s=$drain_rows_s write_rows_per_s=$write2_rows_s capacity_ratio={$drain_rows_s/max(1,$write2_rows_s):.2f}x")
print(f"one_tx_rows=$nrows one_tx_rows_per_s=$big_rows_s sync_rss_before_kb=$rss0 sync_hwm_after_kb=$hwm1")
PY
echo "verify: $(tail -1 "$WORK/verify.out")"
