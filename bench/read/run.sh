#!/usr/bin/env bash
# Read server benchmark: `taquilla read` answering an event page, as JSON (the API's Event)
# and as HTML (the event page), beside two references measured in the same run:
#   - nginx serving the very same bytes as static files (open_file_cache, sendfile, the
#     read server's Content-Type and other headers), the goal's yardstick: the read server
#     at >= 0.8x nginx's requests/s with a p99 <= 1.5x nginx's;
#   - taquilla-read-pgbench (bench/read/pgendpoint.cc), the same JSON request answered from
#     PostgreSQL (sync's Projector reads the event in one pipelined round trip, then
#     ComposeEvent; its bytes are the read server's exactly): goal read server >= 10x.
#     There is no HTML page from PostgreSQL; the HTML figure is set against the same
#     JSON endpoint (which skips the page rendering, so the ratio flatters PostgreSQL).
# Also: the read server's cache hit ratio during the runs (its /metrics), and the JSON
# figure of a second read server with its cache off (read.cache_mb=0: every request read
# from the replica in one round trip, composed, and sealed: ETag and gzip, as on a miss).
#
#   bench/read/run.sh            # --full: ROUNDS=5 rounds of DUR=10 s per target, medians
#   bench/read/run.sh --smoke    # 1 round of 2 s; checks every server answers 200 with
#                                # the right bytes (for CI, about 30 s in all)
#
# It starts a throwaway stack (`taquilla up --scale demo` on free ports), waits until sync
# has applied PostgreSQL's WAL and the indexer has drained its queue (an idle stack), then
# starts on free ports its own servers: two `taquilla read --data-dir` (read.io_threads=1,
# read.handler_threads=4, read.cache_mb=64 and 0), the PostgreSQL endpoint (1 I/O thread, 4
# handler threads, each its own connection) and nginx (worker_processes 1, not a daemon,
# its own config in the work dir). It picks the first scheduled event with tickets on sale
# from GET /api/v1/sites/$SITE/events, takes its JSON (?lang=$EV_LANG) and its canonical
# page URL (the JSON's "url") from the read server, and writes both bodies where nginx
# serves them under the same paths.
#
# Pinning (2 vCPUs): every server-side process on SERVER_CPU (the server under test; for
# the cache-off read server the Redis replica it reads, for the PostgreSQL endpoint its
# PostgreSQL backends; nginx's worker), wrk on LOAD_CPU: `taskset -c LOAD_CPU wrk -t1 -c32
# -d${DUR}s --latency URL`, the same for every target. Each round runs every target once,
# in alternating order (reversed every other round), after a 1 s untimed warm-up of each.
# Beside requests/s and latency, each run records the server side's CPU time (every thread
# of its processes): CPU µs per request, the share of its CPU it got (1.00: it had the CPU
# to itself and used all of it), how busy the servers' CPU and wrk's CPU were in all
# (other work on a shared machine shows there). CPU per request is the figure least moved
# by noise; requests/s and p99 move with whatever else the machine runs. Full mode also
# waits before each timed run, at most QUIET_WAIT (60) s, until both CPUs were under 15%
# busy for a second. Ratios are medians of the per-round ratios (paired runs).
#
# Env: TQ_BIN (default build/taquilla), READ_PGBENCH (default taquilla-read-pgbench beside
# TQ_BIN), NGINX, ROUNDS, DUR, CONNS (32), SERVER_CPU, LOAD_CPU, QUIET_WAIT, SITE (es), EV_LANG (es),
# KEEP_WORK=1 (keep the data dir, wrk outputs and logs).
# Prints key=value lines and a summary table; exits non-zero when a step or a check fails
# (a wrong status or body, wrk errors), not when a goal is missed.
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
. "$ROOT/bench/lib.sh"
BIN="${TQ_BIN:-$ROOT/build/taquilla}"
PGEP_BIN="${READ_PGBENCH:-$(dirname "$BIN")/taquilla-read-pgbench}"
NGINX="${NGINX:-$(command -v nginx || echo /usr/sbin/nginx)}"
parse_mode bench/read/run.sh "${1:-}"
if [[ "$MODE" == smoke ]]; then
  ROUNDS="${ROUNDS:-1}" DUR="${DUR:-2}" QUIET_WAIT="${QUIET_WAIT:-0}"
else
  ROUNDS="${ROUNDS:-5}" DUR="${DUR:-10}" QUIET_WAIT="${QUIET_WAIT:-60}"
