//! Jekyll export: write each post to `DIR/_<collection>/<yyyy-MM-dd>-<slug>.md`, byte for byte
//! what `posts show` prints, safely and incrementally.
//!
//! - Atomic: a temp file in the same directory, then `rename`, so Jekyll (or a person) never reads
//!   half a file.
//! - Incremental: a file whose content is unchanged is not touched (its mtime stays), so
//!   Jekyll's incremental build and `git diff` stay quiet.
//! - Respectful: `DIR/.feedsmith-export.json` remembers the hash of every file feedsmith wrote. A
//!   file feedsmith did not write, or that was edited since, is skipped with a warning unless
//!   `force`; nothing is deleted unless `prune`.
//! - Contained: every path is checked to stay inside `DIR` (no `..`, no absolute paths, no
//!   over-long names), whatever the post's fields hold.

use std::collections::{BTreeMap, HashSet};
use std::io::Write;
use std::path::{Component, Path, PathBuf};

pub mod formats;

use sha2::{Digest, Sha256};
use tracing::warn;

use crate::normalize::{render_post, RenderOptions};
use crate::store::StoredPost;

/// The manifest of files feedsmith wrote, relative path -> sha256 of the content written.
pub const MANIFEST: &str = ".feedsmith-export.json";

/// Longest file name most file systems accept, in bytes.
const MAX_NAME_BYTES: usize = 255;

#[derive(Debug, thiserror::Error)]
pub enum PublishError {
    #[error("cannot write to the export directory {dir}: {source}\n  fix: create it or choose another with --out / [publish].dir")]
    Dir {
        dir: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("the export manifest {path} is not valid JSON ({detail}); move it away to start over (existing files will then be treated as not written by feedsmith)")]
    Manifest { path: PathBuf, detail: String },
}

#[derive(Debug, Clone, Copy, Default)]
pub struct ExportOptions {
    /// Overwrite files that feedsmith did not write or that were edited since.
    pub force: bool,
    /// Delete files feedsmith wrote for posts that no longer exist (only meaningful when the
    /// export is given every stored post).
    pub prune: bool,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct ExportReport {
    pub written: usize,
    pub unchanged: usize,
    pub skipped: usize,
    pub pruned: usize,
}

impl std::fmt::Display for ExportReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "export: {} written, {} unchanged, {} skipped",
            self.written, self.unchanged, self.skipped
        )?;
        if self.pruned > 0 {
            write!(f, ", {} pruned", self.pruned)?;
        }
        Ok(())
    }
}

