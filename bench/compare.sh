#!/usr/bin/env bash
# feedsmith against its Python peers and against the physical limit, side by side in one run.
#
#   bash bench/compare.sh [FEEDS] [ITEMS] [SCALES]     (defaults: 2000 25 "500 4000")
#   bash bench/compare.sh 2000 25 "4000 20000"        (issue 25's scales; 20000 adds ~6 min)
#
# 1. Generates a farm of FEEDS x ITEMS (../shared/bench/genfarm.py) and serves it with nginx on
#    loopback (../shared/bench/farm.sh: ETag, Last-Modified, gzip, keep-alive).
# 2. limit: examples/limit.rs fetches and parses every feed with feedsmith's own fetcher and
#    parser at the same concurrency, and stores nothing.
# 3. cold (empty database), warm (every feed answers 304) and advance (the farm regenerated with
#    --advance 1: exactly one new item per feed) for: `feedsmith fetch` (SQLite), the plain
#    Python script (bench/peers/plain.py: httpx, feedparser, markdownify, PyYAML, SQLite upsert)
#    and reader (bench/peers/reader_peer.py: update_feeds(workers=16)). All use 16 requests in
#    flight. The peers are installed into bench/.venv from bench/peers/requirements.txt.
#    The warm limit (`limit --warm`: one conditional GET per feed with the validators of an
#    untimed first pass, no store) runs beside the warm phase.
# 4. Scaling: feedsmith cold and warm, and the limit cold and warm, on farms of each size in
#    SCALES (feedsmith and the limit only: the peers would take an hour at 20 000 feeds).
# 5. Idle: `feedsmith run` with IDLE_FEEDS feeds configured (default: FEEDS and the largest of
#    SCALES) and nothing due (as bench/idle.sh does), on a fresh database and once more on the
#    database the first start filled (the usual restart).
#
# Every phase's stored entries are counted in each database against genfarm's expected.json;
# any difference fails the run. Prints a markdown report on stdout (also written to the file $OUT
# when set). Set CARGO_TARGET_DIR to use another build directory.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
feeds=${1:-2000}
items=${2:-25}
scales=${3-"500 4000"}
port=${PORT:-8140}
shared=${FEEDSMITH_SHARED:-$root/../shared}
out=${OUT:-/dev/null}
target=${CARGO_TARGET_DIR:-$root/target}
venv=$root/bench/.venv
py=$venv/bin/python
work=$(mktemp -d /tmp/feedsmith-compare.XXXXXX)
chmod 755 "$work" # nginx workers must read the served files
started_all=$(date +%s)

cleanup() {
    for d in "$work"/farm*; do [ -d "$d" ] && bash "$shared/bench/farm.sh" stop "$d" >/dev/null 2>&1; done
    rm -rf "$work"
}
trap cleanup EXIT
fail() { echo "compare.sh: FAILED: $*" >&2; exit 1; }
note() { echo "[$(date -u +%H:%M:%S)] $*" >&2; }

note "building feedsmith and the limit example (release)"
cargo build --release --quiet --bin feedsmith --example limit
bin=$target/release/feedsmith
limit=$target/release/examples/limit

if [ ! -x "$py" ]; then python3 -m venv "$venv"; fi
"$py" -m pip install -q --disable-pip-version-check -r bench/peers/requirements.txt

load_before=$(cut -d' ' -f1-3 /proc/loadavg)

# config FARM DB -> path of a feedsmith config for that farm and SQLite file.
config() {
    local farm=$1 db=$2 cfg="$1.toml"
    {
        printf '[database]\nurl = "sqlite://%s"\n' "$db"
        # The farm is one host (127.0.0.1): allow the global concurrency on it.
        printf '[http]\nconcurrency = 16\nper_host_concurrency = 16\n'
        printf '[schedule]\ndefault = "0 0 3 * * *"\n'
        # The feed pipeline only: the full-article step (pages behind entry links) is measured by
        # bench/articles.sh; the farm has no pages.
        printf '[articles]\nfull_content = "never"\n'
        cat "$farm/feeds.toml"
    } >"$cfg"
    echo "$cfg"
}

