//! `feedsmith reprocess [--feed] [--since] [--dry-run] [--prune]`: the stored entries normalized
//! again with the current configuration, and the differences written (docs/rules.md).
//!
//! [`plan`] is the dry run that `rules test` prints too, so the two never disagree: it reads the
//! parsed entries stored beside each post and skipped entry (src/store/entries.rs), applies the
//! cached articles as a poll does, normalizes each entry with the one function every path uses
//! (rules included, `normalize::normalize_entry_explained`) and compares the result with what is
//! stored. Same content hash, same post: nothing to do, which is why a second run writes nothing.
//! [`apply`] writes the plan feed by feed as each is planned, each under the feed's lease (the
//! one the scheduler takes to poll it), so a replica's poll and a reprocess never write one feed
//! at once.

use std::collections::{BTreeMap, HashMap};
use std::io::IsTerminal;
use std::time::{Duration, Instant};

use chrono::{DateTime, SubsecRound, Utc};
use indicatif::{ProgressBar, ProgressStyle};
use serde::Serialize;

use crate::app::App;
use crate::cli::ReprocessArgs;
use crate::config::Settings;
use crate::domain::{FeedConfig, ParsedFeed, Post, SkippedEntry};
use crate::error::{CommandError, Exit};
use crate::normalize::{self, Normalized};
use crate::outln;
use crate::store::{Claim, FeedRecord, Lease, PostFilter, StoredPost};

/// Which stored entries to look at.
#[derive(Debug, Clone, Default)]
pub struct Scope {
    /// A feed's configured name or URL.
    pub feed: Option<String>,
    /// Entries dated (else first seen) on or after this.
    pub since: Option<DateTime<Utc>>,
}

/// The differences, counted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Totals {
    /// Entries looked at.
    pub entries: usize,
    /// Published now, not before (skipped before, or never stored).
    pub new: usize,
    /// Published before and now, with another result, at the same path.
    pub changed: usize,
    /// Published before, dropped now.
    pub withdrawn: usize,
    /// Published before and now, in another collection (another path).
    pub moved: usize,
    pub unchanged: usize,
    /// Posts whose file stays as it is but whose entry hash changed (a new taxonomy that gives
    /// them no other tag): the hash is stored, nothing is exported.
    pub rehashed: usize,
    /// Skipped before and now, for another reason or with another hash (no file changes).
    pub reskipped: usize,
    /// Posts and skipped entries stored without their parsed entry (before this version):
    /// left as they are.
    pub without_entry: usize,
    /// Stored entries that could not be read back.
    pub unreadable: usize,
}

/// One rule's effect in a dry run (`rules test`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct RuleStat {
    pub name: String,
    /// Entries the rule matched.
    pub matches: usize,
    /// Of those, entries that would be published.
    pub published: usize,
    /// Entries the rule drops.
    pub dropped: usize,
    /// Entries whose tags or categories the rule changes from what is stored.
    pub retagged: usize,
    /// Stored posts the rule moves to another collection.
    pub moved: usize,
}

/// What reprocessing one feed would write.
pub struct FeedPlan {
    pub feed: FeedConfig,
    pub record: FeedRecord,
    /// New and changed posts.
    pub posts: Vec<Post>,
    /// Moved posts (already in `posts` too) with their old path.
    pub moves: Vec<(String, String)>,
    /// Posts withdrawn (their entries skipped with the reason).
    pub withdraw: Vec<SkippedEntry>,
    /// Skipped entries whose hash or reason changed.
    pub reskip: Vec<SkippedEntry>,
    /// Posts whose only change is their hash.
    pub rehash: Vec<Post>,
}

impl FeedPlan {
    fn is_empty(&self) -> bool {
        self.posts.is_empty()
            && self.withdraw.is_empty()
            && self.reskip.is_empty()
            && self.rehash.is_empty()
    }
}

/// Whether the stored post and the new one are the same file: equal but for the hash and the
/// slug (the store may have suffixed it, and keeps it).
fn same_post(stored: &Post, new: &Post) -> bool {
    let mut n = new.clone();
    n.content_hash.clone_from(&stored.content_hash);
    n.slug.clone_from(&stored.slug);
    n == *stored
}

