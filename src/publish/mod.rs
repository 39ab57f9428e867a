//! Jekyll export: write each post to `DIR/_<collection>/<yyyy-MM-dd>-<slug>.md`, byte for byte
//! what `posts show` prints, safely and incrementally.
//!
//! - Atomic: a temp file in the same directory, made durable, then `rename`d, so Jekyll (or a
//!   person) never reads half a file, even after a crash. Files go in batches: one `syncfs` per
//!   batch instead of one `fsync` per file, each file's writeback started as soon as it is
//!   written, while a second thread renders the next posts.
//! - Shared-safe: an advisory lock (`flock` on `DIR/.feedsmith-export.lock`) is held by every
//!   export, `feedsmith export` and continuous publishing alike, in any process.
//! - Crash-safe: each file's manifest entry is appended to `DIR/.feedsmith-export.journal` as
//!   soon as the file is in place; the manifest is compacted from it at the end. A killed export
//!   is resumed by the next one (its journal replayed, its temporary files removed).
//! - Incremental: a file whose content is unchanged is not touched (its mtime stays), so
//!   Jekyll's incremental build and `git diff` stay quiet.
//! - Respectful: `DIR/.feedsmith-export.json` remembers the hash of every file feedsmith wrote. A
//!   file feedsmith did not write, or that was edited since, is skipped with a warning unless
//!   `force`; nothing is deleted unless `prune`. A file whose bytes are exactly what feedsmith
//!   would write counts as feedsmith's, with or without an entry, so the manifest can always be
//!   rebuilt.
//! - Contained: every path is checked to stay inside `DIR` (no `..`, no absolute paths, no
//!   over-long names), whatever the post's fields hold.

use std::collections::{BTreeMap, HashSet};
use std::io::Write;
use std::path::{Component, Path, PathBuf};

pub mod formats;
pub mod git;

use sha2::{Digest, Sha256};
use tracing::warn;

use crate::normalize::{render_post, RenderOptions};
use crate::store::StoredPost;

/// The manifest of files feedsmith wrote, relative path -> sha256 of the content written.
pub const MANIFEST: &str = ".feedsmith-export.json";

/// Append-only records of the files an export wrote (one JSON object a line), replayed onto the
/// manifest by the next export when this one was killed; removed once the manifest is compacted.
pub const JOURNAL: &str = ".feedsmith-export.journal";

/// The advisory lock file of the export directory (see [`DirLock`]).
pub const LOCK: &str = ".feedsmith-export.lock";

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
    /// The relative paths pruned, for the git commit (they are gone from the manifest).
    #[serde(skip)]
    pub removed: Vec<String>,
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

/// Every record of the journal: a file written (with the hash of its content) or removed.
#[derive(serde::Serialize, serde::Deserialize)]
struct JournalLine {
    path: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    sha256: Option<String>,
}

/// The manifest as the last export left it: the compacted file, then the journal's records of
/// an export that did not finish (killed), in order. A torn last line (a kill inside a write) is
/// ignored: that file's bytes are then checked against what feedsmith would write.
fn load_manifest(dir: &Path) -> Result<BTreeMap<String, String>, PublishError> {
    let path = dir.join(MANIFEST);
    let mut manifest: BTreeMap<String, String> = match std::fs::read(&path) {
        Ok(bytes) => serde_json::from_slice(&bytes).map_err(|e| PublishError::Manifest {
            path,
            detail: e.to_string(),
        })?,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => BTreeMap::new(),
        Err(source) => return Err(PublishError::Io { path, source }),
    };
    let journal = dir.join(JOURNAL);
    match std::fs::read(&journal) {
        Ok(bytes) => {
            for line in bytes.split(|b| *b == b'\n') {
                let Ok(rec) = serde_json::from_slice::<JournalLine>(line) else {
                    continue;
                };
                match rec.sha256 {
                    Some(hash) => manifest.insert(rec.path, hash),
                    None => manifest.remove(&rec.path),
                };
            }
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(source) => {
            return Err(PublishError::Io {
                path: journal,
                source,
            })
        }
    }
    Ok(manifest)
}

/// The advisory lock (`flock`) on `DIR/.feedsmith-export.lock`, held for a whole export by
/// `feedsmith export` and by continuous publishing in any process, released when dropped (or
/// when the process dies). Why a lock file and not a mutex: an `export` racing a publishing
/// `fetch` in another process interleaved their files and each wrote its own manifest, so
/// every file looked edited afterwards and the site was stuck until `--force`.
struct DirLock {
    _file: std::fs::File,
}

fn lock_dir(dir: &Path) -> Result<DirLock, PublishError> {
    use std::os::fd::AsRawFd;
    let path = dir.join(LOCK);
    let io = |source| PublishError::Io {
        path: path.clone(),
        source,
    };
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(io)?;
    loop {
        // SAFETY: flock on a descriptor this function owns; no memory is passed.
        let rc = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX) };
        if rc == 0 {
            return Ok(DirLock { _file: file });
        }
        let err = std::io::Error::last_os_error();
        if err.kind() != std::io::ErrorKind::Interrupted {
            return Err(io(err));
        }
    }
}

