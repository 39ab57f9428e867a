//! Export under a concurrent publishing `fetch`, and a SIGKILL in the middle of an export. The
//! export's renames are slowed with `strace -e inject=...:delay_enter=` (a real delay in the real
//! binary, no test hook), so the race and the kill land inside the export every time.

use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use crate::support::{feed_toml, Reply, TestServer, Workspace};

fn strace() -> Option<&'static Path> {
    let p = Path::new("/usr/bin/strace");
    if p.exists() {
        Some(p)
    } else {
        eprintln!("skipping: strace is not installed (Debian package `strace`)");
        None
    }
}

fn feed(n: usize, version: usize) -> String {
    let items: String = (0..n)
        .map(|i| {
            format!(
                "<item><guid>e{i}</guid><title>Entry {i}</title><link>http://example.org/{i}</link>\
                 <pubDate>Sun, 03 Aug 2025 22:48:15 GMT</pubDate>\
                 <description>&lt;p&gt;Entry {i}, version {version}.&lt;/p&gt;</description></item>"
            )
        })
        .collect();
    format!("<rss version=\"2.0\"><channel><title>Many</title>{items}</channel></rss>")
}

/// [`feed`] with every even entry at version 1, the odd ones at version 0.
fn feed_half_changed(n: usize) -> String {
    let items: String = (0..n)
        .map(|i| {
            format!(
                "<item><guid>e{i}</guid><title>Entry {i}</title><link>http://example.org/{i}</link>\
                 <pubDate>Sun, 03 Aug 2025 22:48:15 GMT</pubDate>\
                 <description>&lt;p&gt;Entry {i}, version {}.&lt;/p&gt;</description></item>",
                if i % 2 == 0 { 1 } else { 0 }
            )
        })
        .collect();
    format!("<rss version=\"2.0\"><channel><title>Many</title>{items}</channel></rss>")
}

/// `feedsmith export --out site` under strace, each rename delayed by `delay_us`, in a process
/// group of its own (so a SIGKILL reaches feedsmith, not only strace).
fn slow_export(ws: &Workspace, site: &Path, delay_us: u64) -> tokio::process::Child {
    let strace = strace().expect("checked by the caller");
    let mut cmd = tokio::process::Command::new(strace);
    cmd.args([
        "-f",
        "-o",
        "/dev/null",
        "-e",
        "trace=rename,renameat,renameat2",
    ])
    .arg("-e")
    .arg(format!(
        "inject=rename,renameat,renameat2:delay_enter={delay_us}"
    ))
    .arg(env!("CARGO_BIN_EXE_feedsmith"))
    .arg("--config")
    .arg(ws.config_path())
    .args(["export", "--out"])
    .arg(site)
    .env("RUST_LOG", "warn")
    .stdout(Stdio::null())
    .stderr(Stdio::piped())
    .process_group(0)
    .kill_on_drop(true);
    cmd.spawn().expect("spawn strace")
}

fn count(dir: &Path, suffix: &str) -> usize {
    std::fs::read_dir(dir)
        .map(|rd| {
            rd.flatten()
                .filter(|e| e.file_name().to_string_lossy().ends_with(suffix))
                .count()
        })
        .unwrap_or(0)
}

