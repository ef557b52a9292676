#!/usr/bin/env bash
# The Letta -> mneme migration bench: see README.md next to this file.
#
#   bench/letta-migration/run.sh            # the one-of-everything run
#   SCALE=1 bench/letta-migration/run.sh    # + 100 agents / 100k messages / 50k passages
#
# Steps: fake LLM up, Letta 0.16.7 up --fresh, populate.py, `mneme migrate from-letta`, mneme up
# on the migrated directory, compare.py, a cut-over (messages, passages and block edits on Letta,
# then `migrate --since`, compare.py again), replay.py (one more message to each agent on both,
# the fake's recorded requests compared), migrate again (nothing new expected), the same
# migration from Letta's database (--letta-database-url: dry run, timed run, second run,
# compare.py), a migration killed half-way then rerun (complete expected), compare again.
set -uo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
# The shared material sits beside the clone (../shared), as the README says.
K=${LETTA_REF_KIT:-$REPO/../shared/letta-reference}
export BENCH_DOCS=${BENCH_DOCS:-$REPO/../shared/fixtures/documents}
export LETTA_REF_DIR=${LETTA_REF_DIR:-/tmp/letta-ref}
BIN=${MNEME_BIN_DIR:-${CARGO_TARGET_DIR:-$HOME/.cache/mneme/target}/debug}
PY=${LETTA_PY:-$LETTA_REF_DIR/venv/bin/python}
FAKE_PORT=${FAKE_PORT:-8765}
MNEME_PORT=${MNEME_PORT:-8283}
LETTA=http://127.0.0.1:${LETTA_REF_PORT:-8284}
MNEME=http://127.0.0.1:$MNEME_PORT
FAKE=http://127.0.0.1:$FAKE_PORT
OUT=${OUT:-/tmp/letta-migration}
export OPENAI_BASE_URL=$FAKE/v1 OPENAI_API_KEY=${OPENAI_API_KEY:-sk-local}
# mneme: never download the local embedding model during the bench.
export MNEME_EMBEDDING_MODEL_FETCH=${MNEME_EMBEDDING_MODEL_FETCH:-false}

mkdir -p "$OUT"
FAILED=()
note() { printf '\n== %s\n' "$*"; }
fail() { echo "FAIL: $*"; FAILED+=("$*"); }
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done; }
trap cleanup EXIT

wait_http() {  # url seconds
  for _ in $(seq 1 $(( $2 * 4 ))); do curl -sf -o /dev/null "$1" && return 0; sleep 0.25; done
  return 1
}

note "fake LLM on $FAKE"
if ! curl -sf -o /dev/null "$FAKE/v1/models"; then
  "$BIN/mneme-fake-llm" --host 127.0.0.1 --port "$FAKE_PORT" 2>"$OUT/fake-llm.log" &
  PIDS+=($!)
  wait_http "$FAKE/v1/models" 30 || { echo "fake LLM did not start"; exit 2; }
fi
curl -s "$FAKE/v1/models" | grep -q '"gpt-4o-mini"' || { echo "fake LLM does not list gpt-4o-mini"; exit 2; }
curl -s -X POST "$FAKE/_fake/reset" >/dev/null

note "Letta 0.16.7 (fresh) on $LETTA"
redis-cli -p "${LETTA_REDIS_PORT:-6379}" ping >/dev/null 2>&1 || /usr/bin/redis-server --daemonize yes >/dev/null
"$K/setup.sh" >/dev/null
"$K/up.sh" --fresh | tail -n 3 || exit 2

note "populate"
"$PY" "$HERE/populate.py" --letta "$LETTA" --fake "$FAKE" --out "$OUT/summary.json" >/dev/null \
  || fail "populate.py"
COMPARE_ARGS=()
if [ -n "${SCALE:-}" ]; then
  "$PY" "$HERE/populate.py" --letta "$LETTA" --scale --out "$OUT/scale-summary.json" >/dev/null \
    || fail "populate.py --scale"
  COMPARE_ARGS=(--passages-per-agent 50)  # Letta sends 4096 floats with every passage
fi
"$PY" "$HERE/compare.py" --letta "$LETTA" --mneme "$LETTA" "${COMPARE_ARGS[@]}" >/dev/null \
  || fail "Letta compared with itself differs"

# The migration: `mneme migrate from-letta` (written in parallel with this bench).
migrate() {  # data-dir [extra args...]: the report on stdout, the log in $OUT/migrate.log
  local dir=$1; shift
  "$BIN/mneme" migrate from-letta --url "$LETTA" --data-dir "$dir" "$@" 2>>"$OUT/migrate.log"
}