/// The whole dry run: what it counts. The feeds' changes themselves are handed, feed by feed, to
/// the writer ([`plan`]'s `sink`), so they are never all in memory at once.
pub struct Plan {
    pub totals: Totals,
    pub rules: Vec<RuleStat>,
    /// Up to [`MAX_EXAMPLES`] titles per change (`new`, `changed`, `withdrawn`, `moved`).
    pub examples: BTreeMap<String, Vec<String>>,
}

/// Example titles kept per change.
pub const MAX_EXAMPLES: usize = 20;

/// The configured feeds of `scope`, each with its stored record (feeds never stored are left
/// out: they have nothing to reprocess). Reads only.
async fn scoped_feeds(
    app: &App,
    scope: &Scope,
) -> Result<Vec<(FeedConfig, FeedRecord)>, CommandError> {
    let feeds: Vec<&FeedConfig> = app
        .settings
        .feeds
        .iter()
        .filter(|f| {
            scope
                .feed
                .as_deref()
                .is_none_or(|want| f.name == want || f.url == want)
        })
        .collect();
    if let (Some(want), true) = (&scope.feed, feeds.is_empty()) {
        return Err(CommandError::Usage(format!(
            "--feed {want:?}: no configured feed has this name or URL (see `feedsmith feeds list`)"
        )));
    }
    let records: HashMap<String, FeedRecord> = app
        .store
        .list_feeds()
        .await?
        .into_iter()
        .map(|r| (r.url.clone(), r))
        .collect();
    Ok(feeds
        .into_iter()
        .filter_map(|f| records.get(&f.url).map(|r| (f.clone(), r.clone())))
        .collect())
}

/// The names of the rules in configuration order (each once), for the per-rule table.
fn rule_names(feeds: &[(FeedConfig, FeedRecord)]) -> Vec<String> {
    let mut names: Vec<String> = Vec::new();
    for (f, _) in feeds {
        for r in f.rules.rules() {
            if !names.contains(&r.name) {
                names.push(r.name.clone());
            }
        }
        if f.rules.keep_only() && !names.iter().any(|n| n == "keep_only") {
            names.push("keep_only".into());
        }
    }
    names
}

fn example(examples: &mut BTreeMap<String, Vec<String>>, kind: &str, title: &str) {
    let list = examples.entry(kind.to_string()).or_default();
    if list.len() < MAX_EXAMPLES {
        list.push(title.to_string());
    }
}

/// An entry normalized again, with the rules that matched it.
type Outcome = (Normalized, Vec<crate::rules::Applied>);

/// One feed's stored state and its entries normalized again.
struct Loaded {
    feed: FeedConfig,
    record: FeedRecord,
    posts: HashMap<String, StoredPost>,
    skipped: HashMap<String, SkippedEntry>,
    /// `(entry key, result and rules applied)` in stored order; `None` when the entry's hash is
    /// the stored one (not normalized again unless every entry is wanted).
    results: Vec<(String, Option<Outcome>)>,
    without_entry: usize,
    unreadable: usize,
}

