//! Reddit specifics (post-format.md 7.2 and 7.6). Reddit wraps every post's HTML in
//! `<!-- SC_OFF -->`/`<!-- SC_ON -->` markers and appends a trailer
//! (`&#32; submitted by &#32; <a>/u/x</a> <br/> <span><a>[link]</a></span> &#32;
//! <span><a>[comments]</a></span>`), which would otherwise end up in every post and count
//! towards the skip threshold. For link posts the `[link]` target is the shared article: it is
//! kept as `[Link](url)` at the end of the content.

/// True for `reddit.com` and any `*.reddit.com` host.
pub fn is_reddit(link: Option<&str>) -> bool {
    link.and_then(|l| url::Url::parse(l.trim()).ok())
        .and_then(|u| u.host_str().map(|h| h.to_ascii_lowercase()))
        .is_some_and(|h| h == "reddit.com" || h.ends_with(".reddit.com"))
}

/// The `/comments/<id>/<segment>/` title segment of a Reddit URL, which cross-posts share.
pub fn reddit_segment(link: &str) -> Option<String> {
    let u = url::Url::parse(link.trim()).ok()?;
    let parts: Vec<&str> = u.path_segments()?.filter(|s| !s.is_empty()).collect();
    let i = parts.iter().position(|p| *p == "comments")?;
    parts.get(i + 2).map(|s| s.to_string())
}

/// The `/comments/<id>/` post id of a Reddit URL.
fn reddit_post_id(link: &str) -> Option<String> {
    if !is_reddit(Some(link)) {
        return None;
    }
    let u = url::Url::parse(link.trim()).ok()?;
    let parts: Vec<&str> = u.path_segments()?.filter(|s| !s.is_empty()).collect();
    let i = parts.iter().position(|p| *p == "comments")?;
    parts.get(i + 1).map(|s| s.to_ascii_lowercase())
}

/// Whether two URLs are the same Reddit comments page (any host alias, trailing slash or not).
fn same_page(a: &str, b: &str) -> bool {
    if a.trim_end_matches('/') == b.trim_end_matches('/') {
        return true;
    }
    matches!((reddit_post_id(a), reddit_post_id(b)), (Some(x), Some(y)) if x == y)
}

/// Remove the `SC_OFF`/`SC_ON` markers and the trailer. Returns the cleaned HTML and the
/// `[link]` target when it is an external http(s) link (not the post's own comments page).
pub fn reddit_clean(html: &str, comments_url: &str) -> (String, Option<String>) {
    let s = html
        .replace("<!-- SC_OFF -->", "")
        .replace("<!-- SC_ON -->", "");
    let Some(pos) = trailer_start(&s) else {
        return (s, None);
    };
    let trailer = &s[pos..];
    let comments_href = anchor_href(trailer, "[comments]");
    let external = anchor_href(trailer, "[link]").filter(|l| {
        (l.starts_with("http://") || l.starts_with("https://"))
            && !same_page(l, comments_url)
            && !comments_href.as_deref().is_some_and(|c| same_page(l, c))
    });
    let mut cut = s[..pos].trim_end();
    loop {
        let before = cut;
        for tail in ["&#32;", "&amp;#32;"] {
            cut = cut.strip_suffix(tail).unwrap_or(cut).trim_end();
        }
        if before == cut {
            break;
        }
    }
    let body = unwrap_thumbnail_table(cut).unwrap_or_else(|| cut.to_string());
    (body, external)
}

/// Link and image posts wrap their body in a thumbnail `<table>`: a cell with the preview image
/// (linked to the comments), a cell with the `div.md` self text and the trailer (cut off by
/// now). As a markdown table the whole self text lands in one cell, with `<br/>` between
/// paragraphs and a separator row of hundreds of dashes, so the table is never kept
/// (post-format.md 7.2): the self text when there is one, else the preview image as `![](src)`,
/// else nothing. `None` when the content is not such a table.
fn unwrap_thumbnail_table(html: &str) -> Option<String> {
    let t = html.trim_start();
    if !t.starts_with("<table") {
        return None;
    }
    if let Some(i) = t.find("<div class=\"md\">") {
        let md = t[i..].trim_end();
        let md = md.strip_suffix("</table>").unwrap_or(md).trim_end();
        let md = md.strip_suffix("</tr>").unwrap_or(md).trim_end();
        let md = md.strip_suffix("</td>").unwrap_or(md);
        return Some(md.trim_end().to_string());
    }
    let Some(img) = t.find("<img").map(|i| &t[i..]) else {
        return Some(String::new());
    };
    let tag = &img[..img.find('>').unwrap_or(img.len())];
    let src = tag
        .split_once(" src=\"")
        .and_then(|(_, rest)| rest.split('"').next())
        .filter(|s| !s.trim().is_empty());
    Some(match src {
        // The value is still entity-encoded attribute text without `"`: it goes back as is.
        Some(src) => format!("<p><img src=\"{src}\"></p>"),
        None => String::new(),
    })
}

/// Byte offset of the last "submitted by" that starts Reddit's trailer (followed by the
/// `[comments]` or `[link]` anchors), so a post that merely says "submitted by" keeps its text.
fn trailer_start(s: &str) -> Option<usize> {
    let pos = s.rfind("submitted by")?;
    let tail = &s[pos..];
    (tail.contains("[comments]") || tail.contains("comments]</a>") || tail.contains(">[link]<"))
        .then_some(pos)
}

