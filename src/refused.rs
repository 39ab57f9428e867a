//! `feedsmith_refused_total{reason}`: unsafe input refused anywhere (an internal address in
//! the network guard, a non-http link in the renderer). A leaf module so both can count
//! without an import between them.

use std::collections::BTreeMap;
use std::sync::Mutex;

/// Refusals since start, by reason, for `feedsmith_refused_total{reason}`. Process-wide because
/// refusals happen in every client (feeds, articles, `inspect`) and the count is about the
/// process, not about one of them.
static REFUSED: Mutex<BTreeMap<&'static str, u64>> = Mutex::new(BTreeMap::new());

/// Count one refusal.
pub fn count(reason: &'static str) {
    let mut map = match REFUSED.lock() {
        Ok(g) => g,
        Err(poisoned) => poisoned.into_inner(),
    };
    *map.entry(reason).or_insert(0) += 1;
}

/// Prometheus text for `feedsmith_refused_total`.
pub fn render_metrics() -> String {
    let map = match REFUSED.lock() {
        Ok(g) => g.clone(),
        Err(poisoned) => poisoned.into_inner().clone(),
    };
    let mut s = String::from(
        "# HELP feedsmith_refused_total Requests and links refused as unsafe (internal address, non-http link), by reason.\n\
         # TYPE feedsmith_refused_total counter\n",
    );
    for (reason, n) in map {
        s.push_str(&format!(
            "feedsmith_refused_total{{reason=\"{}\"}} {n}\n",
            reason.replace(' ', "_")
        ));
    }
    s
}

#[cfg(test)]
mod tests {
    #[test]
    fn refusals_are_rendered_by_reason() {
        super::count("test_reason");
        super::count("test_reason");
        let text = super::render_metrics();
        assert!(text.contains("# TYPE feedsmith_refused_total counter"));
        assert!(
            text.contains("feedsmith_refused_total{reason=\"test_reason\"} 2"),
            "{text}"
        );
    }
}