/// Read one feed's posts, skipped entries and parsed entries, apply the cached articles, and
/// normalize the entries in scope on the blocking pool (the CPU work: several feeds at once).
async fn load_feed(
    app: &App,
    feed: FeedConfig,
    record: FeedRecord,
    scope: &Scope,
    now: DateTime<Utc>,
    every_entry: bool,
) -> Result<Loaded, CommandError> {
    let stored_entries = app.store.parsed_entries(record.id).await?;
    let posts: HashMap<String, StoredPost> = app
        .store
        .feed_posts(record.id)
        .await?
        .into_iter()
        .map(|p| (p.post.entry_key.clone(), p))
        .collect();
    let skipped: HashMap<String, SkippedEntry> = app
        .store
        .skipped_entries(record.id)
        .await?
        .into_iter()
        .map(|s| (s.entry_key.clone(), s))
        .collect();
    let with_entry: std::collections::HashSet<&str> = stored_entries
        .iter()
        .map(|e| e.entry_key.as_str())
        .collect();
    let without_entry = posts
        .keys()
        .chain(skipped.keys())
        .filter(|k| !with_entry.contains(k.as_str()))
        .count();
    let mut unreadable = 0;

    // Decode, keep the scope's, then apply the cached articles as a poll would.
    let mut keyed = Vec::with_capacity(stored_entries.len());
    let mut doc = ParsedFeed::default();
    for row in stored_entries {
        let decoded = match crate::store::entries::decode(&row.data) {
            Ok(d) => d,
            Err(e) => {
                tracing::warn!(feed = %feed.name, entry = %row.entry_key, "{e}; left as it is");
                unreadable += 1;
                continue;
            }
        };
        let date = decoded
            .entry
            .published
            .or(decoded.entry.updated)
            .unwrap_or(row.first_seen_at);
        if scope.since.is_some_and(|since| date < since) {
            continue;
        }
        if !posts.contains_key(&row.entry_key) && !skipped.contains_key(&row.entry_key) {
            // Parsed but stored as neither (a crash between the two writes): a poll will see
            // it again.
            continue;
        }
        doc.author = decoded.meta.author;
        doc.link = decoded.meta.link;
        keyed.push((row.entry_key, row.first_seen_at));
        doc.entries.push(decoded.entry);
    }
    let removed = if keyed.is_empty() {
        HashMap::new()
    } else {
        crate::pipeline::apply_cached_articles(app, &feed, &mut doc, now).await?
    };
    let enrich = app.settings.enrich.enrichment.clone();
    let feed_for_work = feed.clone();
    // Same hash, same result: like a poll, reprocess leaves such entries alone without
    // normalizing them (`rules test` normalizes them all, to count every rule's matches).
    let stored_hashes: HashMap<String, String> = if every_entry {
        HashMap::new()
    } else {
        posts
            .iter()
            .map(|(k, p)| (k.clone(), p.post.content_hash.clone()))
            .chain(
                skipped
                    .iter()
                    .map(|(k, s)| (k.clone(), s.content_hash.clone())),
            )
            .collect()
    };
    let results = tokio::task::spawn_blocking(move || {
        let feed = feed_for_work;
        let entries = std::mem::take(&mut doc.entries);
        keyed
            .into_iter()
            .zip(entries)
            .map(|((key, first_seen), entry)| {
                let hash = normalize::entry_hash_with(&feed, &doc, &entry, Some(&enrich));
                if !removed.contains_key(&key) && stored_hashes.get(&key) == Some(&hash) {
                    return (key, None);
                }
                let skipped = |reason: String| {
                    Normalized::Skipped(SkippedEntry {
                        entry_key: key.clone(),
                        content_hash: hash.clone(),
                        reason,
                    })
                };
                let (result, applied) = match normalize::normalize_entry_explained(
                    &feed,
                    &doc,
                    &entry,
                    first_seen,
                    Some(&enrich),
                    key.clone(),
                    hash.clone(),
                ) {
                    Ok(r) => r,
                    Err(e) => (skipped(e.to_string()), Vec::new()),
                };
                let result = match removed.get(&key) {
                    Some(reason) => skipped(reason.clone()),
                    None => result,
                };
                (key, Some((result, applied)))
            })
            .collect::<Vec<_>>()
    })
    .await
    .map_err(|e| CommandError::Runtime(format!("normalization failed: {e}")))?;
    Ok(Loaded {
        feed,
        record,
        posts,
        skipped,
        results,
        without_entry,
        unreadable,
    })
}

