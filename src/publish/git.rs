//! Publishing into git (`[publish] git = true`): after an export that changed files, commit
//! exactly the files feedsmith wrote into the site's repository, and optionally push them.
//!
//! Why the `git` executable and not a crate: the only well-kept pure-Rust implementation (gix)
//! with push support pulls in about a hundred crates, which the 30-minute CI cannot afford, and
//! every machine that has a git work tree has `git`. Every call passes its identity and the
//! settings that matter as `-c` options and environment variables, so no user configuration
//! (`~/.gitconfig`, hooks, signing, a credential prompt) is needed or consulted for them.
//!
//! Which files: those the export manifest lists whose bytes still hash to what feedsmith wrote
//! and that differ from `HEAD` (plus the files this process pruned). A file edited by hand no
//! longer matches its manifest entry and is left out; a file feedsmith never wrote is not in the
//! manifest. The commit is built in a temporary index (`read-tree HEAD`, `update-index`,
//! `write-tree`, `commit-tree`, `update-ref` with the old `HEAD` as a compare-and-swap), so
//! whatever the user staged stays staged and out of feedsmith's commit.
//!
//! Pushing: up to [`PUSH_ATTEMPTS`] tries. A push rejected as non-fast-forward fetches the
//! branch and rebases the local commits onto it (`--autostash`, so hand edits in the work tree
//! survive), then tries again at once; any other failure (network, server) waits with
//! exponential backoff. A rebase that conflicts is aborted, which leaves the work tree and the
//! branch exactly as before, and the error names the files and the command to settle it.
//!
//! In a cluster the step runs only while this replica holds the `publish` lease in the store,
//! so two replicas sharing a site never commit or push at the same time.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tracing::{info, warn};

use super::{load_manifest, lock_dir, sha256, PublishError};
use crate::store::Store;

/// The default `[publish] git_author`.
pub const DEFAULT_AUTHOR: &str = "feedsmith <feedsmith@localhost>";

/// The store lease a replica holds while it commits and pushes.
pub const LEASE: &str = "publish";

/// How long the lease holds without being given back (a replica killed while pushing): long
/// enough for a slow push with its retries.
const LEASE_TTL: Duration = Duration::from_secs(300);

/// Push attempts before giving up (the commit stays local and goes out with the next push).
const PUSH_ATTEMPTS: u32 = 4;

/// The first wait after a failed push; doubled after each further failure.
const PUSH_BACKOFF: Duration = Duration::from_millis(500);

/// Feed names listed in the commit subject before "and N more".
const SUBJECT_FEEDS: usize = 4;

/// `[publish] git*`, owned by publishing; `config.rs` deserializes and validates it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct GitSettings {
    /// `git_author = "Name <email>"`: the author and committer of feedsmith's commits.
    pub author_name: String,
    pub author_email: String,
    /// `git_push = "origin"`: the remote to push the current branch to; `None`: commit only.
    pub push: Option<String>,
}

/// A `[publish] git*` setting that cannot work; the configuration reports it under [`Self::key`].
#[derive(Debug, thiserror::Error)]
pub enum GitConfigError {
    #[error("[publish].git_author = {0:?}: expected \"Name <email>\", e.g. {DEFAULT_AUTHOR:?}")]
    Author(String),
    #[error("[publish].git_push = {0:?}: expected the name of a remote of the site's repository, e.g. \"origin\"")]
    Push(String),
    #[error("[publish].git = true needs the git executable ({0}); install git or set git = false")]
    NoGit(std::io::Error),
    #[error("[publish].git = true, but [publish].dir {} is not inside a git work tree\n  fix: `git init` (or `git clone` the site) there, point [publish].dir into a clone, or set git = false", .0.display())]
    NotWorkTree(PathBuf),
}

impl GitConfigError {
    /// The key path of the setting at fault.
    pub fn key(&self) -> &'static str {
        match self {
            GitConfigError::Author(_) => "[publish].git_author",
            GitConfigError::Push(_) => "[publish].git_push",
            GitConfigError::NoGit(_) | GitConfigError::NotWorkTree(_) => "[publish].git",
        }
    }
}

