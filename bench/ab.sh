#!/usr/bin/env bash
# A/B of two feedsmith binaries, /tmp/feedsmith-old and /tmp/feedsmith-new: cold and warm fetch
# of a genfarm farm served by ../shared/bench/farm.sh on 127.0.0.1:8089, alternately (old, new,
# old, new), each cold run on a fresh SQLite file, so both see the same machine state.
#   python3 ../shared/bench/genfarm.py /tmp/farm --feeds 2000 --items 25
#   bash ../shared/bench/farm.sh start /tmp/farm 8089
#   bash bench/ab.sh            # FARM=/tmp/farm by default
set -u
farm=${FARM:-/tmp/farm}
for round in 1 2; do
  for v in old new; do
    db=/tmp/ab-$v-$round.db; rm -f $db*
    cfg=/tmp/ab-$v.toml
    { printf '[database]\nurl = "sqlite://%s"\n' "$db"
      printf '[http]\nconcurrency = 16\nper_host_concurrency = 16\n'
      printf '[schedule]\ndefault = "0 0 3 * * *"\n'
      printf '[articles]\nfull_content = "never"\n'
      cat $farm/feeds.toml; } > $cfg
    for phase in cold warm; do
      /usr/bin/time -f "$v $round $phase wall=%e s cpu=%U+%S s maxrss=%M KB" env RUST_LOG=warn /tmp/feedsmith-$v --config $cfg fetch 2>&1 | grep -E "wall=|^feeds:" | tr '\n' ' '
      echo
    done
  done
done