fi
CONNS="${CONNS:-32}"
SITE="${SITE:-es}"
EV_LANG="${EV_LANG:-es}"
SCALE=demo
[[ -x "$BIN" ]] || { echo "taquilla binary not found at $BIN (set TQ_BIN)" >&2; exit 2; }
[[ -x "$PGEP_BIN" ]] || {
  echo "taquilla-read-pgbench not found at $PGEP_BIN (ninja -C $(dirname "$BIN")" \
    "taquilla-read-pgbench, or set READ_PGBENCH)" >&2
  exit 2
}
for tool in wrk taskset curl python3 redis-cli psql "$NGINX"; do
  command -v "$tool" >/dev/null || { echo "bench/read: $tool not found" >&2; exit 2; }
done

# Two CPUs this process may use: the servers' and wrk's. With one, nothing is pinned.
read -r CPU_A CPU_B < <(python3 -c 'import os; c = sorted(os.sched_getaffinity(0)); print(c[0], c[1] if len(c) > 1 else "")')
SERVER_CPU="${SERVER_CPU:-$CPU_A}"
LOAD_CPU="${LOAD_CPU:-$CPU_B}"
if [[ -n "$LOAD_CPU" ]]; then
  ON_SERVER=(taskset -c "$SERVER_CPU")
  ON_LOAD=(taskset -c "$LOAD_CPU")
  PINNING="servers on CPU $SERVER_CPU, wrk on CPU $LOAD_CPU"
else
  ON_SERVER=()
  ON_LOAD=()
  PINNING="not pinned (one CPU)"
fi

