#!/usr/bin/env bash
# Search benchmark: the Xapian search index (taquilla indexer / reindex / Searcher) beside
# PostgreSQL full-text search on the same documents and queries, in the same run.
#
#   bench/search/run.sh            # --full: the ticketbis scale, 2,000 queries x 3 passes
#   bench/search/run.sh --smoke    # the demo scale, 200 queries x 1 pass, for CI
#
# It starts a throwaway stack (`taquilla up` on free ports), waits until sync has applied
# PostgreSQL's WAL and the indexer has drained the "search" queue, then:
#   (b) builds the PostgreSQL baseline: search_docs, one row per document the index holds
#       (site, language, event; the same language chains, names and site-currency prices
#       the projections use), its tsvector built with the language's configuration
#       (search_cfg: PostgreSQL's Snowball configuration for it, else 'simple'), a GIN
#       index on it and a btree on (site, lang, starts_at). After ANALYZE and CHECKPOINT,
#       twice (the first warms the caches); the second fill + indexes is the reference;
#   (a) indexing: `taquilla reindex` (every document rebuilt from the projections into a
#       new generation, committed, swapped in), twice as well, the second timed: docs/s
#       against (b)'s rows/s (goal >= 5,000 docs/s); bytes per document of the new
#       generation (as built, and after xapian-compact) against search_docs' (heap, TOAST
#       and both indexes);
#   (c) query latency: taquilla-searchbench draws a seeded mix of queries from the
#       documents and runs each against the Searcher and as SQL against search_docs
#       (JIT off), single-threaded, after an untimed warm-up pass: p50/p99 of each, the
#       ratio PostgreSQL p99 / Xapian p99 (goal >= 5) and Xapian's p99 (goal <= 10 ms);
#       what each side computes is in bench/search/searchbench.cc;
#   (d) freshness: FRESH title changes, each from PostgreSQL's commit until a Searcher with
#       no reopen delay finds its new word (goal: within 1 s), beside the time until the
#       change is in the Redis projection (sync alone), measured in the same loop.
# Env: TQ_BIN (default build/taquilla), SEARCHBENCH (default beside TQ_BIN), QUERIES, PASSES,
# FRESH, SEED, KEEP_WORK=1 (keep the data dir, queries.tsv with every query, and the logs).
# Prints key=value lines; exits non-zero when a step fails (not when a goal is missed).
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
. "$ROOT/bench/lib.sh"
BIN="${TQ_BIN:-$ROOT/build/taquilla}"
SEARCHBENCH="${SEARCHBENCH:-$(dirname "$BIN")/taquilla-searchbench}"
parse_mode bench/search/run.sh "${1:-}"
if [[ "$MODE" == smoke ]]; then
  QUERIES="${QUERIES:-200}" PASSES="${PASSES:-1}" FRESH="${FRESH:-10}" SCALE=demo
else
  QUERIES="${QUERIES:-2000}" PASSES="${PASSES:-3}" FRESH="${FRESH:-200}" SCALE=ticketbis
fi
SEED="${SEED:-1}"
[[ -x "$BIN" ]] || { echo "taquilla binary not found at $BIN (set TQ_BIN)" >&2; exit 2; }
[[ -x "$SEARCHBENCH" ]] || { echo "taquilla-searchbench not found at $SEARCHBENCH" >&2; exit 2; }

WORK="$(mktemp -d /tmp/taquilla-search-bench-XXXXXX)"
chmod 755 "$WORK"
UP_PID=""
cleanup() {
  local status=$?
  stop_up "$UP_PID"
  if [[ "$status" != 0 || "${KEEP_WORK:-0}" == 1 ]]; then
    echo "bench/search: data dir and logs kept in $WORK" >&2
  else
    rm -rf "$WORK"
  fi
}
trap cleanup EXIT
fail() {
  echo "bench/search: $*" >&2
  for f in "$WORK"/logs/indexer.log "$WORK"/logs/sync.log; do [[ -f $f ]] && tail -n 20 "$f" >&2; done
  exit 1
}
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
  kill -0 "$UP_PID" 2>/dev/null || fail "taquilla up exited: $(tail -5 "$WORK/up.out")"
  ((SECONDS < deadline)) || fail "the stack did not come up"
  sleep 0.5
done
PG="$(json_get "$WORK/endpoints.json" postgres)"
MASTER="$(json_get "$WORK/endpoints.json" redis_master)"
IMETRICS="$(json_get "$WORK/endpoints.json" indexer_metrics)"
MPORT="${MASTER##*:}"
INDEX_DIR="$WORK/index"
psqlq() { psql "$PG" -v ON_ERROR_STOP=1 -qAt "$@"; }

