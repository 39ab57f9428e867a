#!/usr/bin/env python3
"""Record how many entries feedparser returns from each corpus file (issue 21, requirement 5).

Run once, in a virtualenv with feedparser from PyPI, whenever the corpus changes:

    python3 -m venv /tmp/fp && /tmp/fp/bin/pip install feedparser
    /tmp/fp/bin/python tools/feedparser_counts.py ../shared/corpus > tests/fixtures/feedparser-counts.tsv

The output is one line per MANIFEST.tsv row: file, expect, feedparser's entry count. The test
`tests/corpus.rs` compares feedsmith's kept entries against it without needing Python.
"""
import sys
from pathlib import Path

import feedparser

corpus = Path(sys.argv[1])
rows = (corpus / "MANIFEST.tsv").read_text().splitlines()[1:]
print(f"# feedparser {feedparser.__version__}: entries per corpus file")
print("file\texpect\tentries")
for row in rows:
    cols = row.split("\t")
    name, expect = cols[0], cols[6]
    parsed = feedparser.parse((corpus / "feeds" / name).read_bytes())
    print(f"{name}\t{expect}\t{len(parsed.entries)}")