start_mneme() {  # data-dir
  "$BIN/mneme" server --host 127.0.0.1 --port "$MNEME_PORT" --data-dir "$1" \
    >"$OUT/mneme-server.log" 2>&1 &
  MNEME_PID=$!
  PIDS+=("$MNEME_PID")
  wait_http "$MNEME/v1/health/" 60 || { fail "mneme did not start on $1"; return 1; }
}

stop_mneme() { kill "$MNEME_PID" 2>/dev/null; wait "$MNEME_PID" 2>/dev/null; }

D=$OUT/mneme-data
rm -rf "$D"
note "migrate (dry run, then for real) into $D"
if ! "$BIN/mneme" migrate from-letta --help >/dev/null 2>&1; then
  echo "mneme has no 'migrate from-letta' yet: the steps below will fail"
fi
migrate "$D" --dry-run --report "$OUT/migrate-dry.report.json" | tee "$OUT/migrate-dry.log" | tail -n 20 || fail "migrate --dry-run"
TIMED=()
[ -x /usr/bin/time ] && TIMED=(/usr/bin/time -f "migration: %e s wall, %U s user, %S s system, %M KiB peak RSS" -a -o "$OUT/migrate-1.time")
rm -f "$OUT/migrate-1.time"
"${TIMED[@]}" "$BIN/mneme" migrate from-letta --url "$LETTA" --data-dir "$D" --report "$OUT/migrate-1.report.json" \
  2>>"$OUT/migrate.log" | tee "$OUT/migrate-1.log" | tail -n 20 || fail "migrate"
cat "$OUT/migrate-1.time" 2>/dev/null

note "migrate again: nothing new expected"
migrate "$D" --report "$OUT/migrate-2.report.json" | tee "$OUT/migrate-2.log" | tail -n 20 || fail "second migrate"
"$PY" - "$OUT/migrate-2.report.json" <<'PYEOF' || fail "the second migration copied something"
import json, sys
r = json.load(open(sys.argv[1]))
copied = {k: t["copied"] for k, t in r["kinds"].items() if t["copied"]}
print("second run copied:", copied or "nothing")
sys.exit(1 if copied else 0)
PYEOF

note "mneme on the migrated directory; compare"
if start_mneme "$D"; then
  "$PY" "$HERE/compare.py" --letta "$LETTA" --mneme "$MNEME" --json "$OUT/compare-1.json" "${COMPARE_ARGS[@]}" \
    >"$OUT/compare-1.txt" || fail "compare after migration (all in $OUT/compare-1.txt)"
  head -n 100 "$OUT/compare-1.txt"
  stop_mneme

  note "cut-over: Letta keeps serving, then \`migrate --since\` brings the target level"
  "$PY" "$HERE/replay.py" --letta "$LETTA" --mneme "$MNEME" --fake "$FAKE" --sides letta \
    --text "Said on Letta during the cut-over." >"$OUT/cutover-traffic.txt" || fail "cut-over traffic"
  "$PY" "$HERE/cutover.py" --letta "$LETTA" | tee "$OUT/cutover-changes.json" || fail "cut-over changes"
  sleep 5  # sleep-time companions answer in the background
  SINCE=$("$PY" -c 'import json,sys; print(json.load(open(sys.argv[1]))["started_at"])' "$OUT/migrate-1.report.json")
  rm -f "$OUT/migrate-since.time"
  TIMED_SINCE=()
  [ -x /usr/bin/time ] && TIMED_SINCE=(/usr/bin/time -f "cut-over run: %e s wall, %U s user, %M KiB peak RSS" -a -o "$OUT/migrate-since.time")
  "${TIMED_SINCE[@]}" "$BIN/mneme" migrate from-letta --url "$LETTA" --data-dir "$D" --since "$SINCE" \
    --report "$OUT/migrate-since.report.json" 2>>"$OUT/migrate.log" | tee "$OUT/migrate-since.log" | tail -n 20 \
    || fail "migrate --since"
  cat "$OUT/migrate-since.time" 2>/dev/null
  "$PY" - "$OUT/migrate-since.report.json" "$OUT/cutover-changes.json" <<'PYEOF' || fail "the cut-over run did not copy what changed"
import json, sys
r, changed = json.load(open(sys.argv[1])), json.load(open(sys.argv[2]))
copied = {k: t["copied"] for k, t in r["kinds"].items()}
print("cut-over run copied:", copied)
ok = copied.get("messages", 0) > 0 and copied.get("passages", 0) >= changed["passages"] \
    and copied.get("block_values", 0) >= changed["shared_blocks"]
