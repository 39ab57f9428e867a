//! YouTube ids for the `videos` layout (post-format.md 7.7): `yt:videoId` first, else parsed
//! from the link. Ids are validated to YouTube's alphabet so one can be written into a Liquid
//! tag or a URL without escaping.

use crate::domain::ParsedEntry;

fn valid(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 32
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

/// The id from `yt:videoId`, else from the link (`watch?v=`, `youtu.be/`, `shorts/`, `embed/`).
pub fn youtube_id(entry: &ParsedEntry) -> Option<String> {
    if let Some(id) = entry
        .youtube_id
        .as_deref()
        .map(str::trim)
        .filter(|s| valid(s))
    {
        return Some(id.to_string());
    }
    id_from_link(entry.link.as_deref()?)
}

fn id_from_link(link: &str) -> Option<String> {
    let u = url::Url::parse(link.trim()).ok()?;
    let host = u.host_str()?.to_ascii_lowercase();
    let is = |d: &str| host == d || host.ends_with(&format!(".{d}"));
    let segs: Vec<&str> = u.path_segments()?.filter(|s| !s.is_empty()).collect();
    let id = if is("youtu.be") {
        segs.first().map(|s| s.to_string())
    } else if is("youtube.com") || is("youtube-nocookie.com") {
        match segs.as_slice() {
            ["watch", ..] => u
                .query_pairs()
                .find(|(k, _)| k == "v")
                .map(|(_, v)| v.into_owned()),
            ["shorts" | "embed" | "live" | "v", id, ..] => Some(id.to_string()),
            _ => None,
        }
    } else {
        None
    };
    id.filter(|s| valid(s))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn from(link: &str) -> Option<String> {
        id_from_link(link)
    }

    #[test]
    fn link_forms() {
        let id = Some("H_gOSliozjM".to_string());
        assert_eq!(from("https://www.youtube.com/watch?v=H_gOSliozjM"), id);
        assert_eq!(from("https://www.youtube.com/watch?t=3&v=H_gOSliozjM"), id);
        assert_eq!(from("https://youtu.be/H_gOSliozjM?si=x"), id);
        assert_eq!(from("https://youtube.com/shorts/H_gOSliozjM"), id);
        assert_eq!(from("https://www.youtube.com/embed/H_gOSliozjM"), id);
        assert_eq!(from("https://m.youtube.com/watch?v=H_gOSliozjM"), id);
    }

    #[test]
    fn rejects_other_hosts_and_bad_ids() {
        assert_eq!(from("https://notyoutube.com/watch?v=abc"), None);
        assert_eq!(from("https://www.youtube.com/watch?v=%7B%25x"), None);
        assert_eq!(from("https://www.youtube.com/channel/abc"), None);
        assert_eq!(from("not a url"), None);
    }

    #[test]
    fn yt_video_id_wins() {
        let e = ParsedEntry {
            youtube_id: Some(" abc123 ".into()),
            link: Some("https://youtu.be/other".into()),
            ..ParsedEntry::default()
        };
        assert_eq!(youtube_id(&e).as_deref(), Some("abc123"));
        let e = ParsedEntry {
            youtube_id: Some("{% bad %}".into()),
            link: Some("https://youtu.be/other".into()),
            ..ParsedEntry::default()
        };
        assert_eq!(youtube_id(&e).as_deref(), Some("other"));
    }
}
