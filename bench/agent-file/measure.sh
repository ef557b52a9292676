#!/usr/bin/env bash
# Imports a big Agent File into a fresh release mneme and reports the wall time of the import
# and the server's peak RSS (VmHWM). Not part of any test run.
#
#   cargo build --release -p mneme
#   MNEME_BIN=$CARGO_TARGET_DIR/release/mneme bench/agent-file/measure.sh [FILE.af]
#
# Without FILE.af it writes one with make_big_af.py (100,000 messages, ~57 MB) in a temp dir.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
: "${MNEME_BIN:?point MNEME_BIN at a release mneme binary}"
WORK="$(mktemp -d -t mneme-af-bench.XXXXXX)"
PID=""
cleanup() {
    if [[ -n "$PID" ]] && kill -0 "$PID" 2>/dev/null; then kill "$PID"; wait "$PID" 2>/dev/null || true; fi
    rm -rf "$WORK"
}
trap cleanup EXIT

FILE="${1:-}"
if [[ -z "$FILE" ]]; then
    FILE="$WORK/big.af"
    python3 "$HERE/make_big_af.py" -o "$FILE"
fi

MNEME_EMBEDDING_MODEL_FETCH=false "$MNEME_BIN" server --host 127.0.0.1 --port 0 \
    --data-dir "$WORK/data" 2>"$WORK/server.log" &
PID=$!
ADDR=""
for _ in $(seq 200); do
    ADDR="$(sed -n 's/\x1b\[[0-9;]*m//g; s/.*listening on \(http:\/\/\)\{0,1\}\([^ ]*\).*/\2/p' "$WORK/server.log" | head -1)"
    [[ -n "$ADDR" ]] && break
    sleep 0.1
done
[[ -n "$ADDR" ]] || { echo "mneme did not start:"; cat "$WORK/server.log"; exit 1; }
rss() { awk '/^VmHWM/ {print $2}' "/proc/$PID/status"; }

echo "file: $FILE ($(du -m "$FILE" | cut -f1) MB); server pid $PID on $ADDR; peak RSS before: $(rss) kB"
START=$(date +%s.%N)
STATUS=$(curl -sS -o "$WORK/resp.json" -w '%{http_code}' --max-time 3600 \
    -F "file=@$FILE;type=application/json" -F append_copy_suffix=false "http://$ADDR/v1/agents/import")
END=$(date +%s.%N)
echo "import: HTTP $STATUS in $(echo "$END - $START" | bc) s; peak RSS: $(rss) kB"
head -c 300 "$WORK/resp.json"; echo
if [[ "$STATUS" == 200 ]]; then
    AGENT=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["agent_ids"][0])' "$WORK/resp.json")
    COUNT=$(curl -sS "http://$ADDR/v1/agents/$AGENT" |
        python3 -c 'import json,sys; print(len(json.load(sys.stdin)["message_ids"]))')
    echo "agent $AGENT: $COUNT in-context messages"
    START=$(date +%s.%N)
    curl -sS -o "$WORK/export.af" "http://$ADDR/v1/agents/$AGENT/export"
    END=$(date +%s.%N)
    echo "export: $(du -m "$WORK/export.af" | cut -f1) MB in $(echo "$END - $START" | bc) s; peak RSS: $(rss) kB"
fi