fn report_of(stderr: &str) -> String {
    stderr
        .lines()
        .find(|l| l.starts_with("export: "))
        .unwrap_or_else(|| panic!("no export report in:\n{stderr}"))
        .to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn export_racing_a_publishing_fetch_leaves_a_consistent_manifest() {
    if strace().is_none() {
        return;
    }
    const N: usize = 50;
    let server = TestServer::start().await;
    server.route("/many.xml", Reply::feed(feed(N, 0)));
    let tmp = tempfile::tempdir().unwrap();
    let site = tmp.path().join("site");
    let ws = Workspace::new(
        &format!("[publish]\ndir = \"{}\"\n", site.display()),
        &feed_toml("Many", &server.url("/many.xml"), "blogs", ""),
    );
    let out = ws.run(&["fetch"]).await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(count(&site.join("_blogs"), ".md"), N);
    // The files go (a fresh checkout of the site, say): the export has all of them to write.
    for e in std::fs::read_dir(site.join("_blogs")).unwrap().flatten() {
        std::fs::remove_file(e.path()).unwrap();
    }
    server.route("/many.xml", Reply::feed(feed(N, 1)));

    let export = slow_export(&ws, &site, 20_000);
    tokio::time::sleep(Duration::from_millis(300)).await;
    let fetch = ws.run(&["fetch"]).await;
    assert_eq!(fetch.code, 0, "{}", fetch.stderr);
    let export = export.wait_with_output().await.unwrap();
    let export_err = String::from_utf8_lossy(&export.stderr);
    assert!(export.status.success(), "{export_err}");

    for stderr in [fetch.stderr.as_str(), &export_err] {
        assert!(
            !stderr.contains("edited since") && !stderr.contains("not written by feedsmith"),
            "{stderr}"
        );
    }
    // Whichever went first, the next export finds every file feedsmith's: it writes only what
    // differs from the database and skips nothing; the one after writes nothing.
    let next = ws.run(&["export", "--out", site.to_str().unwrap()]).await;
    assert_eq!(next.code, 0, "{}", next.stderr);
    let line = report_of(&next.stderr);
    assert!(line.ends_with(" 0 skipped"), "{line}");
    assert!(!next.stderr.contains("edited since"), "{}", next.stderr);
    let again = ws.run(&["export", "--out", site.to_str().unwrap()]).await;
    assert_eq!(
        report_of(&again.stderr),
        format!("export: 0 written, {N} unchanged, 0 skipped")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_export_resumes_writing_exactly_the_missing_files() {
    if strace().is_none() {
        return;
    }
    const N: usize = 600;
    let server = TestServer::start().await;
    server.route("/many.xml", Reply::feed(feed(N, 0)));
    let ws = Workspace::new(
        "",
        &feed_toml("Many", &server.url("/many.xml"), "blogs", ""),
    );
    let out = ws.run(&["fetch"]).await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    let site = ws.dir.path().join("site");
    let blogs = site.join("_blogs");

    let child = slow_export(&ws, &site, 5_000);
    let pgid = child.id().expect("pid");
    let deadline = Instant::now() + Duration::from_secs(60);
    while count(&blogs, ".md") < 100 {
        assert!(Instant::now() < deadline, "the export wrote nothing");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // SAFETY: kill(2) on the process group this test started; no memory is passed.
    let rc = unsafe { libc::kill(-(pgid as i32), libc::SIGKILL) };
    assert_eq!(rc, 0, "kill the export's process group");
    let _ = child.wait_with_output().await;
    let done = count(&blogs, ".md");
    let temps = count(&blogs, ".tmp");
    assert!(done < N, "the kill landed after the export finished");
    assert!(!site.join(".feedsmith-export.json").exists());
    eprintln!("killed mid-export: {done} of {N} files in place, {temps} temporary files left");

    // Meanwhile every even entry changes: among the files in place, those are feedsmith's
    // (the journal says so) and must be rewritten, not skipped as "not written by feedsmith".
    let in_place_changed = std::fs::read_dir(&blogs)
        .unwrap()
        .flatten()
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            let i: usize = name
                .strip_prefix("2025-08-03-Entry-")?
                .strip_suffix(".md")?
                .parse()
                .ok()?;
            (i % 2 == 0).then_some(i)
        })
        .count();
    server.route("/many.xml", Reply::feed(feed_half_changed(N)));
    let out = ws.run(&["fetch"]).await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(
        out.stderr.contains(&format!("{} updated", N / 2)),
        "{}",
        out.stderr
    );

    // The next export removes the temporary files and writes exactly the missing and the
    // changed files.
    let next = ws.run(&["export", "--out", site.to_str().unwrap()]).await;
    assert_eq!(next.code, 0, "{}", next.stderr);
    assert_eq!(
        report_of(&next.stderr),
        format!(
            "export: {} written, {} unchanged, 0 skipped",
            N - done + in_place_changed,
            done - in_place_changed
        )
    );
    assert_eq!(count(&blogs, ".tmp"), 0);
    assert_eq!(count(&blogs, ".md"), N);
    assert!(!site.join(".feedsmith-export.journal").exists());
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(site.join(".feedsmith-export.json")).unwrap())
            .unwrap();
    assert_eq!(manifest.as_object().unwrap().len(), N);

    // Without any manifest, files with feedsmith's bytes are still feedsmith's.
    std::fs::remove_file(site.join(".feedsmith-export.json")).unwrap();
    let rebuilt = ws.run(&["export", "--out", site.to_str().unwrap()]).await;
    assert_eq!(
        report_of(&rebuilt.stderr),
        format!("export: 0 written, {N} unchanged, 0 skipped")
    );
    assert!(site.join(".feedsmith-export.json").exists());
}