# measure NAME CMD... : wall time (s), peak RSS (kB) of CMD (and its children, for Python);
# stdout+stderr of the command go to $work/NAME.log. Sets WALL and RSS.
measure() {
    local name=$1
    shift
    local t0 t1
    t0=$(date +%s.%N)
    if ! /usr/bin/time -f "%M %U %S" -o "$work/$name.rss" "$@" >"$work/$name.log" 2>&1; then
        cat "$work/$name.log" >&2
        fail "$name exited non-zero"
    fi
    t1=$(date +%s.%N)
    WALL=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", b - a }')
    read -r RSS user sys < <(tail -1 "$work/$name.rss")
    CPU=$(awk -v u="$user" -v s="$sys" 'BEGIN { printf "%.2f", u + s }')
    note "$name: ${WALL}s, CPU ${CPU}s, peak RSS $((RSS / 1024)) MB"
}

dbsize() { # total bytes of a SQLite database and its -wal/-shm files
    local total=0 f
    for f in "$1" "$1-wal" "$1-shm" "$1.search"; do [ -f "$f" ] && total=$((total + $(stat -c %s "$f"))); done
    echo "$total"
}

count() { # count KIND DB -> stored entries
    case $1 in
    feedsmith) sqlite3 "$2" "SELECT COUNT(*) FROM posts" ;;
    plain) sqlite3 "$2" "SELECT COUNT(*) FROM posts" ;;
    reader) sqlite3 "$2" "SELECT COUNT(*) FROM entries" ;;
    esac
}

# Reddit cross-posts (post-format.md 7.6): in `community`, a post whose URL title segment equals a
# stored post's is the same post and only the first is kept. genfarm's random titles sometimes
# repeat, so feedsmith is expected to store those entries once and record the others as skipped
# duplicates; the count is taken from the farm's files, independently of feedsmith.
reddit_entries() { # FARM -> "feed URL TAB id TAB title segment" of each entry of its community feeds
    python3 - "$1" <<'PY'
import os, re, sys
farm = sys.argv[1]
toml = open(os.path.join(farm, "feeds.toml"), encoding="utf-8").read()
for m in re.finditer(r'url = "([^"]+)"\ncollection = "community"', toml):
    url = m.group(1)
    text = open(os.path.join(farm, "feeds", url.rsplit("/", 1)[1]), encoding="utf-8").read()
    for e in re.finditer(r'<link href="https://www\.reddit\.com/r/[^/]+/comments/([^/]+)/([^/]*)/" />', text):
        print(f"{url}\t{e.group(1)}\t{e.group(2)}")
PY
}
crossposts() { # TSV of reddit_entries -> entries sharing a title segment with another, minus one each
    sort -u "$1" | cut -f3 | sort | uniq -c | awk '{ d += $1 - 1 } END { print d + 0 }'
}

expected() { python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['total'])" "$1/expected.json"; }

rows=()
# row PHASE TOOL FEEDS POSTS_STORED_BY_PHASE DB : appends a result row from WALL/RSS.
row() {
    local phase=$1 tool=$2 n=$3 posts=$4 db=$5 size="-"
    [ -n "$db" ] && size=$(awk -v b="$(dbsize "$db")" 'BEGIN { printf "%.1f", b / 1048576 }')
    rows+=("$phase|$tool|$n|$posts|$WALL|$CPU|$RSS|$size")
    eval "wall_${phase//-/_}_${tool//-/_}=$WALL cpu_${phase//-/_}_${tool//-/_}=$CPU"
}

check() { # check TOOL DB WANT PHASE
    local got
    got=$(count "$1" "$2")
    [ "$got" = "$3" ] || fail "$4: $1 stored $got entries, expected $3"
    note "$4: $1 stored $got entries (expected $3): ok"
}