# Everything in PostgreSQL is in Redis (sync has applied the current WAL position), and
# everything queued for the index is in it (the search queue is empty, nothing in flight).
caught_up() { sync_caught_up "$PG" "$MPORT"; }
drained() { search_drained "$BIN" "$WORK"; }
imetric() {
  curl -fsS --max-time 2 "$IMETRICS" 2>/dev/null | awk -v m="$1" '$1 == m { print $2 }'
}
indexed_docs() { imetric taquilla_indexer_documents; }
deadline=$((SECONDS + 900))
until caught_up && drained && [[ "$(indexed_docs)" -gt 0 ]] 2>/dev/null; do
  kill -0 "$UP_PID" 2>/dev/null || fail "taquilla up exited"
  ((SECONDS < deadline)) || fail "the indexer did not drain the search queue"
  sleep 0.2
done
echo "stack up; sync caught up, search queue drained, $(indexed_docs) documents indexed (scale $SCALE)" >&2
# Where the indexer's time went while it drained the initial queue: reading projections and
# building documents, against writing and committing them to Xapian.
drain_docs="$(imetric taquilla_indexer_documents_total)"
drain_build_s="$(imetric taquilla_indexer_build_seconds_total)"
drain_write_s="$(imetric taquilla_indexer_write_seconds_total)"

# (b) The PostgreSQL baseline on the same data.
psqlq <<'SQL'
-- Each language's text search configuration: PostgreSQL's Snowball configuration for the
-- language where it has one (Xapian stems the same languages with the same Snowball
-- algorithms), else 'simple' (lower-casing only).
CREATE TABLE search_cfg AS
SELECT l.code AS lang,
       coalesce((SELECT c.oid::regconfig FROM pg_ts_config c WHERE c.cfgname = m.cfg),
                'simple'::regconfig) AS cfg
FROM languages l
LEFT JOIN (VALUES ('ar', 'arabic'), ('hy', 'armenian'), ('eu', 'basque'), ('ca', 'catalan'),
                  ('da', 'danish'), ('nl', 'dutch'), ('en', 'english'), ('fi', 'finnish'),
                  ('fr', 'french'), ('de', 'german'), ('el', 'greek'), ('hi', 'hindi'),
                  ('hu', 'hungarian'), ('id', 'indonesian'), ('ga', 'irish'), ('it', 'italian'),
                  ('lt', 'lithuanian'), ('ne', 'nepali'), ('nb', 'norwegian'),
                  ('nn', 'norwegian'), ('no', 'norwegian'), ('pt', 'portuguese'),
                  ('ro', 'romanian'), ('ru', 'russian'), ('sr', 'serbian'), ('es', 'spanish'),
                  ('sv', 'swedish'), ('ta', 'tamil'), ('tr', 'turkish'), ('yi', 'yiddish'))
          m(code, cfg)
  ON m.code = split_part(l.code, '-', 1);
SQL
# Statistics for the fill's plan, and no checkpoint due inside the timed builds.
psqlq -c "ANALYZE" -c "CHECKPOINT"

