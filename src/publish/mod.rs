//! Jekyll export: write each post to `DIR/_<collection>/<yyyy-MM-dd>-<slug>.md`, byte for byte
//! what `posts show` prints, safely and incrementally.
//!
//! - Atomic: a temp file in the same directory, made durable, then `rename`d, so Jekyll (or a
//!   person) never reads half a file, even after a crash. Files go in batches: one `syncfs` per
//!   batch instead of one `fsync` per file, on a thread of its own while the next batch is
//!   written, and two more threads render the posts ahead of the writer.
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

use std::collections::{BTreeMap, HashMap, HashSet};
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

/// What the [`commit`] thread is given, in order.
enum Job {
    /// Make these temporary files durable, rename each into place and journal it.
    Batch(Vec<Pending>),
    /// Journal a file already in place (`None`: removed).
    Record(String, Option<String>),
}

/// The export in progress: the batch of files not yet handed on, and the thread that commits
/// the batches before it.
///
/// Why a thread: a batch's `syncfs` waits for the kernel to write its files back, and the
/// writer, waiting with it, wrote nothing meanwhile. Now the writer goes on with the next
/// batch while the committer syncs, renames and journals the last one. Each file still goes
/// data durable, then rename, then journal record, in order, so a kill at any point leaves
/// what it did before. Measured on ext4 on a RAM-backed loop device (the disk's own noise
/// removed): docs/performance.md, "Export throughput".
struct Writer<'a> {
    dir: &'a Path,
    pending: Vec<Pending>,
    /// Batches queued for the committer; `None` once it is closed.
    jobs: Option<std::sync::mpsc::SyncSender<Job>>,
    committer: Option<std::thread::JoinHandle<Result<HashSet<PathBuf>, PublishError>>>,
    /// Directories known to exist.
    created: HashSet<PathBuf>,
    pid: u32,
    seq: u64,
}

/// Batches queued for the committer beyond the one it commits: the writer may be one batch
/// ahead, so at most three batches of temporary files wait for their rename.
const COMMIT_AHEAD: usize = 1;

