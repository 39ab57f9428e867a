#!/usr/bin/env bash
# Cluster throughput: feeds per second polled by 1, 2 and 3 `feedsmith run` replicas sharing a
# fresh PostgreSQL database, against the loopback farm (../shared/bench), cold (empty database).
#   bash bench/cluster.sh [FEEDS] [ITEMS] [PORT]
# Needs PostgreSQL on 127.0.0.1:5432 (user postgres, trust auth).
set -euo pipefail
cd "$(dirname "$0")/.."
feeds=${1:-1000}
items=${2:-10}
port=${3:-8092}
shared=${FEEDSMITH_SHARED:-../shared}
work=$(mktemp -d)
chmod 755 "$work"   # nginx workers must read the served files
pids=()
cleanup() {
    for p in "${pids[@]:-}"; do [ -n "$p" ] && kill -9 "$p" 2>/dev/null || true; done
    bash "$shared/bench/farm.sh" stop "$work/farm" >/dev/null 2>&1 || true
    rm -rf "$work"
}
trap cleanup EXIT
python3 "$shared/bench/genfarm.py" "$work/farm" --feeds "$feeds" --items "$items" --base-url "http://127.0.0.1:$port" >/dev/null
bash "$shared/bench/farm.sh" start "$work/farm" "$port" >/dev/null
cargo build --release --quiet
log="$work/farm/.nginx/access.log"
expected=$(python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['total'])" "$work/farm/expected.json")

for replicas in 1 2 3; do
    db="feedsmith_bench_$$_$replicas"
    psql -h 127.0.0.1 -U postgres -qc "CREATE DATABASE $db"
    : > "$log"
    pids=()
    for r in $(seq 1 "$replicas"); do
        cfg="$work/replica-$replicas-$r.toml"
        {
            printf '[database]\nurl = "postgres://postgres@127.0.0.1:5432/%s"\nmax_connections = 8\n' "$db"
            printf '[http]\nconcurrency = 16\nper_host_concurrency = 16\n[articles]\nfull_content = "never"\n'
            printf '[schedule]\ndefault = "*/20 * * * * *"\nmax_jitter = "0s"\n'
            printf '[server]\nlisten = "127.0.0.1:%s"\n' "$((port + 10 + r))"
            cat "$work/farm/feeds.toml"
        } > "$cfg"
        RUST_LOG=warn target/release/feedsmith --config "$cfg" run 2>"$work/replica-$replicas-$r.log" &
        pids+=($!)
    done
    # From the first request of the cycle until every expected entry is stored.
    while [ ! -s "$log" ]; do sleep 0.05; done
    start=$(date +%s.%N)
    deadline=$(( $(date +%s) + 120 ))
    posts=0
    while [ "$posts" -lt "$expected" ] && [ "$(date +%s)" -lt "$deadline" ]; do
        sleep 0.1
        posts=$(psql -h 127.0.0.1 -U postgres -d "$db" -Atc "SELECT COUNT(*) FROM posts")
    done
    end=$(date +%s.%N)
    dups=$(awk '{print $7}' "$log" | sort | uniq -d | wc -l)
    for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
    for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
    pids=()
    psql -h 127.0.0.1 -U postgres -qc "DROP DATABASE $db WITH (FORCE)"
    awk -v r="$replicas" -v n="$feeds" -v s="$start" -v e="$end" -v p="$posts" -v d="$dups" 'BEGIN {
        printf "replicas=%d feeds=%d cycle=%.2fs feeds_per_s=%.0f posts_stored=%d feeds_polled_twice=%d\n", r, n, e-s, n/(e-s), p, d }'
done