/// Temporary files a killed export left (`.<name>.<pid>.<n>.tmp`), in `dir` and its `_*`
/// collection directories. Only called under the lock, so no live export owns them.
fn remove_stale_temp_files(dir: &Path) -> usize {
    let mut removed = 0;
    let mut dirs = vec![dir.to_path_buf()];
    if let Ok(entries) = std::fs::read_dir(dir) {
        for e in entries.flatten() {
            let name = e.file_name();
            if name.to_string_lossy().starts_with('_') && e.path().is_dir() {
                dirs.push(e.path());
            }
        }
    }
    for d in dirs {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in entries.flatten() {
            let name = e.file_name();
            let name = name.to_string_lossy();
            if name.starts_with('.')
                && name.ends_with(".tmp")
                && std::fs::remove_file(e.path()).is_ok()
            {
                removed += 1;
            }
        }
    }
    removed
}

/// Files written per batch: their temporary files are made durable with one `syncfs` before
/// any of them is renamed into place, instead of one `fsync` per file (a 50 000-post export
/// spent most of its time in `fsync`).
const BATCH: usize = 4096;

/// A file written to its temporary name, waiting for its batch's sync and rename.
struct Pending {
    tmp: PathBuf,
    target: PathBuf,
    relative: String,
    hash: String,
}

/// The export in progress: the journal it appends to and the batch of files not yet renamed.
struct Writer<'a> {
    dir: &'a Path,
    journal: std::fs::File,
    pending: Vec<Pending>,
    /// Directories a file was renamed into, synced at the end so the renames are durable.
    touched: HashSet<PathBuf>,
    /// Directories known to exist.
    created: HashSet<PathBuf>,
    pid: u32,
    seq: u64,
}