check_fs() { # check_fs DB ENTRIES CROSSPOSTS PHASE: posts = entries - cross-posts, skipped = cross-posts
    check feedsmith "$1" "$(($2 - $3))" "$4"
    local dup all
    dup=$(sqlite3 "$1" "SELECT COUNT(*) FROM skipped_entries WHERE reason LIKE 'duplicate: Reddit cross-post%'")
    all=$(sqlite3 "$1" "SELECT COUNT(*) FROM skipped_entries")
    [ "$dup" = "$3" ] && [ "$all" = "$3" ] || fail "$4: feedsmith skipped $all entries ($dup as Reddit cross-posts), expected $3 cross-posts and nothing else"
}

farm=$work/farm
note "generating the farm: $feeds x $items"
python3 "$shared/bench/genfarm.py" "$farm" --feeds "$feeds" --items "$items" --base-url "http://127.0.0.1:$port" >/dev/null
bash "$shared/bench/farm.sh" start "$farm" "$port" >/dev/null
want=$(expected "$farm")
reddit_entries "$farm" >"$work/reddit.tsv"
dups=$(crossposts "$work/reddit.tsv")
farm_mb=$(du -sm "$farm/feeds" | cut -f1)
fs_db=$work/feedsmith.db
cfg=$(config "$farm" "$fs_db")
plain_db=$work/plain.db
reader_db=$work/reader.db
log=$farm/.nginx/access.log

statuses() { awk '{print $9}' "$log" | sort | uniq -c | awk '{printf "%s%s x %s", sep, $2, $1; sep=", "}'; }

# --- limit ---
measure limit "$limit" --config "$cfg"
row limit limit "$feeds" "$(sed -n 's/.* entries=\([0-9]*\).*/\1/p' "$work/limit.log")" ""
grep -q " entries=$want " "$work/limit.log" || fail "limit parsed $(cat "$work/limit.log"), expected $want entries"
# The warm limit: timed inside the example (its untimed first pass fetches every body once).
warm_limit() { # warm_limit NAME CFG N: runs `limit --warm`, sets WALL from its own timing
    measure "$1" "$limit" --config "$2" --warm
    grep -q " not_modified=$3 " "$work/$1.log" || fail "$1: $(cat "$work/$1.log"), expected $3 not modified"
    WALL=$(sed -n 's/.* elapsed=\([0-9.]*\).*/\1/p' "$work/$1.log")
    CPU="-"
}
warm_limit limit-warm "$cfg" "$feeds"
row limit-warm limit "$feeds" 0 ""

# --- cold and warm ---
for phase in cold warm; do
    : >"$log"
    measure "$phase-feedsmith" env RUST_LOG=warn "$bin" --config "$cfg" fetch
    check_fs "$fs_db" "$want" "$dups" "$phase"
    row "$phase" feedsmith "$feeds" "$([ "$phase" = cold ] && echo "$((want - dups))" || echo 0)" "$fs_db"
    note "$phase feedsmith: $(tail -1 "$work/$phase-feedsmith.log"); nginx: $(statuses)"
    : >"$log"
    measure "$phase-plain" "$py" bench/peers/plain.py "$plain_db" "$farm/feeds.txt"
    check plain "$plain_db" "$want" "$phase"
    row "$phase" plain "$feeds" "$([ "$phase" = cold ] && echo "$want" || echo 0)" "$plain_db"
    note "$phase plain: $(tail -1 "$work/$phase-plain.log"); nginx: $(statuses)"
    : >"$log"
    measure "$phase-reader" "$py" bench/peers/reader_peer.py "$reader_db" "$farm/feeds.txt"
    check reader "$reader_db" "$want" "$phase"
    row "$phase" reader "$feeds" "$([ "$phase" = cold ] && echo "$want" || echo 0)" "$reader_db"
    note "$phase reader: $(tail -1 "$work/$phase-reader.log"); nginx: $(statuses)"
done
grep -q "$feeds not modified" "$work/warm-feedsmith.log" || fail "warm: feedsmith did not get $feeds x 304: $(tail -1 "$work/warm-feedsmith.log")"

