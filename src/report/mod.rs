//! Reporting: turns the events of a run into what people and tools see. Progress bars or
//! plain lines on stderr, task output on stdout (prefixed, grouped or quiet), JSON lines for
//! `--events`, and the final summary. Reads events only.

mod bars;
mod json;
mod plain;
mod reporter;
mod summary;

pub use reporter::{OutputMode, ProgressMode, Reporter};

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
