#!/usr/bin/env bash
# Secure app benchmark: the write path (holds and orders over HTTP on PostgreSQL) against the
# reference of pgbench's TPC-B-like transactions on the very same PostgreSQL in the same run.
#
#   bench/secure/run.sh            # --full: 20 s runs, 3 hot listings
#   bench/secure/run.sh --smoke    # 3 s runs, 1 hot listing, for CI (about 30 s in all)
#
# It starts a throwaway stack (`taquilla up --scale demo` on free ports), registers bench
# buyers and logs them in, has seller@example.test list fresh tickets on upcoming events, and:
#   (1) pgbench -i -s 10, then pgbench -c 16 -j 2 -T DUR on the stack's PostgreSQL: tps;
#   (2) taquilla-loadgen --mode holds_orders, 16 connections, DUR s: hold 1 ticket then pay it,
#       on 200 listings of 1000 tickets; pairs/s, and pairs/s ÷ pgbench tps (goal ≥ 0.5: one
#       pair is two HTTP requests and several transactions);
#   (3) --mode holds, the same, holds only;
#   (4) --mode hot, 64 connections on one listing of 1000 tickets until it is sold out (full:
#       3 listings, median): successful holds/s (goal ≥ 500/s) and p99 of POST /api/v1/holds;
#       then checks that exactly 1000 tickets were held, no more, no fewer.
#
# Env: TQ_BIN (default build/taquilla), LOADGEN (default taquilla-loadgen beside TQ_BIN),
#      PG_BIN (default /usr/lib/postgresql/15/bin), DUR (seconds per run), USERS (bench buyers),
#      KEEP_WORK=1 keeps the stack's data dir.
# Prints each run's JSON line, then key=value lines (pgbench_tps=… holds_orders_pairs_per_s=…
# ratio_vs_pgbench=… hot_holds_per_s=… hot_p99_ms=… holds_p99_ms=…). Exits non-zero when any
# request failed (a status other than 2xx or 409, or an I/O error) or a check did not hold.
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
. "$ROOT/bench/lib.sh"
BIN="${TQ_BIN:-$ROOT/build/taquilla}"
LOADGEN="${LOADGEN:-$(dirname "$BIN")/taquilla-loadgen}"
PG_BIN="${PG_BIN:-/usr/lib/postgresql/15/bin}"
parse_mode bench/secure/run.sh "${1:-}"
if [[ "$MODE" == smoke ]]; then
  DUR="${DUR:-3}" USERS="${USERS:-8}" HOT_RUNS=1
else
  DUR="${DUR:-20}" USERS="${USERS:-32}" HOT_RUNS=3
fi
LISTINGS=200        # listings of LISTING_QTY tickets for the holds and holds_orders runs
LISTING_QTY=1000    # the most a listing may hold
HOT_QTY=1000
CONNECTIONS=16
HOT_CONNECTIONS=64

[[ -x "$BIN" ]] || { echo "taquilla binary not found at $BIN (set TQ_BIN)" >&2; exit 2; }
[[ -x "$LOADGEN" ]] || {
  echo "taquilla-loadgen not found at $LOADGEN (ninja -C $(dirname "$BIN") taquilla-loadgen," \
    "or set LOADGEN)" >&2
  exit 2
}

WORK="$(mktemp -d /tmp/taquilla-secure-bench-XXXXXX)"
chmod 755 "$WORK"
UP_PID=""
cleanup() {
  local status=$?
  stop_up "$UP_PID"
  if [[ "$status" != 0 || "${KEEP_WORK:-0}" == 1 ]]; then
    echo "bench/secure: data dir and logs kept in $WORK" >&2
  else
    rm -rf "$WORK"
  fi
}
trap cleanup EXIT

