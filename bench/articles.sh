#!/usr/bin/env bash
# The article step (full content), measured on loopback:
#  1. three real teaser feeds of the corpus (heise developer Atom, Techmeme RSS, a science-news
#     RSS), their links rewritten to pages built in each site's layout (bench/article_pages.py):
#     plain-text length of the posts without and with the step;
#  2. a genfarm.py farm (default 2000 feeds x 25 items) with a page behind every link: the time a
#     cold `fetch` takes without the step and with it (the extra time the step adds).
#   bash bench/articles.sh [FEEDS] [ITEMS]
set -euo pipefail
cd "$(dirname "$0")/.."
feeds=${1:-2000}
items=${2:-25}
shared=${FEEDSMITH_SHARED:-../shared}
cport=8096
fport=8097
work=$(mktemp -d)
chmod 755 "$work"
server=""
cleanup() {
    [ -n "$server" ] && kill "$server" 2>/dev/null || true
    bash "$shared/bench/farm.sh" stop "$work/farm" >/dev/null 2>&1 || true
    rm -rf "$work"
}
trap cleanup EXIT
cargo build --release --quiet
bin=target/release/feedsmith

# Plain-text characters of each post (markdown syntax and URLs stripped), averaged per feed.
lengths() {
    python3 - "$1" <<'PY'
import re, sqlite3, sys
db = sqlite3.connect(sys.argv[1])
out = {}
for feed, md in db.execute("SELECT feed_name, content_markdown FROM posts"):
    t = re.sub(r"\]\([^)]*\)", "]", md)
    t = re.sub(r"[#*_`>\[\]!-]", " ", t)
    out.setdefault(feed, []).append(len(" ".join(t.split())))
for feed in sorted(out):
    v = out[feed]
    print(f"{feed}\t{len(v)}\t{sum(v) // len(v)}")
PY
}

echo "== 1. corpus teaser feeds"
python3 bench/article_pages.py corpus "$shared/corpus" "$work/corpus" "http://127.0.0.1:$cport" >/dev/null
python3 -m http.server --bind 127.0.0.1 --directory "$work/corpus" "$cport" >/dev/null 2>&1 &
server=$!
sleep 1
for mode in never when_short; do
    {
        printf '[database]\nurl = "sqlite://%s/corpus-%s.db"\n' "$work" "$mode"
        printf '[articles]\nfull_content = "%s"\nper_host_interval = "20ms"\n' "$mode"
        for site in heise techmeme scitech; do
            printf '[[feeds]]\nname = "%s"\nurl = "http://127.0.0.1:%s/%s.xml"\ncollection = "blogs"\n' "$site" "$cport" "$site"
        done
    } > "$work/corpus-$mode.toml"
    "$bin" --config "$work/corpus-$mode.toml" fetch 2>"$work/corpus-$mode.log" || true
    tail -1 "$work/corpus-$mode.log"
    lengths "$work/corpus-$mode.db" > "$work/corpus-$mode.tsv"
done
echo -e "feed\tposts\tplain chars before\tplain chars after"
join -t $'\t' "$work/corpus-never.tsv" "$work/corpus-when_short.tsv" | awk -F'\t' '{printf "%s\t%s\t%s\t%s\n", $1, $2, $3, $5}'
kill "$server"; server=""

echo "== 2. farm: $feeds feeds x $items items, a page behind every link"
python3 "$shared/bench/genfarm.py" "$work/farm" --feeds "$feeds" --items "$items" --base-url "http://127.0.0.1:$fport" >/dev/null
python3 bench/article_pages.py farm "$work/farm"
bash "$shared/bench/farm.sh" start "$work/farm" "$fport" >/dev/null
# Reddit-shaped feeds link to www.reddit.com, which a benchmark must not contact.
python3 - "$work/farm/feeds.toml" > "$work/feeds.toml" <<'PY'
import sys
for block in open(sys.argv[1]).read().split("\n\n"):
    if block.strip():
        extra = '\nfull_content = "never"' if 'collection = "community"' in block else ""
        print(block + extra + "\n")
PY
for mode in never when_short; do
    {
        printf '[database]\nurl = "sqlite://%s/farm-%s.db"\n' "$work" "$mode"
        printf '[http]\nconcurrency = 16\nper_host_concurrency = 16\n'
        # The whole farm is one host (127.0.0.1): no per-host interval, or the step would measure
        # the politeness delay instead of the work.
        printf '[articles]\nfull_content = "%s"\nconcurrency = 16\nper_host_interval = "0s"\n' "$mode"
        cat "$work/feeds.toml"
    } > "$work/farm-$mode.toml"
    /usr/bin/time -f "%e %M" -o "$work/time-$mode" "$bin" --config "$work/farm-$mode.toml" fetch 2>"$work/farm-$mode.log" || true
    read -r secs kb < "$work/time-$mode"
    pages=$(grep -c '/site/' "$work/farm/.nginx/access.log" || true)
    : > "$work/farm/.nginx/access.log"
    echo "full_content=$mode: ${secs}s, peak RSS $((kb / 1024)) MB, article pages requested: $pages; $(tail -1 "$work/farm-$mode.log")"
done
