//! The shipped systemd unit: the directives a reviewer expects, and `systemd-analyze verify`
//! (when systemd is installed) with ExecStart pointing at the binary under test.

use std::path::Path;

const UNIT: &str = include_str!("../deploy/systemd/feedsmith.service");

#[test]
fn unit_has_notify_watchdog_reload_and_sandboxing() {
    for directive in [
        "Type=notify",
        "WatchdogSec=",
        "ExecReload=/bin/kill -HUP $MAINPID",
        "Restart=on-failure",
        "DynamicUser=yes",
        "StateDirectory=feedsmith",
        "ProtectSystem=strict",
        "ProtectHome=yes",
        "PrivateTmp=yes",
        "NoNewPrivileges=yes",
        "CapabilityBoundingSet=\n",
        "RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX",
        "--log-format json run",
    ] {
        assert!(UNIT.contains(directive), "missing {directive:?}");
    }
}

#[test]
fn systemd_analyze_verify() {
    let analyze = Path::new("/usr/bin/systemd-analyze");
    if !analyze.exists() {
        eprintln!("skipping: systemd-analyze is not installed");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let unit = dir.path().join("feedsmith.service");
    std::fs::write(
        &unit,
        UNIT.replace("/usr/local/bin/feedsmith", env!("CARGO_BIN_EXE_feedsmith")),
    )
    .unwrap();
    let out = std::process::Command::new(analyze)
        .arg("verify")
        .arg(&unit)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    // Complaints about the host's own units are not ours; only lines naming our unit count.
    let ours: Vec<&str> = stderr
        .lines()
        .filter(|l| l.contains("feedsmith.service"))
        .collect();
    assert!(
        out.status.success() && ours.is_empty(),
        "systemd-analyze verify: {stderr}"
    );
}