impl GitSettings {
    /// The settings for `git_author` and `git_push`.
    pub fn new(author: &str, push: Option<&str>) -> Result<GitSettings, GitConfigError> {
        let (name, email) =
            parse_author(author).ok_or_else(|| GitConfigError::Author(author.to_string()))?;
        let push = match push.map(str::trim) {
            None | Some("") => None,
            Some(r) if r.starts_with('-') || r.chars().any(char::is_whitespace) => {
                return Err(GitConfigError::Push(r.to_string()))
            }
            Some(r) => Some(r.to_string()),
        };
        Ok(GitSettings {
            author_name: name,
            author_email: email,
            push,
        })
    }
}

/// `Name <email>` -> (name, email); both non-empty, no newlines or angle brackets inside.
fn parse_author(author: &str) -> Option<(String, String)> {
    if author.contains(['\n', '\r', '\0']) {
        return None;
    }
    let (name, rest) = author.trim().split_once('<')?;
    let email = rest.strip_suffix('>')?;
    let (name, email) = (name.trim(), email.trim());
    let clean = |s: &str| !s.is_empty() && !s.contains(['<', '>']);
    (clean(name) && clean(email)).then(|| (name.to_string(), email.to_string()))
}

/// The configuration check of `git = true`: `dir` (or, when it does not exist yet, its nearest
/// existing parent) must be inside a git work tree.
pub fn check_work_tree(dir: &Path) -> Result<(), GitConfigError> {
    let mut probe = dir.to_path_buf();
    while !probe.is_dir() {
        match probe.parent() {
            Some(p) if !p.as_os_str().is_empty() => probe = p.to_path_buf(),
            _ => {
                probe = PathBuf::from(".");
                break;
            }
        }
    }
    let out = Command::new("git")
        .args(["rev-parse", "--is-inside-work-tree"])
        .current_dir(&probe)
        .env("LC_ALL", "C")
        .stdin(Stdio::null())
        .output()
        .map_err(GitConfigError::NoGit)?;
    if out.status.success() && String::from_utf8_lossy(&out.stdout).trim() == "true" {
        return Ok(());
    }
    Err(GitConfigError::NotWorkTree(dir.to_path_buf()))
}

#[derive(Debug, thiserror::Error)]
pub enum GitError {
    #[error(transparent)]
    Publish(#[from] PublishError),
    #[error("cannot run git ({source}); install git or set [publish].git = false")]
    Spawn { source: std::io::Error },
    #[error("git {args} failed in {dir}: {stderr}")]
    Command {
        args: String,
        dir: PathBuf,
        stderr: String,
    },
    #[error("the site repository {dir} is on a detached HEAD; feedsmith commits to a branch: `git -C {dir} switch BRANCH`")]
    Detached { dir: PathBuf },
    #[error("push to {remote} rejected, and feedsmith's commit conflicts with the remote's changes in {files}; the rebase was aborted and the work tree is as before (feedsmith's commit is still local)\n  fix: cd {dir} && git pull --rebase {remote} {branch}, settle the conflict, push; feedsmith pushes again after its next commit")]
    Conflict {
        dir: PathBuf,
        remote: String,
        branch: String,
        files: String,
    },
    #[error("push to {remote} failed after {attempts} attempts: {stderr}\n  (the commit stays local and goes out with the next push)")]
    Push {
        remote: String,
        attempts: u32,
        stderr: String,
    },
}

/// What one commit step did.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct CommitReport {
    /// The new commit's id; `None` when nothing feedsmith wrote differed from `HEAD`.
    pub commit: Option<String>,
    pub subject: String,
    pub new: usize,
    pub updated: usize,
    pub removed: usize,
    /// Files of feedsmith's that differ from `HEAD` but were edited by hand (left out).
    pub left_out: usize,
    pub pushed: bool,
}

/// Files exported since the last commit step, in this process: the daemon's committer wakes on
/// it, and the pruned paths (gone from the manifest) are remembered for the commit.
#[derive(Debug, Default)]
pub struct GitQueue {
    dirty: AtomicBool,
    removed: std::sync::Mutex<BTreeSet<String>>,
    wake: tokio::sync::Notify,
}

impl GitQueue {
    pub fn new() -> Arc<GitQueue> {
        Arc::new(GitQueue::default())
    }