WORK="$(mktemp -d /tmp/taquilla-read-bench-XXXXXX)"
chmod 755 "$WORK"
mkdir -p "$WORK/bench" "$WORK/wrk" "$WORK/nginx/www" "$WORK/nginx/tmp"
chmod -R 755 "$WORK/nginx"
UP_PID=""
PIDS=()  # the servers this script started (read servers, the PostgreSQL endpoint, nginx)
cleanup() {
  local status=$?
  local pid
  for pid in "${PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${PIDS[@]}"; do
    local deadline=$((SECONDS + 10))
    while kill -0 "$pid" 2>/dev/null && ((SECONDS < deadline)); do sleep 0.1; done
    kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null || true
  done
  stop_up "$UP_PID"
  if [[ "$status" != 0 || "${KEEP_WORK:-0}" == 1 ]]; then
    echo "bench/read: data dir, wrk outputs and logs kept in $WORK" >&2
  else
    rm -rf "$WORK"
  fi
}
trap cleanup EXIT
fail() {
  echo "bench/read: $*" >&2
  for f in "$WORK"/bench/*.log; do [[ -f $f ]] && { echo "--- tail of $f" >&2; tail -n 10 "$f" >&2; }; done
  exit 1
}
json_get() {  # json_get FILE KEY: a top-level value (a list's first item), "" if missing
  python3 -c 'import json,sys
v = json.load(open(sys.argv[1])).get(sys.argv[2])
print("" if v is None else (v if not isinstance(v, list) else v[0]))' "$1" "$2" 2>/dev/null || true
}
http_code() { curl -sS -o /dev/null -w '%{http_code}' --max-time 5 "$@" 2>/dev/null || true; }

T_START=$SECONDS
STACK_BASE="$(free_port_block 30)"
"$BIN" up --data-dir "$WORK" --port-base "$STACK_BASE" --scale "$SCALE" >"$WORK/up.out" 2>&1 &
UP_PID=$!
deadline=$((SECONDS + 300))
until [[ -f "$WORK/endpoints.json" ]] && grep -q '"postgres":"postgresql' "$WORK/endpoints.json"; do
  kill -0 "$UP_PID" 2>/dev/null || fail "taquilla up exited: $(tail -5 "$WORK/up.out")"
  ((SECONDS < deadline)) || fail "the stack did not come up: $(tail -5 "$WORK/up.out")"
  sleep 0.2
done
PG="$(json_get "$WORK/endpoints.json" postgres)"
MASTER="$(json_get "$WORK/endpoints.json" redis_master)"
REPLICA="$(json_get "$WORK/endpoints.json" redis_replicas)"  # the one `taquilla read --data-dir` uses
[[ -n "$PG" && -n "$MASTER" ]] || fail "no postgres or redis_master in $WORK/endpoints.json"
[[ -n "$REPLICA" ]] || REPLICA="$MASTER"
MPORT="${MASTER##*:}"
RPORT="${REPLICA##*:}"
psqlq() { psql "$PG" -v ON_ERROR_STOP=1 -qAt "$@"; }

# An idle stack: sync has applied PostgreSQL's current WAL position, and the indexer has
# drained the search queue (its initial build would otherwise share the CPUs).
caught_up() { sync_caught_up "$PG" "$MPORT"; }
drained() { search_drained "$BIN" "$WORK"; }
deadline=$((SECONDS + 300))
until caught_up && drained; do
  kill -0 "$UP_PID" 2>/dev/null || fail "taquilla up exited"
  ((SECONDS < deadline)) || fail "sync did not catch up or the indexer did not drain its queue"
  sleep 0.2
done
echo "stack up and idle in $((SECONDS - T_START)) s (scale $SCALE): postgres $PG, replica $REPLICA" >&2

# Ports for our servers: a block clear of the stack's.
while :; do
  BASE="$(free_port_block 10)"
  ((BASE + 10 <= STACK_BASE || BASE >= STACK_BASE + 30)) && break
done
READ_PORT=$BASE NOCACHE_PORT=$((BASE + 1)) PGEP_PORT=$((BASE + 2)) NGINX_PORT=$((BASE + 3))
READ="http://127.0.0.1:$READ_PORT"
NOCACHE="http://127.0.0.1:$NOCACHE_PORT"
PGEP="http://127.0.0.1:$PGEP_PORT"
NGX="http://127.0.0.1:$NGINX_PORT"

READ_SET=(--set read.io_threads=1 --set read.handler_threads=4)
"${ON_SERVER[@]}" "$BIN" "${READ_SET[@]}" --set read.cache_mb=64 \
  read --data-dir "$WORK" --listen "127.0.0.1:$READ_PORT" >"$WORK/bench/read.log" 2>&1 &
PIDS+=($!)
READ_PID=$!
"${ON_SERVER[@]}" "$BIN" "${READ_SET[@]}" --set read.cache_mb=0 \
  read --data-dir "$WORK" --listen "127.0.0.1:$NOCACHE_PORT" >"$WORK/bench/read-nocache.log" 2>&1 &
PIDS+=($!)
NOCACHE_PID=$!
"${ON_SERVER[@]}" "$PGEP_BIN" --postgres "$PG" --listen "127.0.0.1:$PGEP_PORT" --threads 4 \
  >"$WORK/bench/pgendpoint.log" 2>&1 &
PIDS+=($!)
PGEP_PID=$!
deadline=$((SECONDS + 60))
until [[ "$(http_code "$READ/readyz")" == 200 && "$(http_code "$NOCACHE/readyz")" == 200 &&
         "$(http_code "$PGEP/healthz")" == 200 ]]; do
  for pid in "$READ_PID" "$NOCACHE_PID" "$PGEP_PID"; do
    kill -0 "$pid" 2>/dev/null || fail "a server exited at start"
  done
  ((SECONDS < deadline)) || fail "the read servers or the PostgreSQL endpoint are not ready"
  sleep 0.2
done

# The event: the first scheduled one with tickets on sale in the site's date order.
ID=""
deadline=$((SECONDS + 60))
while [[ -z "$ID" ]]; do
  ID="$(curl -fsS --max-time 5 "$READ/api/v1/sites/$SITE/events?per_page=20" 2>/dev/null | python3 -c '
import json, sys
items = json.load(sys.stdin)["items"]
ok = [e for e in items if e.get("status") == "scheduled" and (e.get("tickets_available") or 0) > 0]
print(ok[0]["id"] if ok else "")' 2>/dev/null || true)"
  [[ -n "$ID" ]] && break
  ((SECONDS < deadline)) || fail "no scheduled event with tickets on sale on site $SITE"
  sleep 0.5
done
JSON_PATH="/api/v1/sites/$SITE/events/$ID"
JSON_URL_PATH="$JSON_PATH?lang=$EV_LANG"
curl -fsS --max-time 5 -D "$WORK/bench/json.headers" -o "$WORK/nginx/www/event.json" \
  "$READ$JSON_URL_PATH" || fail "GET $JSON_URL_PATH failed"
HTML_PATH="$(json_get "$WORK/nginx/www/event.json" url)"
[[ "$HTML_PATH" =~ ^/[A-Za-z0-9/_.-]+$ ]] || fail "unexpected page URL '$HTML_PATH'"
curl -fsS --max-time 5 -D "$WORK/bench/html.headers" -o "$WORK/nginx/www/event.html" \
  "$READ$HTML_PATH" || fail "GET $HTML_PATH failed"
chmod 644 "$WORK"/nginx/www/*
JSON_BYTES=$(stat -c %s "$WORK/nginx/www/event.json")
HTML_BYTES=$(stat -c %s "$WORK/nginx/www/event.html")
LISTINGS=$(python3 -c 'import json,sys; print(len(json.load(open(sys.argv[1]))["listings"]))' \
  "$WORK/nginx/www/event.json")
echo "event $ID: JSON $JSON_URL_PATH ($JSON_BYTES bytes, $LISTINGS listings), page $HTML_PATH ($HTML_BYTES bytes)" >&2

# nginx: the same bytes under the same paths, with the read server's Content-Type and its
# other headers (Cache-Control, Vary; the page's CSP and the like), so each answer is as
# large. nginx adds its own Date, ETag, Last-Modified and Accept-Ranges.
python3 - "$WORK" "$NGINX_PORT" "$JSON_PATH" "$HTML_PATH" <<'PY'
import sys
work, port, json_path, html_path = sys.argv[1:]
skip = {"content-type", "content-length", "etag", "server", "date", "connection", "keep-alive",
        "transfer-encoding"}

def headers(name):
    ctype, extra = None, []
    for line in open(f"{work}/bench/{name}.headers", encoding="latin-1").read().splitlines()[1:]:
        if ":" not in line:
            continue
        k, v = line.split(":", 1)
        k, v = k.strip(), v.strip()
        if k.lower() == "content-type":
            ctype = v
        elif k.lower() not in skip:
            extra.append(f'      add_header {k} "{v.replace(chr(92), chr(92) * 2).replace(chr(34), chr(92) + chr(34))}" always;')
    return ctype, "\n".join(extra)

def location(path, file, name):
    ctype, extra = headers(name)
    return f"""    location = {path} {{
      alias {work}/nginx/www/{file};
      default_type "{ctype}";
{extra}
    }}"""

t = f"{work}/nginx/tmp"
conf = f"""worker_processes 1;
pid {work}/nginx/nginx.pid;
error_log {work}/nginx/error.log warn;
events {{ worker_connections 4096; }}
http {{
  access_log off;
  sendfile on;
  tcp_nopush on;
  tcp_nodelay on;
  keepalive_timeout 65;
  keepalive_requests 100000000;
  open_file_cache max=1000 inactive=60s;
  open_file_cache_valid 60s;
  open_file_cache_min_uses 1;
  open_file_cache_errors on;
  client_body_temp_path {t}/body;
  proxy_temp_path {t}/proxy;
  fastcgi_temp_path {t}/fastcgi;
  uwsgi_temp_path {t}/uwsgi;
  scgi_temp_path {t}/scgi;
  server {{
    listen 127.0.0.1:{port};
{location(json_path, "event.json", "json")}
{location(html_path, "event.html", "html")}
  }}
}}
"""
open(f"{work}/nginx/nginx.conf", "w").write(conf)
PY
"$NGINX" -t -q -p "$WORK/nginx" -e "$WORK/nginx/error.log" -c "$WORK/nginx/nginx.conf" \
  >"$WORK/bench/nginx.log" 2>&1 || fail "nginx -t: $(cat "$WORK/bench/nginx.log")"
"${ON_SERVER[@]}" "$NGINX" -p "$WORK/nginx" -e "$WORK/nginx/error.log" -c "$WORK/nginx/nginx.conf" \
  -g 'daemon off;' >>"$WORK/bench/nginx.log" 2>&1 &
PIDS+=($!)
NGINX_PID=$!
deadline=$((SECONDS + 20))
until [[ "$(http_code "$NGX$HTML_PATH")" == 200 ]]; do
  kill -0 "$NGINX_PID" 2>/dev/null || fail "nginx exited: $(cat "$WORK/nginx/error.log" 2>/dev/null)"
  ((SECONDS < deadline)) || fail "nginx does not answer"
  sleep 0.1
done

# Checks: every server answers 200 with the right bytes.
check() {  # check NAME URL FILE [curl args]: 200 and exactly FILE's bytes
  local name=$1 url=$2 file=$3
  shift 3
  local code
  code="$(curl -sS --max-time 10 -o "$WORK/bench/check.body" -w '%{http_code}' "$@" "$url")" ||
    fail "$name: GET $url failed"
  [[ "$code" == 200 ]] || fail "$name: GET $url answered $code"
  cmp -s "$WORK/bench/check.body" "$file" ||
    fail "$name: GET $url answered other bytes than the read server's $(basename "$file")"
}
J="$WORK/nginx/www/event.json"
H="$WORK/nginx/www/event.html"
check read "$READ$JSON_URL_PATH" "$J"
check read-nocache "$NOCACHE$JSON_URL_PATH" "$J"
check nginx "$NGX$JSON_URL_PATH" "$J"
check pg-endpoint "$PGEP$JSON_URL_PATH" "$J"  # the same request from PostgreSQL: the same bytes
check read "$READ$HTML_PATH" "$H"
check read-nocache "$NOCACHE$HTML_PATH" "$H"
check nginx "$NGX$HTML_PATH" "$H"
check read-gzip "$READ$JSON_URL_PATH" "$J" --compressed
curl -sS -D - -o /dev/null "$NGX$JSON_URL_PATH" | grep -qi '^content-type: application/json; charset=utf-8' ||
  fail "nginx does not send the JSON's Content-Type"
curl -sS -D - -o /dev/null -H 'Accept-Encoding: gzip' "$READ$JSON_URL_PATH" | grep -qi '^content-encoding: gzip' ||
  fail "the read server does not gzip when asked"
redirect="$(curl -sS -o /dev/null -w '%{http_code} %{redirect_url}' "$READ/$SITE/$EV_LANG/events/$ID")"
[[ "$redirect" == "301 $READ$HTML_PATH" ]] || fail "GET /$SITE/$EV_LANG/events/$ID: '$redirect', want a 301 to $HTML_PATH"
etag="$(sed -n 's/^[Ee][Tt][Aa][Gg]: *//p' "$WORK/bench/json.headers" | tr -d '\r')"
[[ "$(http_code -H "If-None-Match: $etag" "$READ$JSON_URL_PATH")" == 304 ]] ||
  fail "If-None-Match with the ETag did not answer 304"
echo "checks passed: 200 and the same bytes from every server; gzip, 301 and 304 on the read server" >&2

# Server-side helpers of the PostgreSQL endpoint and the cache-off read server on the
# servers' CPU: the Redis replica the read servers use, the endpoint's backends.
PINNED_NOTE=""
if [[ -n "$LOAD_CPU" ]]; then
  rpid="$(redis-cli -p "$RPORT" INFO server | tr -d '\r' | sed -n 's/^process_id://p')"
  [[ -n "$rpid" ]] && taskset -a -p -c "$SERVER_CPU" "$rpid" >/dev/null
fi
pin_backends() {
  [[ -n "$LOAD_CPU" ]] || return 0
  local pids n=0 pid
  pids="$(psqlq -c "SELECT pid FROM pg_stat_activity WHERE application_name = 'taquilla-read-pgbench'")"
  for pid in $pids; do taskset -p -c "$SERVER_CPU" "$pid" >/dev/null && n=$((n + 1)); done
  PINNED_NOTE="the Redis replica (pid ${rpid:-?}) and $n PostgreSQL backends of the endpoint also on CPU $SERVER_CPU"
}

TARGETS=(json_read json_nginx json_pg json_nocache html_read html_nginx)
declare -A URL=(
  [json_read]="$READ$JSON_URL_PATH" [json_nginx]="$NGX$JSON_URL_PATH"
  [json_pg]="$PGEP$JSON_URL_PATH" [json_nocache]="$NOCACHE$JSON_URL_PATH"
  [html_read]="$READ$HTML_PATH" [html_nginx]="$NGX$HTML_PATH")
wrk_run() {  # wrk_run OUT SECONDS URL
  "${ON_LOAD[@]}" wrk -t1 -c"$CONNS" -d"$2"s --latency "$3" >"$1" 2>&1 || fail "wrk failed: $(cat "$1")"
}
# snapshot PIDS...: the CPU time (ns, every thread) of the server side's processes, then
# the busy and total ticks of the servers' CPU and of wrk's (/proc/stat): how much of its
# CPU the server side had, and how busy wrk's CPU was (others may use either).
snapshot() {
  python3 - "${SERVER_CPU}" "${LOAD_CPU:-$SERVER_CPU}" "$@" <<'PY'
import glob, sys
cpus, pids = sys.argv[1:3], sys.argv[3:]
total = 0
for pid in pids:
    for f in glob.glob(f"/proc/{pid}/task/*/schedstat"):
        try:
            total += int(open(f).read().split()[0])
        except (OSError, ValueError, IndexError):
            pass
ticks = {}
for line in open("/proc/stat"):
    f = line.split()
    if f[0].startswith("cpu") and f[0] != "cpu":
        v = list(map(int, f[1:9]))  # user nice system idle iowait irq softirq steal
        ticks[f[0][3:]] = (sum(v) - v[3] - v[4], sum(v))
out = [total]
for c in cpus:
    out += ticks[c]
print(*out)
PY
}
# quiet_wait: before a timed run, wait (at most QUIET_WAIT s) until both CPUs were less
# than 15% busy for a second (this machine is shared); prints the seconds waited and the
# busy shares of the last second.
quiet_wait() {
  python3 - "$QUIET_WAIT" "$SERVER_CPU" "${LOAD_CPU:-$SERVER_CPU}" <<'PY'
import sys, time
limit, cpus = float(sys.argv[1]), sys.argv[2:]

def ticks():
    out = {}
    for line in open("/proc/stat"):
        f = line.split()
        if f[0].startswith("cpu") and f[0] != "cpu":
            v = list(map(int, f[1:9]))
            out[f[0][3:]] = (sum(v) - v[3] - v[4], sum(v))
    return out

start = time.monotonic()
while True:
    a = ticks()
    time.sleep(1 if limit > 0 else 0.2)
    b = ticks()
    busy = [(b[c][0] - a[c][0]) / max(b[c][1] - a[c][1], 1) for c in cpus]
    waited = time.monotonic() - start
    if max(busy) < 0.15 or waited >= limit:
        break
print(f"{waited:.0f}", *(f"{x:.2f}" for x in busy))
PY
}
children_of() { ps -o pid= --ppid "$1" | tr -d ' '; }  # the processes whose parent is $1
for t in "${TARGETS[@]}"; do wrk_run "$WORK/wrk/$t.warmup.txt" 1 "${URL[$t]}"; done
pin_backends
# The server side of each target, whose CPU time each run measures: the server process
# (all its threads) and what it waits on (the replica; the endpoint's PostgreSQL backends;
# nginx's master and worker).
BACKENDS="$(psqlq -c "SELECT pid FROM pg_stat_activity WHERE application_name = 'taquilla-read-pgbench'" | tr '\n' ' ')"
NGINX_WORKERS="$(children_of "$NGINX_PID" | tr '\n' ' ')"
[[ -n "$NGINX_WORKERS" ]] || fail "no nginx worker process found"
declare -A SIDE=(
  [json_read]="$READ_PID ${rpid:-}" [html_read]="$READ_PID ${rpid:-}"
  [json_nocache]="$NOCACHE_PID ${rpid:-}" [json_pg]="$PGEP_PID $BACKENDS"
  [json_nginx]="$NGINX_PID $NGINX_WORKERS" [html_nginx]="$NGINX_PID $NGINX_WORKERS")
echo "warmed up; $PINNING; $PINNED_NOTE" >&2

metric() {  # metric URL NAME
  curl -fsS --max-time 5 "$1/metrics" | awk -v m="$2" '$1 == m { print $2 }'
}
hits0="$(metric "$READ" taquilla_read_cache_hits_total)"
misses0="$(metric "$READ" taquilla_read_cache_misses_total)"
nc_hits0="$(metric "$NOCACHE" taquilla_read_cache_hits_total)"
for ((r = 1; r <= ROUNDS; r++)); do
  order=("${TARGETS[@]}")
  if ((r % 2 == 0)); then
    order=()
    for ((i = ${#TARGETS[@]} - 1; i >= 0; i--)); do order+=("${TARGETS[$i]}"); done
  fi
  for t in "${order[@]}"; do
    quiet_wait >"$WORK/wrk/$t.$r.quiet"
    snapshot ${SIDE[$t]} >"$WORK/wrk/$t.$r.cpu"
    wrk_run "$WORK/wrk/$t.$r.txt" "$DUR" "${URL[$t]}"
    snapshot ${SIDE[$t]} >>"$WORK/wrk/$t.$r.cpu"
    echo "round $r $t: $(sed -n 's/^Requests\/sec: *//p' "$WORK/wrk/$t.$r.txt") req/s, p99 $(awk '$1 == "99%" { print $2 }' "$WORK/wrk/$t.$r.txt") (waited/busy before: $(cat "$WORK/wrk/$t.$r.quiet"))" >&2
  done
done
hits1="$(metric "$READ" taquilla_read_cache_hits_total)"
misses1="$(metric "$READ" taquilla_read_cache_misses_total)"
nc_hits1="$(metric "$NOCACHE" taquilla_read_cache_hits_total)"

if [[ -n "$LOAD_CPU" ]]; then
  WRK_CMD="taskset -c $LOAD_CPU wrk -t1 -c$CONNS -d${DUR}s --latency URL"
else
  WRK_CMD="wrk -t1 -c$CONNS -d${DUR}s --latency URL"
fi
DOCS_PER_BUILD="$(psqlq -c "SELECT count(*) FROM event_sites es JOIN sites s ON s.code = es.site_code AND s.active
  JOIN site_languages sl ON sl.site_code = es.site_code WHERE es.event_id = $ID")"
export WORK ROUNDS DUR ID JSON_BYTES HTML_BYTES LISTINGS PINNING PINNED_NOTE WRK_CMD DOCS_PER_BUILD
export HITS="$((${hits1:-0} - ${hits0:-0}))" MISSES="$((${misses1:-0} - ${misses0:-0}))"
export NC_HITS="$((${nc_hits1:-0} - ${nc_hits0:-0}))"
python3 - <<'PY'
import os, re, statistics, sys
env = os.environ
wrk_dir, rounds = env["WORK"] + "/wrk", int(env["ROUNDS"])
unit = {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 6e4, "h": 3.6e6}


def dur_ms(s):
    m = re.fullmatch(r"([0-9.]+)(us|ms|s|m|h)", s)
    return float(m.group(1)) * unit[m.group(2)]


def parse(t, r):
    text = open(f"{wrk_dir}/{t}.{r}.txt").read()
    rps = float(re.search(r"^Requests/sec:\s*([0-9.]+)", text, re.M).group(1))
    pct = {m.group(1): dur_ms(m.group(2))
           for m in re.finditer(r"^\s+(50|75|90|99)%\s+(\S+)", text, re.M)}
    n = re.search(r"^\s*(\d+) requests in (\S+),", text, re.M)
    requests, secs = int(n.group(1)), dur_ms(n.group(2)) / 1e3
    bad = re.search(r"Non-2xx or 3xx responses:\s*(\d+)", text)
    sock = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", text)
    errors = (int(bad.group(1)) if bad else 0) + (sum(map(int, sock.groups())) if sock else 0)
    a, b = (list(map(int, line.split())) for line in open(f"{wrk_dir}/{t}.{r}.cpu"))
    d = [y - x for x, y in zip(a, b)]
    cpu_ns = d[0]
    return {"rps": rps, "p50": pct["50"], "p99": pct["99"], "errors": errors,
            "cpu_us": cpu_ns / 1e3 / max(requests, 1), "share": cpu_ns / 1e9 / secs,
            "busy_server": d[1] / max(d[2], 1), "busy_load": d[3] / max(d[4], 1)}


targets = ["json_read", "json_nginx", "json_pg", "json_nocache", "html_read", "html_nginx"]
raw, res, errors = {}, {}, []
keys = ("rps", "p50", "p99", "cpu_us", "share", "busy_server", "busy_load")
for t in targets:
    raw[t] = runs = [parse(t, r) for r in range(1, rounds + 1)]
    for r, x in enumerate(runs, 1):
        if x["errors"]:
            errors.append(f"{t} round {r}: {x['errors']} non-2xx responses or socket errors")
    res[t] = {k: statistics.median(x[k] for x in runs) for k in keys}
    res[t]["best_rps"] = max(x["rps"] for x in runs)
    res[t]["best_p99"] = min(x["p99"] for x in runs)
    res[t]["all_rps"] = [round(x["rps"]) for x in runs]
    res[t]["all_p99"] = [round(x["p99"], 2) for x in runs]


def met(ok):
    return "met" if ok else "missed"


def paired(a, b, key, inverse=False):
    """The median over rounds of a's figure over b's in the same round (the two ran
    minutes apart at most, so slow changes in the machine's load cancel out)."""
    return statistics.median((raw[b][r][key] / raw[a][r][key]) if inverse else
                             (raw[a][r][key] / raw[b][r][key]) for r in range(rounds))


hits, misses = int(env["HITS"]), int(env["MISSES"])
hit_ratio = hits / max(hits + misses, 1)
for t, x in res.items():
    print(f"{t}_rps={x['rps']:.0f} {t}_p50_ms={x['p50']:.3f} {t}_p99_ms={x['p99']:.3f} "
          f"{t}_cpu_us_per_req={x['cpu_us']:.1f} {t}_cpu_share={x['share']:.2f} "
          f"{t}_server_cpu_busy={x['busy_server']:.2f} {t}_wrk_cpu_busy={x['busy_load']:.2f} "
          f"{t}_best_rps={x['best_rps']:.0f} {t}_best_p99_ms={x['best_p99']:.3f} "
          f"{t}_rounds_rps={','.join(map(str, x['all_rps']))} "
          f"{t}_rounds_p99_ms={','.join(map(str, x['all_p99']))}")
jr, jn, jp, jc = res["json_read"], res["json_nginx"], res["json_pg"], res["json_nocache"]
hr, hn = res["html_read"], res["html_nginx"]
# Ratios: medians of the per-round ratios (paired runs); per CPU: the reference's CPU µs per
# request over ours (what the two would do with a whole CPU each).
ratios = {}
for name, a, b in [("json_read_over_nginx", "json_read", "json_nginx"),
                   ("json_read_over_pg", "json_read", "json_pg"),
                   ("html_read_over_nginx", "html_read", "html_nginx"),
                   ("html_read_over_pg_json", "html_read", "json_pg"),
                   ("json_nocache_over_nginx", "json_nocache", "json_nginx"),
                   ("json_nocache_over_pg", "json_nocache", "json_pg"),
                   ("json_nocache_over_read", "json_nocache", "json_read")]:
    ratios[name + "_rps"] = paired(a, b, "rps")
    ratios[name + "_p99"] = paired(a, b, "p99")
    ratios[name + "_per_cpu"] = paired(a, b, "cpu_us", inverse=True)
for k, v in ratios.items():
    print(f"{k}={v:.2f}")
print(f"cache_hits={hits} cache_misses={misses} cache_hit_ratio={hit_ratio:.5f} "
      f"nocache_server_hits={env['NC_HITS']}")
goal_json = ratios["json_read_over_nginx_rps"] >= 0.8 and ratios["json_read_over_nginx_p99"] <= 1.5
goal_html = ratios["html_read_over_nginx_rps"] >= 0.8 and ratios["html_read_over_nginx_p99"] <= 1.5
goal_pg = ratios["json_read_over_pg_rps"] >= 10
goal_pg_html = ratios["html_read_over_pg_json_rps"] >= 10
print(f"goal_json_vs_nginx={met(goal_json)} goal_html_vs_nginx={met(goal_html)} "
      f"goal_json_vs_pg={met(goal_pg)} goal_html_vs_pg={met(goal_pg_html)}")


def row(name, t, vs_nginx, vs_pg):
    x = res[t]
    vs_n = (f"{ratios[vs_nginx + '_rps']:.2f}× / {ratios[vs_nginx + '_p99']:.2f}× / "
            f"{ratios[vs_nginx + '_per_cpu']:.2f}×") if vs_nginx else "—"
    vs_p = (f"{ratios[vs_pg + '_rps']:.1f}× / {ratios[vs_pg + '_per_cpu']:.1f}×") if vs_pg else "—"
    return (f"| {name} | {x['rps']:,.0f} | {x['p50']:.2f} | {x['p99']:.2f} | {vs_n} | {vs_p} | "
            f"{x['cpu_us']:.1f} | {x['share']:.2f} / {x['busy_server']:.2f} / {x['busy_load']:.2f} |")


print()
print(f"{rounds} round(s) of {env['DUR']} s per target, medians; {env['PINNING']}; {env['PINNED_NOTE']}")
print(f"wrk: {env['WRK_CMD']}")
print(f"event {env['ID']}: {env['JSON_BYTES']}-byte JSON with {env['LISTINGS']} listing(s), "
      f"{env['HTML_BYTES']}-byte page; the PostgreSQL endpoint builds {env['DOCS_PER_BUILD']} "
      f"site-language documents per request (sync's Projector) and serves one")
print("| target | req/s | p50 ms | p99 ms | vs nginx: req/s / p99 / per CPU | vs PostgreSQL endpoint "
      "(JSON): req/s / per CPU | server side's CPU µs/req | its CPU share / server CPU busy / "
      "wrk CPU busy |")
print("|---|---|---|---|---|---|---|---|")
print(row("JSON: taquilla read", "json_read", "json_read_over_nginx", "json_read_over_pg"))
print(row("JSON: nginx, same bytes", "json_nginx", None, None))
print(row("JSON: PostgreSQL endpoint", "json_pg", None, None))
print(row("JSON: taquilla read, cache_mb=0", "json_nocache", "json_nocache_over_nginx",
          "json_nocache_over_pg"))
print(row("HTML: taquilla read", "html_read", "html_read_over_nginx", "html_read_over_pg_json"))
print(row("HTML: nginx, same bytes", "html_nginx", None, None))
print("CPU columns: the server side's CPU time per request; its CPU time / wall time; the busy "
      "share of the servers' CPU and of wrk's CPU in all (their excess over the server side's "
      "share, and wrk's, is other work on the machine)")
print("ratios: medians of the per-round ratios; per CPU: the reference's server-side CPU µs per "
      "request over ours")
print(f"cache hit ratio of `taquilla read` during the runs: {hit_ratio:.4%} "
      f"({hits:,} hits, {misses:,} misses); cache_mb=0 server: {env['NC_HITS']} hits")
print(f"goals: JSON vs nginx (>= 0.8x req/s, p99 <= 1.5x) {met(goal_json)}; HTML vs nginx "
      f"{met(goal_html)}; JSON vs PostgreSQL (>= 10x) {met(goal_pg)}; HTML vs the PostgreSQL "
      f"JSON endpoint (>= 10x) {met(goal_pg_html)}")
for e in errors:
    print(f"bench/read: {e}", file=sys.stderr)
sys.exit(1 if errors else 0)
PY
echo "bench/read: done in $((SECONDS - T_START)) s" >&2
