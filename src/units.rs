//! Durations and sizes as the configuration writes them (`500ms`, `20s`, `5m`, `2h`; `15MiB`),
//! read and written in one place: a leaf module, so the settings types that live with their
//! stages (`article`, `enrich`, `fetch`) can print themselves, and `--wait` can be read, without
//! importing `config`, which imports them. `config::units` adds the settings' error messages.

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

/// `500ms`, `20s`, `5m`, `2h`, `1d`, or a bare number of seconds.
pub fn parse_duration(s: &str) -> Option<Duration> {
    let s = s.trim();
    let split = s
        .find(|c: char| !c.is_ascii_digit() && c != '.')
        .unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    let n: f64 = num.parse().ok()?;
    if !n.is_finite() || n < 0.0 {
        return None;
    }
    let secs = match unit.trim() {
        "" | "s" | "sec" | "secs" => n,
        "ms" => n / 1000.0,
        "m" | "min" | "mins" => n * 60.0,
        "h" => n * 3600.0,
        "d" => n * 86400.0,
        _ => return None,
    };
    if secs > 365.0 * 86400.0 {
        return None;
    }
    Some(Duration::from_secs_f64(secs))
}

/// `15MiB`, `500KB`, `1GiB`, or a bare number of bytes.
pub fn parse_size(s: &str) -> Option<u64> {
    let s = s.trim();
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    let n: u64 = num.parse().ok()?;
    let mult: u64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "kb" => 1000,
        "kib" | "k" => 1024,
        "mb" => 1000 * 1000,
        "mib" | "m" => 1024 * 1024,
        "gb" => 1000 * 1000 * 1000,
        "gib" | "g" => 1024 * 1024 * 1024,
        _ => return None,
    };
    n.checked_mul(mult).filter(|&v| v > 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_formatted_duration_reads_back_as_itself() {
        for d in [
            Duration::from_millis(1500),
            Duration::from_secs(20),
            Duration::from_secs(300),
            Duration::from_secs(7200),
            Duration::ZERO,
        ] {
            assert_eq!(parse_duration(&format_duration(d)), Some(d), "{d:?}");
        }
    }

    #[test]
    fn sizes_take_decimal_and_binary_units_and_refuse_zero_and_overflow() {
        assert_eq!(parse_size("500KB"), Some(500_000));
        assert_eq!(parse_size("1 GiB"), Some(1 << 30));
        assert_eq!(parse_size("0"), None);
        assert_eq!(parse_size("99999999999999GiB"), None);
        assert_eq!(parse_size("5 parsecs"), None);
    }
}
