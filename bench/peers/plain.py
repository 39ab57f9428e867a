#!/usr/bin/env python3
"""The feed aggregator a competent Python user writes in an afternoon, as a benchmark peer.

    plain.py DB_PATH URLS_FILE [--concurrency 16]

httpx.AsyncClient (keep-alive pool, gzip) with 16 requests in flight and conditional GET
(ETag / Last-Modified stored per feed); feedparser; entries whose content hash is already stored
are skipped before any conversion; markdownify for the body; slug, tags and YAML front matter
(PyYAML); one SQLite transaction per feed with INSERT ... ON CONFLICT DO UPDATE (upsert).
Prints one JSON line: feeds, ok, not_modified, failed, new, updated, unchanged.
"""
import argparse
import asyncio
import datetime as dt
import hashlib
import json
import re
import sqlite3
import unicodedata

import feedparser
import httpx
import yaml
from markdownify import markdownify

SCHEMA = """
CREATE TABLE IF NOT EXISTS feeds (url TEXT PRIMARY KEY, etag TEXT, last_modified TEXT, checked_at TEXT);
CREATE TABLE IF NOT EXISTS posts (
  feed_url TEXT NOT NULL, entry_key TEXT NOT NULL, content_hash TEXT NOT NULL,
  slug TEXT NOT NULL, title TEXT NOT NULL, published TEXT, link TEXT, document TEXT NOT NULL,
  PRIMARY KEY (feed_url, entry_key));
"""


def slugify(title):
    s = unicodedata.normalize("NFKD", title).encode("ascii", "ignore").decode().lower()
    s = re.sub(r"[^a-z0-9]+", "-", s).strip("-")
    return s[:80].rstrip("-") or "post"


def entry_date(e):
    t = e.get("published_parsed") or e.get("updated_parsed")
    return dt.datetime(*t[:6], tzinfo=dt.timezone.utc) if t else dt.datetime.now(dt.timezone.utc)


def entry_html(e):
    if e.get("content"):
        return e["content"][0].get("value", "")
    return e.get("summary", "")


def render(e, feed_title):
    html = entry_html(e)
    body = markdownify(html, heading_style="ATX")
    date = entry_date(e)
    tags = sorted({re.sub(r"[^a-z0-9]+", "-", t.get("term", "").lower()).strip("-") for t in e.get("tags", [])} - {""})
    front = {
        "title": e.get("title", ""),
        "date": date.strftime("%Y-%m-%d %H:%M:%S +0000"),
        "author": e.get("author", feed_title),
        "link": e.get("link", ""),
        "tags": tags,
    }
    doc = "---\n" + yaml.safe_dump(front, allow_unicode=True, sort_keys=False) + "---\n\n" + body.strip() + "\n"
    return slugify(e.get("title", "")), date.isoformat(), doc


def json_feed(body):
    """JSON Feed 1.x mapped onto feedparser's shape."""
    doc = json.loads(body)
    entries = []
    for it in doc.get("items", []):
        date = it.get("date_published") or it.get("date_modified")
        when = dt.datetime.fromisoformat(date).astimezone(dt.timezone.utc).timetuple() if date else None
        authors = it.get("authors") or ([it["author"]] if it.get("author") else [])
        entries.append(feedparser.FeedParserDict(
            id=str(it.get("id", "")), link=it.get("url", ""), title=it.get("title", ""),
            summary=it.get("content_html") or it.get("content_text", ""), published_parsed=when,
            updated=it.get("date_modified", ""), author=authors[0].get("name", "") if authors else "",
            tags=[{"term": t} for t in it.get("tags", [])]))
    return feedparser.FeedParserDict(feed=feedparser.FeedParserDict(title=doc.get("title", "")), entries=entries)


def process(db, url, body, etag, last_modified):
    """Parse, convert what changed, upsert: one transaction per feed."""
    if body.lstrip()[:1] == b"{":  # feedparser does not read JSON Feed
        parsed = json_feed(body)
    else:
        parsed = feedparser.parse(body)
    title = parsed.feed.get("title", url)
    known = dict(db.execute("SELECT entry_key, content_hash FROM posts WHERE feed_url = ?", (url,)))
    rows, unchanged = [], 0
    for e in parsed.entries:
        key = e.get("id") or e.get("link")
        if not key:
            continue
        h = hashlib.sha256("\x00".join((e.get("title", ""), e.get("link", ""), entry_html(e),
                                         e.get("updated", ""))).encode()).hexdigest()
        if known.get(key) == h:
            unchanged += 1
            continue
        slug, published, doc = render(e, title)
        rows.append((url, key, h, slug, e.get("title", ""), published, e.get("link"), doc, key in known))
    with db:
        db.executemany(
            "INSERT INTO posts (feed_url, entry_key, content_hash, slug, title, published, link, document) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (feed_url, entry_key) DO UPDATE SET "
            "content_hash = excluded.content_hash, slug = excluded.slug, title = excluded.title, "
            "published = excluded.published, link = excluded.link, document = excluded.document",
            [r[:8] for r in rows])
        db.execute("INSERT INTO feeds (url, etag, last_modified, checked_at) VALUES (?, ?, ?, datetime('now')) "
                   "ON CONFLICT (url) DO UPDATE SET etag = excluded.etag, last_modified = excluded.last_modified, "
                   "checked_at = excluded.checked_at", (url, etag, last_modified))
    new = sum(1 for r in rows if not r[8])
    return new, len(rows) - new, unchanged


async def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("db")
    ap.add_argument("urls")
    ap.add_argument("--concurrency", type=int, default=16)
    a = ap.parse_args()
    urls = [u.strip() for u in open(a.urls) if u.strip()]
    db = sqlite3.connect(a.db)
    db.execute("PRAGMA journal_mode = WAL")
    db.execute("PRAGMA synchronous = NORMAL")
    db.executescript(SCHEMA)
    validators = {u: (et, lm) for u, et, lm in db.execute("SELECT url, etag, last_modified FROM feeds")}
    stats = {"feeds": len(urls), "ok": 0, "not_modified": 0, "failed": 0, "new": 0, "updated": 0, "unchanged": 0}
    queue = asyncio.Queue()
    for u in urls:
        queue.put_nowait(u)
    limits = httpx.Limits(max_connections=a.concurrency, max_keepalive_connections=a.concurrency)
    async with httpx.AsyncClient(limits=limits, timeout=30.0, follow_redirects=True) as client:
        async def worker():
            while not queue.empty():
                url = queue.get_nowait()
                headers = {}
                etag, lm = validators.get(url, (None, None))
                if etag:
                    headers["If-None-Match"] = etag
                if lm:
                    headers["If-Modified-Since"] = lm
                try:
                    r = await client.get(url, headers=headers)
                    if r.status_code == 304:
                        stats["not_modified"] += 1
                        continue
                    r.raise_for_status()
                    new, updated, unchanged = process(db, url, r.content, r.headers.get("etag"),
                                                      r.headers.get("last-modified"))
                    stats["ok"] += 1
                    stats["new"] += new
                    stats["updated"] += updated
                    stats["unchanged"] += unchanged
                except Exception as exc:  # one broken feed must not stop the others
                    stats["failed"] += 1
                    print(f"failed: {url}: {exc!r}", flush=True)
        await asyncio.gather(*(worker() for _ in range(a.concurrency)))
    db.close()
    print(json.dumps(stats))


if __name__ == "__main__":
    asyncio.run(main())
