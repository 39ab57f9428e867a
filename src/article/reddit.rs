//! Reddit's JSON form of a comments page: `<comments url>.json` returns the post itself (self
//! text, shared link, removal state) as data, so nothing is scraped from Reddit's HTML (which
//! needs a browser) and removed or deleted posts are recognised reliably.

use serde::Deserialize;

/// What the JSON form says about one post.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RedditPost {
    /// The post is up: its self text as HTML (may be empty for a link post) and the shared
    /// external link, if it is a link post.
    Live {
        selftext_html: String,
        external_url: Option<String>,
        author: Option<String>,
    },
    /// Removed by moderators or Reddit, or deleted by its author: not to be published.
    Removed { reason: String },
}

/// True when `url` is a Reddit comments page (`/r/<sub>/comments/<id>/...`). The host is not
/// checked, so a mirror or a test server with Reddit's paths is treated the same way.
pub fn is_comments_url(url: &str) -> bool {
    let Ok(u) = url::Url::parse(url) else {
        return false;
    };
    let host_ok = matches!(u.scheme(), "http" | "https");
    let parts: Vec<&str> = u
        .path_segments()
        .map(|s| s.filter(|p| !p.is_empty()).collect())
        .unwrap_or_default();
    host_ok && parts.len() >= 4 && parts[0] == "r" && parts[2] == "comments"
}

/// `https://www.reddit.com/r/x/comments/id/slug/` -> `https://www.reddit.com/r/x/comments/id/slug.json`
/// (query and fragment dropped: they would land after `.json`).
pub fn json_url(url: &str) -> Option<String> {
    let mut u = url::Url::parse(url).ok()?;
    u.set_query(None);
    u.set_fragment(None);
    let path = format!("{}.json", u.path().trim_end_matches('/'));
    u.set_path(&path);
    Some(u.to_string())
}

#[derive(Deserialize)]
struct Listing {
    data: ListingData,
}

#[derive(Deserialize)]
struct ListingData {
    children: Vec<Child>,
}

