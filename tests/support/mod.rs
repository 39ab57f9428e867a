//! Test support: a real HTTP/1.1 server on 127.0.0.1:0 with scriptable routes, plus helpers to
//! run the real `feedsmith` binary against a temporary configuration and SQLite file.
//!
//! The server is written on raw TCP (not a framework) so tests can produce exactly the
//! misbehaviour they need: a reset mid-body, a wrong Content-Length, a hang.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

pub mod db;
pub mod receiver;

/// What a route answers.
#[derive(Clone, Debug)]
pub enum Reply {
    /// A normal response. An `ETag` is derived from the body, and `If-None-Match` honoured,
    /// when `etag` is true.
    Body {
        status: u16,
        content_type: String,
        body: Vec<u8>,
        etag: bool,
        headers: Vec<(String, String)>,
    },
    /// Headers announce `announced` bytes, `sent` are written, then the connection is closed.
    Truncated { body: Vec<u8>, announced: usize },
    /// Accept the connection and never answer.
    Hang,
    /// Wait, then answer like `reply`.
    Slow(Duration, Box<Reply>),
    /// Send the status line and headers, then never the body.
    HeadersThenHang,
    /// Send the body one byte at a time with `Duration` between bytes.
    Drip(Vec<u8>, Duration),
    /// Send half the body, then reset the connection (TCP RST).
    Reset(Vec<u8>),
    /// A fixed ETag that changes on every request while the body stays the same.
    RotatingEtag(Vec<u8>),
    /// A valid feed served with 200 whatever `If-None-Match` says.
    IgnoresConditional(Vec<u8>),
}

impl Reply {
    pub fn feed(body: impl Into<Vec<u8>>) -> Reply {
        Reply::Body {
            status: 200,
            content_type: "application/xml".into(),
            body: body.into(),
            etag: true,
            headers: Vec::new(),
        }
    }
    pub fn status(status: u16, body: &str) -> Reply {
        Reply::Body {
            status,
            content_type: "text/plain".into(),
            body: body.as_bytes().to_vec(),
            etag: false,
            headers: Vec::new(),
        }
    }
    pub fn with_header(mut self, name: &str, value: &str) -> Reply {
        if let Reply::Body { headers, .. } = &mut self {
            headers.push((name.to_string(), value.to_string()));
        }
        self
    }
    pub fn with_content_type(mut self, ct: &str) -> Reply {
        if let Reply::Body { content_type, .. } = &mut self {
            *content_type = ct.to_string();
        }
        self
    }
}

/// One request as received: method, path, headers (names lower-cased) and body.
#[derive(Clone, Debug)]
pub struct Request {
    pub method: String,
    pub path: String,
    pub headers: HashMap<String, String>,
    pub body: Vec<u8>,
}

#[derive(Default)]
struct State {
    routes: HashMap<String, Reply>,
    /// Every request with its headers and body, in order.
    requests: Vec<Request>,
    /// (path, status sent) of every request, in order.
    log: Vec<(String, u16)>,
    /// (path, when the request arrived), in order.
    times: Vec<(String, std::time::Instant)>,
}

#[derive(Clone)]
pub struct TestServer {
    pub addr: SocketAddr,
    state: Arc<Mutex<State>>,
}

impl TestServer {
    pub async fn start() -> TestServer {
        TestServer::start_at("127.0.0.1:0").await
    }

