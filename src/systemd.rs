//! systemd's notification protocol (sd_notify(3)): a datagram to `$NOTIFY_SOCKET`.
//!
//! A few lines of std code instead of a dependency. Without `NOTIFY_SOCKET` (not started by
//! systemd) every call is a no-op, so `run` behaves the same in a terminal or a container.

use std::time::Duration;

/// Send one notification (`READY=1`, `WATCHDOG=1`, `STOPPING=1`, `RELOADING=1`, `STATUS=...`).
/// Returns whether it was sent.
pub fn notify(state: &str) -> bool {
    let Some(path) = std::env::var_os("NOTIFY_SOCKET") else {
        return false;
    };
    match send(&path, state) {
        Ok(()) => true,
        Err(e) => {
            tracing::warn!("cannot notify systemd at {:?}: {e}", path);
            false
        }
    }
}

fn send(path: &std::ffi::OsStr, state: &str) -> std::io::Result<()> {
    use std::os::unix::net::UnixDatagram;
    let socket = UnixDatagram::unbound()?;
    let bytes = path.as_encoded_bytes();
    if let Some(name) = bytes.strip_prefix(b"@") {
        // An abstract socket (Linux): systemd uses these for NOTIFY_SOCKET.
        #[cfg(target_os = "linux")]
        {
            use std::os::linux::net::SocketAddrExt;
            let addr = std::os::unix::net::SocketAddr::from_abstract_name(name)?;
            socket.send_to_addr(state.as_bytes(), &addr)?;
            return Ok(());
        }
        #[cfg(not(target_os = "linux"))]
        {
            let _ = name;
            return Err(std::io::Error::other("abstract sockets need Linux"));
        }
    }
    socket.send_to(state.as_bytes(), std::path::Path::new(path))?;
    Ok(())
}

/// Half of `$WATCHDOG_USEC`, the interval at which systemd expects `WATCHDOG=1`; `None` when the
/// watchdog is off (or meant for another process: `$WATCHDOG_PID`).
pub fn watchdog_interval() -> Option<Duration> {
    if let Some(pid) = std::env::var("WATCHDOG_PID")
        .ok()
        .and_then(|p| p.parse::<u32>().ok())
    {
        if pid != std::process::id() {
            return None;
        }
    }
    let usec: u64 = std::env::var("WATCHDOG_USEC").ok()?.parse().ok()?;
    (usec > 0).then(|| Duration::from_micros(usec / 2))
}