    /// An export wrote or pruned files: commit them at the next step.
    pub fn mark(&self, report: &super::ExportReport) {
        if report.written == 0 && report.removed.is_empty() {
            return;
        }
        if !report.removed.is_empty() {
            let mut removed = self.removed.lock().unwrap_or_else(|p| p.into_inner());
            removed.extend(report.removed.iter().cloned());
        }
        self.dirty.store(true, Ordering::SeqCst);
        self.wake.notify_one();
    }

    /// Wait until an export marked something.
    pub async fn changed(&self) {
        while !self.dirty.load(Ordering::SeqCst) {
            self.wake.notified().await;
        }
    }

    fn take(&self) -> Vec<String> {
        self.dirty.store(false, Ordering::SeqCst);
        let mut removed = self.removed.lock().unwrap_or_else(|p| p.into_inner());
        std::mem::take(&mut *removed).into_iter().collect()
    }

    fn put_back(&self, removed: Vec<String>) {
        let mut set = self.removed.lock().unwrap_or_else(|p| p.into_inner());
        set.extend(removed);
        self.dirty.store(true, Ordering::SeqCst);
    }
}

/// One commit step under the `publish` lease: `Ok(None)` when another replica holds it (that
/// replica commits, the files are picked up from the manifest whoever commits). The lease is
/// given back at the end, so the next replica with something to commit can take it.
pub async fn commit_step(
    store: &dyn Store,
    dir: &Path,
    settings: &GitSettings,
    queue: &GitQueue,
) -> Result<Option<CommitReport>, GitError> {
    let owner = crate::store::lease_owner();
    let held = match store.acquire_lease(LEASE, owner, LEASE_TTL).await {
        Ok(held) => held,
        Err(e) => {
            warn!("git publishing: cannot take the {LEASE:?} lease: {e}; not committing now");
            return Ok(None);
        }
    };
    if !held {
        info!("git publishing: another replica holds the {LEASE:?} lease; it commits");
        return Ok(None);
    }
    let removed = queue.take();
    let (d, s, r) = (dir.to_path_buf(), settings.clone(), removed.clone());
    let result = tokio::task::spawn_blocking(move || commit_and_push(&d, &s, &r))
        .await
        .unwrap_or_else(|e| {
            Err(GitError::Command {
                args: "(task)".into(),
                dir: dir.to_path_buf(),
                stderr: e.to_string(),
            })
        });
    if result.is_err() {
        queue.put_back(removed);
    }
    if let Err(e) = store.release_lease(LEASE, owner).await {
        warn!("git publishing: cannot release the {LEASE:?} lease: {e}");
    }
    if let Ok(report) = &result {
        log_report(report);
    }
    result.map(Some)
}

fn log_report(report: &CommitReport) {
    if let Some(id) = &report.commit {
        info!(
            commit = %id,
            new = report.new,
            updated = report.updated,
            removed = report.removed,
            pushed = report.pushed,
            "committed: {}",
            report.subject
        );
    }
    if report.left_out > 0 {
        warn!(
            files = report.left_out,
            "git publishing: files edited by hand since feedsmith wrote them were left out of the commit"
        );
    }
}

/// The daemon's committer: waits for exports that changed files, lets a tick's polls finish
/// (a short settle, so they make one commit), commits, and tries again a minute later when the
/// step failed or another replica held the lease. At `stop`, a last step commits what is left.
pub async fn run_committer(
    store: Arc<dyn Store>,
    dir: PathBuf,
    settings: GitSettings,
    queue: Arc<GitQueue>,
    stop: tokio_util::sync::CancellationToken,
) {
    let settle = Duration::from_secs(2);
    let retry = Duration::from_secs(60);
    let mut wait = Duration::ZERO;
    loop {
        let stopping = tokio::select! {
            () = async { tokio::time::sleep(wait).await; queue.changed().await } => false,
            () = stop.cancelled() => true,
        };
        if !stopping {
            tokio::select! {
                () = tokio::time::sleep(settle) => {}
                () = stop.cancelled() => {}
            }
        }
        if stopping && !queue.dirty.load(Ordering::SeqCst) {
            break;
        }
        wait = match commit_step(store.as_ref(), &dir, &settings, &queue).await {
            Ok(Some(_)) => Duration::ZERO,
            // Another replica holds the lease: look again later for what it may not have seen.
            Ok(None) => {
                queue.put_back(Vec::new());
                retry
            }
            Err(e) => {
                tracing::error!("git publishing failed: {e}");
                retry
            }
        };
        if stopping || stop.is_cancelled() {
            break;
        }
    }
}