fn sha256(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// A relative path that is safe to join under the export directory: only normal components, no
/// empty, `.` or `..` parts, no absolute prefix, each name within the file-system limit.
pub fn contained_path(relative: &str) -> Option<PathBuf> {
    if relative.is_empty() || relative.contains(['\0', '\\']) || relative.starts_with('/') {
        return None;
    }
    let mut out = PathBuf::new();
    for segment in relative.split('/') {
        let safe =
            !segment.is_empty() && !segment.starts_with('.') && segment.len() <= MAX_NAME_BYTES;
        if !safe {
            return None;
        }
        out.push(segment);
    }
    // Belt and braces: what we built must consist of plain names only.
    out.components()
        .all(|c| matches!(c, Component::Normal(_)))
        .then_some(out)
}

/// The file name for a post: the stored path, shortened (on a character boundary, keeping the
/// `.md` and a short hash for uniqueness) when a long non-Latin title makes it exceed 255 bytes.
fn export_relative_path(post: &StoredPost) -> String {
    let path = &post.path;
    let (dir, name) = path.rsplit_once('/').unwrap_or(("", path.as_str()));
    if name.len() <= MAX_NAME_BYTES {
        return path.clone();
    }
    let stem = name.strip_suffix(".md").unwrap_or(name);
    let hash = &sha256(path.as_bytes())[..8];
    let budget = MAX_NAME_BYTES - ".md".len() - hash.len() - 1;
    let mut cut = budget.min(stem.len());
    while cut > 0 && !stem.is_char_boundary(cut) {
        cut -= 1;
    }
    let short = format!("{}-{hash}.md", &stem[..cut]);
    if dir.is_empty() {
        short
    } else {
        format!("{dir}/{short}")
    }
}

fn load_manifest(dir: &Path) -> Result<BTreeMap<String, String>, PublishError> {
    let path = dir.join(MANIFEST);
    match std::fs::read(&path) {
        Ok(bytes) => serde_json::from_slice(&bytes).map_err(|e| PublishError::Manifest {
            path,
            detail: e.to_string(),
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(BTreeMap::new()),
        Err(source) => Err(PublishError::Io { path, source }),
    }
}

fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), PublishError> {
    let io = |source| PublishError::Io {
        path: path.to_path_buf(),
        source,
    };
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(io)?;
    let file_name = path.file_name().and_then(|n| n.to_str()).unwrap_or("post");
    let short: String = file_name.chars().take(40).collect();
    let tmp = dir.join(format!(".{short}.{}.tmp", std::process::id()));
    let result = (|| {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result.map_err(io)
}

/// Write `posts` into `dir`. See the module doc for the rules.
pub fn export(
    dir: &Path,
    posts: &[StoredPost],
    render: &RenderOptions,
    options: ExportOptions,
) -> Result<ExportReport, PublishError> {
    // One export at a time per process: concurrent polls publishing into the same directory
    // would otherwise lose each other's manifest entries.
    static EXPORT_LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _guard = EXPORT_LOCK
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    std::fs::create_dir_all(dir).map_err(|source| PublishError::Dir {
        dir: dir.to_path_buf(),
        source,
    })?;
    let mut manifest = load_manifest(dir)?;
    let mut report = ExportReport::default();
    let mut current: HashSet<String> = HashSet::with_capacity(posts.len());

    for post in posts {
        let relative = export_relative_path(post);
        let Some(safe) = contained_path(&relative) else {
            warn!(path = %relative, "post path would leave the export directory; skipped");
            report.skipped += 1;
            continue;
        };
        current.insert(relative.clone());
        let target = dir.join(&safe);
        let content = render_post(&post.post, render);
        let new_hash = sha256(content.as_bytes());
        match std::fs::read(&target) {
            Ok(existing) => {
                if existing == content.as_bytes() {
                    manifest.insert(relative, new_hash);
                    report.unchanged += 1;
                    continue;
                }
                let ours_untouched = manifest.get(&relative) == Some(&sha256(&existing));
                if !ours_untouched && !options.force {
                    let why = if manifest.contains_key(&relative) {
                        "was edited since feedsmith wrote it"
                    } else {
                        "was not written by feedsmith"
                    };
                    warn!(path = %target.display(), "{why}; skipped (use --force to overwrite)");
                    report.skipped += 1;
                    continue;
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(source) => {
                return Err(PublishError::Io {
                    path: target,
                    source,
                })
            }
        }
        write_atomic(&target, content.as_bytes())?;
        manifest.insert(relative, new_hash);
        report.written += 1;
    }

    if options.prune {
        let stale: Vec<String> = manifest
            .keys()
            .filter(|k| !current.contains(*k))
            .cloned()
            .collect();
        for relative in stale {
            let Some(safe) = contained_path(&relative) else {
                manifest.remove(&relative);
                continue;
            };
            let target = dir.join(safe);
            match std::fs::read(&target) {
                Ok(existing)
                    if manifest.get(&relative) == Some(&sha256(&existing)) || options.force =>
                {
                    std::fs::remove_file(&target).map_err(|source| PublishError::Io {
                        path: target.clone(),
                        source,
                    })?;
                    report.pruned += 1;
                    manifest.remove(&relative);
                }
                Ok(_) => {
                    warn!(path = %target.display(), "edited since feedsmith wrote it; not pruned (use --force)");
                }
                Err(_) => {
                    manifest.remove(&relative);
                }
            }
        }
    }

    let manifest_json =
        serde_json::to_vec_pretty(&manifest).map_err(|e| PublishError::Manifest {
            path: dir.join(MANIFEST),
            detail: e.to_string(),
        })?;
    write_atomic(&dir.join(MANIFEST), &manifest_json)?;
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_stay_inside_the_directory() {
        assert!(contained_path("_blogs/2025-01-01-x.md").is_some());
        for bad in [
            "../x.md",
            "_blogs/../../etc/passwd",
            "/etc/passwd",
            "",
            "_blogs/./x.md",
            "_blogs/.hidden.md",
            "a\\..\\b",
            "a\0b",
        ] {
            assert!(contained_path(bad).is_none(), "{bad:?}");
        }
        let long = format!("_blogs/{}.md", "a".repeat(300));
        assert!(contained_path(&long).is_none());
    }

    #[test]
    fn over_long_file_names_are_shortened_on_a_character_boundary() {
        use crate::domain::Post;
        use chrono::{TimeZone, Utc};
        // 200 Japanese characters are 600 bytes: over the 255-byte file-name limit.
        let slug = "日本語".repeat(67);
        let post = Post {
            entry_key: "k".into(),
            title: "t".into(),
            description: String::new(),
            author: String::new(),
            canonical_url: "https://e/1".into(),
            viewing_mode: "external".into(),
            feed_name: "F".into(),
            feed_url: "https://e/f".into(),
            collection: "blogs".into(),
            date: Utc.with_ymd_and_hms(2025, 1, 1, 0, 0, 0).unwrap(),
            slug: slug.clone(),
            categories: vec![],
            tags: vec![],
            tags_normalized: vec![],
            excerpt: String::new(),
            content_markdown: String::new(),
            youtube_id: None,
            reddit_segment: None,
            content_hash: String::new(),
        };
        let stored = StoredPost {
            id: 1,
            feed_id: 1,
            path: crate::normalize::post_path(&post),
            first_seen_at: Utc::now(),
            updated_at: Utc::now(),
            post,
        };
        let rel = export_relative_path(&stored);
        let name = rel.rsplit('/').next().unwrap();
        assert!(
            name.len() <= 255 && name.ends_with(".md"),
            "{} bytes",
            name.len()
        );
        assert!(name.starts_with("2025-01-01-日本語"));
        assert!(contained_path(&rel).is_some());
        assert_eq!(rel, export_relative_path(&stored), "deterministic");
    }
}
