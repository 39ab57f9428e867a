//! Durations as the configuration writes them (`500ms`, `20s`, `5m`, `2h`): a leaf module, so
//! the settings types that live with their stages (`article`, `enrich`, `fetch`) can print
//! themselves without importing `config`, which imports them.

use std::time::Duration;

/// `500ms`, `20s`, `5m`, `2h`: the largest unit that shows `d` exactly.
pub fn format_duration(d: Duration) -> String {
    let ms = d.as_millis();
    if ms % 1000 != 0 {
        format!("{ms}ms")
    } else {
        let s = d.as_secs();
        if s % 3600 == 0 && s > 0 {
            format!("{}h", s / 3600)
        } else if s % 60 == 0 && s > 0 {
            format!("{}m", s / 60)
        } else {
            format!("{s}s")
        }
    }
}

/// serde `serialize_with` for a [`Duration`] field, in [`format_duration`]'s form.
pub(crate) fn ser_duration<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&format_duration(*d))
}