sys.exit(0 if ok else 1)
PYEOF
  start_mneme "$D" || true
  "$PY" "$HERE/compare.py" --letta "$LETTA" --mneme "$MNEME" --json "$OUT/compare-since.json" "${COMPARE_ARGS[@]}" \
    >"$OUT/compare-since.txt"
  head -n 100 "$OUT/compare-since.txt"
  # Level again: no more differences than right after the first migration (those left are
  # listed in README.md, mneme's own listing).
  n_first=$(grep -oE '^[0-9]+ difference' "$OUT/compare-1.txt" | grep -oE '^[0-9]+' || echo 0)
  n_since=$(grep -oE '^[0-9]+ difference' "$OUT/compare-since.txt" | grep -oE '^[0-9]+' || echo 0)
  echo "differences: $n_first after the first run, $n_since after the cut-over run"
  [ "$n_since" -le "$n_first" ] || fail "the cut-over run left more differences (all in $OUT/compare-since.txt)"

  note "one more message to each agent on both servers; the LLM requests compared"
  "$PY" "$HERE/replay.py" --letta "$LETTA" --mneme "$MNEME" --fake "$FAKE" --json "$OUT/replay.json" \
    >"$OUT/replay.txt" || fail "replay (all in $OUT/replay.txt)"
  head -n 150 "$OUT/replay.txt"
  stop_mneme
fi

note "the database path: the same Letta read from its PostgreSQL (--letta-database-url)"
# The kit makes Letta's tables from its models, without Alembic: its database has no
# alembic_version to check, hence --letta-any-schema (a deployment's database has one).
LETTA_DB=postgresql://postgres@127.0.0.1:${LETTA_REF_PG_PORT:-15433}/${LETTA_REF_DB:-letta}
migrate_db() {  # data-dir [extra args...]
  local dir=$1; shift
  "$BIN/mneme" migrate from-letta --letta-database-url "$LETTA_DB" --letta-any-schema \
    --data-dir "$dir" "$@" 2>>"$OUT/migrate-db.log"
}
D3=$OUT/mneme-data-db
rm -rf "$D3"
migrate_db "$D3" --dry-run --report "$OUT/migrate-db-dry.report.json" | tail -n 20 || fail "migrate --letta-database-url --dry-run"
rm -f "$OUT/migrate-db.time"
[ -x /usr/bin/time ] && TIMED=(/usr/bin/time -f "migration (database): %e s wall, %U s user, %S s system, %M KiB peak RSS" -a -o "$OUT/migrate-db.time")
"${TIMED[@]}" "$BIN/mneme" migrate from-letta --letta-database-url "$LETTA_DB" --letta-any-schema \
  --data-dir "$D3" --report "$OUT/migrate-db-1.report.json" 2>>"$OUT/migrate-db.log" \
  | tee "$OUT/migrate-db-1.log" | tail -n 20 || fail "migrate --letta-database-url"
cat "$OUT/migrate-db.time" 2>/dev/null
migrate_db "$D3" --report "$OUT/migrate-db-2.report.json" | tail -n 20 || fail "second migrate --letta-database-url"
"$PY" - "$OUT/migrate-db-2.report.json" <<'PYEOF' || fail "the second database migration copied something"
import json, sys
r = json.load(open(sys.argv[1]))
copied = {k: t["copied"] for k, t in r["kinds"].items() if t["copied"]}
print("second run copied:", copied or "nothing")
sys.exit(1 if copied else 0)
PYEOF
if start_mneme "$D3"; then
  "$PY" "$HERE/compare.py" --letta "$LETTA" --mneme "$MNEME" --json "$OUT/compare-db.json" "${COMPARE_ARGS[@]}" \
    >"$OUT/compare-db.txt" || fail "compare after the database migration (all in $OUT/compare-db.txt)"
  head -n 100 "$OUT/compare-db.txt"
  stop_mneme
fi

KILL_AFTER=${KILL_AFTER:-2}  # seconds; at the normal size 2 s lands before the first write: try 4-5
note "a migration killed after $KILL_AFTER s, then rerun"
D2=$OUT/mneme-data-killed
rm -rf "$D2"
timeout -s KILL "$KILL_AFTER" "$BIN/mneme" migrate from-letta --url "$LETTA" --data-dir "$D2" >"$OUT/migrate-killed.log" 2>&1
echo "killed run exit status: $? (137 = killed)"
migrate "$D2" --report "$OUT/migrate-3.report.json" | tee "$OUT/migrate-3.log" | tail -n 20 || fail "migrate after kill"
if start_mneme "$D2"; then
  "$PY" "$HERE/compare.py" --letta "$LETTA" --mneme "$MNEME" --json "$OUT/compare-killed.json" "${COMPARE_ARGS[@]}" \
    >"$OUT/compare-killed.txt" || fail "compare after killed + rerun migration (all in $OUT/compare-killed.txt)"
  head -n 100 "$OUT/compare-killed.txt"
  stop_mneme
fi

note "result"
if [ ${#FAILED[@]} -eq 0 ]; then echo "all steps passed (outputs in $OUT)"; exit 0; fi
printf 'failed: %s\n' "${FAILED[@]}"
exit 1