# One build of the baseline: a fresh table (untimed), then the timed fill and indexes.
build_pg() {
  psqlq <<'SQL'
SET client_min_messages = warning;
DROP TABLE IF EXISTS search_docs;
CREATE TABLE search_docs (
  site        text NOT NULL,
  lang        text NOT NULL,
  event_id    bigint NOT NULL,
  starts_at   timestamptz NOT NULL,
  month       text NOT NULL,  -- YYYY-MM in the venue's time zone (the month facet)
  category_id bigint NOT NULL,
  min_price   bigint,         -- the lowest price on sale, site currency minor units
  tickets     bigint NOT NULL,
  lat         double precision,
  lon         double precision,
  title       text NOT NULL,
  tsv         tsvector NOT NULL
);
SQL
  local t0=$(now_ms)
  psqlq -1 <<'SQL'
SET LOCAL maintenance_work_mem = '256MB';
INSERT INTO search_docs
SELECT s.code, sl.language_code, e.id, e.starts_at,
       to_char(e.starts_at AT TIME ZONE v.timezone, 'YYYY-MM'),
       e.category_id, o.min_price, coalesce(o.tickets, 0), v.latitude, v.longitude, t.title,
       -- Weights as the index's: title (A), performers (B), venue, city, category and
       -- description (C).
       setweight(to_tsvector(c.cfg, t.title), 'A') ||
       setweight(to_tsvector(c.cfg, coalesce(p.names, '')), 'B') ||
       setweight(to_tsvector(c.cfg, concat_ws(' ', v.name, coalesce(cn.name, ci.name),
                                              coalesce(kn.name, k.slug), t.description)), 'C')
FROM events e
JOIN event_sites es ON es.event_id = e.id
JOIN sites s ON s.code = es.site_code AND s.active
JOIN site_languages sl ON sl.site_code = s.code
JOIN search_cfg c ON c.lang = sl.language_code
JOIN venues v ON v.id = e.venue_id
JOIN cities ci ON ci.id = v.city_id
JOIN categories k ON k.id = e.category_id
-- The projections' language chain: the language, the site's default, English.
JOIN LATERAL (SELECT tr.title, tr.description FROM event_translations tr
              JOIN unnest(ARRAY[sl.language_code, s.default_language, 'en']::text[])
                   WITH ORDINALITY ch(l, n) ON tr.language_code = ch.l
              WHERE tr.event_id = e.id ORDER BY ch.n LIMIT 1) t ON true
LEFT JOIN LATERAL (SELECT x.name FROM city_translations x
                   JOIN unnest(ARRAY[sl.language_code, s.default_language, 'en']::text[])
                        WITH ORDINALITY ch(l, n) ON x.language_code = ch.l
                   WHERE x.city_id = ci.id ORDER BY ch.n LIMIT 1) cn ON true
LEFT JOIN LATERAL (SELECT x.name FROM category_translations x
                   JOIN unnest(ARRAY[sl.language_code, s.default_language, 'en']::text[])
                        WITH ORDINALITY ch(l, n) ON x.language_code = ch.l
                   WHERE x.category_id = k.id ORDER BY ch.n LIMIT 1) kn ON true
LEFT JOIN LATERAL (SELECT string_agg(pf.name, ' ' ORDER BY ep.position, pf.id) AS names
                   FROM event_performers ep JOIN performers pf ON pf.id = ep.performer_id
                   WHERE ep.event_id = e.id) p ON true
-- Offers: the lowest price on sale in the site's currency (converted as sync converts:
-- exchange_rates, rounded half up) and the tickets on sale.
LEFT JOIN LATERAL (
  SELECT min(CASE WHEN l.currency = s.currency THEN l.price_minor
                  ELSE round(l.price_minor * r.rate *
                             10::numeric ^ (qc.minor_units - bc.minor_units))::bigint
             END) AS min_price,
         sum(l.quantity_available) AS tickets
  FROM listings l
  JOIN currencies bc ON bc.code = l.currency
  JOIN currencies qc ON qc.code = s.currency
  LEFT JOIN exchange_rates r ON r.base_currency = l.currency AND r.quote_currency = s.currency
  WHERE l.event_id = e.id AND l.status = 'active' AND l.quantity_available > 0) o ON true
WHERE e.status <> 'cancelled' AND e.starts_at > now();
CREATE INDEX search_docs_tsv ON search_docs USING gin (tsv);
CREATE INDEX search_docs_site_lang_starts ON search_docs (site, lang, starts_at);
SQL
  echo $(( $(now_ms) - t0 ))
}
# Twice: the first run warms PostgreSQL's caches of the source tables; the second is timed.
pg_build_first_ms="$(build_pg)"
pg_build_ms="$(build_pg)"
psqlq -c "ANALYZE search_docs"
pg_rows="$(psqlq -c "SELECT count(*) FROM search_docs")"
pg_bytes="$(psqlq -c "SELECT pg_total_relation_size('search_docs')")"
pg_gin_bytes="$(psqlq -c "SELECT pg_relation_size('search_docs_tsv')")"
((pg_rows > 0)) || fail "search_docs is empty"

# (a) Indexing: a whole reindex from the projections, against (b)'s build; twice, as (b),
# the second timed.
reindex() {
  local t0=$(now_ms)
  "$BIN" reindex --data-dir "$WORK" --no-progress >"$WORK/reindex.out" 2>&1 ||
    { cat "$WORK/reindex.out" >&2; fail "taquilla reindex failed"; }
  echo $(( $(now_ms) - t0 ))
}
reindex_first_ms="$(reindex)"
reindex_ms="$(reindex)"
cat "$WORK/reindex.out" >&2
# "reindexed E events into generation G: D documents built, R changed meanwhile and queued again"
read -r ri_events ri_gen ri_docs < <(sed -nE 's/^reindexed ([0-9]+) events into generation ([0-9]+): ([0-9]+) documents built.*/\1 \2 \3/p' "$WORK/reindex.out") || true
[[ -n "${ri_docs:-}" ]] || fail "cannot read the reindex report"
gen_bytes="$(du -sb "$INDEX_DIR/g$ri_gen" | cut -f1)"
((ri_docs > 0)) || fail "the reindex built no documents"
# The same generation after xapian-compact (a fresh build leaves its B-tree blocks part full).
compact_bytes=0
if command -v xapian-compact >/dev/null; then
  for shard in "$INDEX_DIR/g$ri_gen"/shard-*; do
    xapian-compact "$shard" "$WORK/compact" >/dev/null
    compact_bytes=$((compact_bytes + $(du -sb "$WORK/compact" | cut -f1)))
    rm -rf "$WORK/compact"
  done
fi