# --- advance: the same farm one item later ---
note "advancing the farm by one item per feed"
python3 "$shared/bench/genfarm.py" "$farm" --feeds "$feeds" --items "$items" --advance 1 --base-url "http://127.0.0.1:$port" >/dev/null
want_adv=$((want + feeds))
reddit_entries "$farm" >>"$work/reddit.tsv"
dups_adv=$(crossposts "$work/reddit.tsv")
new_fs=$((feeds - (dups_adv - dups)))
: >"$log"
measure advance-feedsmith env RUST_LOG=warn "$bin" --config "$cfg" fetch
check_fs "$fs_db" "$want_adv" "$dups_adv" advance
grep -q "posts: $new_fs new, 0 updated" "$work/advance-feedsmith.log" || fail "advance: feedsmith: $(tail -1 "$work/advance-feedsmith.log"), expected $new_fs new"
row advance feedsmith "$feeds" "$new_fs" "$fs_db"
note "advance feedsmith: $(tail -1 "$work/advance-feedsmith.log")"
: >"$log"
measure advance-plain "$py" bench/peers/plain.py "$plain_db" "$farm/feeds.txt"
check plain "$plain_db" "$want_adv" advance
row advance plain "$feeds" "$feeds" "$plain_db"
: >"$log"
measure advance-reader "$py" bench/peers/reader_peer.py "$reader_db" "$farm/feeds.txt"
check reader "$reader_db" "$want_adv" advance
row advance reader "$feeds" "$feeds" "$reader_db"
bash "$shared/bench/farm.sh" stop "$farm" >/dev/null

# --- scaling: feedsmith cold (and the limit) at other sizes ---
for n in $scales; do
    sf=$work/farm$n
    note "generating the farm: $n x $items"
    python3 "$shared/bench/genfarm.py" "$sf" --feeds "$n" --items "$items" --base-url "http://127.0.0.1:$port" >/dev/null
    bash "$shared/bench/farm.sh" start "$sf" "$port" >/dev/null
    sw=$(expected "$sf")
    reddit_entries "$sf" >"$work/reddit$n.tsv"
    sd=$(crossposts "$work/reddit$n.tsv")
    scfg=$(config "$sf" "$work/feedsmith$n.db")
    measure "limit-$n" "$limit" --config "$scfg"
    grep -q " entries=$sw " "$work/limit-$n.log" || fail "limit $n: $(cat "$work/limit-$n.log")"
    row "limit-$n" limit "$n" "$sw" ""
    measure "cold-$n" env RUST_LOG=warn "$bin" --config "$scfg" fetch
    check_fs "$work/feedsmith$n.db" "$sw" "$sd" "cold $n"
    row "cold-$n" feedsmith "$n" "$((sw - sd))" "$work/feedsmith$n.db"
    warm_limit "limit-warm-$n" "$scfg" "$n"
    row "limit-warm-$n" limit "$n" 0 ""
    measure "warm-$n" env RUST_LOG=warn "$bin" --config "$scfg" fetch
    grep -q "$n not modified" "$work/warm-$n.log" || fail "warm $n: $(tail -1 "$work/warm-$n.log")"
    row "warm-$n" feedsmith "$n" 0 "$work/feedsmith$n.db"
    bash "$shared/bench/farm.sh" stop "$sf" >/dev/null
    rm -rf "$sf/feeds"
done

# --- idle daemon with IDLE_FEEDS feeds ---
# The same configuration as bench/idle.sh: nothing due during the window.
largest=$feeds
for n in $scales; do [ "$n" -gt "$largest" ] && largest=$n; done
idle_feeds=${IDLE_FEEDS:-$(echo "$feeds $largest" | tr ' ' '\n' | sort -nu | tr '\n' ' ')}
idle=()
for n in $idle_feeds; do
    rm -f "$work"/idle.db*
    {
        printf '[database]\nurl = "sqlite://%s/idle.db"\n[schedule]\ndefault = "0 0 3 * * *"\n' "$work"
        printf '[server]\nlisten = "127.0.0.1:0"\n'
        for i in $(seq 1 "$n"); do
            printf '[[feeds]]\nname = "Feed %s"\nurl = "http://127.0.0.1:9/%s.xml"\ncollection = "blogs"\n' "$i" "$i"
        done
    } >"$work/idle.toml"
    for start in fresh restart; do
        RUST_LOG=warn "$bin" --config "$work/idle.toml" run 2>"$work/idle.log" &
        idle_pid=$!
        sleep 10
        idle_rss=$(awk '/VmHWM/ {print $2}' "/proc/$idle_pid/status")
        kill -TERM "$idle_pid"
        wait "$idle_pid" || true
        idle+=("\`feedsmith run\` with $n feeds configured ($start database), nothing due, after 10 s: peak RSS $(awk -v r="$idle_rss" 'BEGIN { printf "%.1f", r / 1024 }') MB")
        note "idle: ${idle[-1]}"
    done
