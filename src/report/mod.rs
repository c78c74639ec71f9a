//! Reporting: turns the events of a run into what people and tools see. Progress bars or
//! plain lines on stderr, task output on stdout (prefixed, grouped or quiet), JSON lines for
//! `--events`, and the final summary. Reads events only.

mod bars;
mod frame;
mod json;
mod plain;
mod reporter;
mod summary;

pub use reporter::{OutputMode, ProgressMode, Reporter};
pub use summary::summary_line;

use std::time::Duration;

/// A duration for people: `850ms`, `2.0s`, `1m05s`, `1h02m`.
#[must_use]
pub fn format_duration(duration: Duration) -> String {
    let millis = duration.as_millis();
    if millis < 1000 {
        format!("{millis}ms")
    } else if millis < 60_000 {
        format!("{:.1}s", duration.as_secs_f64())
    } else if millis < 3_600_000 {
        format!("{}m{:02}s", millis / 60_000, (millis / 1000) % 60)
    } else {
        format!("{}h{:02}m", millis / 3_600_000, (millis / 60_000) % 60)
    }
}

/// Paths named in full in the line about set-aside outputs; the rest are counted.
const PATHS_SHOWN: usize = 5;

/// The one line about what a failed attempt of task `name` left: what was moved where, and
/// what stays in place and why.
#[must_use]
pub(crate) fn set_aside_line(
    name: &str,
    attempt: u32,
    to: &std::path::Path,
    moved: &[String],
    left: &[(String, String)],
) -> String {
    let list = |items: Vec<String>| {
        let more = items.len().saturating_sub(PATHS_SHOWN);
        let mut text: Vec<String> = items.into_iter().take(PATHS_SHOWN).collect();
        if more > 0 {
            text.push(format!("and {more} more"));
        }
        text.join(", ")
    };
    let plural = |n: usize| if n == 1 { "path" } else { "paths" };
    let mut parts = Vec::new();
    if !moved.is_empty() {
        parts.push(format!(
            "moved {} {} it created or changed to `{}`: {}",
            moved.len(),
            plural(moved.len()),
            to.display(),
            list(moved.iter().map(|path| format!("`{path}`")).collect())
        ));
    }
    if !left.is_empty() {
        parts.push(format!(
            "left {} changed {} in place: {}",
            left.len(),
            plural(left.len()),
            list(
                left.iter()
                    .map(|(path, why)| format!("`{path}` ({why})"))
                    .collect()
            )
        ));
    }
    format!("aside {name} (attempt {attempt}): {}", parts.join("; "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_well() {
        assert_eq!(format_duration(Duration::from_millis(850)), "850ms");
        assert_eq!(format_duration(Duration::from_millis(2049)), "2.0s");
        assert_eq!(format_duration(Duration::from_secs(65)), "1m05s");
        assert_eq!(format_duration(Duration::from_secs(3720)), "1h02m");
    }
}
