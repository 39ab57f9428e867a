//! The README's Commands section and `--help` agree: every command and every flag `--help`
//! knows is in the README's list, and the list names nothing `--help` does not know. Read from
//! the clap definitions that produce `--help`, so a new flag without documentation fails here.

use std::collections::{BTreeMap, BTreeSet};

use clap::CommandFactory;

/// Leaf command paths ("posts list") with their long flags, from the clap definitions.
fn commands() -> BTreeMap<String, BTreeSet<String>> {
    fn walk(cmd: &clap::Command, path: &str, out: &mut BTreeMap<String, BTreeSet<String>>) {
        let subs: Vec<&clap::Command> = cmd
            .get_subcommands()
            .filter(|c| c.get_name() != "help")
            .collect();
        if subs.is_empty() {
            let flags = cmd
                .get_arguments()
                .filter(|a| !a.is_global_set())
                .filter_map(|a| a.get_long())
                .filter(|l| !matches!(*l, "help" | "version"))
                .map(|l| format!("--{l}"))
                .collect();
            out.insert(path.to_string(), flags);
        }
        for sub in subs {
            let p = if path.is_empty() {
                sub.get_name().to_string()
            } else {
                format!("{path} {}", sub.get_name())
            };
            walk(sub, &p, out);
        }
    }
    let mut out = BTreeMap::new();
    walk(&feedsmith::cli::Cli::command(), "", &mut out);
    out
}

fn flags_in(text: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let b = text.as_bytes();
    let mut i = 0;
    while let Some(at) = text[i..].find("--") {
        let start = i + at;
        let mut end = start + 2;
        while end < b.len() && (b[end].is_ascii_lowercase() || b[end] == b'-') {
            end += 1;
        }
        if end > start + 2 {
            out.insert(text[start..end].trim_end_matches('-').to_string());
        }
        i = end;
    }
    out
}

#[test]
fn the_readme_command_list_and_help_agree() {
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    let section = readme
        .split("## Commands\n\n```\n")
        .nth(1)
        .and_then(|s| s.split("\n```").next())
        .expect("README has a ## Commands section with a code block");
    let known = commands();
    let mut lines = section.lines();
    let global = lines.next().unwrap_or_default();
    let cli = feedsmith::cli::Cli::command();
    let global_flags: BTreeSet<String> = cli
        .get_arguments()
        .filter_map(|a| a.get_long())
        .filter(|l| !matches!(*l, "help" | "version"))
        .map(|l| format!("--{l}"))
        .collect();
    for f in &global_flags {
        if f == "--verbose" || f == "--quiet" {
            assert!(global.contains("-v") && global.contains("-q"), "{global}");
        } else {
            assert!(
                global.contains(f.as_str()),
                "the README's first line lacks {f}: {global}"
            );
        }
    }

    // Each entry: a line indented by two spaces that starts with a command path, plus the more
    // deeply indented lines under it.
    let mut entries: BTreeMap<String, String> = BTreeMap::new();
    let mut current: Option<String> = None;
    for line in lines {
        if line.trim().is_empty() {
            continue;
        }
        if line.starts_with("  ") && !line.starts_with("   ") {
            let words: Vec<&str> = line.split_whitespace().collect();
            let path = (1..=words.len().min(2))
                .rev()
                .map(|n| words[..n].join(" "))
                .find(|p| known.contains_key(p))
                .unwrap_or_else(|| panic!("README lists an unknown command: {line}"));
            entries.entry(path.clone()).or_default().push_str(line);
            current = Some(path);
        } else if let Some(path) = &current {
            let entry = entries.entry(path.clone()).or_default();
            entry.push('\n');
            entry.push_str(line);
        }
    }
    for (path, flags) in &known {
        let entry = entries
            .get(path)
            .unwrap_or_else(|| panic!("`feedsmith {path}` is missing from the README's Commands"));
        let listed = flags_in(entry);
        assert_eq!(
            &listed, flags,
            "README vs --help for `feedsmith {path}`:\n{entry}"
        );
    }
}

/// Every command's `--help` ends with the same "Global options" section.
#[test]
fn every_help_has_a_global_options_section() {
    fn walk(cmd: &mut clap::Command, path: &str) {
        let help = cmd.render_help().to_string();
        assert!(
            help.contains("Global options:") && help.contains("--log-format"),
            "`feedsmith {path} --help` lacks the global options:\n{help}"
        );
        for sub in cmd.get_subcommands_mut().filter(|c| c.get_name() != "help") {
            let p = format!("{path} {}", sub.get_name());
            walk(sub, p.trim());
        }
    }
    let mut cli = feedsmith::cli::Cli::command();
    cli.build();
    for sub in cli.get_subcommands_mut().filter(|c| c.get_name() != "help") {
        let name = sub.get_name().to_string();
        walk(sub, &name);
    }
}