/// A `git` invocation in the export directory, with feedsmith's identity and no dependence on
/// the user's configuration for what matters: no hooks, no signing, no credential prompt,
/// messages in English (a rejected push is recognised by them).
struct Git<'a> {
    dir: &'a Path,
    settings: &'a GitSettings,
    index: Option<&'a Path>,
}

struct Output {
    ok: bool,
    stdout: String,
    stderr: String,
}

impl Git<'_> {
    fn command(&self, args: &[&str]) -> Command {
        let mut c = Command::new("git");
        let name = format!("user.name={}", self.settings.author_name);
        let email = format!("user.email={}", self.settings.author_email);
        c.args(["-c", &name, "-c", &email])
            .args([
                "-c",
                "commit.gpgSign=false",
                "-c",
                "core.hooksPath=/dev/null",
            ])
            .args([
                "-c",
                "core.quotePath=false",
                "-c",
                "advice.detachedHead=false",
            ])
            .args(args)
            .current_dir(self.dir)
            .env("LC_ALL", "C")
            .env("GIT_TERMINAL_PROMPT", "0")
            .env("GIT_AUTHOR_NAME", &self.settings.author_name)
            .env("GIT_AUTHOR_EMAIL", &self.settings.author_email)
            .env("GIT_COMMITTER_NAME", &self.settings.author_name)
            .env("GIT_COMMITTER_EMAIL", &self.settings.author_email)
            .env_remove("GIT_INDEX_FILE")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        if let Some(index) = self.index {
            c.env("GIT_INDEX_FILE", index);
        }
        c
    }

    /// Run with `input` on stdin; the output whatever the exit status.
    fn try_run(&self, args: &[&str], input: Option<&[u8]>) -> Result<Output, GitError> {
        let mut c = self.command(args);
        c.stdin(if input.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        });
        let mut child = c.spawn().map_err(|source| GitError::Spawn { source })?;
        if let (Some(bytes), Some(mut stdin)) = (input, child.stdin.take()) {
            stdin
                .write_all(bytes)
                .map_err(|source| GitError::Spawn { source })?;
        }
        let out = child
            .wait_with_output()
            .map_err(|source| GitError::Spawn { source })?;
        Ok(Output {
            ok: out.status.success(),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).trim().to_string(),
        })
    }

    /// Run; a failure is an error naming the command and git's message.
    fn run(&self, args: &[&str], input: Option<&[u8]>) -> Result<String, GitError> {
        let out = self.try_run(args, input)?;
        if out.ok {
            Ok(out.stdout)
        } else {
            Err(self.failed(args, out.stderr))
        }
    }

    fn failed(&self, args: &[&str], stderr: String) -> GitError {
        GitError::Command {
            args: args.join(" "),
            dir: self.dir.to_path_buf(),
            stderr,
        }
    }
}

/// One file of the commit.
struct Change {
    /// Relative to the export directory (and to the `git` calls' working directory).
    path: String,
    kind: Kind,
    feed: Option<String>,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    New,
    Updated,
    Removed,
}

/// Commit what feedsmith wrote in `dir` that differs from `HEAD` (and the `removed` paths it
/// pruned), then push when configured. Blocking; holds the export directory's lock, so no export
/// writes while the files are read and committed.
pub fn commit_and_push(
    dir: &Path,
    settings: &GitSettings,
    removed: &[String],
) -> Result<CommitReport, GitError> {
    let _lock = lock_dir(dir)?;
    let git = Git {
        dir,
        settings,
        index: None,
    };
    let prefix = git.run(&["rev-parse", "--show-prefix"], None)?;
    let prefix = prefix.trim_end_matches('\n').to_string();
    let manifest = load_manifest(dir)?;
    let (changes, left_out) = changed_files(&git, dir, &prefix, &manifest, removed)?;
    let mut report = CommitReport {
        left_out,
        ..CommitReport::default()
    };
    if changes.is_empty() {
        return Ok(report);
    }
    report.new = changes.iter().filter(|c| c.kind == Kind::New).count();
    report.updated = changes.iter().filter(|c| c.kind == Kind::Updated).count();
    report.removed = changes.iter().filter(|c| c.kind == Kind::Removed).count();
    let message = commit_message(&changes);
    report.subject = message.lines().next().unwrap_or_default().to_string();
    let commit = commit_files(&git, &changes, &message)?;
    report.commit = Some(commit);
    if let Some(remote) = &settings.push {
        push(&git, remote)?;
        report.pushed = true;
    }
    Ok(report)
}

