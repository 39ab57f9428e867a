#!/usr/bin/env python3
"""Linked pages for the article-step benchmark (bench/articles.sh).

  article_pages.py corpus CORPUS_DIR OUT BASE_URL   three real teaser feeds of the corpus, their
      links rewritten to BASE_URL/<site>/<n>.html, and one page per entry in the site's own
      layout (header, navigation, article, related links, comments, footer, scripts);
  article_pages.py farm FARM_DIR                      one page per entry link of a genfarm.py farm
      (/site/NNNN/posts/N.html, /site/NNNN/entries/N, /site/NNNN/j/N), so the farm's nginx serves
      every link.

Deterministic: the article body is the entry's own teaser followed by paragraphs drawn with a
seeded generator, so runs compare.
"""
import html
import os
import random
import re
import sys

WORDS = ("deployment pipeline cluster kubernetes container latency rollout canary observability "
         "terraform module incident postmortem runbook service mesh cache database migration "
         "budget release engineer platform team metrics alert dashboard queue worker region").split()

# (corpus file, site key, page layout): layouts follow each site's real structure.
SITES = [
    ("rssparser__heise-atom.atom", "heise", "heise"),
    ("feedjira__techmeme.xml", "techmeme", "wordpress"),
    ("rssparser__daily-scitech.xml", "scitech", "guardian"),
]


def paragraph(rng):
    n = rng.randint(40, 90)
    words = [rng.choice(WORDS) for _ in range(n)]
    return " ".join(words).capitalize() + "."


def body(rng, teaser, n=8):
    paras = [f"<p>{html.escape(teaser)}</p>"] if teaser else []
    paras += [f"<p>{paragraph(rng)}</p>" for _ in range(n)]
    return "\n".join(paras)


def page(layout, title, article):
    t = html.escape(title)
    chrome_nav = "".join(f'<li><a href="/section/{i}">Section {i}</a></li>' for i in range(12))
    related = "".join(f'<li><a href="/related/{i}">Related story {i}: read this next</a></li>' for i in range(8))
    comments = "".join(f'<div class="comment"><p>Reader {i}: I disagree with this take.</p></div>' for i in range(6))
    scripts = '<script>window.dataLayer=[];function track(){}</script><script src="/ads.js"></script>'
    if layout == "heise":
        return (f"<!DOCTYPE html><html><head><title>{t} | heise online</title>{scripts}</head><body>"
                f'<header class="header"><nav class="nav-main"><ul>{chrome_nav}</ul></nav></header>'
                f'<div class="ad ad--superbanner">Anzeige</div><main><article class="article">'
                f'<header><h1 class="a-article-header__title">{t}</h1></header>'
                f'<div class="article-content">{article}</div></article>'
                f'<aside class="related"><ul>{related}</ul></aside></main>'
                f'<section id="forum">{comments}</section><footer>© heise online</footer></body></html>')
    if layout == "guardian":
        return (f"<!DOCTYPE html><html><head><title>{t} | The Guardian</title>{scripts}</head><body>"
                f'<div id="bannerandheader"><nav role="navigation"><ul>{chrome_nav}</ul></nav></div>'
                f'<main><article><div data-gu-name="headline"><h1>{t}</h1></div>'
                f'<div data-gu-name="body" class="article-body-commercial-selector">{article}</div></article>'
                f'<div class="onward"><ul>{related}</ul></div></main>'
                f'<div id="comments">{comments}</div><footer>Guardian News &amp; Media Limited</footer></body></html>')
    return (f"<!DOCTYPE html><html><head><title>{t} | TechCrunch</title>{scripts}</head><body>"
            f'<div class="site-header"><nav><ul>{chrome_nav}</ul></nav></div>'
            f'<div class="ad-unit">Advertisement</div><div class="content"><article class="post">'
            f'<h1 class="article__title">{t}</h1><div class="article-content entry-content">{article}</div>'
            f'</article><div class="sidebar"><ul>{related}</ul></div></div>'
            f'<div class="comments">{comments}</div><footer class="site-footer">© TechCrunch</footer></body></html>')


def plain(s):
    s = re.sub(r"<[^>]+>", " ", s or "")
    return " ".join(html.unescape(s).split())


def corpus(corpus_dir, out, base):
    os.makedirs(out, exist_ok=True)
    for fname, site, layout in SITES:
        path = os.path.join(corpus_dir, "feeds", fname)
        text = open(path, encoding="utf-8", errors="replace").read()
        os.makedirs(os.path.join(out, site), exist_ok=True)
        rng = random.Random(site)
        n = 0

        def rewrite(m):
            nonlocal n
            n += 1
            return f"{m.group(1)}{base}/{site}/{n}.html{m.group(3)}"

        # Entry links only: <item>…<link>URL</link> (RSS) and <entry>…<link href="URL"> (Atom).
        if fname.endswith(".atom"):
            parts = re.split(r"(<entry[\s>])", text)
            rebuilt = parts[0]
            for i in range(1, len(parts), 2):
                rebuilt += parts[i] + re.sub(r'(<link[^>]*href=")([^"]+)(")', rewrite, parts[i + 1], count=1)
        else:
            parts = re.split(r"(<item[\s>])", text)
            rebuilt = parts[0]
            for i in range(1, len(parts), 2):
                rebuilt += parts[i] + re.sub(r"(<link>)([^<]+)(</link>)", rewrite, parts[i + 1], count=1)
        with open(os.path.join(out, f"{site}.xml"), "w", encoding="utf-8") as f:
            f.write(rebuilt)
        # Pages: titles and teasers read with patterns (some corpus feeds are not well-formed XML).
        entries = re.split(r"<item[\s>]|<entry[\s>]", rebuilt)[1:]
        for i, e in enumerate(entries, 1):
            cdata = lambda s: (s or "").replace("<![CDATA[", "").replace("]]>", "")
            t = re.search(r"<title[^>]*>(.*?)</title>", e, re.S)
            d = re.search(r"<description>(.*?)</description>|<summary[^>]*>(.*?)</summary>", e, re.S)
            title = plain(cdata(t.group(1))) if t else ""
            teaser = plain(cdata(d.group(1) or d.group(2))) if d else ""
            with open(os.path.join(out, site, f"{i}.html"), "w", encoding="utf-8") as f:
                f.write(page(layout, title, body(rng, teaser)))
        print(f"{site}: {len(entries)} entries, {n} links rewritten")


def farm(farm_dir):
    count = 0
    for name in sorted(os.listdir(os.path.join(farm_dir, "feeds"))):
        text = open(os.path.join(farm_dir, "feeds", name), encoding="utf-8").read()
        links = set(re.findall(r"https?://[^\"<\s]+/site/\d{4}/(?:posts/\d+\.html|entries/\d+|j/\d+)", text))
        for link in links:
            rel = link.split("/site/", 1)[1]
            path = os.path.join(farm_dir, "site", rel)
            os.makedirs(os.path.dirname(path), exist_ok=True)
            rng = random.Random(rel)
            with open(path, "w", encoding="utf-8") as f:
                f.write(page("wordpress", f"Farm article {rel}", body(rng, "", 6)))
            count += 1
    print(f"farm: {count} pages")


if __name__ == "__main__":
    if len(sys.argv) == 5 and sys.argv[1] == "corpus":
        corpus(sys.argv[2], sys.argv[3], sys.argv[4].rstrip("/"))
    elif len(sys.argv) == 3 and sys.argv[1] == "farm":
        farm(sys.argv[2])
    else:
        sys.exit(__doc__)
