#!/usr/bin/env bash
# `feedsmith fetch` of the whole real-world corpus (../shared/corpus, 112 feeds) served by nginx on
# loopback (../shared/bench/farm.sh), cold (empty database) and warm (everything 304).
#   bash bench/corpus-fetch.sh [PORT]
set -euo pipefail
cd "$(dirname "$0")/.."
port=${1:-8091}
shared=${FEEDSMITH_SHARED:-../shared}
work=$(mktemp -d)
chmod 755 "$work"   # nginx workers must read the served files
trap 'bash "$shared/bench/farm.sh" stop "$work/site" >/dev/null 2>&1 || true; rm -rf "$work"' EXIT
mkdir -p "$work/site"
cp "$shared"/corpus/feeds/* "$work/site/"
touch "$work/site/feeds.txt"   # farm.sh probes this file
bash "$shared/bench/farm.sh" start "$work/site" "$port" >/dev/null
cargo build --release --quiet
{
    printf '[database]\nurl = "sqlite://%s/corpus.db"\n[http]\nconcurrency = 16\nper_host_concurrency = 16\n[articles]\nfull_content = "never"\n' "$work"
    for f in "$work"/site/*; do
        [ "$(basename "$f")" = feeds.txt ] && continue
        name=$(basename "$f")
        [ -f "$f" ] || continue
        printf '[[feeds]]\nname = "%s"\nurl = "http://127.0.0.1:%s/%s"\ncollection = "blogs"\n' "$name" "$port" "$name"
    done
} > "$work/corpus.toml"
for phase in cold warm; do
    start=$(date +%s.%N)
    /usr/bin/time -f "%M" -o "$work/rss" target/release/feedsmith --config "$work/corpus.toml" fetch 2>"$work/$phase.log" || true
    end=$(date +%s.%N)
    summary=$(tail -1 "$work/$phase.log")
    printf '%s: %.2fs wall, peak RSS %.1f MB; %s\n' "$phase" "$(echo "$end - $start" | bc)" "$(echo "$(tail -1 "$work/rss") / 1024" | bc -l)" "$summary"
done
