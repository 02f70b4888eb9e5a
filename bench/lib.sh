# Shell helpers the benchmark scripts share (source it: . "$ROOT/bench/lib.sh").

# parse_mode SCRIPT ARG: MODE=smoke for --smoke, MODE=full for --full or nothing; anything
# else prints SCRIPT's usage and exits 2.
parse_mode() {
  case "${2:-}" in
    --smoke) MODE=smoke ;;
    ""|--full) MODE=full ;;
    *) echo "usage: $1 [--smoke|--full]" >&2; exit 2 ;;
  esac
}

# free_port_block N: the first port of N consecutive free loopback ports.
free_port_block() {
  python3 - "$1" <<'PY'
import random, socket, sys
n = int(sys.argv[1])
for _ in range(200):
    base = random.randrange(20000, 60000, 10)
    socks = []
    try:
        for p in range(base, base + n):
            s = socket.socket()
            s.bind(("127.0.0.1", p))
            socks.append(s)
    except OSError:
        continue
    finally:
        for s in socks:
            s.close()
    print(base)
    break
else:
    raise SystemExit(f"no free block of {n} ports")
PY
}

# stop_up PID: SIGINT a `taquilla up`, SIGTERM after 30 s, and reap it.
stop_up() {
  local pid=$1
  [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null || return 0
  kill -INT "$pid" 2>/dev/null || true
  local deadline=$((SECONDS + 30))
  while kill -0 "$pid" 2>/dev/null && ((SECONDS < deadline)); do sleep 0.1; done
  kill -0 "$pid" 2>/dev/null && { echo "taquilla up ignored SIGINT; SIGTERM" >&2;
                                   kill -TERM "$pid" 2>/dev/null || true; }
  wait "$pid" 2>/dev/null || true
}

# sync_caught_up PG_URL REDIS_PORT [PREFIX]: true when sync has applied PostgreSQL's current
# WAL position to the Redis master on REDIS_PORT ({PREFIX}lsn, default tq:).
sync_caught_up() {
  local want have
  want="$(psql "$1" -v ON_ERROR_STOP=1 -qAt -c \
    "SELECT lpad(upper(to_hex((pg_current_wal_lsn() - '0/0')::bigint)), 16, '0')")"
  have="$(redis-cli -p "$2" GET "${3:-tq:}lsn")"
  [[ -n "$have" && ! "$have" < "$want" ]]
}

# search_drained BIN DATA_DIR: true when the stack's "search" queue is empty with nothing
# in flight (the indexer has indexed everything queued).
search_drained() {
  "$1" queue stats --data-dir "$2" --group search 2>/dev/null |
    awk '$1 == "search" { ok = ($2 == 0 && $4 == 0) } END { exit !ok }'
}