    /// A server on another loopback address or a fixed port (`"127.0.0.2:0"`): the network
    /// guard's tests need a feed host and an "internal" host that differ.
    pub async fn start_at(addr: &str) -> TestServer {
        let listener = TcpListener::bind(addr).await.expect("bind loopback");
        let addr = listener.local_addr().expect("local addr");
        let state = Arc::new(Mutex::new(State::default()));
        let st = state.clone();
        tokio::spawn(async move {
            loop {
                let Ok((sock, _)) = listener.accept().await else {
                    continue;
                };
                let st = st.clone();
                tokio::spawn(async move {
                    let _ = serve(sock, st).await;
                });
            }
        });
        TestServer { addr, state }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    pub fn route(&self, path: &str, reply: Reply) {
        self.state
            .lock()
            .unwrap()
            .routes
            .insert(path.to_string(), reply);
    }

    /// When each request for `path` arrived.
    pub fn times(&self, path: &str) -> Vec<std::time::Instant> {
        self.state
            .lock()
            .unwrap()
            .times
            .iter()
            .filter(|(p, _)| p == path)
            .map(|(_, t)| *t)
            .collect()
    }

    /// Every request path, in arrival order.
    pub fn all_requests(&self) -> Vec<(String, std::time::Instant)> {
        self.state.lock().unwrap().times.clone()
    }

    /// The requests for `path` (headers and body), in order.
    pub fn requests(&self, path: &str) -> Vec<Request> {
        self.state
            .lock()
            .unwrap()
            .requests
            .iter()
            .filter(|r| r.path == path)
            .cloned()
            .collect()
    }

    /// Statuses sent for `path`, in order.
    pub fn statuses(&self, path: &str) -> Vec<u16> {
        self.state
            .lock()
            .unwrap()
            .log
            .iter()
            .filter(|(p, _)| p == path)
            .map(|(_, s)| *s)
            .collect()
    }
}

async fn serve(mut sock: TcpStream, state: Arc<Mutex<State>>) -> std::io::Result<()> {
    loop {
        let mut buf = Vec::new();
        let mut chunk = [0u8; 4096];
        let header_end = loop {
            let n = sock.read(&mut chunk).await?;
            if n == 0 {
                return Ok(());
            }
            buf.extend_from_slice(&chunk[..n]);
            if let Some(pos) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                break pos;
            }
        };
        let head = String::from_utf8_lossy(&buf[..header_end]).to_string();
        let mut lines = head.lines();
        let request_line = lines.next().unwrap_or_default();
        let path = request_line
            .split_whitespace()
            .nth(1)
            .unwrap_or("/")
            .to_string();
        let headers: HashMap<String, String> = lines
            .filter_map(|l| l.split_once(':'))
            .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
            .collect();
        // A request body (POST) is read to its Content-Length, so the connection can be reused.
        let length: usize = headers
            .get("content-length")
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        let mut body = buf[header_end + 4..].to_vec();
        while body.len() < length {
            let n = sock.read(&mut chunk).await?;
            if n == 0 {
                return Ok(());
            }
            body.extend_from_slice(&chunk[..n]);
        }
        body.truncate(length);
        let reply = {
            let mut st = state.lock().unwrap();
            st.times.push((path.clone(), std::time::Instant::now()));
            st.requests.push(Request {
                method: request_line
                    .split_whitespace()
                    .next()
                    .unwrap_or_default()
                    .to_string(),
                path: path.clone(),
                headers: headers.clone(),
                body,
            });
            st.routes.get(&path).cloned()
        };
        let mut reply = reply.unwrap_or_else(|| Reply::status(404, "not found"));
        if let Reply::Slow(delay, inner) = reply {
            tokio::time::sleep(delay).await;
            reply = *inner;
        }
        let rotating = matches!(reply, Reply::RotatingEtag(_));
        match reply {
            Reply::Slow(..) => return Ok(()),
            Reply::HeadersThenHang => {
                state.lock().unwrap().log.push((path, 200));
                sock.write_all(b"HTTP/1.1 200 OK\r\nContent-Type: application/xml\r\nContent-Length: 1000\r\n\r\n").await?;
                sock.flush().await?;
                tokio::time::sleep(Duration::from_secs(3600)).await;
                return Ok(());
            }
            Reply::Drip(body, pause) => {
                state.lock().unwrap().log.push((path, 200));
                let head = format!("HTTP/1.1 200 OK\r\nContent-Type: application/xml\r\nContent-Length: {}\r\n\r\n", body.len());
                sock.write_all(head.as_bytes()).await?;
                for b in body {
                    sock.write_all(&[b]).await?;
                    sock.flush().await?;
                    tokio::time::sleep(pause).await;
                }
                return Ok(());
            }
            Reply::Reset(body) => {
                state.lock().unwrap().log.push((path, 200));
                let head = format!("HTTP/1.1 200 OK\r\nContent-Type: application/xml\r\nContent-Length: {}\r\n\r\n", body.len());
                sock.write_all(head.as_bytes()).await?;
                sock.write_all(&body[..body.len() / 2]).await?;
                sock.flush().await?;
                tokio::time::sleep(Duration::from_millis(50)).await;
                // Linger 0 makes the close an RST; with a zero timeout nothing blocks.
                #[allow(deprecated)]
                sock.set_linger(Some(Duration::ZERO))?;
                return Ok(()); // dropped with linger 0: RST
            }
            Reply::RotatingEtag(body) | Reply::IgnoresConditional(body) => {
                let n = {
                    let mut st = state.lock().unwrap();
                    st.log.push((path.clone(), 200));
                    st.log.len()
                };
                let mut head = format!("HTTP/1.1 200 OK\r\nContent-Type: application/rss+xml\r\nContent-Length: {}\r\n", body.len());
                head.push_str(&if rotating {
                    format!("ETag: \"v{n}\"\r\n")
                } else {
                    "ETag: \"fixed\"\r\n".to_string()
                });
                head.push_str("\r\n");
                sock.write_all(head.as_bytes()).await?;
                sock.write_all(&body).await?;
                sock.flush().await?;
            }
            Reply::Hang => {
                state.lock().unwrap().log.push((path, 0));
                tokio::time::sleep(Duration::from_secs(3600)).await;
                return Ok(());
            }
            Reply::Truncated { body, announced } => {
                state.lock().unwrap().log.push((path, 200));
                let head = format!(
                    "HTTP/1.1 200 OK\r\nContent-Type: application/xml\r\nContent-Length: {announced}\r\nConnection: close\r\n\r\n"
                );
                sock.write_all(head.as_bytes()).await?;
                sock.write_all(&body).await?;
                sock.flush().await?;
                return Ok(()); // dropping the socket closes the connection early
            }
            Reply::Body {
                status,
                content_type,
                body,
                etag,
                headers: extra,
            } => {
                let tag = format!("\"{:x}\"", fxhash(&body));
                let not_modified = etag && headers.get("if-none-match").is_some_and(|v| *v == tag);
                let (status, body) = if not_modified {
                    (304, Vec::new())
                } else {
                    (status, body)
                };
                state.lock().unwrap().log.push((path, status));
                let mut head = format!(
                    "HTTP/1.1 {status} X\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\n",
                    body.len()
                );
                if etag {
                    head.push_str(&format!("ETag: {tag}\r\n"));
                }
                for (k, v) in extra {
                    head.push_str(&format!("{k}: {v}\r\n"));
                }
                head.push_str("\r\n");
                sock.write_all(head.as_bytes()).await?;
                sock.write_all(&body).await?;
                sock.flush().await?;
            }
        }
    }
}

