//! The stored form of a parsed entry (the `entries` table), for `feedsmith reprocess`: the
//! entry as normalization was given it, plus the feed-level fields normalization reads (the
//! feed's author and site link), as JSON with short keys and empty fields left out, compressed
//! with DEFLATE (flate2's pure-Rust backend, already in the build for tests).
//!
//! Why JSON and not a binary format: it stays readable with `sqlite3` and a one-line inflate,
//! and the compression takes the keys' cost away; docs/rules.md gives the size per post.

use std::io::{Read, Write};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::domain::{ParsedEntry, ParsedFeed};

/// One row of `entries`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredEntry {
    pub entry_key: String,
    pub first_seen_at: DateTime<Utc>,
    /// [`encode`]d.
    pub data: Vec<u8>,
}

/// A decoded row: what `reprocess` normalizes again.
#[derive(Debug, Clone, PartialEq)]
pub struct Decoded {
    /// The feed-level fields (no entries): author and site link.
    pub meta: ParsedFeed,
    pub entry: ParsedEntry,
}

#[derive(Serialize, Deserialize, Default)]
struct Wire {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    fa: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    fl: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    l: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    t: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    a: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    p: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    u: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    c: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    ch: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    sh: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    ct: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    yt: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    en: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    md: Option<String>,
}

/// Compact JSON, DEFLATE-compressed.
pub fn encode(meta: &ParsedFeed, e: &ParsedEntry) -> Vec<u8> {
    let wire = Wire {
        fa: meta.author.clone(),
        fl: meta.link.clone(),
        id: e.id.clone(),
        l: e.link.clone(),
        t: e.title.clone(),
        a: e.authors.clone(),
        p: e.published,
        u: e.updated,
        c: e.categories.clone(),
        ch: e.content_html.clone(),
        sh: e.summary_html.clone(),
        ct: e.content_text.clone(),
        yt: e.youtube_id.clone(),
        en: e.enclosure.clone(),
        md: e.media_description.clone(),
    };
    let json = serde_json::to_vec(&wire).unwrap_or_default();
    let mut z = flate2::write::DeflateEncoder::new(
        Vec::with_capacity(json.len() / 3),
        flate2::Compression::new(6),
    );
    // Writing to a Vec cannot fail.
    let _ = z.write_all(&json);
    z.finish().unwrap_or_default()
}

/// Why a stored entry cannot be read back (a damaged row: `reprocess` reports and skips it).
#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    #[error("cannot inflate the stored entry: {0}")]
    Inflate(#[from] std::io::Error),
    #[error("stored entry is not valid: {0}")]
    Json(#[from] serde_json::Error),
}

/// The inverse of [`encode`].
pub fn decode(data: &[u8]) -> Result<Decoded, DecodeError> {
    let mut json = Vec::with_capacity(data.len() * 3);
    flate2::read::DeflateDecoder::new(data)
        .take(64 << 20)
        .read_to_end(&mut json)?;
    let w: Wire = serde_json::from_slice(&json)?;
    Ok(Decoded {
        meta: ParsedFeed {
            author: w.fa,
            link: w.fl,
            ..ParsedFeed::default()
        },
        entry: ParsedEntry {
            id: w.id,
            link: w.l,
            title: w.t,
            authors: w.a,
            published: w.p,
            updated: w.u,
            categories: w.c,
            content_html: w.ch,
            summary_html: w.sh,
            content_text: w.ct,
            youtube_id: w.yt,
            enclosure: w.en,
            media_description: w.md,
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let meta = ParsedFeed {
            author: Some("Feed Author".into()),
            link: Some("https://example.org/".into()),
            ..ParsedFeed::default()
        };
        let entry = ParsedEntry {
            id: Some("id-1".into()),
            link: Some("https://example.org/a".into()),
            title: Some("A title".into()),
            authors: vec!["Ann".into()],
            published: Some(Utc::now()),
            categories: vec!["rust".into(), "feeds".into()],
            content_html: Some("<p>Hello <b>world</b></p>".repeat(50)),
            ..ParsedEntry::default()
        };
        let data = encode(&meta, &entry);
        assert!(data.len() < 300, "compressed: {} bytes", data.len());
        let back = decode(&data).unwrap();
        assert_eq!(back.entry.title, entry.title);
        assert_eq!(back.entry.published, entry.published);
        assert_eq!(back.entry, ParsedEntry { ..entry });
        assert_eq!(back.meta.author, meta.author);
        assert_eq!(back.meta.link, meta.link);
        assert!(decode(b"not deflate").is_err());
    }
}
