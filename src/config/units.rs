//! Durations and sizes as settings: [`crate::units`]'s grammar, with the message that names the
//! key and shows what it expects. The grammar itself lives in the leaf module so stages and the
//! command line read units without importing the configuration.

use std::time::Duration;

pub use crate::units::{parse_duration, parse_size};

use super::SettingError;

/// `[section].key = value` read as a duration, or the error that names the key.
pub(super) fn duration_setting(
    section: &str,
    key: &str,
    value: &str,
) -> Result<Duration, SettingError> {
    parse_duration(value).ok_or_else(|| {
        SettingError::new(
            format!("[{section}].{key}"),
            format!("[{section}].{key} = {value:?}: expected a duration such as \"500ms\", \"20s\", \"5m\", \"2h\" or \"1d\""),
        )
    })
}

/// [`duration_setting`] that must be more than zero (`example` is shown in the message).
pub(super) fn positive_duration(
    section: &str,
    key: &str,
    value: &str,
    example: &str,
) -> Result<Duration, SettingError> {
    let d = duration_setting(section, key, value)?;
    if d.is_zero() {
        return Err(SettingError::new(
            format!("[{section}].{key}"),
            format!("[{section}].{key} = {value:?}: expected more than 0s, e.g. \"{example}\""),
        ));
    }
    Ok(d)
}

/// `[section].key = value` read as a size in bytes; `examples` is the message's "such as" part.
pub(super) fn size_setting(
    section: &str,
    key: &str,
    value: &str,
    examples: &str,
) -> Result<u64, SettingError> {
    parse_size(value).ok_or_else(|| {
        SettingError::new(
            format!("[{section}].{key}"),
            format!("[{section}].{key} = {value:?}: expected a size such as {examples}"),
        )
    })
}
