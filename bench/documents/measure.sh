#!/usr/bin/env bash
# Uploads documents into a folder of a fresh release mneme embedding with the built-in local
# model (all-MiniLM-L6-v2, no API key) and reports, per file, the wall time from the upload to
# `completed` and that time per MB of upload. Not part of any test run.
#
#   cargo build --release -p mneme && scripts/fetch-model
#   MNEME_BIN=$CARGO_TARGET_DIR/release/mneme bench/documents/measure.sh [FILE ...]
#
# Without files it uploads tests/fixtures/documents/memgpt_paper.pdf and long_test.txt.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"
: "${MNEME_BIN:?point MNEME_BIN at a release mneme binary}"
WORK="$(mktemp -d -t mneme-doc-bench.XXXXXX)"
PID=""
cleanup() {
    if [[ -n "$PID" ]] && kill -0 "$PID" 2>/dev/null; then kill "$PID"; wait "$PID" 2>/dev/null || true; fi
    rm -rf "$WORK"
}
trap cleanup EXIT

FILES=("$@")
if [[ ${#FILES[@]} -eq 0 ]]; then
    FILES=("$REPO/tests/fixtures/documents/memgpt_paper.pdf" "$REPO/tests/fixtures/documents/long_test.txt")
fi

"$MNEME_BIN" server --host 127.0.0.1 --port 0 --data-dir "$WORK/data" 2>"$WORK/server.log" &
PID=$!
ADDR=""
for _ in $(seq 200); do
    ADDR="$(sed -n 's/\x1b\[[0-9;]*m//g; s/.*listening on \(http:\/\/\)\{0,1\}\([^ ]*\).*/\2/p' "$WORK/server.log" | head -1)"
    [[ -n "$ADDR" ]] && break
    sleep 0.1
done
[[ -n "$ADDR" ]] || { echo "mneme did not start:"; cat "$WORK/server.log"; exit 1; }
BASE="http://$ADDR"

FOLDER=$(curl -sS -X POST "$BASE/v1/folders/" -H 'content-type: application/json' \
    -d '{"name": "bench", "embedding": "local/all-MiniLM-L6-v2"}' |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')
# The model loads on first use: warm it with a tiny file, not timed.
printf 'warm up\n' > "$WORK/warm.txt"
curl -sS -o /dev/null -F "file=@$WORK/warm.txt;type=text/plain" "$BASE/v1/folders/$FOLDER/upload"
sleep 3

echo "| file | bytes | chunks | upload to completed | per MB |"
echo "| --- | ---: | ---: | ---: | ---: |"
for f in "${FILES[@]}"; do
    bytes=$(stat -c %s "$f")
    start=$(date +%s.%N)
    id=$(curl -sS -F "file=@$f" "$BASE/v1/folders/$FOLDER/upload" |
        python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')
    while :; do
        read -r status chunks < <(curl -sS "$BASE/v1/folders/$FOLDER/files/$id" |
            python3 -c 'import json,sys; f=json.load(sys.stdin); print(f["processing_status"], f.get("total_chunks"))')
        [[ "$status" == completed || "$status" == error ]] && break
        sleep 0.05
    done
    end=$(date +%s.%N)
    secs=$(echo "$end - $start" | bc -l)
    per_mb=$(echo "$secs / ($bytes / 1048576)" | bc -l)
    printf '| %s (%s) | %d | %s | %.2f s | %.2f s/MB |\n' "$(basename "$f")" "$status" "$bytes" "$chunks" "$secs" "$per_mb"
done
