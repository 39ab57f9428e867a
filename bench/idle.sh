#!/usr/bin/env bash
# Idle cost of the daemon: `feedsmith run` with N feeds configured (default 1000) whose schedule
# does not fire during the measurement. Prints CPU time used over the window and peak RSS.
#   bash bench/idle.sh [FEEDS] [SECONDS]
set -euo pipefail
cd "$(dirname "$0")/.."
feeds=${1:-1000}
window=${2:-60}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cargo build --release --quiet
{
    printf '[database]\nurl = "sqlite://%s/idle.db"\n[schedule]\ndefault = "0 0 3 * * *"\n[server]\nlisten = "127.0.0.1:0"\n' "$work"
    for i in $(seq 1 "$feeds"); do
        printf '[[feeds]]\nname = "Feed %s"\nurl = "http://127.0.0.1:9/%s.xml"\ncollection = "blogs"\n' "$i" "$i"
    done
} > "$work/idle.toml"
target/release/feedsmith --config "$work/idle.toml" run 2>"$work/log" &
pid=$!
sleep 5
read -r u1 s1 < <(awk '{print $14, $15}' /proc/$pid/stat)
sleep "$window"
read -r u2 s2 < <(awk '{print $14, $15}' /proc/$pid/stat)
hz=$(getconf CLK_TCK)
ticks=$(( (u2 + s2) - (u1 + s1) ))
rss=$(awk '/VmHWM/ {print $2}' /proc/$pid/status)
kill -TERM "$pid"; wait "$pid"
awk -v t="$ticks" -v hz="$hz" -v w="$window" -v r="$rss" -v f="$feeds" 'BEGIN {
    printf "feeds=%d window=%ds cpu=%.2fs (%.3f%% of one core) peak_rss=%.1f MB\n", f, w, t/hz, 100*t/hz/w, r/1024 }'