fail() { echo "bench/secure: $*" >&2; exit 1; }
show_logs() {
  for f in "$WORK/up.out" "$WORK"/logs/*.log; do
    [[ -f "$f" ]] && { echo "--- tail of $f" >&2; tail -n 20 "$f" >&2; }
  done
  return 0
}
json_get() {  # json_get FILE KEY: a top-level value of a JSON file ("" for null or missing)
  python3 -c 'import json,sys
v = json.load(open(sys.argv[1])).get(sys.argv[2])
print("" if v is None else v)' "$1" "$2" 2>/dev/null || true
}

# A block of 30 free loopback ports (the stack uses port_base + 0..23).
PORT_BASE="$(free_port_block 30)"

T_START=$SECONDS
"$BIN" up --data-dir "$WORK" --port-base "$PORT_BASE" --scale demo >"$WORK/up.out" 2>&1 &
UP_PID=$!

SECURE=""
deadline=$((SECONDS + 180))
while :; do
  kill -0 "$UP_PID" 2>/dev/null || { show_logs; fail "taquilla up exited"; }
  ((SECONDS < deadline)) || { show_logs; fail "the secure app did not come up within 180 s"; }
  if [[ -z "$SECURE" && -f "$WORK/endpoints.json" ]]; then
    SECURE="$(json_get "$WORK/endpoints.json" secure)"
  fi
  [[ -n "$SECURE" ]] && curl -fsS -o /dev/null --max-time 2 "$SECURE/healthz" 2>/dev/null && break
  sleep 0.2
done
PG_URL="$(json_get "$WORK/endpoints.json" postgres)"
[[ -n "$PG_URL" ]] || fail "no postgres URL in $WORK/endpoints.json"
echo "stack up in $((SECONDS - T_START)) s: secure $SECURE, postgres $PG_URL" >&2

# Events for the listings: upcoming, scheduled, one listing per event.
psql "$PG_URL" -qAt -v ON_ERROR_STOP=1 -c \
  "SELECT id FROM events WHERE status = 'scheduled' AND starts_at > now() + interval '1 day'
   ORDER BY id LIMIT $((LISTINGS + HOT_RUNS))" >"$WORK/events.txt"
(($(wc -l <"$WORK/events.txt") == LISTINGS + HOT_RUNS)) || fail "not enough upcoming events"

# Bench buyers (registered, then logged in: argon2id, about 0.1 s each) and the listings.
T_SETUP=$SECONDS
python3 - "$SECURE" "$WORK" "$USERS" "$LISTINGS" "$LISTING_QTY" "$HOT_RUNS" "$HOT_QTY" <<'PY'
import concurrent.futures, http.client, json, sys, urllib.parse

secure, work, users, listings, listing_qty, hot_runs, hot_qty = sys.argv[1:]
users, listings, listing_qty, hot_runs, hot_qty = map(int, (users, listings, listing_qty,
                                                           hot_runs, hot_qty))
url = urllib.parse.urlsplit(secure)


class Client:
    def __init__(self, token=None):
        self.conn = http.client.HTTPConnection(url.hostname, url.port, timeout=30)
        self.token = token

    def post(self, path, body, expect):
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        if self.token:
            headers["Authorization"] = "Bearer " + self.token
        self.conn.request("POST", path, json.dumps(body), headers)
        res = self.conn.getresponse()
        data = res.read()
        if res.status not in expect:
            raise SystemExit(f"POST {path} -> {res.status} {data[:300]!r}")
        return res.status, json.loads(data) if data else None


def login(email, password):
    _, out = Client().post("/api/v1/sessions", {"email": email, "password": password}, (201,))
    return out["token"]


def buyer(i):
    email, password = f"bench{i}@example.test", f"bench-password-{i}"
    Client().post("/api/v1/users", {"email": email, "password": password,
                                    "display_name": f"Bench {i}", "locale": "en"}, (201, 409))
    return login(email, password)


with concurrent.futures.ThreadPoolExecutor(4) as pool:
    tokens = list(pool.map(buyer, range(1, users + 1)))
with open(f"{work}/tokens.txt", "w") as f:
    f.writelines(t + "\n" for t in tokens)

seller = Client(login("seller@example.test", "taquilla-demo"))
events = [int(line) for line in open(f"{work}/events.txt")]


def listing(event, qty):
    _, out = seller.post("/api/v1/listings", {
        "event_id": event, "section": "A", "row": "1", "seat_from": None, "seat_to": None,
        "quantity": qty, "price_minor": 5000, "face_value_minor": 4500, "currency": "EUR",
        "split": "any", "delivery": "eticket", "notes": ""}, (201,))
    return out["id"]


with open(f"{work}/listings.txt", "w") as f:
    f.writelines(f"{listing(e, listing_qty)}\n" for e in events[:listings])
with open(f"{work}/hot.txt", "w") as f:
    f.writelines(f"{listing(e, hot_qty)}\n" for e in events[listings:listings + hot_runs])
PY
echo "$USERS buyers and $((LISTINGS + HOT_RUNS)) listings ready in $((SECONDS - T_SETUP)) s" >&2

# (1) The reference: pgbench on the same PostgreSQL.
PG_BASE="${PG_URL%/*}"
psql "$PG_URL" -qc "CREATE DATABASE pgbench_ref"
"$PG_BIN/pgbench" -i -s 10 -q "$PG_BASE/pgbench_ref" >"$WORK/pgbench-init.out" 2>&1 ||
  { cat "$WORK/pgbench-init.out" >&2; fail "pgbench -i failed"; }
psql "$PG_URL" -qc "CHECKPOINT"
"$PG_BIN/pgbench" -c 16 -j 2 -T "$DUR" "$PG_BASE/pgbench_ref" >"$WORK/pgbench.out" 2>&1 ||
  { cat "$WORK/pgbench.out" >&2; fail "pgbench failed"; }
PGBENCH_TPS="$(sed -n 's/^tps = \([0-9.]*\) (without initial connection time)$/\1/p' \
  "$WORK/pgbench.out")"
[[ -n "$PGBENCH_TPS" ]] || { cat "$WORK/pgbench.out" >&2; fail "no tps in pgbench's output"; }
echo "pgbench: tps=$PGBENCH_TPS" >&2
psql "$PG_URL" -qc "DROP DATABASE pgbench_ref" -c "CHECKPOINT"

# (2)-(4) The secure app.
loadgen() {  # loadgen NAME ARGS...: one run, its JSON line into $WORK/NAME.json and stdout
  local name="$1"
  shift
  "$LOADGEN" --url "$SECURE" --token-file "$WORK/tokens.txt" "$@" >"$WORK/$name.json" \
    2> >(sed "s/^/[$name] /" >&2) || fail "taquilla-loadgen failed ($name)"
  [[ -s "$WORK/$name.json" ]] || fail "taquilla-loadgen printed nothing ($name)"
  echo "$name $(cat "$WORK/$name.json")"
}
loadgen holds_orders --mode holds_orders --listings "$WORK/listings.txt" \
  --connections "$CONNECTIONS" --duration "$DUR"
loadgen holds --mode holds --listings "$WORK/listings.txt" --connections "$CONNECTIONS" \
  --duration "$DUR"
i=0
while read -r hot; do
  i=$((i + 1))
  loadgen "hot$i" --mode hot --listings "$hot" --connections "$HOT_CONNECTIONS" \
    --duration 60 --until-sold-out
  # No overselling, no lost ticket: the listing is empty and its holds add up to its quantity.
  check="$(psql "$PG_URL" -qAt -F ' ' -c \
    "SELECT l.quantity_available, coalesce(sum(h.quantity), 0) FROM listings l
     LEFT JOIN holds h ON h.listing_id = l.id WHERE l.id = $hot GROUP BY l.id")"
  [[ "$check" == "0 $HOT_QTY" ]] ||
    fail "hot listing $hot: quantity_available and held tickets are '$check', want '0 $HOT_QTY'"
done <"$WORK/hot.txt"

python3 - "$WORK" "$PGBENCH_TPS" "$HOT_RUNS" "$HOT_QTY" <<'PY'
import json, statistics, sys

work, tps, hot_runs, hot_qty = sys.argv[1], float(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
run = {n: json.load(open(f"{work}/{n}.json"))
       for n in ["holds_orders", "holds"] + [f"hot{i}" for i in range(1, hot_runs + 1)]}
hot = [run[f"hot{i}"] for i in range(1, hot_runs + 1)]
ho, h = run["holds_orders"], run["holds"]
errors = sum(r["errors"] for r in run.values())
problems = [f"{n}: {r['errors']} failed requests" for n, r in run.items() if r["errors"]]
problems += [f"hot{i}: {r['ok']} holds, want {hot_qty}, sold_out={r['sold_out']}"
             for i, r in enumerate(hot, 1) if r["ok"] != hot_qty or not r["sold_out"]]
if ho["pairs"] == 0:
    problems.append("holds_orders: no order completed")
if h["ok"] == 0:
    problems.append("holds: no hold succeeded")
print(f"pgbench_tps={tps:.1f}")
print(f"holds_orders_pairs_per_s={ho['pairs_per_s']:.1f}")
print(f"holds_orders_p99_ms={ho['p99_ms']:.2f}")
print(f"ratio_vs_pgbench={ho['pairs_per_s'] / tps:.3f}")
print(f"holds_per_s={h['ok_per_s']:.1f}")
print(f"holds_p99_ms={h['p99_ms']:.2f}")
print(f"hot_holds_per_s={statistics.median(r['ok_per_s'] for r in hot):.1f}")
print(f"hot_p99_ms={statistics.median(r['p99_ms'] for r in hot):.2f}")
print(f"errors={errors}")
for p in problems:
    print(f"bench/secure: {p}", file=sys.stderr)
sys.exit(1 if problems else 0)
PY
echo "bench/secure: done in $((SECONDS - T_START)) s" >&2
