//! `Memory`: the workflow format's amounts of memory (`512M`, `2G`); parsing and display.

use std::fmt;
use std::str::FromStr;

/// An amount of memory in bytes, written as a whole number and a binary unit: `512K`,
/// `512M`, `2G`, `1T` (powers of 1024, as Slurm and most schedulers read them).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Memory(u64);

/// Why a memory amount was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum MemoryError {
    #[error("empty amount")]
    Empty,
    #[error("expected a whole number at `{0}`")]
    ExpectedNumber(String),
    #[error("missing unit after `{0}` (K, M, G or T)")]
    MissingUnit(String),
    #[error("unknown unit `{0}` (K, M, G or T)")]
    UnknownUnit(String),
    #[error("amount is too large")]
    Overflow,
}

impl Memory {
    const UNITS: [(char, u32); 4] = [('K', 10), ('M', 20), ('G', 30), ('T', 40)];

    /// The amount in bytes.
    #[must_use]
    pub fn bytes(self) -> u64 {
        self.0
    }

    /// The amount in mebibytes, rounded up: what `sbatch --mem` takes.
    #[must_use]
    pub fn mebibytes(self) -> u64 {
        self.0.div_ceil(1 << 20)
    }
}

impl FromStr for Memory {
    type Err = MemoryError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        if text.is_empty() {
            return Err(MemoryError::Empty);
        }
        let digits = text.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return Err(MemoryError::ExpectedNumber(text.to_owned()));
        }
        let number: u64 = text[..digits].parse().map_err(|_| MemoryError::Overflow)?;
        let unit = &text[digits..];
        // `2G`, `2g`, `2GB`, `2GiB` all mean 2 × 1024³ bytes.
        let letter = unit.chars().next().map(|c| c.to_ascii_uppercase());
        let rest = unit.get(1..).unwrap_or("");
        let shift = match letter {
            None => return Err(MemoryError::MissingUnit(text.to_owned())),
            Some(letter) => Self::UNITS
                .iter()
                .find(|(name, _)| *name == letter)
                .filter(|_| matches!(rest, "" | "B" | "b" | "iB" | "ib"))
                .map(|(_, shift)| *shift)
                .ok_or_else(|| MemoryError::UnknownUnit(unit.to_owned()))?,
        };
        number
            .checked_mul(1 << shift)
            .map(Self)
            .ok_or(MemoryError::Overflow)
    }
}

impl fmt::Display for Memory {
    /// The largest unit that shows the amount exactly: `2G`, `1536M`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (unit, shift) in Self::UNITS.iter().rev() {
            let scale = 1u64 << shift;
            if self.0 >= scale && self.0 % scale == 0 {
                return write!(f, "{}{unit}", self.0 / scale);
            }
        }
        write!(f, "{}B", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_binary_units() {
        for (text, bytes) in [
            ("512K", 512 << 10),
            ("512M", 512 << 20),
            ("2G", 2 << 30),
            ("2g", 2 << 30),
            ("2GB", 2 << 30),
            ("2GiB", 2 << 30),
            ("1T", 1 << 40),
        ] {
            assert_eq!(
                text.parse::<Memory>().map(Memory::bytes),
                Ok(bytes),
                "{text}"
            );
        }
    }

    #[test]
    fn refuses_what_is_not_an_amount() {
        for (text, error) in [
            ("", MemoryError::Empty),
            ("G", MemoryError::ExpectedNumber("G".into())),
            ("512", MemoryError::MissingUnit("512".into())),
            ("1.5G", MemoryError::UnknownUnit(".5G".into())),
            ("2 G", MemoryError::UnknownUnit(" G".into())),
            ("2Q", MemoryError::UnknownUnit("Q".into())),
            ("2Gigs", MemoryError::UnknownUnit("Gigs".into())),
            ("99999999999T", MemoryError::Overflow),
        ] {
            assert_eq!(text.parse::<Memory>(), Err(error), "{text}");
        }
    }

    #[test]
    fn displays_exactly_and_rounds_up_to_mebibytes() {
        let memory: Memory = "1536M".parse().expect("valid");
        assert_eq!(memory.to_string(), "1536M");
        assert_eq!("2G".parse::<Memory>().expect("valid").to_string(), "2G");
        assert_eq!("512K".parse::<Memory>().expect("valid").mebibytes(), 1);
        assert_eq!(memory.mebibytes(), 1536);
    }
}
