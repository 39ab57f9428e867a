//! Export throughput against the bytes-only floor (issue 20): `publish::export` of N posts into
//! an empty site, against writing the same bytes to the same paths with one `fsync` per
//! directory at the end (no temp files, no renames, no manifest). Also the re-export of an
//! unchanged site.
//!
//!     cargo bench --bench export                     # 50 000 posts in a temporary directory
//!     EXPORT_POSTS=5000 EXPORT_DIR=/mnt/x cargo bench --bench export
//!
//! Each measure runs `EXPORT_ROUNDS` times (2 unless set), into fresh directories,
//! alternating; every round and the best of each are printed. Every measure starts from a
//! clean page cache: the file system is synced, untimed (the directories are kept until the
//! end, so no measure waits for the removal of another's 50 000 files). Without that, the export's `syncfs` also wrote back the floor's 155 MB, which the
//! floor itself never waits for (it syncs only its directories), and the ratio measured which
//! ran second rather than the export.

use std::path::Path;
use std::time::{Duration, Instant};

use chrono::{TimeZone, Utc};
use feedsmith::domain::Post;
use feedsmith::normalize::{post_path, render_post, RenderOptions};
use feedsmith::publish::{export, ExportOptions};
use feedsmith::store::StoredPost;

fn posts(n: usize) -> Vec<StoredPost> {
    let collections = ["blogs", "community", "news", "videos"];
    let body: String = (0..30)
        .map(|i| format!("Paragraph {i} of the post, with some **markdown** and a [link](https://example.org/{i}).\n\n"))
        .collect();
    (0..n)
        .map(|i| {
            let post = Post {
                entry_key: format!("k{i}"),
                title: format!("Post number {i} about feeds"),
                description: "A description of the post.".into(),
                author: "Someone".into(),
                canonical_url: format!("https://example.org/posts/{i}"),
                viewing_mode: "external".into(),
                feed_name: "Bench".into(),
                feed_url: "https://example.org/feed.xml".into(),
                collection: collections[i % collections.len()].into(),
                date: Utc
                    .with_ymd_and_hms(2025, 1 + (i % 12) as u32, 1 + (i % 28) as u32, 12, 0, 0)
                    .unwrap(),
                slug: format!("Post-number-{i}-about-feeds"),
                categories: vec!["Bench".into()],
                tags: vec!["Bench".into(), "Feeds".into()],
                tags_normalized: vec!["bench".into(), "feeds".into()],
                excerpt: "The excerpt.".into(),
                content_markdown: body.clone(),
                youtube_id: None,
                reddit_segment: None,
                content_hash: format!("h{i}"),
            };
            StoredPost {
                id: i as i64 + 1,
                feed_id: 1,
                path: post_path(&post),
                first_seen_at: Utc::now(),
                updated_at: Utc::now(),
                post,
            }
        })
        .collect()
}

/// The floor: the same bytes at the same paths, then one fsync per directory.
fn bytes_only(dir: &Path, files: &[(String, String)]) -> Duration {
    let started = Instant::now();
    let mut dirs = std::collections::BTreeSet::new();
    for (path, bytes) in files {
        let target = dir.join(path);
        let parent = target.parent().unwrap().to_path_buf();
        if dirs.insert(parent.clone()) {
            std::fs::create_dir_all(&parent).unwrap();
        }
        std::fs::write(&target, bytes).unwrap();
    }
    for d in dirs.iter().chain(std::iter::once(&dir.to_path_buf())) {
        std::fs::File::open(d).unwrap().sync_all().unwrap();
    }
    started.elapsed()
}

/// Untimed: write back whatever is dirty on the file system holding `dir`, so the next measure
/// does not pay for the last one's data.
fn settle(dir: &Path) {
    #[cfg(target_os = "linux")]
    {
        use std::os::fd::AsRawFd;
        let d = std::fs::File::open(dir).unwrap();
        // SAFETY: syncfs on a descriptor owned here; no memory is passed.
        assert_eq!(
            unsafe { libc::syncfs(d.as_raw_fd()) },
            0,
            "syncfs {}",
            dir.display()
        );
    }
}

fn main() {
    let n: usize = std::env::var("EXPORT_POSTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(50_000);
    let base = std::env::var_os("EXPORT_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(std::env::temp_dir);
    let posts = posts(n);
    let render = RenderOptions::default();
    let started = Instant::now();
    let files: Vec<(String, String)> = posts
        .iter()
        .map(|p| (p.path.clone(), render_post(&p.post, &render)))
        .collect();
    let rendering = started.elapsed();
    let total: usize = files.iter().map(|(_, b)| b.len()).sum();
    println!("{n} posts, {:.1} MiB", total as f64 / 1048576.0);
    let rounds: usize = std::env::var("EXPORT_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2);
    let (mut floor, mut cold, mut warm) = (Duration::MAX, Duration::MAX, Duration::MAX);
    let mut kept = Vec::new();
    for round in 0..rounds {
        settle(&base);
        let a = tempfile::tempdir_in(&base).unwrap();
        let f = bytes_only(a.path(), &files);
        settle(&base);
        let b = tempfile::tempdir_in(&base).unwrap();
        let started = Instant::now();
        let report = export(b.path(), &posts, &render, ExportOptions::default()).unwrap();
        let c = started.elapsed();
        assert_eq!(report.written, n, "round {round}");
        settle(&base);
        let started = Instant::now();
        let report = export(b.path(), &posts, &render, ExportOptions::default()).unwrap();
        let w = started.elapsed();
        assert_eq!(report.unchanged, n, "round {round}");
        println!(
            "round {round}: floor {:.2} s, export {:.2} s ({:.2}x), re-export {:.2} s",
            f.as_secs_f64(),
            c.as_secs_f64(),
            c.as_secs_f64() / f.as_secs_f64(),
            w.as_secs_f64()
        );
        floor = floor.min(f);
        cold = cold.min(c);
        warm = warm.min(w);
        kept.push(a);
        kept.push(b);
    }
    println!(
        "bytes only, one fsync per directory: {:.2} s",
        floor.as_secs_f64()
    );
    println!(
        "export (rendered ahead, temp files, syncfs + renames + journal per 4096 on a committing thread, manifest): {:.2} s = {:.2}x",
        cold.as_secs_f64(),
        cold.as_secs_f64() / floor.as_secs_f64()
    );
    println!(
        "of which rendering the posts (in both exports, not in the floor): {:.2} s",
        rendering.as_secs_f64()
    );
    println!("re-export, nothing changed: {:.2} s", warm.as_secs_f64());
}