done

# --- report ---
total_s=$(($(date +%s) - started_all))
{
    echo "Command: \`bash bench/compare.sh $feeds $items \"$scales\"\` ($(date -u '+%Y-%m-%d %H:%M UTC'), total ${total_s} s)"
    echo
    echo "Machine: $(nproc) cores ($(sed -n 's/^model name\s*: //p' /proc/cpuinfo | head -1)), $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(. /etc/os-release && echo "$PRETTY_NAME"); load average before the run: $load_before"
    echo
    echo "Farm: $feeds feeds x $items items ($farm_mb MB on disk), nginx on loopback; 16 requests in flight for every tool."
    echo "Entries: $want, $want_adv after advance. Reddit cross-posts (same title segment, post-format.md 7.6), which feedsmith stores once: $dups, $dups_adv after advance; the peers have no such rule and store every entry."
    echo
    echo "| phase | tool | feeds | posts stored | wall (s) | CPU user+sys (s) | feeds/s | posts/s | peak RSS (MB) | DB size (MB) |"
    echo "|---|---|---|---|---|---|---|---|---|---|"
    for r in "${rows[@]}"; do
        IFS='|' read -r phase tool n posts wall cpu rss size <<<"$r"
        awk -v p="$phase" -v t="$tool" -v n="$n" -v posts="$posts" -v w="$wall" -v c="$cpu" -v r="$rss" -v s="$size" 'BEGIN {
            printf "| %s | %s | %d | %d | %.2f | %s | %.0f | %.0f | %.1f | %s |\n", p, t, n, posts, w, c, n / w, posts / w, r / 1024, s }'
    done
    echo
    echo "Ratios (time of the other / time of feedsmith; for the limit, feedsmith / limit):"
    echo
    for phase in cold warm advance; do
        eval "f=\$wall_${phase}_feedsmith p=\$wall_${phase}_plain r=\$wall_${phase}_reader"
        awk -v ph="$phase" -v f="$f" -v p="$p" -v r="$r" 'BEGIN {
            best = p < r ? p : r; name = p < r ? "plain" : "reader"
            printf "- %s: %.1fx faster than the faster peer (%s), %.1fx faster than plain, %.1fx faster than reader\n", ph, best / f, name, p / f, r / f }'
    done
    awk -v f="$wall_cold_feedsmith" -v l="$wall_limit_limit" -v fc="$cpu_cold_feedsmith" -v lc="$cpu_limit_limit" 'BEGIN {
        printf "- cold: feedsmith takes %.2fx the wall time of the limit (fetch + parse, nothing stored) and %.2fx its CPU time\n", f / l, fc / lc }'
    awk -v f="$wall_warm_feedsmith" -v l="$wall_limit_warm_limit" 'BEGIN {
        printf "- warm: feedsmith takes %.2fx the wall time of the warm limit (one conditional GET per feed, nothing stored)\n", f / l }'
    for n in $scales; do
        eval "w=\$wall_cold_${n}_feedsmith lw=\$wall_limit_${n}_limit ww=\$wall_warm_${n}_feedsmith lww=\$wall_limit_warm_${n}_limit"
        awk -v n="$n" -v N="$feeds" -v w="$w" -v f="$wall_cold_feedsmith" -v lw="$lw" -v ww="$ww" -v lww="$lww" 'BEGIN {
            printf "- scaling: %d feeds cold take %.2fx the %d-feed time (%.2fx the limit at %d feeds); warm %.2fx the warm limit\n", n, w / f, N, w / lw, n, ww / lww }'
    done
    for i in "${idle[@]}"; do echo "- idle daemon: $i"; done
} | tee "$out"