fn fxhash(data: &[u8]) -> u64 {
    data.iter().fold(0xcbf29ce484222325u64, |h, b| {
        (h ^ *b as u64).wrapping_mul(0x100000001b3)
    })
}

/// `../shared` beside the repository, or `$FEEDSMITH_SHARED`; `None` (and a printed notice)
/// when it is absent, so the tests that need it skip clearly instead of failing obscurely.
pub fn shared_dir() -> Option<PathBuf> {
    let dir = std::env::var_os("FEEDSMITH_SHARED")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared"));
    if dir.join("corpus/MANIFEST.tsv").is_file() {
        Some(dir)
    } else {
        eprintln!(
            "skipping: {} not found (the shared corpus and spec live beside the repository)",
            dir.display()
        );
        None
    }
}

/// A temporary working directory with a configuration file and a SQLite database.
pub struct Workspace {
    pub dir: tempfile::TempDir,
}

pub struct Output {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Workspace {
    /// `feeds` is the `[[feeds]]` TOML; `extra` more TOML placed before it.
    pub fn new(extra: &str, feeds: &str) -> Workspace {
        let dir = tempfile::tempdir().expect("tempdir");
        let db = dir.path().join("feedsmith.db");
        // Keys of an `[http]` table in `extra` join the test's own `[http]` table.
        let (http_extra, extra) = match extra.strip_prefix("[http]\n") {
            Some(rest) => rest
                .split_once("\n[")
                .map_or((rest.to_string(), String::new()), |(h, r)| {
                    (h.to_string(), format!("[{r}"))
                }),
            None => (String::new(), extra.to_string()),
        };
        let timeouts = if http_extra.contains("timeout") {
            ""
        } else {
            "timeout = \"5s\"\nconnect_timeout = \"2s\"\n"
        };
        // Test feeds link to hosts that do not exist (example.org): the article step (full
        // content) stays off unless the test configures it, so no test reaches for the internet.
        let articles = if extra.contains("[articles]") {
            ""
        } else {
            "[articles]\nfull_content = \"never\"\n"
        };
        let config = format!(
            "[database]\nurl = \"sqlite://{}\"\n\n[http]\n{timeouts}{http_extra}\n{extra}\n{articles}\n{feeds}",
            db.display()
        );
        std::fs::write(dir.path().join("feedsmith.toml"), config).expect("write config");
        Workspace { dir }
    }

    pub fn config_path(&self) -> PathBuf {
        self.dir.path().join("feedsmith.toml")
    }

    pub fn db_path(&self) -> PathBuf {
        self.dir.path().join("feedsmith.db")
    }

    /// Run the real binary with this workspace's configuration.
    pub async fn run(&self, args: &[&str]) -> Output {
        self.run_with_env(args, &[]).await
    }

