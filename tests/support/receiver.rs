//! A loopback webhook receiver on raw TCP: answers each POST by a script (500, a hang past the
//! sender's timeout, a slow 200, ...), then with 200; records every attempt with its headers,
//! body, answer and whether the same delivery was already being received (two senders at once).

use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// One scripted answer.
#[derive(Clone, Debug)]
pub enum Step {
    Status(u16),
    /// 503 with `Retry-After: N`.
    RetryAfter(u64),
    /// Read the request, answer nothing for this long (past the sender's timeout), then close.
    Hang(Duration),
    /// Wait, then 200 (to hold a delivery in flight).
    SlowOk(Duration),
}

/// One attempt as received.
#[derive(Clone, Debug)]
pub struct Attempt {
    pub at: Instant,
    pub event: String,
    pub delivery: String,
    pub signature: Option<String>,
    pub body: Vec<u8>,
    /// The status answered (`None`: hung up without answering).
    pub answered: Option<u16>,
    /// Another attempt of the same delivery was in flight when this one arrived.
    pub overlapped: bool,
}

impl Attempt {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or_default()
    }
    pub fn accepted(&self) -> bool {
        self.answered.is_some_and(|s| (200..300).contains(&s))
    }
}

#[derive(Default)]
struct State {
    script: std::collections::VecDeque<Step>,
    /// Answer after the script (default 200).
    then: Option<Step>,
    attempts: Vec<Attempt>,
    in_flight: HashSet<String>,
}

#[derive(Clone)]
pub struct Receiver {
    pub addr: SocketAddr,
    state: Arc<Mutex<State>>,
    started: Instant,
}

impl Receiver {
    pub async fn start(script: Vec<Step>) -> Receiver {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let state = Arc::new(Mutex::new(State {
            script: script.into(),
            ..State::default()
        }));
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
        Receiver {
            addr,
            state,
            started: Instant::now(),
        }
    }

    pub fn url(&self) -> String {
        format!("http://{}/hook", self.addr)
    }

    /// A line in the printed log at this moment (a kill, a restart).
    pub fn mark(&self, what: &str) {
        println!("+{:>6}ms ---- {what}", self.started.elapsed().as_millis());
    }

    /// What to answer once the script is used up (instead of 200).
    pub fn then(&self, step: Option<Step>) {
        self.state.lock().unwrap().then = step;
    }

    pub fn attempts(&self) -> Vec<Attempt> {
        self.state.lock().unwrap().attempts.clone()
    }

    pub fn accepted(&self) -> Vec<Attempt> {
        self.attempts()
            .into_iter()
            .filter(|a| a.accepted())
            .collect()
    }

    /// The attempts, one line each, for `--nocapture` (and the lead's closing note).
    pub fn print_log(&self, title: &str) {
        println!("--- {title}: delivery attempts seen by the receiver ---");
        for a in self.attempts() {
            let v = a.json();
            println!(
                "+{:>6}ms {:<15} delivery={} event_id={} post_id={} -> {}{}",
                a.at.duration_since(self.started).as_millis(),
                a.event,
                a.delivery,
                v["event"]["id"],
                v["event"]["post_id"],
                a.answered
                    .map(|s| s.to_string())
                    .unwrap_or_else(|| "no answer (timeout)".into()),
                if a.overlapped { "  OVERLAP" } else { "" }
            );
        }
    }
}

async fn serve(mut sock: TcpStream, state: Arc<Mutex<State>>) -> std::io::Result<()> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 8192];
    let header_end = loop {
        let n = sock.read(&mut chunk).await?;
        if n == 0 {
            return Ok(());
        }
        buf.extend_from_slice(&chunk[..n]);
        if let Some(p) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break p + 4;
        }
    };
    let head = String::from_utf8_lossy(&buf[..header_end]).to_string();
    let headers: HashMap<String, String> = head
        .lines()
        .skip(1)
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    let len: usize = headers
        .get("content-length")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    while buf.len() < header_end + len {
        let n = sock.read(&mut chunk).await?;
        if n == 0 {
            break;
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    let body = buf[header_end..].to_vec();
    let delivery = headers
        .get("x-feedsmith-delivery")
        .cloned()
        .unwrap_or_default();
    let (step, index, overlapped) = {
        let mut st = state.lock().unwrap();
        let step = st
            .script
            .pop_front()
            .or_else(|| st.then.clone())
            .unwrap_or(Step::Status(200));
        // A hang is given up by the sender at its timeout: not "in flight" for the overlap check.
        let overlapped = if matches!(step, Step::Hang(_)) {
            false
        } else {
            !st.in_flight.insert(delivery.clone())
        };
        st.attempts.push(Attempt {
            at: Instant::now(),
            event: headers
                .get("x-feedsmith-event")
                .cloned()
                .unwrap_or_default(),
            delivery: delivery.clone(),
            signature: headers.get("x-feedsmith-signature").cloned(),
            body,
            answered: None,
            overlapped,
        });
        (step, st.attempts.len() - 1, overlapped)
    };
    let step_kind = Some(step.clone());
    let status = match step {
        Step::Status(s) => Some((s, String::new())),
        Step::RetryAfter(secs) => Some((503, format!("Retry-After: {secs}\r\n"))),
        Step::Hang(d) => {
            tokio::time::sleep(d).await;
            None
        }
        Step::SlowOk(d) => {
            tokio::time::sleep(d).await;
            Some((200, String::new()))
        }
    };
    {
        let mut st = state.lock().unwrap();
        if !overlapped && !matches!(step_kind, Some(Step::Hang(_))) {
            st.in_flight.remove(&delivery);
        }
        st.attempts[index].answered = status.as_ref().map(|(s, _)| *s);
    }
    if let Some((s, extra)) = status {
        let reply =
            format!("HTTP/1.1 {s} X\r\ncontent-length: 2\r\nconnection: close\r\n{extra}\r\nok");
        sock.write_all(reply.as_bytes()).await?;
    }
    let _ = sock.shutdown().await;
    Ok(())
}