/// The decoded href of the `<a ...>` whose text is `label` (e.g. `[link]`).
fn anchor_href(html: &str, label: &str) -> Option<String> {
    let end = html.find(&format!(">{label}</a>"))?;
    let start = html[..end].rfind("<a ")?;
    let tag = &html[start..end];
    let href = tag.split("href=\"").nth(1)?.split('"').next()?;
    Some(html_escape::decode_html_entities(href.trim()).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    const COMMENTS: &str = "https://www.reddit.com/r/x/comments/abc/title/";

    fn trailer(link: &str, comments: &str) -> String {
        format!(
            r#" &#32; submitted by &#32; <a href="https://www.reddit.com/user/u"> /u/u </a> <br/> <span><a href="{link}">[link]</a></span> &#32; <span><a href="{comments}">[comments]</a></span>"#
        )
    }

    #[test]
    fn self_post_trailer_removed() {
        let html = format!(
            r#"<!-- SC_OFF --><div class="md"><p>Body</p></div><!-- SC_ON -->{}"#,
            trailer(COMMENTS, COMMENTS)
        );
        let (clean, ext) = reddit_clean(&html, COMMENTS);
        assert_eq!(clean, r#"<div class="md"><p>Body</p></div>"#);
        assert_eq!(ext, None);
    }

    #[test]
    fn external_link_kept() {
        let html = format!(
            "<p>Body</p>{}",
            trailer("https://example.com/a?x=1&amp;y=2", COMMENTS)
        );
        let (clean, ext) = reddit_clean(&html, COMMENTS);
        assert_eq!(clean, "<p>Body</p>");
        assert_eq!(ext.as_deref(), Some("https://example.com/a?x=1&y=2"));
    }

    #[test]
    fn other_host_alias_of_comments_is_not_external() {
        let old = "https://old.reddit.com/r/x/comments/abc/title/";
        let html = format!("<p>Body</p>{}", trailer(old, old));
        assert_eq!(reddit_clean(&html, COMMENTS).1, None);
    }

    #[test]
    fn plain_text_submitted_by_is_kept() {
        let html = "<p>The form was submitted by the user.</p>";
        assert_eq!(reddit_clean(html, COMMENTS).0, html);
    }

    #[test]
    fn old_rss_form_with_subreddit_and_count() {
        let html = r#"<table> <tr><td> <a href="https://www.reddit.com/r/funny/comments/3skxqc/x/"><img src="https://b.thumbs.redditmedia.com/z.jpg" alt="x" /></a> </td><td> submitted by <a href="https://www.reddit.com/user/c"> c </a> to <a href="https://www.reddit.com/r/funny/"> funny</a> <br/> <a href="http://i.imgur.com/U407R75.gifv">[link]</a> <a href="https://www.reddit.com/r/funny/comments/3skxqc/x/">[275 comments]</a> </td></tr></table>"#;
        let (clean, ext) = reddit_clean(html, "https://www.reddit.com/r/funny/comments/3skxqc/x/");
        assert!(!clean.contains("submitted"), "{clean}");
        assert_eq!(ext.as_deref(), Some("http://i.imgur.com/U407R75.gifv"));
    }

    /// Real shapes from the corpus (`redditproxy__localllama.xml`, `newsyacht__reddit-pics.xml`)
    /// and Reddit's gallery form.
    fn table(first_cell: &str, second_cell: &str) -> String {
        format!(
            "<table> <tr><td> <a href=\"{COMMENTS}\"> {first_cell} </a> </td><td> {second_cell} &#32; submitted by &#32; <a href=\"https://old.reddit.com/user/u\"> /u/u </a> <br /> <span><a href=\"{{LINK}}\">[link]</a></span> &#32; <span><a href=\"{COMMENTS}\">[comments]</a></span> </td></tr></table>"
        )
    }

    #[test]
    fn thumbnail_tables_are_unwrapped() {
        let img = r#"<img alt="T" src="https://preview.redd.it/x.jpeg?width=640&amp;crop=smart" title="T" />"#;
        // A self-text post with a shared image: the self text, the image as the link.
        let html = table(
            img,
            r#"<!-- SC_OFF --><div class="md"><p>One.</p> <p>Two.<br /> Three.</p> </div><!-- SC_ON -->"#,
        )
        .replace("{LINK}", "https://i.redd.it/x.jpeg");
        let (clean, ext) = reddit_clean(&html, COMMENTS);
        assert_eq!(
            clean,
            r#"<div class="md"><p>One.</p> <p>Two.<br /> Three.</p> </div>"#
        );
        assert_eq!(ext.as_deref(), Some("https://i.redd.it/x.jpeg"));
        // An image post: no self text, the preview image.
        let html = table(img, "").replace("{LINK}", "https://i.redd.it/x.jpeg");
        let (clean, _) = reddit_clean(&html, COMMENTS);
        assert_eq!(
            clean,
            r#"<p><img src="https://preview.redd.it/x.jpeg?width=640&amp;crop=smart"></p>"#
        );
        // A gallery post and a table without an image: never a table.
        let html = table("", "").replace("{LINK}", "https://www.reddit.com/gallery/1abc");
        let (clean, ext) = reddit_clean(&html, COMMENTS);
        assert_eq!(clean, "");
        assert_eq!(ext.as_deref(), Some("https://www.reddit.com/gallery/1abc"));
        // A post whose own text has a table keeps it.
        let own = r#"<div class="md"><table><tr><td>a</td></tr></table></div>"#;
        assert_eq!(reddit_clean(own, COMMENTS).0, own);
    }

    #[test]
    fn hosts_and_segments() {
        assert_eq!(reddit_segment(COMMENTS).as_deref(), Some("title"));
        assert_eq!(reddit_segment("https://www.reddit.com/r/x/"), None);
        assert!(is_reddit(Some("https://old.reddit.com/r/x")));
        assert!(is_reddit(Some("https://reddit.com/")));
        assert!(!is_reddit(Some("https://notreddit.com/")));
        assert!(!is_reddit(Some("https://reddit.com.evil.org/")));
        assert!(!is_reddit(None));
    }
}