/// Feedsmith's files that differ from `HEAD`, from `git status`, and how many of its files
/// were left out because they were edited by hand.
fn changed_files(
    git: &Git<'_>,
    dir: &Path,
    prefix: &str,
    manifest: &BTreeMap<String, String>,
    removed: &[String],
) -> Result<(Vec<Change>, usize), GitError> {
    let status = git.run(
        &[
            "status",
            "--porcelain=v1",
            "-z",
            "--untracked-files=all",
            "--no-renames",
            "--ignored=no",
            "--",
            ".",
        ],
        None,
    )?;
    let removed: BTreeSet<&str> = removed.iter().map(String::as_str).collect();
    let mut changes = Vec::new();
    let mut left_out = 0;
    for entry in status.split('\0').filter(|e| e.len() > 3) {
        let (code, path) = entry.split_at(3);
        // Porcelain paths are relative to the repository's top; ours to the export directory.
        let Some(rel) = path.strip_prefix(prefix) else {
            continue;
        };
        let code = code.trim();
        if code.contains('D') {
            if removed.contains(rel) && !manifest.contains_key(rel) {
                changes.push(Change {
                    path: rel.to_string(),
                    kind: Kind::Removed,
                    feed: None,
                });
            }
            continue;
        }
        let Some(hash) = manifest.get(rel) else {
            continue; // not a file feedsmith wrote
        };
        let Ok(bytes) = std::fs::read(dir.join(rel)) else {
            continue;
        };
        if &sha256(&bytes) != hash {
            info!(
                path = rel,
                "edited by hand since feedsmith wrote it; left out of the commit"
            );
            left_out += 1;
            continue;
        }
        let kind = if code == "??" || code.starts_with('A') {
            Kind::New
        } else {
            Kind::Updated
        };
        changes.push(Change {
            path: rel.to_string(),
            kind,
            feed: feed_name(&bytes),
        });
    }
    changes.sort_by(|a, b| a.path.cmp(&b.path));
    Ok((changes, left_out))
}

/// The `feed_name` of a post file's front matter (written by `yaml_quoted`).
fn feed_name(bytes: &[u8]) -> Option<String> {
    let text = std::str::from_utf8(bytes).ok()?;
    let mut lines = text.lines();
    if lines.next()? != "---" {
        return None;
    }
    let value = lines
        .take_while(|l| *l != "---")
        .find_map(|l| l.strip_prefix("feed_name: "))?;
    let inner = value.strip_prefix('"')?.strip_suffix('"')?;
    let mut out = String::with_capacity(inner.len());
    let mut chars = inner.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next()? {
            'x' => {
                let hex: String = chars.by_ref().take(2).collect();
                out.push(char::from(u8::from_str_radix(&hex, 16).ok()?));
            }
            other => out.push(other),
        }
    }
    Some(out)
}

/// `feedsmith: 3 new, 1 updated (Reddit DevOps, Rust Blog)`, then one line per file.
fn commit_message(changes: &[Change]) -> String {
    let count = |k: Kind| changes.iter().filter(|c| c.kind == k).count();
    let mut parts = Vec::new();
    for (kind, word) in [
        (Kind::New, "new"),
        (Kind::Updated, "updated"),
        (Kind::Removed, "removed"),
    ] {
        let n = count(kind);
        if n > 0 {
            parts.push(format!("{n} {word}"));
        }
    }
    let feeds: BTreeSet<&str> = changes.iter().filter_map(|c| c.feed.as_deref()).collect();
    let mut subject = format!("feedsmith: {}", parts.join(", "));
    if !feeds.is_empty() {
        let shown: Vec<&str> = feeds.iter().take(SUBJECT_FEEDS).copied().collect();
        let more = feeds.len().saturating_sub(SUBJECT_FEEDS);
        let tail = if more > 0 {
            format!(" and {more} more")
        } else {
            String::new()
        };
        subject.push_str(&format!(" ({}{tail})", shown.join(", ")));
    }
    let mut message = subject;
    message.push_str("\n\n");
    for c in changes {
        let word = match c.kind {
            Kind::New => "new",
            Kind::Updated => "updated",
            Kind::Removed => "removed",
        };
        message.push_str(&format!("{word}: {}\n", c.path));
    }
    message
}

