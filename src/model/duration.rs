//! `Duration`: the workflow format's time spans (`1h30m`, `45s`, `250ms`); parsing and display.
//! It knows nothing of YAML or locations; callers attach those to a `DurationError`.

use std::fmt;
use std::str::FromStr;

/// A non-negative time span written as integer/unit pairs without spaces:
/// `250ms`, `45s`, `10m`, `1h30m`, `2d`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Duration(std::time::Duration);

/// Why a duration string was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum DurationError {
    #[error("empty duration")]
    Empty,
    #[error("expected a number at `{0}`")]
    ExpectedNumber(String),
    #[error("missing unit after `{0}`")]
    MissingUnit(String),
    #[error("unknown unit `{0}`")]
    UnknownUnit(String),
    #[error("duration is too large")]
    Overflow,
}

impl Duration {
    /// The accepted units, longest first so that `ms` wins over `m`.
    const UNITS: [(&'static str, u64); 5] = [
        ("ms", 1),
        ("d", 86_400_000),
        ("h", 3_600_000),
        ("m", 60_000),
        ("s", 1000),
    ];

    /// A whole number of seconds.
    #[must_use]
    pub const fn from_secs(seconds: u64) -> Self {
        Self(std::time::Duration::from_secs(seconds))
    }

    /// Wraps a std duration.
    #[must_use]
    pub fn new(inner: std::time::Duration) -> Self {
        Self(inner)
    }

    /// The std duration this stands for.
    #[must_use]
    pub fn get(self) -> std::time::Duration {
        self.0
    }

    fn parse_str(text: &str) -> Result<Self, DurationError> {
        if text.is_empty() {
            return Err(DurationError::Empty);
        }
        let mut rest = text;
        let mut millis: u64 = 0;
        while !rest.is_empty() {
            let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
            if digits == 0 {
                return Err(DurationError::ExpectedNumber(rest.to_owned()));
            }
            let number: u64 = rest[..digits]
                .parse()
                .map_err(|_| DurationError::Overflow)?;
            rest = &rest[digits..];
            let letters = rest.bytes().take_while(u8::is_ascii_alphabetic).count();
            if letters == 0 {
                return Err(DurationError::MissingUnit(
                    text[..text.len() - rest.len()].to_owned(),
                ));
            }
            let unit = &rest[..letters];
            let scale = Self::UNITS
                .iter()
                .find(|(name, _)| *name == unit)
                .map(|(_, scale)| *scale)
                .ok_or_else(|| DurationError::UnknownUnit(unit.to_owned()))?;
            millis = number
                .checked_mul(scale)
                .and_then(|part| millis.checked_add(part))
                .ok_or(DurationError::Overflow)?;
            rest = &rest[letters..];
        }
        Ok(Self(std::time::Duration::from_millis(millis)))
    }
}

impl FromStr for Duration {
    type Err = DurationError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Self::parse_str(text)
    }
}

impl fmt::Display for Duration {
    /// Writes the canonical form: `1h30m`, `45s`, `250ms`, `0s`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut millis = u64::try_from(self.0.as_millis()).unwrap_or(u64::MAX);
        if millis == 0 {
            return f.write_str("0s");
        }
        for (unit, scale) in [
            ("d", 86_400_000),
            ("h", 3_600_000),
            ("m", 60_000),
            ("s", 1000),
            ("ms", 1),
        ] {
            if millis >= scale {
                write!(f, "{}{unit}", millis / scale)?;
                millis %= scale;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_documented_forms() {
        let cases = [
            ("250ms", 250),
            ("45s", 45_000),
            ("10m", 600_000),
            ("1h30m", 5_400_000),
            ("2d", 172_800_000),
            ("1m30s500ms", 90_500),
            ("0s", 0),
        ];
        for (text, millis) in cases {
            let parsed: Duration = text.parse().expect(text);
            assert_eq!(parsed.get().as_millis(), millis, "{text}");
        }
    }

    #[test]
    fn refuses_what_is_not_a_duration() {
        let cases = [
            ("", DurationError::Empty),
            ("5 minutes", DurationError::MissingUnit("5".into())),
            ("5minutes", DurationError::UnknownUnit("minutes".into())),
            ("5", DurationError::MissingUnit("5".into())),
            ("m5", DurationError::ExpectedNumber("m5".into())),
            ("1h 30m", DurationError::ExpectedNumber(" 30m".into())),
            ("-5s", DurationError::ExpectedNumber("-5s".into())),
            ("5sec", DurationError::UnknownUnit("sec".into())),
            ("99999999999999999999d", DurationError::Overflow),
            ("999999999999999d", DurationError::Overflow),
        ];
        for (text, expected) in cases {
            assert_eq!(text.parse::<Duration>(), Err(expected), "{text}");
        }
    }

    #[test]
    fn displays_canonically() {
        for (text, shown) in [
            ("90m", "1h30m"),
            ("1500ms", "1s500ms"),
            ("0ms", "0s"),
            ("1d", "1d"),
        ] {
            assert_eq!(text.parse::<Duration>().expect(text).to_string(), shown);
        }
    }
}
