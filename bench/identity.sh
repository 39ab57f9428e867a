#!/usr/bin/env bash
# Byte identity of two feedsmith binaries' output (issue 25: the one-tree path must not change a
# post). Records `feedsmith inspect --json` of every corpus file (../shared/corpus/feeds) and
# of every file of a genfarm farm, with each binary, twice per file (the file's own file://
# URL, where relative URLs are removed, and an https feed URL, where they are resolved), and
# diffs the two records. Exit 1 on any difference.
#
#   bash bench/identity.sh OLD_BINARY NEW_BINARY [FARM_DIR]
#
# FARM_DIR defaults to /tmp/farm-h1, generated when missing with
#   python3 ../shared/bench/genfarm.py /tmp/farm-h1 --feeds 9 --items 25
# Records go to /tmp/identity-{old,new}/ (one .json per input and URL kind, stderr included).
set -u
old=${1:?usage: identity.sh OLD_BINARY NEW_BINARY [FARM_DIR]}
new=${2:?usage: identity.sh OLD_BINARY NEW_BINARY [FARM_DIR]}
farm=${3:-/tmp/farm-h1}
here=$(cd "$(dirname "$0")/.." && pwd)
shared=$here/../shared
if [ ! -d "$farm/feeds" ]; then
  python3 "$shared/bench/genfarm.py" "$farm" --feeds 9 --items 25 >/dev/null || exit 2
fi
# An empty configuration: no configured feed matches, nothing is read from a store.
cfg=$(mktemp /tmp/identity-XXXX.toml)
printf '[database]\nurl = "sqlite:///tmp/identity-unused.db"\n' > "$cfg"
# An undated entry is dated when it is first seen (now): today's timestamps are masked.
today=$(date -u +%Y-%m-%d)
mask() { sed -E "s/${today}[T ][0-9:.]+(Z|[+-][0-9:]+)?/TODAY/g; s/${today}/TODAY/g"; }
record() { # binary outdir
  local bin=$1 out=$2 f name
  rm -rf "$out"; mkdir -p "$out"
  for f in "$shared"/corpus/feeds/* "$farm"/feeds/*; do
    [ -f "$f" ] || continue
    name=$(basename "$(dirname "$f")")__$(basename "$f")
    { "$bin" --config "$cfg" inspect --json "$f" 2>&1; echo "exit=$?"; } | mask > "$out/$name.file.json"
    { "$bin" --config "$cfg" inspect --json --feed-url "https://example.org/feeds/$(basename "$f")" "$f" 2>&1
      echo "exit=$?"; } | mask > "$out/$name.https.json"
  done
}
record "$old" /tmp/identity-old
record "$new" /tmp/identity-new
n=$(ls /tmp/identity-old | wc -l)
posts=$(cat /tmp/identity-new/*.json | grep -c '"entry_key"' || true)
rm -f "$cfg"
if diff -r /tmp/identity-old /tmp/identity-new > /tmp/identity.diff; then
  echo "identical: $n records ($posts posts)"
else
  echo "DIFFERENT: see /tmp/identity.diff ($(grep -c '^diff' /tmp/identity.diff) of $n records)"
  exit 1
fi