# (c) Query latency, the index beside PostgreSQL.
"$SEARCHBENCH" --postgres "$PG" --index-dir "$INDEX_DIR" --queries "$QUERIES" --passes "$PASSES" --seed "$SEED" \
  --out "$WORK/queries.tsv" >"$WORK/searchbench.json" || fail "taquilla-searchbench failed"

# (d) Freshness: a title change, from PostgreSQL's commit to a hit in the index, beside the
# same change's arrival in the Redis projection (sync alone) measured in the same loop.
"$SEARCHBENCH" --postgres "$PG" --index-dir "$INDEX_DIR" --redis "$MASTER" --freshness "$FRESH" \
  --seed "$SEED" >"$WORK/freshness.json" || fail "taquilla-searchbench --freshness failed"
python3 - "$WORK/freshness.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
x, s = r["index"], r["redis"]
print(f"freshness_samples={r['samples']} searchable_p50_ms={x['p50_ms']:.1f} searchable_p99_ms={x['p99_ms']:.1f} "
      f"searchable_max_ms={x['max_ms']:.1f} redis_p50_ms={s['p50_ms']:.1f} redis_p99_ms={s['p99_ms']:.1f} "
      f"goal_searchable_1s={'met' if x['max_ms'] <= 1000 else 'missed'}")
PY

python3 - "$WORK/searchbench.json" <<PY
import json, sys
r = json.load(open(sys.argv[1]))
x, p, f = r["xapian"], r["pg"], r["pg_facets"]
docs, pg_rows = $ri_docs, $pg_rows
ri_s, pg_s = $reindex_ms / 1000, $pg_build_ms / 1000
ri_rate, pg_rate = docs / max(ri_s, 1e-3), pg_rows / max(pg_s, 1e-3)
print("scale=$SCALE")
print(f"reindex_docs={docs} reindex_events=$ri_events reindex_s={ri_s:.2f} docs_per_s={ri_rate:.0f} "
      f"pg_rows={pg_rows} pg_build_s={pg_s:.2f} pg_rows_per_s={pg_rate:.0f} ratio={ri_rate / pg_rate:.2f}x "
      f"goal_docs_per_s_5000={'met' if ri_rate >= 5000 else 'missed'}")
print(f"first_runs: reindex_s={$reindex_first_ms / 1000:.2f} pg_build_s={$pg_build_first_ms / 1000:.2f}")
print(f"indexer_initial_drain: documents=$drain_docs build_s={float('$drain_build_s' or 0):.1f} write_s={float('$drain_write_s' or 0):.1f}")
print(f"index_bytes_per_doc={$gen_bytes / docs:.0f} compacted={$compact_bytes / docs:.0f} pg_bytes_per_doc={$pg_bytes / pg_rows:.0f} "
      f"pg_gin_bytes_per_doc={$pg_gin_bytes / pg_rows:.0f} ratio={($gen_bytes / docs) / ($pg_bytes / pg_rows):.2f}x")
print(f"queries={r['queries']} timed_passes={r['passes']} browse={r['browse_queries']} index_docs={r['index_docs']} pool_docs={r['pool_docs']}")
print(f"xapian_p50_ms={x['p50_ms']:.3f} xapian_p99_ms={x['p99_ms']:.3f} xapian_mean_ms={x['mean_ms']:.3f} xapian_max_ms={x['max_ms']:.3f} "
      f"goal_p99_10ms={'met' if x['p99_ms'] <= 10 else 'missed'}")
print(f"pg_p50_ms={p['p50_ms']:.3f} pg_p99_ms={p['p99_ms']:.3f} pg_mean_ms={p['mean_ms']:.3f} pg_max_ms={p['max_ms']:.3f}")
print(f"pg_facets_p50_ms={f['p50_ms']:.3f} pg_facets_p99_ms={f['p99_ms']:.3f} pg_facets_mean_ms={f['mean_ms']:.3f} "
      f"pg_select1_p50_ms={r['pg_select1']['p50_ms']:.3f}")
ratio = p["p99_ms"] / max(x["p99_ms"], 1e-6)
print(f"p99_ratio_pg_over_xapian={ratio:.1f}x p99_ratio_pg_facets_over_xapian={f['p99_ms'] / max(x['p99_ms'], 1e-6):.1f}x "
      f"p50_ratio={p['p50_ms'] / max(x['p50_ms'], 1e-6):.1f}x goal_ratio_5x={'met' if ratio >= 5 else 'missed'}")
print(f"nonzero_share_xapian={r['xapian_nonzero_share']:.3f} nonzero_share_pg={r['pg_nonzero_share']:.3f} "
      f"nonzero_share_both={r['both_nonzero_share']:.3f} same_total_share={r['same_total_share']:.3f}")
if r["both_nonzero_share"] < 0.8:
    sys.exit("bench/search: fewer than 80% of the queries found something on both sides; the comparison means little")
PY
