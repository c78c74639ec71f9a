//! Run ids and calendar dates: `20261125-153012-123-4242`, which sorts by time, and the UTC
//! dates `engine runs` and `engine status` show. Pure arithmetic on the clock; no I/O.

use std::time::{SystemTime, UNIX_EPOCH};

/// A run id that sorts by time: `20261125-153012-123-4242` (UTC date, time, milliseconds, pid).
pub(crate) fn run_id() -> String {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    let secs = now.as_secs();
    let (year, month, day) = civil_date(i64::try_from(secs / 86_400).unwrap_or(0));
    let rest = secs % 86_400;
    format!(
        "{year:04}{month:02}{day:02}-{:02}{:02}{:02}-{:03}-{}",
        rest / 3600,
        (rest / 60) % 60,
        rest % 60,
        now.subsec_millis(),
        std::process::id()
    )
}

/// The proleptic Gregorian date of a day count since 1970-01-01 (Howard Hinnant's algorithm).
pub(crate) fn civil_date(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = u32::try_from(doy - (153 * mp + 2) / 5 + 1).unwrap_or(1);
    let month = u32::try_from(if mp < 10 { mp + 3 } else { mp - 9 }).unwrap_or(1);
    (yoe + era * 400 + i64::from(month <= 2), month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn civil_dates() {
        assert_eq!(civil_date(0), (1970, 1, 1));
        assert_eq!(civil_date(20_417), (2025, 11, 25));
        assert_eq!(civil_date(11_016), (2000, 2, 29));
    }

    #[test]
    fn a_run_id_is_digits_and_dashes_ending_in_the_pid() {
        let id = run_id();
        assert!(id.bytes().all(|b| b.is_ascii_digit() || b == b'-'), "{id}");
        assert!(id.ends_with(&format!("-{}", std::process::id())), "{id}");
        assert_eq!(id.split('-').count(), 4, "{id}");
    }
}