impl<'a> Writer<'a> {
    fn open(dir: &'a Path) -> Result<Writer<'a>, PublishError> {
        let path = dir.join(JOURNAL);
        let journal = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .map_err(|source| PublishError::Io { path, source })?;
        let (jobs, queue) = std::sync::mpsc::sync_channel(COMMIT_AHEAD);
        let owned = dir.to_path_buf();
        let committer = std::thread::Builder::new()
            .name("export-commit".into())
            .spawn(move || commit(&owned, journal, queue))
            .map_err(|source| PublishError::Io {
                path: dir.to_path_buf(),
                source,
            })?;
        Ok(Writer {
            dir,
            pending: Vec::new(),
            jobs: Some(jobs),
            committer: Some(committer),
            created: HashSet::new(),
            pid: std::process::id(),
            seq: 0,
        })
    }

    /// Hand `job` to the committer; when it has stopped on an error, that error.
    fn send(&mut self, job: Job) -> Result<(), PublishError> {
        let sent = match &self.jobs {
            Some(jobs) => jobs.send(job).is_ok(),
            None => false,
        };
        if sent {
            return Ok(());
        }
        self.join().map(|_| ())
    }

    /// Close the committer's queue and wait for it: the directories it renamed into, or the
    /// error it stopped on.
    fn join(&mut self) -> Result<HashSet<PathBuf>, PublishError> {
        self.jobs = None;
        let Some(handle) = self.committer.take() else {
            return Err(PublishError::Io {
                path: self.dir.to_path_buf(),
                source: std::io::Error::other("the export's commit thread has already stopped"),
            });
        };
        handle.join().unwrap_or_else(|_| {
            Err(PublishError::Io {
                path: self.dir.to_path_buf(),
                source: std::io::Error::other("the export's commit thread panicked"),
            })
        })
    }

    fn record(&mut self, relative: &str, hash: Option<&str>) -> Result<(), PublishError> {
        self.send(Job::Record(relative.to_string(), hash.map(str::to_string)))
    }

    /// Write `bytes` to a temporary file beside `target`; renamed by the committer.
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

    /// Hand the batch written so far to the committer.
    fn flush(&mut self) -> Result<(), PublishError> {
        if self.pending.is_empty() {
            return Ok(());
        }
        let batch = std::mem::take(&mut self.pending);
        self.send(Job::Batch(batch))
    }

    /// Commit what is left, sync the directories renamed into, write the compacted manifest
    /// atomically, and only then drop the journal.
    fn finish(mut self, manifest: &BTreeMap<String, String>) -> Result<(), PublishError> {
        self.flush()?;
        let touched = self.join()?;
        for d in &touched {
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

/// The committer: for each batch, make its temporary files durable, then rename each into
/// place and record it in the journal, so a file is in place only with its whole new content,
/// and in the journal only once in place. Stops at the first error, which the writer gets.
fn commit(
    dir: &Path,
    mut journal: std::fs::File,
    jobs: std::sync::mpsc::Receiver<Job>,
) -> Result<HashSet<PathBuf>, PublishError> {
    let mut touched: HashSet<PathBuf> = HashSet::new();
    for job in jobs {
        match job {
            Job::Record(relative, hash) => append_record(dir, &mut journal, &relative, hash)?,
            Job::Batch(batch) => {
                if let Err(e) = sync_file_system(dir, &batch) {
                    remove_temporary(&batch);
                    return Err(e);
                }
                let mut batch = batch.into_iter();
                while let Some(p) = batch.next() {
                    if let Err(source) = std::fs::rename(&p.tmp, &p.target) {
                        let _ = std::fs::remove_file(&p.tmp);
                        remove_temporary(batch.as_slice());
                        return Err(PublishError::Io {
                            path: p.target,
                            source,
                        });
                    }
                    if let Some(parent) = p.target.parent() {
                        if !touched.contains(parent) {
                            touched.insert(parent.to_path_buf());
                        }
                    }
                    append_record(dir, &mut journal, &p.relative, Some(p.hash))?;
                }
            }
        }
    }
    Ok(touched)
}

/// Best effort: the next export removes what is left anyway ([`remove_stale_temp_files`]).
fn remove_temporary(pending: &[Pending]) {
    for p in pending {
        let _ = std::fs::remove_file(&p.tmp);
    }
}

fn append_record(
    dir: &Path,
    journal: &mut std::fs::File,
    relative: &str,
    hash: Option<String>,
) -> Result<(), PublishError> {
    let mut line = serde_json::to_vec(&JournalLine {
        path: relative.to_string(),
        sha256: hash,
    })
    .map_err(|e| PublishError::Manifest {
        path: dir.join(JOURNAL),
        detail: e.to_string(),
    })?;
    line.push(b'\n');
    // One write per record (O_APPEND): a kill leaves whole records and at most one torn one.
    journal.write_all(&line).map_err(|source| PublishError::Io {
        path: dir.join(JOURNAL),
        source,
    })
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

/// Write a new temporary file. Its writeback is left to the batch's `syncfs`: starting it per
/// file (`sync_file_range`) made the writer allocate and submit each file's blocks itself, and
/// cost a 50 000-post export 25-40 % more on ext4 (docs/performance.md).
fn write_new(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut f = std::fs::File::create(path)?;
    f.write_all(bytes)
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

/// Posts handed from a preparing thread to the writer at once: one channel message (and at most
/// one wake-up) per chunk instead of per post, which was a tenth of a 50 000-post export's CPU.
const PREPARE_CHUNK: usize = 32;

/// Chunks each preparing thread may have ready ahead of the writer (each post holds one
/// rendered file, so this bounds the memory: 2 threads x 2 x 32 posts).
const PREPARE_AHEAD: usize = 2;

/// Threads that render, hash and read the current files: rendering alone took as long as
/// writing the same bytes, so on a machine with a core to spare two threads share it. Chunk
/// `i` goes to thread `i % preparers()`, and the writer takes the chunks back in that order, so the
/// posts are decided and written in the order given (a later post at the same path wins).
fn preparers() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get().min(2))
}

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

/// The names in each directory the export writes into, read once: one pass over the directory
/// instead of a failed `open` per new file, which was a third of the preparing threads' time on
/// a fresh site. A directory that cannot be listed is not trusted: its files are opened one by
/// one. Files do not appear behind the listing's back while the export holds the directory's
/// lock, except by hand, and a file made by hand between a read and the rename was overwritten
/// before this cache as well.
#[derive(Default)]
struct Listings(std::sync::Mutex<HashMap<PathBuf, Option<HashSet<std::ffi::OsString>>>>);

impl Listings {
    /// False only when `path`'s directory was listed (or does not exist) without its name.
    fn may_exist(&self, path: &Path) -> bool {
        let (Some(parent), Some(name)) = (path.parent(), path.file_name()) else {
            return true;
        };
        let mut listed = self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if !listed.contains_key(parent) {
            listed.insert(parent.to_path_buf(), list_names(parent));
        }
        match listed.get(parent) {
            Some(Some(names)) => names.contains(name),
            _ => true,
        }
    }
}

fn list_names(dir: &Path) -> Option<HashSet<std::ffi::OsString>> {
    match std::fs::read_dir(dir) {
        Ok(entries) => entries
            .map(|e| e.map(|e| e.file_name()))
            .collect::<std::io::Result<_>>()
            .ok(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Some(HashSet::new()),
        Err(_) => None,
    }
}

fn prepare(dir: &Path, post: &StoredPost, render: &RenderOptions, listings: &Listings) -> Prepared {
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
    if !listings.may_exist(&target) {
        return Prepared {
            relative,
            target: Some(target),
            content,
            new_hash,
            existing: Ok(None),
        };
    }
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

    // Rendering, hashing and reading the current file run on other threads, ahead of this
    // one, which decides and writes: a 50 000-post export spent a fifth of its time rendering
    // while the disk waited.
    let chunks: Vec<&[StoredPost]> = posts.chunks(PREPARE_CHUNK).collect();
    let threads = preparers();
    let listings = Listings::default();
    let listings = &listings;
    std::thread::scope(|scope| -> Result<(), PublishError> {
        let mut queues = Vec::with_capacity(threads);
        for first in 0..threads {
            let (ahead, ready) = std::sync::mpsc::sync_channel::<Vec<Prepared>>(PREPARE_AHEAD);
            let mine: Vec<&[StoredPost]> = chunks
                .iter()
                .skip(first)
                .step_by(threads)
                .copied()
                .collect();
            scope.spawn(move || {
                for chunk in mine {
                    let done = chunk
                        .iter()
                        .map(|p| prepare(dir, p, render, listings))
                        .collect();
                    if ahead.send(done).is_err() {
                        break; // the writer stopped on an error
                    }
                }
            });
            queues.push(ready);
        }
        // Chunk i from thread i % threads: the posts' own order. A thread that stopped early
        // (it cannot: `prepare` does not fail) ends the sequence with it.
        let prepared = (0..chunks.len())
            .map_while(|i| queues[i % threads].recv().ok())
            .flatten();
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