#[derive(Deserialize)]
struct Child {
    kind: String,
    data: PostData,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct PostData {
    selftext: String,
    selftext_html: Option<String>,
    url: Option<String>,
    is_self: bool,
    removed_by_category: Option<String>,
    author: Option<String>,
    permalink: Option<String>,
}

/// Why a body is not a Reddit post in JSON form.
#[derive(Debug, thiserror::Error)]
pub enum RedditError {
    #[error("not Reddit's JSON form of a comments page: {0}")]
    NotJson(#[from] serde_json::Error),
    #[error("Reddit's JSON has no post (t3) in its first listing")]
    NoPost,
}

/// Read the post out of the JSON form (an array of two listings: the post, then its comments).
pub fn parse(body: &[u8]) -> Result<RedditPost, RedditError> {
    let listings: Vec<Listing> = serde_json::from_slice(body)?;
    let post = listings
        .into_iter()
        .next()
        .and_then(|l| l.data.children.into_iter().find(|c| c.kind == "t3"))
        .map(|c| c.data)
        .ok_or(RedditError::NoPost)?;
    if let Some(category) = post.removed_by_category.filter(|c| !c.is_empty()) {
        return Ok(RedditPost::Removed {
            reason: format!("removed on Reddit ({category})"),
        });
    }
    match post.selftext.trim() {
        "[removed]" => {
            return Ok(RedditPost::Removed {
                reason: "removed on Reddit".into(),
            })
        }
        "[deleted]" => {
            return Ok(RedditPost::Removed {
                reason: "deleted by its author on Reddit".into(),
            })
        }
        _ => {}
    }
    // `selftext_html` is HTML escaped once more (`&lt;div class="md"&gt;`).
    let selftext_html = post
        .selftext_html
        .map(|h| html_escape::decode_html_entities(&h).into_owned())
        .unwrap_or_default();
    let own_page = post.permalink.as_deref().unwrap_or_default();
    let external_url = post.url.filter(|u| {
        !post.is_self
            && (u.starts_with("http://") || u.starts_with("https://"))
            && !(own_page.len() > 1 && u.contains(own_page.trim_end_matches('/')))
    });
    Ok(RedditPost::Live {
        selftext_html,
        external_url,
        author: post.author.filter(|a| a != "[deleted]"),
    })
}

/// The post as HTML in the shape of Reddit's own feed entries (self text, then the
/// `submitted by ... [link] [comments]` trailer), so normalization applies exactly the rules it
/// applies to feed content: the trailer is removed and the shared link becomes the footer link.
pub fn as_feed_html(
    selftext_html: &str,
    external_url: Option<&str>,
    author: Option<&str>,
    comments_url: &str,
) -> String {
    let esc = |s: &str| html_escape::encode_double_quoted_attribute(s).into_owned();
    let link = external_url.unwrap_or(comments_url);
    let author = author.unwrap_or("[deleted]");
    format!(
        "<!-- SC_OFF -->{selftext_html}<!-- SC_ON --> &#32; submitted by &#32; \
         <a href=\"https://www.reddit.com/user/{a}\"> /u/{a} </a> <br/> \
         <span><a href=\"{l}\">[link]</a></span> &#32; <span><a href=\"{c}\">[comments]</a></span>",
        a = esc(author),
        l = esc(link),
        c = esc(comments_url),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn json(data: &str) -> String {
        format!(
            "[{{\"kind\":\"Listing\",\"data\":{{\"children\":[{{\"kind\":\"t3\",\"data\":{data}}}]}}}},\
             {{\"kind\":\"Listing\",\"data\":{{\"children\":[]}}}}]"
        )
    }

    #[test]
    fn comments_urls_are_recognised_on_any_host() {
        assert!(is_comments_url(
            "https://www.reddit.com/r/devops/comments/1mgv2rg/how_do_you_deploy/"
        ));
        assert!(is_comments_url(
            "http://127.0.0.1:8080/r/devops/comments/abc/x/"
        ));
        assert!(!is_comments_url("https://www.reddit.com/r/devops/"));
        assert!(!is_comments_url("https://example.com/blog/comments/1/2"));
    }

    #[test]
    fn the_json_url_replaces_the_trailing_slash() {
        assert_eq!(
            json_url("https://www.reddit.com/r/devops/comments/abc/slug/?utm=x").unwrap(),
            "https://www.reddit.com/r/devops/comments/abc/slug.json"
        );
    }

    #[test]
    fn a_self_post_gives_its_text() {
        let body = json(
            r#"{"selftext":"Hello","selftext_html":"&lt;div class=\"md\"&gt;&lt;p&gt;Hello &amp;amp; bye&lt;/p&gt;&lt;/div&gt;","url":"https://www.reddit.com/r/devops/comments/abc/slug/","is_self":true,"removed_by_category":null,"author":"alice","permalink":"/r/devops/comments/abc/slug/"}"#,
        );
        let RedditPost::Live {
            selftext_html,
            external_url,
            author,
        } = parse(body.as_bytes()).unwrap()
        else {
            panic!("expected a live post")
        };
        assert_eq!(
            selftext_html,
            "<div class=\"md\"><p>Hello &amp; bye</p></div>"
        );
        assert_eq!(external_url, None);
        assert_eq!(author.as_deref(), Some("alice"));
    }

    #[test]
    fn a_link_post_gives_the_shared_link() {
        let body = json(
            r#"{"selftext":"","selftext_html":null,"url":"https://blog.example.org/post","is_self":false,"author":"bob","permalink":"/r/devops/comments/abc/slug/"}"#,
        );
        let RedditPost::Live { external_url, .. } = parse(body.as_bytes()).unwrap() else {
            panic!("expected a live post")
        };
        assert_eq!(
            external_url.as_deref(),
            Some("https://blog.example.org/post")
        );
    }

    #[test]
    fn removed_and_deleted_posts_are_recognised() {
        for data in [
            r#"{"selftext":"[removed]","is_self":true}"#,
            r#"{"selftext":"[deleted]","is_self":true,"author":"[deleted]"}"#,
            r#"{"selftext":"text","is_self":true,"removed_by_category":"moderator"}"#,
        ] {
            assert!(
                matches!(
                    parse(json(data).as_bytes()).unwrap(),
                    RedditPost::Removed { .. }
                ),
                "{data}"
            );
        }
    }

    #[test]
    fn other_json_is_a_clear_error() {
        let not_json = parse(b"{\"error\": 404}").unwrap_err();
        assert!(matches!(not_json, RedditError::NotJson(_)), "{not_json}");
        assert!(not_json.to_string().contains("JSON form"), "{not_json}");
        let empty = parse(b"[]").unwrap_err();
        assert!(matches!(empty, RedditError::NoPost), "{empty}");
        assert!(empty.to_string().contains("no post"), "{empty}");
        assert!(matches!(parse(b"<html>"), Err(RedditError::NotJson(_))));
    }
}
