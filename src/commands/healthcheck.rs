//! `feedsmith healthcheck`: the container image's HEALTHCHECK, using the binary itself.

use std::time::Duration;

use crate::cli::HealthcheckArgs;
use crate::config::Settings;
use crate::error::{CommandError, Exit};

pub async fn run(settings: Settings, args: &HealthcheckArgs) -> Result<Exit, CommandError> {
    let base = match &args.url {
        Some(u) => u.trim_end_matches('/').to_string(),
        None => {
            let listen = settings
                .server
                .listen
                .replace("0.0.0.0", "127.0.0.1")
                .replace("[::]", "[::1]");
            format!("http://{listen}")
        }
    };
    let url = format!("{base}/{}", if args.live { "healthz" } else { "readyz" });
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(3))
        .build()
        .map_err(|e| CommandError::Runtime(e.to_string()))?;
    match client.get(&url).send().await {
        Ok(resp) if resp.status().is_success() => {
            eprintln!("healthy: {url} answered {}", resp.status());
            Ok(Exit::Ok)
        }
        Ok(resp) => {
            let status = resp.status();
            let body = resp.text().await.unwrap_or_default();
            eprintln!("unhealthy: {url} answered {status}: {}", body.trim());
            Ok(Exit::Fatal)
        }
        Err(e) => {
            eprintln!("unhealthy: no feedsmith answering at {base} ({})", why(&e));
            Ok(Exit::Fatal)
        }
    }
}

/// The cause in a few words: reqwest's own message ("error sending request for url") says
/// nothing an operator can act on, the I/O error underneath does.
fn why(e: &reqwest::Error) -> String {
    if e.is_timeout() {
        return "no answer within 3s".into();
    }
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        if let Some(io) = s.downcast_ref::<std::io::Error>() {
            return match io.kind() {
                std::io::ErrorKind::ConnectionRefused => "connection refused".into(),
                std::io::ErrorKind::ConnectionReset => "connection reset".into(),
                _ => io.to_string(),
            };
        }
        source = s.source();
    }
    if e.is_connect() {
        "cannot connect".into()
    } else {
        e.to_string()
    }
}
