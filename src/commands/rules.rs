//! `feedsmith rules test [--feed] [--since] [--json]`: the current rules tried on everything
//! stored, posts and skipped entries alike. It is `reprocess --dry-run`'s plan
//! ([`super::reprocess::plan`]) printed per rule, so what it says is what `reprocess` does.

use serde::Serialize;

use super::reprocess::{plan_with_progress, scope_of, summary_line, RuleStat, Totals};
use crate::app::App;
use crate::cli::RulesTestArgs;
use crate::config::Settings;
use crate::error::{CommandError, Exit};
use crate::outln;

#[derive(Serialize)]
struct Report<'a> {
    rules: &'a [RuleStat],
    examples: &'a std::collections::BTreeMap<String, Vec<String>>,
    summary: Totals,
}

pub async fn test(settings: Settings, args: &RulesTestArgs) -> Result<Exit, CommandError> {
    let scope = scope_of(&args.feed, &args.since)?;
    super::require_existing_database(&settings)?;
    let app = App::build(settings).await?;
    let plan = plan_with_progress(&app, &scope, args.json, true).await?;
    app.store.close().await;
    if args.json {
        let report = Report {
            rules: &plan.rules,
            examples: &plan.examples,
            summary: plan.totals,
        };
        outln!(
            "{}",
            serde_json::to_string(&report).map_err(|e| CommandError::Runtime(e.to_string()))?
        )?;
        return Ok(Exit::Ok);
    }
    if plan.rules.is_empty() {
        outln!("no rules configured ([[rules]] or [[feeds.rules]]); see docs/rules.md")?;
    } else {
        let width = plan
            .rules
            .iter()
            .map(|r| r.name.chars().count())
            .max()
            .unwrap_or(4)
            .max(4);
        outln!(
            "{:<width$}  {:>7}  {:>9}  {:>7}  {:>8}  {:>5}",
            "rule",
            "matches",
            "published",
            "dropped",
            "retagged",
            "moved"
        )?;
        for r in &plan.rules {
            outln!(
                "{:<width$}  {:>7}  {:>9}  {:>7}  {:>8}  {:>5}",
                r.name,
                r.matches,
                r.published,
                r.dropped,
                r.retagged,
                r.moved
            )?;
        }
    }
    for (kind, titles) in &plan.examples {
        outln!("\n{kind} (up to {}):", super::reprocess::MAX_EXAMPLES)?;
        for t in titles {
            outln!("  {t}")?;
        }
    }
    outln!(
        "\nreprocess would change: {} (nothing written)",
        summary_line(&plan.totals)
    )?;
    Ok(Exit::Ok)
}