    /// [`Workspace::run`] with extra environment variables for the process.
    pub async fn run_with_env(&self, args: &[&str], env: &[(&str, &str)]) -> Output {
        let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_feedsmith"))
            .arg("--config")
            .arg(self.config_path())
            .args(args)
            .current_dir(self.dir.path())
            .env_remove("FEEDSMITH_CONFIG")
            .env("RUST_LOG", "info")
            .envs(env.iter().copied())
            .output()
            .await
            .expect("run feedsmith");
        Output {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }

    /// `posts list --json` parsed.
    pub async fn posts(&self) -> Vec<serde_json::Value> {
        let out = self.run(&["posts", "list", "--json"]).await;
        assert_eq!(out.code, 0, "posts list failed: {}", out.stderr);
        serde_json::from_str(&out.stdout).expect("posts list --json is a JSON array")
    }
}

/// A loopback port that was free a moment ago (for a daemon's `[server] listen`).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A `[[feeds]]` table.
pub fn feed_toml(name: &str, url: &str, collection: &str, extra: &str) -> String {
    format!(
        "[[feeds]]\nname = \"{name}\"\nurl = \"{url}\"\ncollection = \"{collection}\"\n{extra}\n"
    )
}

/// A small valid RSS 2.0 feed with `n` items whose bodies are long enough for any collection.
pub fn rss(title: &str, items: &[(&str, &str, &str)]) -> String {
    let mut s = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<rss version=\"2.0\"><channel><title>{title}</title><link>http://example.org/</link><description>d</description>\n"
    );
    for (guid, item_title, body) in items {
        s.push_str(&format!(
            "<item><guid>{guid}</guid><title>{item_title}</title><link>http://example.org/{guid}</link><pubDate>Sun, 03 Aug 2025 22:48:15 GMT</pubDate><description><![CDATA[<p>{body}</p>]]></description></item>\n"
        ));
    }
    s.push_str("</channel></rss>\n");
    s
}

/// The real `jekyll` (Debian's package), or `None` after saying that the caller skips. With
/// `FEEDSMITH_REQUIRE_JEKYLL` set (`.ci/run`) a missing `jekyll` is a failure instead.
pub fn jekyll() -> Option<&'static Path> {
    let jekyll = Path::new("/usr/bin/jekyll");
    if jekyll.exists() {
        return Some(jekyll);
    }
    assert!(
        std::env::var_os("FEEDSMITH_REQUIRE_JEKYLL").is_none(),
        "jekyll is required in CI but not installed"
    );
    eprintln!("skipping: jekyll is not installed (Debian package `jekyll`)");
    None
}

/// A minimal Jekyll site in `site`: `config` as `_config.yml` and `layout` as the `post` layout.
pub fn jekyll_site(site: &Path, config: &str, layout: &str) {
    std::fs::create_dir_all(site.join("_layouts")).unwrap();
    std::fs::write(site.join("_config.yml"), config).unwrap();
    std::fs::write(site.join("_layouts/post.html"), layout).unwrap();
}

/// `jekyll build --safe` of `site` into `dest`, as production; the test fails when the build
/// does. Returns the build's stdout and stderr.
pub fn jekyll_build(jekyll: &Path, site: &Path, dest: &Path) -> (String, String) {
    let build = std::process::Command::new(jekyll)
        .args(["build", "--safe", "--source"])
        .arg(site)
        .arg("--destination")
        .arg(dest)
        .env("JEKYLL_ENV", "production")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&build.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&build.stderr).into_owned();
    assert!(
        build.status.success(),
        "jekyll build failed:\n{stdout}\n{stderr}"
    );
    (stdout, stderr)
}

/// A child's stderr, read while it runs. A daemon whose piped stderr nobody reads blocks on its
/// next log line once the pipe's 64 KiB fill, and then cannot even stop on SIGTERM; reading as
/// it comes also lets a test show the log so far when it fails.
pub struct StderrLog {
    /// The bytes as they came: a read may end inside a multi-byte character.
    bytes: Arc<Mutex<Vec<u8>>>,
    reader: tokio::task::JoinHandle<()>,
}

impl StderrLog {
    /// Take `child`'s piped stderr and read it in a task.
    pub fn of(child: &mut tokio::process::Child) -> Self {
        let bytes = Arc::new(Mutex::new(Vec::new()));
        let sink = bytes.clone();
        let mut pipe = child.stderr.take().expect("the child's stderr is piped");
        let reader = tokio::spawn(async move {
            let mut buf = [0u8; 8192];
            while let Ok(n) = pipe.read(&mut buf).await {
                if n == 0 {
                    break;
                }
                sink.lock().unwrap().extend_from_slice(&buf[..n]);
            }
        });
        StderrLog { bytes, reader }
    }

    /// What the child wrote so far.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.bytes.lock().unwrap()).into_owned()
    }

    /// Everything the child wrote, once its stderr closed (call after the child exited).
    pub async fn finish(self) -> String {
        let _ = tokio::time::timeout(Duration::from_secs(10), self.reader).await;
        let text = String::from_utf8_lossy(&self.bytes.lock().unwrap()).into_owned();
        text
    }
}
