//! Publishing into git (issue 23 item 4): a bare repository on disk is `origin`, a clone of it is
//! the Jekyll site that `[publish] dir` points into. Real `git`, the real binary, feeds served on
//! loopback. Each test prints the repository's `git log --stat` (`--nocapture`).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use crate::support::db;
use crate::support::{feed_toml, rss, Reply, TestServer, Workspace};

/// `git` as another person would run it (their own identity, no global configuration).
fn git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .args([
            "-c",
            "user.name=Site Owner",
            "-c",
            "user.email=owner@example.org",
        ])
        .args([
            "-c",
            "init.defaultBranch=main",
            "-c",
            "commit.gpgSign=false",
        ])
        .args(args)
        .current_dir(dir)
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("LC_ALL", "C")
        .output()
        .expect("run git");
    assert!(
        out.status.success(),
        "git {args:?} in {}: {}",
        dir.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// `origin.git` (bare) with a first commit, and two clones of it: `site` (feedsmith's) and
/// `other` (somebody else's checkout, for concurrent commits).
struct Repos {
    origin: PathBuf,
    site: PathBuf,
    other: PathBuf,
}

fn repos(base: &Path) -> Repos {
    let origin = base.join("origin.git");
    std::fs::create_dir_all(&origin).unwrap();
    git(&origin, &["init", "-q", "--bare", "-b", "main"]);
    let seed = base.join("seed");
    std::fs::create_dir_all(&seed).unwrap();
    git(&seed, &["init", "-q", "-b", "main"]);
    std::fs::write(seed.join("_config.yml"), "title: Test site\n").unwrap();
    std::fs::write(seed.join("README.md"), "The site.\n").unwrap();
    // The export's bookkeeping files are not part of the site.
    std::fs::write(seed.join(".gitignore"), ".feedsmith-export.*\n").unwrap();
    git(&seed, &["add", "."]);
    git(&seed, &["commit", "-q", "-m", "site: initial"]);
    git(
        &seed,
        &["remote", "add", "origin", origin.to_str().unwrap()],
    );
    git(&seed, &["push", "-q", "origin", "main"]);
    let clone = |name: &str| {
        let dir = base.join(name);
        git(
            base,
            &[
                "clone",
                "-q",
                origin.to_str().unwrap(),
                dir.to_str().unwrap(),
            ],
        );
        dir
    };
    Repos {
        site: clone("site"),
        other: clone("other"),
        origin,
    }
}

fn git_config(site: &Path) -> String {
    format!(
        "[publish]\ndir = \"{}\"\ngit = true\ngit_push = \"origin\"\n",
        site.display()
    )
}

/// The files a commit changed, with their status letter (`A`, `M`, `D`).
fn files_of(repo: &Path, commit: &str) -> Vec<String> {
    git(
        repo,
        &["show", "--name-status", "--format=", "--no-renames", commit],
    )
    .lines()
    .filter(|l| !l.is_empty())
    .map(|l| l.replace('\t', " "))
    .collect()
}

fn subject(repo: &Path, commit: &str) -> String {
    git(repo, &["log", "-1", "--format=%s", commit])
        .trim()
        .to_string()
}

fn print_log(title: &str, repo: &Path) {
    println!(
        "--- {title}: git log --stat ({})\n{}",
        repo.display(),
        git(
            repo,
            &["log", "--stat", "--format=%h %an <%ae>%n    %s", "main"]
        )
    );
}

/// Two feeds on one server: "Rust Blog" (blogs) and "Reddit DevOps" (news).
struct Feeds {
    server: TestServer,
}

impl Feeds {
    async fn start() -> Feeds {
        Feeds {
            server: TestServer::start_at("127.0.0.2:0").await,
        }
    }

    fn serve(&self, rust: &[(&str, &str, &str)], devops: &[(&str, &str, &str)]) {
        self.server
            .route("/rust.xml", Reply::feed(rss("Rust Blog", rust)));
        self.server
            .route("/devops.xml", Reply::feed(rss("Reddit DevOps", devops)));
    }

    fn toml(&self) -> String {
        feed_toml("Rust Blog", &self.server.url("/rust.xml"), "blogs", "")
            + &feed_toml("Reddit DevOps", &self.server.url("/devops.xml"), "news", "")
    }
}

const BODY: &str = "A post body that is long enough to be published in any collection, with a few more words to be sure of it.";

fn post_file(site: &Path, collection: &str, title_slug: &str) -> PathBuf {
    site.join(format!("_{collection}/2025-08-03-{title_slug}.md"))
}

/// Round 1 stores and commits three posts; returns the workspace, the feeds and the repos.
async fn first_round() -> (tempfile::TempDir, Repos, Feeds, Workspace) {
    let base = tempfile::tempdir().unwrap();
    let repos = repos(base.path());
    let feeds = Feeds::start().await;
    feeds.serve(
        &[
            ("r1", "Ownership explained", BODY),
            ("r2", "Async traits", BODY),
        ],
        &[("d1", "Kubernetes at home", BODY)],
    );
    let ws = Workspace::new(&git_config(&repos.site), &feeds.toml());
    let out = ws.run(&["fetch"]).await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(
        out.stderr
            .contains("git: feedsmith: 3 new (Reddit DevOps, Rust Blog) (pushed)"),
        "{}",
        out.stderr
    );
    (base, repos, feeds, ws)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fetch_that_creates_posts_makes_one_commit_and_pushes_it() {
    let (_base, repos, feeds, ws) = first_round().await;
    // One commit, on origin, with exactly the three posts, by feedsmith.
    let log = git(&repos.origin, &["log", "--format=%s", "main"]);
    assert_eq!(
        log.lines().collect::<Vec<_>>(),
        [
            "feedsmith: 3 new (Reddit DevOps, Rust Blog)",
            "site: initial"
        ]
    );
    assert_eq!(
        files_of(&repos.origin, "main"),
        [
            "A _blogs/2025-08-03-Async-traits.md",
            "A _blogs/2025-08-03-Ownership-explained.md",
            "A _news/2025-08-03-Kubernetes-at-home.md",
        ]
    );
    assert_eq!(
        git(
            &repos.origin,
            &["log", "-1", "--format=%an <%ae>|%cn <%ce>", "main"]
        )
        .trim(),
        "feedsmith <feedsmith@localhost>|feedsmith <feedsmith@localhost>"
    );
    // The committed bytes are the exported ones, and the work tree is clean.
    assert_eq!(
        git(
            &repos.origin,
            &["show", "main:_blogs/2025-08-03-Async-traits.md"]
        )
        .as_bytes(),
        std::fs::read(post_file(&repos.site, "blogs", "Async-traits")).unwrap()
    );
    assert_eq!(git(&repos.site, &["status", "--porcelain"]), "");

    // Round 2: one updated and three new posts over both feeds: one more commit.
    feeds.serve(
        &[
            (
                "r1",
                "Ownership explained",
                "The body changed: a correction was added to it, long enough to publish it again.",
            ),
            ("r2", "Async traits", BODY),
            ("r3", "Const generics", BODY),
        ],
        &[
            ("d1", "Kubernetes at home", BODY),
            ("d2", "Terraform state", BODY),
            ("d3", "On call rotations", BODY),
        ],
    );
    let out = ws.run(&["fetch"]).await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(
        subject(&repos.origin, "main"),
        "feedsmith: 3 new, 1 updated (Reddit DevOps, Rust Blog)"
    );
    assert_eq!(
        files_of(&repos.origin, "main"),
        [
            "A _blogs/2025-08-03-Const-generics.md",
            "M _blogs/2025-08-03-Ownership-explained.md",
            "A _news/2025-08-03-On-call-rotations.md",
            "A _news/2025-08-03-Terraform-state.md",
        ]
    );
    // Nothing new: no empty commit.
    let out = ws.run(&["fetch"]).await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(
        git(&repos.origin, &["rev-list", "--count", "main"]).trim(),
        "3"
    );
    print_log("one commit per fetch, pushed", &repos.origin);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn files_feedsmith_did_not_write_or_that_were_edited_by_hand_stay_out() {
    let (_base, repos, feeds, ws) = first_round().await;
    // By hand: an edit of a post feedsmith wrote, a new page, and a staged change of the README.
    let edited = post_file(&repos.site, "blogs", "Async-traits");
    let mut text = std::fs::read_to_string(&edited).unwrap();
    text.push_str("\nAn editor's note, added by hand.\n");
    std::fs::write(&edited, &text).unwrap();
    std::fs::write(repos.site.join("about.md"), "# About\n").unwrap();
    std::fs::write(repos.site.join("README.md"), "The site, staged.\n").unwrap();
    git(&repos.site, &["add", "README.md"]);

    feeds.serve(
        &[
            ("r1", "Ownership explained", BODY),
            // Changed in the feed too, but edited by hand: the export skips it.
            (
                "r2",
                "Async traits",
                "The feed's own update of the post, long enough to publish in any collection.",
            ),
            ("r3", "Const generics", BODY),
        ],
        &[("d1", "Kubernetes at home", BODY)],
    );
    let out = ws.run(&["fetch"]).await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(
        subject(&repos.origin, "main"),
        "feedsmith: 1 new (Rust Blog)"
    );
    assert_eq!(
        files_of(&repos.origin, "main"),
        ["A _blogs/2025-08-03-Const-generics.md"]
    );
    // The hand edits are where they were: the edit in the work tree, the README still staged.
    assert_eq!(std::fs::read_to_string(&edited).unwrap(), text);
    let status = git(&repos.site, &["status", "--porcelain"]);
    assert_eq!(
        status.lines().collect::<Vec<_>>(),
        [
            "M  README.md",
            " M _blogs/2025-08-03-Async-traits.md",
            "?? about.md"
        ],
        "{status}"
    );
    print_log("hand edits left out", &repos.origin);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_concurrent_commit_on_the_remote_is_rebased_over() {
    let (_base, repos, feeds, ws) = first_round().await;
    // Somebody else pushes first.
    git(&repos.other, &["pull", "-q", "origin", "main"]);
    std::fs::write(repos.other.join("about.md"), "# About this site\n").unwrap();
    git(&repos.other, &["add", "about.md"]);
    git(&repos.other, &["commit", "-q", "-m", "site: an about page"]);
    git(&repos.other, &["push", "-q", "origin", "main"]);

    feeds.serve(
        &[
            ("r1", "Ownership explained", BODY),
            ("r2", "Async traits", BODY),
        ],
        &[
            ("d1", "Kubernetes at home", BODY),
            ("d2", "Terraform state", BODY),
        ],
    );
    let out = ws.run(&["fetch"]).await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(out.stderr.contains("rebasing onto it"), "{}", out.stderr);
    // Linear history on origin: feedsmith's commit on top of the other one.
    let log = git(&repos.origin, &["log", "--format=%s|%an", "main"]);
    assert_eq!(
        log.lines().collect::<Vec<_>>(),
        [
            "feedsmith: 1 new (Reddit DevOps)|feedsmith",
            "site: an about page|Site Owner",
            "feedsmith: 3 new (Reddit DevOps, Rust Blog)|feedsmith",
            "site: initial|Site Owner",
        ]
    );
    assert_eq!(
        git(&repos.origin, &["rev-list", "--merges", "--count", "main"]).trim(),
        "0"
    );
    assert_eq!(
        files_of(&repos.origin, "main"),
        ["A _news/2025-08-03-Terraform-state.md"]
    );
    // The site has the other commit's file, and nothing is left over.
    assert!(repos.site.join("about.md").is_file());
    assert_eq!(git(&repos.site, &["status", "--porcelain"]), "");
    assert_eq!(
        git(&repos.site, &["rev-parse", "HEAD"]),
        git(&repos.origin, &["rev-parse", "main"])
    );
    print_log("rebased over a concurrent commit", &repos.origin);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_real_conflict_stops_with_a_clear_error_and_a_clean_work_tree() {
    let (_base, repos, feeds, ws) = first_round().await;
    // Somebody else rewrites a post file on the remote...
    git(&repos.other, &["pull", "-q", "origin", "main"]);
    let theirs = post_file(&repos.other, "blogs", "Ownership-explained");
    std::fs::write(&theirs, "---\ntitle: \"Rewritten by hand\"\n---\nTheirs.\n").unwrap();
    git(
        &repos.other,
        &["commit", "-q", "-am", "site: rewrite a post"],
    );
    git(&repos.other, &["push", "-q", "origin", "main"]);
    let remote_head = git(&repos.origin, &["rev-parse", "main"]);

    // ... while the feed updates the same post.
    feeds.serve(
        &[
            (
                "r1",
                "Ownership explained",
                "The feed's update of this post, which conflicts with the rewrite on the remote.",
            ),
            ("r2", "Async traits", BODY),
        ],
        &[("d1", "Kubernetes at home", BODY)],
    );
    let before = std::fs::read(post_file(&repos.site, "blogs", "Ownership-explained")).unwrap();
    let out = ws.run(&["fetch"]).await;
    println!("--- fetch's stderr:\n{}", out.stderr);
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert!(
        out.stderr.contains(
            "conflicts with the remote's changes in _blogs/2025-08-03-Ownership-explained.md"
        ) && out.stderr.contains("the rebase was aborted")
            && out.stderr.contains("git pull --rebase origin main"),
        "{}",
        out.stderr
    );
    // The remote is untouched, the site's tree is clean (no rebase in progress, no conflict
    // markers), and feedsmith's commit is still there, local.
    assert_eq!(git(&repos.origin, &["rev-parse", "main"]), remote_head);
    assert_eq!(git(&repos.site, &["status", "--porcelain"]), "");
    let git_dir = repos.site.join(".git");
    assert!(!git_dir.join("rebase-merge").exists() && !git_dir.join("rebase-apply").exists());
    let ours = std::fs::read(post_file(&repos.site, "blogs", "Ownership-explained")).unwrap();
    assert_ne!(ours, before, "the export wrote the update");
    assert!(!String::from_utf8_lossy(&ours).contains("<<<<<<<"));
    assert_eq!(
        subject(&repos.site, "HEAD"),
        "feedsmith: 1 updated (Rust Blog)"
    );
    print_log("the remote after the conflict", &repos.origin);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn feedsmith_export_into_the_site_commits_what_it_wrote() {
    let base = tempfile::tempdir().unwrap();
    let repos = repos(base.path());
    let feeds = Feeds::start().await;
    feeds.serve(
        &[("r1", "Ownership explained", BODY)],
        &[("d1", "Kubernetes at home", BODY)],
    );
    // Posts stored without continuous publishing, then git publishing configured.
    let ws = Workspace::new("", &feeds.toml());
    let out = ws.run(&["fetch"]).await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    let mut config = std::fs::read_to_string(ws.config_path()).unwrap();
    config.push_str(&format!("\n{}", git_config(&repos.site)));
    std::fs::write(ws.config_path(), config).unwrap();

    let out = ws.run(&["export"]).await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(
        out.stderr
            .contains("git: feedsmith: 2 new (Reddit DevOps, Rust Blog) (pushed)"),
        "{}",
        out.stderr
    );
    assert_eq!(
        files_of(&repos.origin, "main"),
        [
            "A _blogs/2025-08-03-Ownership-explained.md",
            "A _news/2025-08-03-Kubernetes-at-home.md",
        ]
    );
    // Unchanged: no commit. Into another directory: not the site, no commit.
    let out = ws.run(&["export"]).await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(!out.stderr.contains("git:"), "{}", out.stderr);
    let elsewhere = base.path().join("elsewhere");
    let out = ws
        .run(&["export", "--out", elsewhere.to_str().unwrap()])
        .await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(!out.stderr.contains("git:"), "{}", out.stderr);
    assert_eq!(
        git(&repos.origin, &["rev-list", "--count", "main"]).trim(),
        "2"
    );
    print_log("feedsmith export", &repos.origin);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn git_true_on_a_directory_outside_a_work_tree_is_a_configuration_error() {
    let plain = tempfile::tempdir().unwrap();
    let site = plain.path().join("site");
    let ws = Workspace::new(
        &format!("[publish]\ndir = \"{}\"\ngit = true\n", site.display()),
        &feed_toml("F", "http://127.0.0.2:9/f.xml", "blogs", ""),
    );
    let out = ws.run(&["config", "check"]).await;
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(
        out.stderr.contains("[publish].git = true")
            && out.stderr.contains("is not inside a git work tree")
            && out.stderr.contains("git init"),
        "{}",
        out.stderr
    );
    for (extra, key) in [
        ("git = true\n", "[publish].git = true needs [publish].dir"),
        (
            "git_push = \"origin\"\n",
            "[publish].git_push is set but git = false",
        ),
        (
            "git = true\ngit_author = \"nobody\"\ndir = \"x\"\n",
            "[publish].git_author = \"nobody\"",
        ),
    ] {
        let ws = Workspace::new(
            &format!("[publish]\n{extra}"),
            &feed_toml("F", "http://127.0.0.2:9/f.xml", "blogs", ""),
        );
        let out = ws.run(&["config", "check"]).await;
        assert_eq!(out.code, 2, "{extra}: {}", out.stderr);
        assert!(out.stderr.contains(key), "{extra}: {}", out.stderr);
    }
}

/// Only the replica holding the `publish` lease commits: with the lease held by another
/// replica, a fetch exports the files and leaves the commit to it; once the lease is free
/// (released or expired), the next fetch commits everything feedsmith wrote.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_the_holder_of_the_publish_lease_commits() {
    let base = tempfile::tempdir().unwrap();
    let repos = repos(base.path());
    let feeds = Feeds::start().await;
    feeds.serve(&[("r1", "Ownership explained", BODY)], &[]);
    let ws = Workspace::new(&git_config(&repos.site), &feeds.toml());
    let out = ws.run(&["migrate"]).await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    let url = format!("sqlite://{}", ws.db_path().display());
    let store = feedsmith::store::sqlite::SqliteStore::open(&url, 2)
        .await
        .unwrap();
    use feedsmith::store::{Store, StoreWrites};
    let ttl = Duration::from_secs(600);
    assert!(store
        .acquire_lease("publish", "replica-b", ttl)
        .await
        .unwrap());

    let out = ws.run(&["fetch"]).await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(
        out.stderr.contains("another replica holds"),
        "{}",
        out.stderr
    );
    assert_eq!(
        git(&repos.origin, &["rev-list", "--count", "main"]).trim(),
        "1"
    );
    assert!(post_file(&repos.site, "blogs", "Ownership-explained").is_file());

    store.release_lease("publish", "replica-b").await.unwrap();
    store.close().await;
    let out = ws.run(&["fetch"]).await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(
        subject(&repos.origin, "main"),
        "feedsmith: 1 new (Rust Blog)"
    );
    print_log("after the lease was released", &repos.origin);
}

/// The lease itself, on both backends: one holder at a time, renewable by its holder, free
/// after release or expiry.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_publish_lease_has_one_holder_at_a_time() {
    let mut stores = vec![db::sqlite().await];
    stores.extend(db::postgres().await);
    for t in &stores {
        let s = t.store.as_ref();
        let ttl = Duration::from_secs(60);
        // Eight replicas race for it: exactly one wins.
        let names: Vec<String> = (0..8).map(|i| format!("replica-{i}")).collect();
        let races = names.iter().map(|n| s.acquire_lease("publish", n, ttl));
        let won = futures_util::future::join_all(races).await;
        let winners: Vec<&String> = names
            .iter()
            .zip(&won)
            .filter(|(_, w)| *w.as_ref().unwrap())
            .map(|(n, _)| n)
            .collect();
        assert_eq!(winners.len(), 1, "{}: {winners:?}", t.url);
        let holder = winners[0].clone();
        let other = names.iter().find(|n| **n != holder).unwrap();
        assert!(
            s.acquire_lease("publish", &holder, ttl).await.unwrap(),
            "renewed"
        );
        assert!(!s.acquire_lease("publish", other, ttl).await.unwrap());
        // Another name is another lease.
        assert!(s.acquire_lease("other-work", other, ttl).await.unwrap());
        // Releasing someone else's lease does nothing; the holder's release frees it.
        s.release_lease("publish", other).await.unwrap();
        assert!(!s.acquire_lease("publish", other, ttl).await.unwrap());
        s.release_lease("publish", &holder).await.unwrap();
        assert!(s.acquire_lease("publish", other, ttl).await.unwrap());
        // An expired lease is free for anyone (1 s, the shortest).
        assert!(s
            .acquire_lease("short", &holder, Duration::from_secs(1))
            .await
            .unwrap());
        tokio::time::sleep(Duration::from_millis(2100)).await;
        assert!(
            s.acquire_lease("short", other, ttl).await.unwrap(),
            "{}",
            t.url
        );
    }
}

/// Continuous publishing in the daemon: the posts a tick's polls create are committed and
/// pushed (once per tick, not per feed); a post that changes later makes one more commit.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_daemon_commits_what_continuous_publishing_writes() {
    let base = tempfile::tempdir().unwrap();
    let repos = repos(base.path());
    let feeds = Feeds::start().await;
    feeds.serve(
        &[("r1", "Ownership explained", BODY)],
        &[("d1", "Kubernetes at home", BODY)],
    );
    let listen = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listen.local_addr().unwrap().port();
    drop(listen);
    let extra = format!(
        "[schedule]\ndefault = \"*/1 * * * * *\"\nmax_jitter = \"0s\"\nshutdown_grace = \"2s\"\n[server]\nlisten = \"127.0.0.1:{port}\"\n{}",
        git_config(&repos.site)
    );
    let ws = Workspace::new(&extra, &feeds.toml());
    let log = ws.dir.path().join("run.log");
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_feedsmith"))
        .arg("--config")
        .arg(ws.config_path())
        .arg("run")
        .env("RUST_LOG", "info")
        .stdout(std::process::Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let origin = repos.origin.clone();
    let wait_commits = |n: usize, what: &'static str| {
        let (origin, log) = (origin.clone(), log.clone());
        async move {
            for _ in 0..300 {
                if git(&origin, &["rev-list", "--count", "main"]).trim() == n.to_string() {
                    return;
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            panic!(
                "{what}: {}",
                std::fs::read_to_string(&log).unwrap_or_default()
            );
        }
    };
    wait_commits(2, "the first commit is pushed").await;
    assert_eq!(
        subject(&repos.origin, "main"),
        "feedsmith: 2 new (Reddit DevOps, Rust Blog)"
    );
    feeds.serve(
        &[(
            "r1",
            "Ownership explained",
            "A correction to the post, long enough to publish it again in any collection.",
        )],
        &[("d1", "Kubernetes at home", BODY)],
    );
    wait_commits(3, "the update is pushed").await;
    assert_eq!(
        subject(&repos.origin, "main"),
        "feedsmith: 1 updated (Rust Blog)"
    );
    let pid = child.id().unwrap();
    let _ = Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status();
    let status = tokio::time::timeout(Duration::from_secs(15), child.wait())
        .await
        .expect("exits")
        .unwrap();
    assert_eq!(status.code(), Some(0));
    assert_eq!(git(&repos.site, &["status", "--porcelain"]), "");
    print_log("the daemon's commits", &repos.origin);
}
