//! The fetcher's limits against a real loopback server: compression, the body cap (on the wire
//! and after decompression), redirects (count, scheme), autodiscovery.

use std::io::Write;

use crate::support::{feed_toml, rss, Reply, TestServer, Workspace};

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    enc.write_all(data).unwrap();
    enc.finish().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gzip_bodies_and_the_body_cap() {
    let server = TestServer::start().await;
    let feed = rss("Zipped", &[("z1", "Zipped post", "Compressed body.")]);
    server.route(
        "/gz.xml",
        Reply::feed(gzip(feed.as_bytes())).with_header("Content-Encoding", "gzip"),
    );
    // 64 MiB of zeros inflate from ~64 KiB on the wire: the cap (1 MiB here) stops it.
    let bomb = gzip(&vec![b' '; 64 * 1024 * 1024]);
    assert!(bomb.len() < 1024 * 1024);
    server.route(
        "/bomb.xml",
        Reply::feed(bomb).with_header("Content-Encoding", "gzip"),
    );
    server.route("/big.xml", Reply::feed(vec![b'x'; 2 * 1024 * 1024]));
    let feeds = format!(
        "{}{}{}",
        feed_toml("Zipped", &server.url("/gz.xml"), "blogs", ""),
        feed_toml("Bomb", &server.url("/bomb.xml"), "blogs", ""),
        feed_toml("Big", &server.url("/big.xml"), "blogs", "")
    );
    let ws = Workspace::new("[http]\nmax_body = \"1MiB\"\n", &feeds);
    let out = ws.run(&["fetch"]).await;
    assert_eq!(out.code, 3, "{}", out.stderr);
    assert!(
        out.stderr.contains("1 ok, 0 not modified, 2 failed"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.contains("failed: Bomb")
            && out.stderr.contains("larger than the 1048576-byte limit"),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains("failed: Big"), "{}", out.stderr);
    assert_eq!(ws.posts().await.len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redirects_are_limited_to_http_and_five_hops() {
    let server = TestServer::start().await;
    for i in 0..3 {
        server.route(
            &format!("/hop{i}"),
            Reply::status(302, "").with_header("Location", &format!("/hop{}", i + 1)),
        );
    }
    server.route(
        "/hop3",
        Reply::feed(rss("Hops", &[("h1", "After three hops", "Body.")])),
    );
    server.route(
        "/loop",
        Reply::status(302, "").with_header("Location", "/loop"),
    );
    server.route(
        "/file",
        Reply::status(302, "").with_header("Location", "file:///etc/passwd"),
    );
    server.route(
        "/ftp",
        Reply::status(301, "").with_header("Location", "ftp://example.org/feed.xml"),
    );
    let feeds = format!(
        "{}{}{}{}",
        feed_toml("Hops", &server.url("/hop0"), "blogs", ""),
        feed_toml("Loop", &server.url("/loop"), "blogs", ""),
        feed_toml("File", &server.url("/file"), "blogs", ""),
        feed_toml("Ftp", &server.url("/ftp"), "blogs", "")
    );
    let ws = Workspace::new("", &feeds);
    let out = ws.run(&["fetch"]).await;
    assert_eq!(out.code, 3, "{}", out.stderr);
    assert!(
        out.stderr.contains("1 ok, 0 not modified, 3 failed"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.contains("more than 5 redirects"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr
            .contains("file:///etc/passwd, which is not http or https"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr
            .contains("ftp://example.org/feed.xml, which is not http or https"),
        "{}",
        out.stderr
    );
    assert_eq!(
        server.statuses("/loop").len(),
        6,
        "the first request and five redirects, no more"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn html_pages_are_followed_to_their_feed() {
    let server = TestServer::start().await;
    server.route(
        "/blog/",
        Reply::feed(b"<!DOCTYPE html><html><head><link rel=\"alternate\" type=\"application/rss+xml\" href=\"/blog/feed.xml\"></head><body>Blog</body></html>".to_vec())
            .with_content_type("text/html"),
    );
    server.route(
        "/blog/feed.xml",
        Reply::feed(rss("Blog", &[("d1", "Discovered post", "Body.")])),
    );
    server.route(
        "/plain/",
        Reply::feed(b"<!DOCTYPE html><html><body>No feed here</body></html>".to_vec())
            .with_content_type("text/html"),
    );
    let feeds = format!(
        "{}{}",
        feed_toml("Blog", &server.url("/blog/"), "blogs", ""),
        feed_toml("Plain", &server.url("/plain/"), "blogs", "")
    );
    let ws = Workspace::new("", &feeds);
    let out = ws.run(&["fetch"]).await;
    assert_eq!(out.code, 3, "{}", out.stderr);
    assert!(
        out.stderr.contains("failed: Plain")
            && out.stderr.contains("HTML page without a feed link"),
        "{}",
        out.stderr
    );
    let posts = ws.posts().await;
    assert_eq!(posts.len(), 1);
    assert_eq!(posts[0]["title"], "Discovered post");
    // The discovered URL is fetched directly from then on.
    let again = ws.run(&["fetch", "--feed", "Blog"]).await;
    assert_eq!(again.code, 0, "{}", again.stderr);
    assert_eq!(server.statuses("/blog/").len(), 1);
    assert_eq!(server.statuses("/blog/feed.xml"), vec![200, 304]);
}