impl<'a> Writer<'a> {
    fn open(dir: &'a Path) -> Result<Writer<'a>, PublishError> {
        let path = dir.join(JOURNAL);
        let journal = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .map_err(|source| PublishError::Io { path, source })?;
        Ok(Writer {
            dir,
            journal,
            pending: Vec::new(),
            touched: HashSet::new(),
            created: HashSet::new(),
            pid: std::process::id(),
            seq: 0,
        })
    }

    fn record(&mut self, relative: &str, hash: Option<&str>) -> Result<(), PublishError> {
        let mut line = serde_json::to_vec(&JournalLine {
            path: relative.to_string(),
            sha256: hash.map(str::to_string),
        })
        .map_err(|e| PublishError::Manifest {
            path: self.dir.join(JOURNAL),
            detail: e.to_string(),
        })?;
        line.push(b'\n');
        // One write per record (O_APPEND): a kill leaves whole records and at most one torn one.
        self.journal
            .write_all(&line)
            .map_err(|source| PublishError::Io {
                path: self.dir.join(JOURNAL),
                source,
            })
    }

    /// Write `bytes` to a temporary file beside `target`; renamed by [`Writer::flush`].
    fn write(
        &mut self,
        target: PathBuf,
        relative: String,
        bytes: &[u8],
        hash: String,
    ) -> Result<(), PublishError> {
        let parent = target.parent().unwrap_or(self.dir).to_path_buf();
        let io = |source| PublishError::Io {
            path: target.clone(),
            source,
        };
        // Once per directory, not per file (a `mkdir` that fails with EEXIST, 50 000 times).
        if !self.created.contains(&parent) {
            std::fs::create_dir_all(&parent).map_err(io)?;
            self.created.insert(parent.clone());
        }
        let file_name = target
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or("post");
        let short: String = file_name.chars().take(40).collect();
        self.seq += 1;
        let tmp = parent.join(format!(".{short}.{}.{}.tmp", self.pid, self.seq));
        if let Err(e) = write_new(&tmp, bytes) {
            let _ = std::fs::remove_file(&tmp);
            return Err(io(e));
        }
        self.pending.push(Pending {
            tmp,
            target,
            relative,
            hash,
        });
        if self.pending.len() >= BATCH {
            self.flush()?;
        }
        Ok(())
    }

    /// Make the batch's temporary files durable, then rename each into place and record it in
    /// the journal: a file is in place only with its whole new content, and in the journal only
    /// once in place.
    fn flush(&mut self) -> Result<(), PublishError> {
        if self.pending.is_empty() {
            return Ok(());
        }
        sync_file_system(self.dir, &self.pending)?;
        for p in std::mem::take(&mut self.pending) {
            if let Err(source) = std::fs::rename(&p.tmp, &p.target) {
                let _ = std::fs::remove_file(&p.tmp);
                return Err(PublishError::Io {
                    path: p.target,
                    source,
                });
            }
            if let Some(parent) = p.target.parent() {
                self.touched.insert(parent.to_path_buf());
            }
            self.record(&p.relative, Some(&p.hash))?;
        }
        Ok(())
    }

    /// Sync the directories renamed into, write the compacted manifest atomically, and only
    /// then drop the journal.
    fn finish(mut self, manifest: &BTreeMap<String, String>) -> Result<(), PublishError> {
        self.flush()?;
        for d in &self.touched {
            if let Ok(f) = std::fs::File::open(d) {
                let _ = f.sync_all();
            }
        }
        let manifest_json =
            serde_json::to_vec_pretty(manifest).map_err(|e| PublishError::Manifest {
                path: self.dir.join(MANIFEST),
                detail: e.to_string(),
            })?;
        write_atomic(&self.dir.join(MANIFEST), &manifest_json)?;
        let journal = self.dir.join(JOURNAL);
        match std::fs::remove_file(&journal) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(source) => Err(PublishError::Io {
                path: journal,
                source,
            }),
        }
    }
}

/// Fewer pending files than this are synced one by one: `syncfs` flushes everything dirty on
/// the file system, which costs more than a few `fsync`s on a busy host (continuous publishing
/// writes a post or two at a time).
const SYNCFS_FROM: usize = 16;

/// Make the pending temporary files durable: with one `syncfs` of the file system holding `dir`
/// for a large batch, else (or where `syncfs` is missing) an `fsync` each.
fn sync_file_system(dir: &Path, pending: &[Pending]) -> Result<(), PublishError> {
    #[cfg(target_os = "linux")]
    if pending.len() >= SYNCFS_FROM {
        use std::os::fd::AsRawFd;
        if let Ok(d) = std::fs::File::open(dir) {
            // SAFETY: syncfs on a descriptor owned here; no memory is passed.
            if unsafe { libc::syncfs(d.as_raw_fd()) } == 0 {
                return Ok(());
            }
        }
    }
    for p in pending {
        std::fs::File::open(&p.tmp)
            .and_then(|f| f.sync_all())
            .map_err(|source| PublishError::Io {
                path: p.tmp.clone(),
                source,
            })?;
    }
    Ok(())
}