/// The dry run: what reprocessing `scope` would change. Writes nothing itself: with a `sink`,
/// each feed's changes are sent there as soon as that feed is planned (in the feeds' order, the
/// sender waiting while the writer is behind), else they are counted and dropped. Why: holding
/// the whole plan before writing it kept every changed post of every feed in memory (221 MiB for
/// 50 000 posts) and left the writer idle while the entries were normalized, and the CPU idle
/// while it wrote. A feed's plan reads only that feed's rows, so planning a feed while an
/// earlier one is written gives the plan a whole-run dry run gives.
///
/// The sink closed (the writer failed): planning stops, and the writer's error is the one told.
pub async fn plan(
    app: &App,
    scope: &Scope,
    bar: &ProgressBar,
    every_entry: bool,
    sink: Option<tokio::sync::mpsc::Sender<FeedPlan>>,
) -> Result<Plan, CommandError> {
    use futures_util::StreamExt;

    let feeds = scoped_feeds(app, scope).await?;
    let names = rule_names(&feeds);
    let mut stats: Vec<RuleStat> = names
        .iter()
        .map(|n| RuleStat {
            name: n.clone(),
            ..RuleStat::default()
        })
        .collect();
    let index: HashMap<String, usize> = names
        .iter()
        .enumerate()
        .map(|(i, n)| (n.clone(), i))
        .collect();
    let mut totals = Totals::default();
    let mut examples = BTreeMap::new();
    let now = Utc::now().trunc_subsecs(0);
    // A few feeds at once: one normalizes while the next is read.
    let parallel = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(2)
        .clamp(2, 8);
    // Three stages joined in one task, each waiting only for its own input: the loads (store
    // reads, then normalization on the blocking pool), the comparison below, and the sink's
    // writer. A load goes on while the comparison waits for the writer.
    let (loads, mut loaded) = tokio::sync::mpsc::channel(1);
    let loading = async move {
        let mut stream = futures_util::stream::iter(
            feeds
                .into_iter()
                .map(|(feed, record)| load_feed(app, feed, record, scope, now, every_entry)),
        )
        .buffered(parallel);
        while let Some(l) = stream.next().await {
            let failed = l.is_err();
            if loads.send(l).await.is_err() || failed {
                break;
            }
        }
    };
    let comparing = async {
        while let Some(l) = loaded.recv().await {
            let Loaded {
                feed,
                record,
                posts,
                skipped,
                results,
                without_entry,
                unreadable,
            } = l?;
            totals.without_entry += without_entry;
            totals.unreadable += unreadable;
            let mut fp = FeedPlan {
                feed,
                record,
                posts: Vec::new(),
                moves: Vec::new(),
                withdraw: Vec::new(),
                reskip: Vec::new(),
                rehash: Vec::new(),
            };
            for (key, result) in results {
                bar.inc(1);
                totals.entries += 1;
                let Some((result, applied)) = result else {
                    totals.unchanged += 1;
                    continue;
                };
                let stored_post = posts.get(&key);
                // The per-rule counts.
                for a in &applied {
                    let Some(stat) = index.get(&a.rule).map(|&i| &mut stats[i]) else {
                        continue;
                    };
                    stat.matches += 1;
                    match &result {
                        Normalized::Post(p) => {
                            stat.published += 1;
                            let retag =
                                a.action.starts_with("tag") || a.action.starts_with("category");
                            if retag
                                && stored_post.is_none_or(|s| {
                                    s.post.tags != p.tags || s.post.categories != p.categories
                                })
                            {
                                stat.retagged += 1;
                            }
                            if a.action.starts_with("route")
                                && stored_post.is_some_and(|s| s.post.collection != p.collection)
                            {
                                stat.moved += 1;
                            }
                        }
                        Normalized::Skipped(_) => {
                            if a.action == "drop" {
                                stat.dropped += 1;
                            }
                        }
                    }
                }
                if let (Normalized::Skipped(s), Some(&i)) = (&result, index.get("keep_only")) {
                    if s.reason == crate::rules::KEEP_ONLY_REASON {
                        stats[i].matches += 1;
                        stats[i].dropped += 1;
                    }
                }
                // The difference with what is stored.
                match (result, stored_post, skipped.get(&key)) {
                    (Normalized::Post(p), Some(s), _) => {
                        if s.post.content_hash == p.content_hash {
                            totals.unchanged += 1;
                        } else if same_post(&s.post, &p) {
                            totals.rehashed += 1;
                            fp.rehash.push(*p);
                        } else if s.post.collection != p.collection {
                            totals.moved += 1;
                            example(&mut examples, "moved", &p.title);
                            fp.moves.push((key.clone(), s.path.clone()));
                            fp.posts.push(*p);
                        } else {
                            totals.changed += 1;
                            example(&mut examples, "changed", &p.title);
                            fp.posts.push(*p);
                        }
                    }
                    (Normalized::Skipped(n), Some(s), _) => {
                        totals.withdrawn += 1;
                        example(
                            &mut examples,
                            "withdrawn",
                            &format!("{} ({})", s.post.title, n.reason),
                        );
                        fp.withdraw.push(n);
                    }
                    (result, None, Some(k)) if k.content_hash == content_hash(&result) => {
                        totals.unchanged += 1;
                    }
                    (Normalized::Post(p), None, _) => {
                        totals.new += 1;
                        example(&mut examples, "new", &p.title);
                        fp.posts.push(*p);
                    }
                    (Normalized::Skipped(n), None, _) => {
                        totals.reskipped += 1;
                        fp.reskip.push(n);
                    }
                }
            }
            if let (false, Some(sink)) = (fp.is_empty(), &sink) {
                if sink.send(fp).await.is_err() {
                    break;
                }
            }
        }
        Ok::<_, CommandError>(())
    };
    let ((), compared) = tokio::join!(loading, comparing);
    compared?;
    Ok(Plan {
        totals,
        rules: stats,
        examples,
    })
}

