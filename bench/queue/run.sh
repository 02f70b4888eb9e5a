#!/usr/bin/env bash
# Reliable queue benchmark: end-to-end items/s of src/queue (enqueue + claim + ack, batched)
# against the reference of plain pipelined LPUSH (redis-benchmark) on the very same Redis in
# the same run.
#
#   bench/queue/run.sh            # --full: 1,000,000 items per run, 3 runs each with 1 and 2
#                                 #         consumers; reference redis-benchmark -n 2,000,000
#   bench/queue/run.sh --smoke    # 50,000 items, one run of each, for CI (a few seconds)
#
# It starts a throwaway redis-server (no persistence) on a free loopback port, then:
#   (1) redis-benchmark -P 16 -t lpush -n N -q: LPUSH requests/s, the reference;
#   (2) taquilla-queuebench --items ITEMS --batch 500 --pipeline 4 --consumers 1, then 2: one
#       producer enqueues ITEMS distinct items in batches while the consumers claim batches and
#       ack them; items/s from the first enqueue to the last ack, checked: every item delivered
#       exactly once, nothing left waiting or in flight. Median of RUNS runs each.
# Each queue item costs three script calls and about a dozen Redis list/set/hash operations,
# so the ratio to one LPUSH per request is well below 1; the goal is ≥ 50,000 items/s.
#
# Env: TQ_BIN (default build/taquilla), QUEUEBENCH (default taquilla-queuebench beside TQ_BIN),
#      ITEMS, RUNS, BATCH, KEEP_WORK=1 keeps the Redis log.
# Prints each run's JSON line, then key=value lines (lpush_rps=… items_per_s_1c=…
# items_per_s_2c=… ratio_1c=… ratio_2c=…). Exits non-zero when a run failed its checks.
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
BIN="${TQ_BIN:-$ROOT/build/taquilla}"
QUEUEBENCH="${QUEUEBENCH:-$(dirname "$BIN")/taquilla-queuebench}"
. "$ROOT/bench/lib.sh"
parse_mode bench/queue/run.sh "${1:-}"
if [[ "$MODE" == smoke ]]; then
  ITEMS="${ITEMS:-50000}" RUNS="${RUNS:-1}" LPUSH_N=200000
else
  ITEMS="${ITEMS:-1000000}" RUNS="${RUNS:-3}" LPUSH_N=2000000
fi
BATCH="${BATCH:-500}"

[[ -x "$QUEUEBENCH" ]] || {
  echo "taquilla-queuebench not found at $QUEUEBENCH (ninja -C $(dirname "$BIN")" \
    "taquilla-queuebench, or set QUEUEBENCH)" >&2
  exit 2
}
for tool in redis-server redis-benchmark redis-cli python3; do
  command -v "$tool" >/dev/null || { echo "bench/queue: $tool not found" >&2; exit 2; }
done

WORK="$(mktemp -d /tmp/taquilla-queue-bench-XXXXXX)"
REDIS_PID=""
cleanup() {
  local status=$?
  if [[ -n "$REDIS_PID" ]] && kill -0 "$REDIS_PID" 2>/dev/null; then
    kill -TERM "$REDIS_PID" 2>/dev/null || true
    wait "$REDIS_PID" 2>/dev/null || true
  fi
  if [[ "$status" != 0 || "${KEEP_WORK:-0}" == 1 ]]; then
    echo "bench/queue: logs kept in $WORK" >&2
  else
    rm -rf "$WORK"
  fi
}
trap cleanup EXIT
fail() { echo "bench/queue: $*" >&2; exit 1; }

# A free loopback port (the kernel's pick for port 0, released at once).
PORT="$(python3 -c 'import socket
s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()')"
redis-server --bind 127.0.0.1 --port "$PORT" --save "" --appendonly no --dir "$WORK" \
  --logfile "$WORK/redis.log" --daemonize no &
REDIS_PID=$!
deadline=$((SECONDS + 20))
until redis-cli -p "$PORT" ping 2>/dev/null | grep -q PONG; do
  kill -0 "$REDIS_PID" 2>/dev/null || { cat "$WORK/redis.log" >&2; fail "redis-server exited"; }
  ((SECONDS < deadline)) || fail "redis-server did not answer within 20 s"
  sleep 0.05
done
echo "redis-server $(redis-server --version | sed -n 's/.*v=\([^ ]*\).*/\1/p') on port $PORT" >&2

# (1) The reference: pipelined LPUSH, 50 clients (redis-benchmark's default), 16 deep.
REF_OUT="$(redis-benchmark -p "$PORT" -P 16 -t lpush -n "$LPUSH_N" -q 2>&1 | tr '\r' '\n' |
  grep -E '^LPUSH: [0-9.]+ requests per second' | tail -1)"
LPUSH_RPS="$(sed -n 's/^LPUSH: \([0-9.]*\) requests per second.*/\1/p' <<<"$REF_OUT")"
[[ -n "$LPUSH_RPS" ]] || fail "could not read redis-benchmark's figure"
echo "reference: $REF_OUT" >&2
redis-cli -p "$PORT" flushall >/dev/null

# (2) The queue, RUNS times each with 1 and 2 consumers; the median of each.
status=0
declare -A MEDIAN
for consumers in 1 2; do
  results=()
  for ((run = 1; run <= RUNS; ++run)); do
    if ! line="$("$QUEUEBENCH" --redis "redis://127.0.0.1:$PORT" --items "$ITEMS" \
                   --batch "$BATCH" --pipeline 4 --consumers "$consumers")"; then
      echo "$line"
      echo "bench/queue: run $run with $consumers consumer(s) failed its checks" >&2
      status=1
      continue
    fi
    echo "$line"
    results+=("$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["items_per_s"])' \
                 "$line")")
  done
  ((${#results[@]} > 0)) || fail "no successful run with $consumers consumer(s)"
  MEDIAN[$consumers]="$(printf '%s\n' "${results[@]}" | sort -n |
    awk '{v[NR] = $1} END {print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2}')"
done

ratio() { python3 -c 'import sys; print(f"{float(sys.argv[1]) / float(sys.argv[2]):.3f}")' "$@"; }
echo "lpush_rps=$LPUSH_RPS"
echo "items_per_s_1c=${MEDIAN[1]}"
echo "items_per_s_2c=${MEDIAN[2]}"
echo "ratio_1c=$(ratio "${MEDIAN[1]}" "$LPUSH_RPS")"
echo "ratio_2c=$(ratio "${MEDIAN[2]}" "$LPUSH_RPS")"
exit $status