/// Write a new temporary file and start its writeback at once (`sync_file_range` with
/// `SYNC_FILE_RANGE_WRITE`, which does not wait): the disk works on this batch while the next
/// posts are rendered and written, so the batch's `syncfs` finds most of the data already
/// written instead of all of it. Durability still comes from that `syncfs` (or `fsync`); the
/// hint only moves the disk's work earlier.
fn write_new(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut f = std::fs::File::create(path)?;
    f.write_all(bytes)?;
    #[cfg(target_os = "linux")]
    {
        use std::os::fd::AsRawFd;
        // SAFETY: sync_file_range on a descriptor owned here; no memory is passed. A failure
        // (a file system without it) only loses the head start.
        unsafe {
            libc::sync_file_range(f.as_raw_fd(), 0, 0, libc::SYNC_FILE_RANGE_WRITE);
        }
    }
    Ok(())
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

/// Posts prepared ahead of the writer (each holds one rendered file).
const PREPARE_AHEAD: usize = 64;

/// A post rendered and hashed, with what is at its path now.
struct Prepared {
    relative: String,
    /// `None`: the path would leave the export directory.
    target: Option<PathBuf>,
    content: String,
    new_hash: String,
    /// The current file's bytes; `None` when there is none.
    existing: std::io::Result<Option<Vec<u8>>>,
}

fn prepare(dir: &Path, post: &StoredPost, render: &RenderOptions) -> Prepared {
    let relative = export_relative_path(post);
    let Some(safe) = contained_path(&relative) else {
        return Prepared {
            relative,
            target: None,
            content: String::new(),
            new_hash: String::new(),
            existing: Ok(None),
        };
    };
    let target = dir.join(&safe);
    let content = render_post(&post.post, render);
    let new_hash = sha256(content.as_bytes());
    let existing = match std::fs::read(&target) {
        Ok(bytes) => Ok(Some(bytes)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    };
    Prepared {
        relative,
        target: Some(target),
        content,
        new_hash,
        existing,
    }
}

/// Write `posts` into `dir`. See the module doc for the rules.
pub fn export(
    dir: &Path,
    posts: &[StoredPost],
    render: &RenderOptions,
    options: ExportOptions,
) -> Result<ExportReport, PublishError> {
    std::fs::create_dir_all(dir).map_err(|source| PublishError::Dir {
        dir: dir.to_path_buf(),
        source,
    })?;
    // One export at a time per directory, across processes (see [`DirLock`]).
    let _lock = lock_dir(dir)?;
    let stale = remove_stale_temp_files(dir);
    if stale > 0 {
        tracing::info!(dir = %dir.display(), files = stale, "removed temporary files of an interrupted export");
    }
    let mut manifest = load_manifest(dir)?;
    let mut writer = Writer::open(dir)?;
    let mut report = ExportReport::default();
    let mut current: HashSet<String> = HashSet::with_capacity(posts.len());

    // Rendering, hashing and reading the current file run on a second thread, ahead of this
    // one, which decides and writes: a 50 000-post export spent a fifth of its time rendering
    // while the disk waited.
    let (ahead, prepared) = std::sync::mpsc::sync_channel::<Prepared>(PREPARE_AHEAD);
    std::thread::scope(|scope| -> Result<(), PublishError> {
        scope.spawn(move || {
            for post in posts {
                if ahead.send(prepare(dir, post, render)).is_err() {
                    break; // the writer stopped on an error
                }
            }
        });
        for p in prepared {
            let Prepared {
                relative,
                target,
                content,
                new_hash,
                existing,
            } = p;
            let Some(target) = target else {
                warn!(path = %relative, "post path would leave the export directory; skipped");
                report.skipped += 1;
                continue;
            };
            current.insert(relative.clone());
            match existing {
                Ok(Some(existing)) => {
                    // Bytes equal to what feedsmith writes are feedsmith's, with or without a
                    // manifest entry: a lost manifest can always be rebuilt.
                    if existing == content.as_bytes() {
                        if manifest.get(&relative) != Some(&new_hash) {
                            writer.record(&relative, Some(&new_hash))?;
                            manifest.insert(relative, new_hash);
                        }
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
                Ok(None) => {}
                Err(source) => {
                    return Err(PublishError::Io {
                        path: target,
                        source,
                    })
                }
            }
            manifest.insert(relative.clone(), new_hash.clone());
            writer.write(target, relative, content.as_bytes(), new_hash)?;
            report.written += 1;
        }
        Ok(())
    })?;
    writer.flush()?;

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
                    writer.record(&relative, None)?;
                    report.removed.push(relative);
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

    writer.finish(&manifest)?;
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