fn content_hash(n: &Normalized) -> &str {
    match n {
        Normalized::Post(p) => &p.content_hash,
        Normalized::Skipped(s) => &s.content_hash,
    }
}

/// What [`apply`] wrote.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Applied {
    pub totals: Totals,
    /// Posts written (new, changed, moved), as the store counted them.
    pub saved: crate::store::SaveReport,
    /// Feeds left alone because another replica held their lease the whole wait.
    pub busy: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exported: Option<crate::publish::ExportReport>,
}

/// How long to wait for a feed's lease held by a poll before giving up on that feed.
fn lease_wait(settings: &Settings) -> Duration {
    settings.schedule.lease.min(Duration::from_secs(120))
}

/// Take the feed's lease (the scheduler's claim), waiting while a poll holds it. `Ok(false)`:
/// still held by another after the wait. A gone feed is never polled: no lease is needed.
async fn take_lease(app: &App, record: &FeedRecord, owner: &str) -> Result<bool, CommandError> {
    let deadline = Instant::now() + lease_wait(&app.settings);
    loop {
        let lease = Lease::for_ttl(owner, app.settings.schedule.lease);
        let urls = std::slice::from_ref(&record.url);
        let claimed = app
            .store
            .claim_due(&Claim::regardless_of_due(urls, lease))
            .await?;
        if !claimed.is_empty() || record.gone {
            return Ok(true);
        }
        if Instant::now() >= deadline {
            return Ok(false);
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// Write the feeds' plans as they arrive from [`plan`], each under the feed's lease, then
/// export the changes. `totals` is left to the caller (the plan's, known at its end).
pub async fn apply(
    app: &App,
    mut plans: tokio::sync::mpsc::Receiver<FeedPlan>,
    prune: bool,
) -> Result<Applied, CommandError> {
    let owner = format!("reprocess-{}", std::process::id());
    let mut out = Applied::default();
    let mut changed_urls = Vec::new();
    while let Some(fp) = plans.recv().await {
        if !take_lease(app, &fp.record, &owner).await? {
            tracing::warn!(feed = %fp.feed.name, "another replica is polling this feed; left for the next reprocess");
            out.busy.push(fp.feed.name.clone());
            continue;
        }
        let id = fp.record.id;
        let result = write_feed(app, fp).await;
        // Released (expired now) whatever happened; a lost lease is nothing to undo.
        let _ = app.store.renew_lease(id, Lease::ended(&owner)).await;
        let (saved, urls) = result?;
        out.saved.new += saved.new;
        out.saved.updated += saved.updated;
        out.saved.duplicates += saved.duplicates;
        out.saved.skipped += saved.skipped;
        changed_urls.extend(urls);
    }
    if let Some(dir) = app.settings.publish.dir.clone() {
        let posts = if prune {
            app.store.list_posts(&PostFilter::default()).await?
        } else {
            let mut posts = Vec::with_capacity(changed_urls.len());
            for url in &changed_urls {
                if let Some(p) = app.store.find_post(url).await? {
                    posts.push(p);
                }
            }
            posts
        };
        if !posts.is_empty() || prune {
            let render = app.render.clone();
            let options = crate::publish::ExportOptions {
                force: false,
                prune,
            };
            let report = tokio::task::spawn_blocking(move || {
                crate::publish::export(&dir, &posts, &render, options)
            })
            .await
            .map_err(|e| CommandError::Runtime(e.to_string()))?
            .map_err(|e| CommandError::Runtime(e.to_string()))?;
            out.exported = Some(report);
        }
    }
    Ok(out)
}

/// One feed's plan written (its lease held): what the store counted and the canonical URLs of
/// the posts written, for the export.
async fn write_feed(
    app: &App,
    mut fp: FeedPlan,
) -> Result<(crate::store::SaveReport, Vec<String>), crate::store::StoreError> {
    let id = fp.record.id;
    if !fp.withdraw.is_empty() {
        app.store.save_entries(id, &[], &fp.withdraw, true).await?;
    }
    if !fp.moves.is_empty() {
        // Out of the old path first (the move is a new post at the new path). The marker's
        // empty hash makes a run interrupted here redo the move.
        let markers: Vec<SkippedEntry> = fp
            .moves
            .iter()
            .map(|(key, from)| SkippedEntry {
                entry_key: key.clone(),
                content_hash: String::new(),
                reason: format!("moving from {from}"),
            })
            .collect();
        app.store.save_entries(id, &[], &markers, true).await?;
    }
    if let Some(model) = &app.model {
        crate::enrich::llm::enrich_posts(
            &*app.store,
            model,
            &fp.feed,
            &mut fp.posts,
            app.settings.enrich.max_tags,
        )
        .await;
    }
    let saved = app
        .store
        .save_entries(id, &fp.posts, &fp.reskip, false)
        .await?;
    if !fp.rehash.is_empty() {
        // Only the hash changes: one statement, not a row rewrite per post.
        let hashes: Vec<(String, String)> = fp
            .rehash
            .into_iter()
            .map(|p| (p.entry_key, p.content_hash))
            .collect();
        app.store.rehash_posts(id, &hashes).await?;
    }
    Ok((
        saved,
        fp.posts.into_iter().map(|p| p.canonical_url).collect(),
    ))
}

/// A progress bar on a terminal (entries done of all), hidden otherwise.
pub fn progress_bar(len: u64, quiet: bool) -> ProgressBar {
    if quiet || !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(len);
    if let Ok(style) = ProgressStyle::with_template(
        "{spinner} [{elapsed_precise}] {bar:30} {pos}/{len} entries, ETA {eta}",
    ) {
        bar.set_style(style);
    }
    bar.enable_steady_tick(Duration::from_millis(120));
    crate::telemetry::set_progress_bar(&bar);
    bar
}

/// Stored entries in scope (the progress bar's length): a count, not a read of every row.
async fn entry_count(app: &App, scope: &Scope) -> Result<u64, CommandError> {
    let mut n = 0u64;
    for (_, record) in scoped_feeds(app, scope).await? {
        n += app.store.parsed_entries(record.id).await?.len() as u64;
    }
    Ok(n)
}

/// The scope of the command line.
pub fn scope_of(feed: &Option<String>, since: &Option<String>) -> Result<Scope, CommandError> {
    Ok(Scope {
        feed: feed.clone(),
        since: since.as_deref().map(super::parse_since).transpose()?,
    })
}

/// The one-line summary.
pub fn summary_line(t: &Totals) -> String {
    let mut s = format!(
        "{} entries: {} new, {} changed, {} withdrawn, {} moved, {} unchanged",
        t.entries, t.new, t.changed, t.withdrawn, t.moved, t.unchanged
    );
    if t.rehashed > 0 {
        s.push_str(&format!(
            ", {} with a new entry hash only (stored; their files unchanged)",
            t.rehashed
        ));
    }
    if t.without_entry > 0 {
        s.push_str(&format!(
            "; {} stored before entries were kept (left as they are)",
            t.without_entry
        ));
    }
    if t.unreadable > 0 {
        s.push_str(&format!("; {} unreadable", t.unreadable));
    }
    s
}

/// A plan built with a progress bar on a terminal: shared by `reprocess` and `rules test`
/// (`every_entry`: normalize the entries whose hash is unchanged too, for the per-rule counts).
pub async fn plan_with_progress(
    app: &App,
    scope: &Scope,
    quiet: bool,
    every_entry: bool,
) -> Result<Plan, CommandError> {
    plan_into(app, scope, quiet, every_entry, None).await
}

/// [`plan_with_progress`] handing each feed's changes to `sink` (see [`plan`]).
pub async fn plan_into(
    app: &App,
    scope: &Scope,
    quiet: bool,
    every_entry: bool,
    sink: Option<tokio::sync::mpsc::Sender<FeedPlan>>,
) -> Result<Plan, CommandError> {
    let bar = if quiet || !std::io::stderr().is_terminal() {
        ProgressBar::hidden()
    } else {
        progress_bar(entry_count(app, scope).await?, quiet)
    };
    let plan = plan(app, scope, &bar, every_entry, sink).await;
    bar.finish_and_clear();
    crate::telemetry::clear_progress_bar();
    plan
}

pub async fn run(settings: Settings, args: &ReprocessArgs) -> Result<Exit, CommandError> {
    let scope = scope_of(&args.feed, &args.since)?;
    if args.prune && (scope.feed.is_some() || scope.since.is_some()) {
        return Err(CommandError::Usage(
            "--prune exports every stored post to delete the files of withdrawn and moved ones; do not combine it with --feed or --since".into(),
        ));
    }
    super::require_existing_database(&settings)?;
    let started = Instant::now();
    let app = App::build(settings).await?;
    if args.dry_run {
        let plan = plan_with_progress(&app, &scope, args.json, false).await?;
        let totals = plan.totals;
        if args.json {
            outln!(
                "{}",
                serde_json::json!({"dry_run": true, "totals": totals, "examples": plan.examples})
            )?;
        } else {
            outln!("dry run: {} (nothing written)", summary_line(&totals))?;
            for (kind, titles) in &plan.examples {
                outln!("{kind}:")?;
                for t in titles {
                    outln!("  {t}")?;
                }
            }
        }
        app.store.close().await;
        return Ok(Exit::Ok);
    }
    // Planned and written at once: the writer takes each feed as soon as it is planned, while
    // the next feeds are read and normalized on the blocking pool. One feed's plan waits at most
    // (bounded memory); the feeds are written in the plan's order.
    let (sink, plans) = tokio::sync::mpsc::channel(1);
    let (planned, applied) = tokio::join!(
        plan_into(&app, &scope, args.json, false, Some(sink)),
        apply(&app, plans, args.prune)
    );
    // The writer's error first: when it fails, the planner only stops.
    let mut applied = applied?;
    applied.totals = planned?.totals;
    app.store.close().await;
    if args.json {
        outln!(
            "{}",
            serde_json::to_string(&applied).map_err(|e| CommandError::Runtime(e.to_string()))?
        )?;
    } else {
        outln!(
            "reprocess: {}; {:.1}s",
            summary_line(&applied.totals),
            started.elapsed().as_secs_f64()
        )?;
        if let Some(e) = &applied.exported {
            outln!("exported: {e}")?;
        }
        if !applied.busy.is_empty() {
            outln!(
                "left alone (polled by another replica the whole wait; run again): {}",
                applied.busy.join(", ")
            )?;
        }
    }
    Ok(if applied.busy.is_empty() {
        Exit::Ok
    } else {
        Exit::FeedsFailed
    })
}
