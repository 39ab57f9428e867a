#!/usr/bin/env python3
"""Benchmark driver for `reader` (PyPI), a maintained feed-reader library with SQLite storage.

    reader_peer.py DB_PATH URLS_FILE [--workers 16]

Adds every URL (idempotent), then `update_feeds(workers=16, scheduled=False)`: every feed is
updated now, whatever its schedule (by default reader would skip feeds polled within the hour,
which would make the warm and advance phases measure nothing). reader does conditional GET,
skips unchanged entries, and stores feeds and entries in its SQLite database.
Prints one JSON line: feeds, entries stored, feeds with an update error.
"""
import argparse
import json

from reader import make_reader


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("db")
    ap.add_argument("urls")
    ap.add_argument("--workers", type=int, default=16)
    a = ap.parse_args()
    urls = [u.strip() for u in open(a.urls) if u.strip()]
    r = make_reader(a.db)
    for u in urls:
        r.add_feed(u, exist_ok=True)
    r.update_feeds(workers=a.workers, scheduled=False)
    failed = sum(1 for f in r.get_feeds() if f.last_exception)
    stats = {"feeds": len(urls), "failed": failed, "entries": r.get_entry_counts().total}
    r.close()
    print(json.dumps(stats))


if __name__ == "__main__":
    main()