/// Build the commit in a temporary index from `HEAD` plus `changes`, move the branch to it only
/// if `HEAD` did not move meanwhile, and bring the real index in line for those paths.
fn commit_files(git: &Git<'_>, changes: &[Change], message: &str) -> Result<String, GitError> {
    let head = git
        .try_run(&["rev-parse", "-q", "--verify", "HEAD^{commit}"], None)?
        .ok
        .then_some(())
        .map(|()| git.run(&["rev-parse", "HEAD"], None))
        .transpose()?
        .map(|s| s.trim().to_string());
    let git_dir = git.run(&["rev-parse", "--absolute-git-dir"], None)?;
    let index =
        PathBuf::from(git_dir.trim()).join(format!("feedsmith-index.{}", std::process::id()));
    let result = (|| {
        let temp = Git {
            dir: git.dir,
            settings: git.settings,
            index: Some(&index),
        };
        match &head {
            Some(h) => temp.run(&["read-tree", h], None)?,
            None => temp.run(&["read-tree", "--empty"], None)?,
        };
        let mut paths = Vec::new();
        for c in changes {
            paths.extend_from_slice(c.path.as_bytes());
            paths.push(0);
        }
        let update = ["update-index", "--add", "--remove", "-z", "--stdin"];
        temp.run(&update, Some(&paths))?;
        let tree = temp.run(&["write-tree"], None)?;
        let tree = tree.trim();
        let mut args = vec!["commit-tree", tree];
        if let Some(h) = &head {
            args.extend(["-p", h.as_str()]);
        }
        args.extend(["-F", "-"]);
        let commit = temp.run(&args, Some(message.as_bytes()))?;
        let commit = commit.trim().to_string();
        let subject = message.lines().next().unwrap_or("feedsmith");
        let reflog = format!("commit: {subject}");
        let mut update_ref = vec!["update-ref", "-m", reflog.as_str(), "HEAD", commit.as_str()];
        if let Some(h) = &head {
            update_ref.push(h.as_str());
        }
        temp.run(&update_ref, None)?;
        // The real index: those paths as committed, so `git status` shows them clean.
        git.run(&update, Some(&paths))?;
        Ok(commit)
    })();
    let _ = std::fs::remove_file(&index);
    result
}

/// Whether git's message says the remote has commits the local branch lacks.
fn is_non_fast_forward(stderr: &str) -> bool {
    [
        "non-fast-forward",
        "fetch first",
        "[rejected]",
        "stale info",
    ]
    .iter()
    .any(|m| stderr.contains(m))
}

/// Push the current branch to `remote`, rebasing onto the remote's branch when it moved.
fn push(git: &Git<'_>, remote: &str) -> Result<(), GitError> {
    let branch = git.try_run(&["symbolic-ref", "--short", "-q", "HEAD"], None)?;
    if !branch.ok {
        return Err(GitError::Detached {
            dir: git.dir.to_path_buf(),
        });
    }
    let branch = branch.stdout.trim().to_string();
    let refspec = format!("HEAD:refs/heads/{branch}");
    let mut backoff = PUSH_BACKOFF;
    let mut last = String::new();
    for attempt in 1..=PUSH_ATTEMPTS {
        let out = git.try_run(&["push", "--porcelain", remote, &refspec], None)?;
        if out.ok {
            info!(remote, branch = %branch, attempt, "pushed");
            return Ok(());
        }
        last = if out.stderr.is_empty() {
            out.stdout.trim().to_string()
        } else {
            out.stderr.clone()
        };
        let combined = format!("{}\n{}", out.stdout, out.stderr);
        if is_non_fast_forward(&combined) {
            info!(remote, branch = %branch, attempt, "push rejected (the remote moved); rebasing onto it");
            rebase_onto_remote(git, remote, &branch)?;
            continue;
        }
        warn!(remote, attempt, "push failed: {last}");
        if attempt < PUSH_ATTEMPTS {
            std::thread::sleep(backoff);
            backoff *= 2;
        }
    }
    Err(GitError::Push {
        remote: remote.to_string(),
        attempts: PUSH_ATTEMPTS,
        stderr: last,
    })
}

