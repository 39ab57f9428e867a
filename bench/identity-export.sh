#!/usr/bin/env bash
# Byte-identity proof for a refactor (issue 17): `fetch` of the whole real-world corpus
# (../shared/corpus, served by nginx on loopback) into a fresh SQLite file, then `export`, with
# two binaries, one feed at a time (the slug suffixes of equal titles in different feeds follow
# the order polls are stored), at one frozen wall-clock time (libfaketime: undated entries take the poll's time
# as their date, so without it two runs differ by their start times). Exits 1 when the exported
# sites differ in any byte.
#   bash bench/identity-export.sh OLD_BINARY NEW_BINARY [PORT]
# Needs faketime (Debian's package `faketime`) and nginx (installed by farm.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
old=$1 new=$2 port=${3:-8093}
shared=${FEEDSMITH_SHARED:-../shared}
command -v faketime >/dev/null || { echo "identity-export.sh: install faketime (apt-get install faketime)" >&2; exit 2; }
work=$(mktemp -d)
chmod 755 "$work"
trap 'bash "$shared/bench/farm.sh" stop "$work/site" >/dev/null 2>&1 || true; rm -rf "$work"' EXIT
mkdir -p "$work/site"
cp "$shared"/corpus/feeds/* "$work/site/"
touch "$work/site/feeds.txt"
bash "$shared/bench/farm.sh" start "$work/site" "$port" >/dev/null
for which in old new; do
    bin=$old; [ "$which" = new ] && bin=$new
    mkdir -p "$work/$which"
    {
        printf '[database]\nurl = "sqlite://%s/%s/corpus.db"\n[http]\nconcurrency = 1\nper_host_concurrency = 1\n[articles]\nfull_content = "never"\n' "$work" "$which"
        for f in "$work"/site/*; do
            name=$(basename "$f")
            [ "$name" = feeds.txt ] && continue
            [ -f "$f" ] || continue
            printf '[[feeds]]\nname = "%s"\nurl = "http://127.0.0.1:%s/%s"\ncollection = "blogs"\n' "$name" "$port" "$name"
        done
    } > "$work/$which/corpus.toml"
    export FAKETIME="2026-12-01 12:00:00" FAKETIME_DONT_FAKE_MONOTONIC=1
    faketime -f "$FAKETIME" "$bin" --config "$work/$which/corpus.toml" fetch >/dev/null 2>"$work/$which/fetch.log" || true
    faketime -f "$FAKETIME" "$bin" --config "$work/$which/corpus.toml" export --out "$work/$which/site" >/dev/null 2>"$work/$which/export.log"
    unset FAKETIME FAKETIME_DONT_FAKE_MONOTONIC
    echo "$which: $(tail -1 "$work/$which/fetch.log"); $(find "$work/$which/site" -type f | wc -l) files"
done
if diff -r "$work/old/site" "$work/new/site" >"$work/diff.txt"; then
    echo "identical: $(find "$work/new/site" -name '*.md' | wc -l) posts, every byte"
else
    head -50 "$work/diff.txt"
    echo "identity-export.sh: the exports DIFFER" >&2
    exit 1
fi