/// Fetch `remote`'s `branch` and rebase the local commits onto it; a conflict aborts the rebase
/// (work tree, index and branch as before) and is reported with the files.
fn rebase_onto_remote(git: &Git<'_>, remote: &str, branch: &str) -> Result<(), GitError> {
    let fetch = git.try_run(&["fetch", "--no-tags", remote, branch], None)?;
    if !fetch.ok {
        return Err(git.failed(&["fetch", remote, branch], fetch.stderr));
    }
    let rebase = git.try_run(
        &["rebase", "--autostash", "--no-verify", "FETCH_HEAD"],
        None,
    )?;
    if rebase.ok {
        return Ok(());
    }
    let conflicted = git
        .try_run(&["diff", "--name-only", "--diff-filter=U", "-z"], None)?
        .stdout;
    let files: Vec<&str> = conflicted.split('\0').filter(|f| !f.is_empty()).collect();
    let abort = git.try_run(&["rebase", "--abort"], None)?;
    if !abort.ok {
        warn!("git rebase --abort failed: {}", abort.stderr);
    }
    Err(GitError::Conflict {
        dir: git.dir.to_path_buf(),
        remote: remote.to_string(),
        branch: branch.to_string(),
        files: if files.is_empty() {
            format!("(git said: {})", rebase.stderr)
        } else {
            files.join(", ")
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn authors_are_name_and_email() {
        let s = GitSettings::new(DEFAULT_AUTHOR, Some("origin")).unwrap();
        assert_eq!(
            (s.author_name.as_str(), s.author_email.as_str()),
            ("feedsmith", "feedsmith@localhost")
        );
        assert_eq!(s.push.as_deref(), Some("origin"));
        for bad in ["feedsmith", "<a@b>", "x <>", "x <a@b", "a\n <b@c>"] {
            assert!(GitSettings::new(bad, None).is_err(), "{bad:?}");
        }
        assert!(GitSettings::new(DEFAULT_AUTHOR, Some("--upload-pack=x")).is_err());
        assert_eq!(
            GitSettings::new(DEFAULT_AUTHOR, Some("")).unwrap().push,
            None
        );
    }

    #[test]
    fn the_feed_name_is_read_back_from_the_front_matter() {
        let file = b"---\nlayout: \"post\"\nfeed_name: \"Rust \\\"Blog\\\" \\x7B\\x7Bx\\x7D\\x7D\"\n---\nbody\n";
        assert_eq!(feed_name(file).as_deref(), Some("Rust \"Blog\" {{x}}"));
        assert_eq!(feed_name(b"no front matter"), None);
        assert_eq!(
            feed_name(b"---\ntitle: \"x\"\n---\nfeed_name: \"no\"\n"),
            None
        );
    }

    #[test]
    fn the_subject_counts_and_names_the_feeds() {
        let c = |path: &str, kind, feed: &str| Change {
            path: path.into(),
            kind,
            feed: Some(feed.into()),
        };
        let changes = vec![
            c("_a/1.md", Kind::New, "Rust Blog"),
            c("_a/2.md", Kind::New, "Reddit DevOps"),
            c("_a/3.md", Kind::New, "Rust Blog"),
            c("_a/4.md", Kind::Updated, "Rust Blog"),
        ];
        let message = commit_message(&changes);
        assert_eq!(
            message.lines().next(),
            Some("feedsmith: 3 new, 1 updated (Reddit DevOps, Rust Blog)")
        );
        assert!(message.contains("\nupdated: _a/4.md\n"));
        let many: Vec<Change> = (0..6)
            .map(|i| c(&format!("_a/{i}.md"), Kind::Updated, &format!("F{i}")))
            .collect();
        assert_eq!(
            commit_message(&many).lines().next(),
            Some("feedsmith: 6 updated (F0, F1, F2, F3 and 2 more)")
        );
    }
}
