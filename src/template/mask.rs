//! Masking secrets: every occurrence of a secret value becomes `***`. The one masker through
//! which every text that leaves the engine passes (output, logs, events, the record, results,
//! plans, error messages). One Aho-Corasick automaton finds all secrets in one pass; `mask`
//! masks a whole text, `MaskStream` masks a stream of bytes in pieces, in linear time, with
//! the same result as masking it whole. It does not decide what is secret.

use std::borrow::Cow;
use std::sync::Arc;

use aho_corasick::AhoCorasick;

/// What a secret is replaced with.
const MASK: &str = "***";

/// Replaces secret values in text. Cheap to clone and shared across threads.
#[derive(Debug, Clone, Default)]
pub struct Masker {
    finder: Option<Arc<Finder>>,
}

#[derive(Debug)]
struct Finder {
    automaton: AhoCorasick,
    /// The patterns, for the held-back tail of a stream.
    patterns: Vec<String>,
    /// The length of the longest pattern, in bytes.
    longest: usize,
    /// Which bytes start a pattern.
    first: [bool; 256],
}

impl Finder {
    /// Where the tail of `held` that may be the start of a secret begins: the first index
    /// from which the rest of `held` is a proper prefix of a pattern (`held.len()` when no
    /// such tail). Looks at the last (longest - 1) bytes only.
    fn hold_from(&self, held: &[u8]) -> usize {
        let from = held.len() - self.longest.saturating_sub(1).min(held.len());
        (from..held.len())
            .find(|&start| {
                let tail = &held[start..];
                self.first[usize::from(tail[0])]
                    && self.patterns.iter().any(|pattern| {
                        pattern.len() > tail.len() && pattern.as_bytes().starts_with(tail)
                    })
            })
            .unwrap_or(held.len())
    }
}

/// The secrets cannot be searched for: too many, or too long, for one automaton.
#[derive(Debug, thiserror::Error)]
#[error("the secrets' values are too many or too long to search for: {0}")]
pub struct MaskError(String);

impl Masker {
    /// A masker for `secrets`. Empty values are skipped; a multi-line secret also masks each
    /// of its non-blank lines, because output is shown line by line.
    ///
    /// # Errors
    /// The automaton cannot be built (its states would overflow).
    pub fn new<I: IntoIterator<Item = S>, S: AsRef<str>>(secrets: I) -> Result<Self, MaskError> {
        let mut patterns: Vec<String> = Vec::new();
        for secret in secrets {
            let secret = secret.as_ref();
            if secret.is_empty() {
                continue;
            }
            if secret.contains('\n') {
                patterns.extend(
                    secret
                        .split('\n')
                        .map(|line| line.strip_suffix('\r').unwrap_or(line))
                        .filter(|line| !line.trim().is_empty())
                        .map(str::to_owned),
                );
            }
            patterns.push(secret.to_owned());
        }
        patterns.sort_unstable();
        patterns.dedup();
        if patterns.is_empty() {
            return Ok(Self::none());
        }
        let longest = patterns.iter().map(String::len).max().unwrap_or(0);
        let automaton =
            AhoCorasick::new(&patterns).map_err(|error| MaskError(error.to_string()))?;
        let mut first = [false; 256];
        for pattern in &patterns {
            if let Some(&byte) = pattern.as_bytes().first() {
                first[usize::from(byte)] = true;
            }
        }
        Ok(Self {
            finder: Some(Arc::new(Finder {
                automaton,
                patterns,
                longest,
                first,
            })),
        })
    }

    /// A masker that masks nothing.
    #[must_use]
    pub fn none() -> Self {
        Self { finder: None }
    }

    /// Whether there is nothing to mask.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.finder.is_none()
    }

    /// `text` with every occurrence of a secret replaced by `***`. Occurrences that overlap
    /// (of one secret or of several) are masked together, so no part of either shows.
    /// Borrowed when nothing matched.
    #[must_use]
    pub fn mask<'a>(&self, text: &'a str) -> Cow<'a, str> {
        let Some(finder) = &self.finder else {
            return Cow::Borrowed(text);
        };
        if finder.automaton.find(text).is_none() {
            return Cow::Borrowed(text);
        }
        let mut stream = MaskStream::new(self);
        let mut masked = Vec::with_capacity(text.len());
        stream.held.extend_from_slice(text.as_bytes());
        stream.finish(&mut masked);
        // Whole secrets (valid UTF-8) were replaced by ASCII: still valid UTF-8.
        Cow::Owned(
            String::from_utf8(masked)
                .unwrap_or_else(|error| String::from_utf8_lossy(error.as_bytes()).into_owned()),
        )
    }

    /// What is searched for: each secret, and each line of a multi-line one.
    #[must_use]
    pub fn patterns(&self) -> &[String] {
        self.finder.as_ref().map_or(&[], |finder| &finder.patterns)
    }

    /// A stream masker for one stream of output.
    #[must_use]
    pub fn stream(&self) -> MaskStream {
        MaskStream::new(self)
    }
}

/// Masks one stream of bytes given in pieces of any size, with the result of masking it
/// whole. It holds back the end of what it was given only when that end may be the start of
/// a secret (at most longest secret - 1 bytes), and searches each byte once more at most
/// when it was held back: linear in the stream's length, never a rescan of a line.
#[derive(Debug)]
pub struct MaskStream {
    finder: Option<Arc<Finder>>,
    /// Bytes not yet searched past: the stream from `base` on.
    held: Vec<u8>,
    /// The stream position of `held[0]`.
    base: u64,
    /// How far the stream was written out (as text, or as part of a mask).
    written: u64,
    /// The end of the last mask written: a match that starts before it joins that mask.
    masked_to: u64,
    /// Bytes searched, for tests that count the work.
    scanned: u64,
}

impl MaskStream {
    fn new(masker: &Masker) -> Self {
        Self {
            finder: masker.finder.clone(),
            held: Vec::new(),
            base: 0,
            written: 0,
            masked_to: 0,
            scanned: 0,
        }
    }

    /// Masks the next piece of the stream and appends what can be written now to `out`.
    pub fn push(&mut self, bytes: &[u8], out: &mut Vec<u8>) {
        let Some(finder) = self.finder.clone() else {
            out.extend_from_slice(bytes);
            return;
        };
        self.held.extend_from_slice(bytes);
        // Every match that starts before `cut` ends within what is held (what follows `cut`
        // may still become a secret): all of them are found now.
        let cut = finder.hold_from(&self.held);
        self.advance(&finder, cut, out);
    }

    /// Masks and writes out what is still held: the stream has ended.
    pub fn finish(&mut self, out: &mut Vec<u8>) {
        let Some(finder) = self.finder.clone() else {
            return;
        };
        let cut = self.held.len();
        self.advance(&finder, cut, out);
    }

    /// How many bytes were searched so far.
    #[must_use]
    pub fn scanned(&self) -> u64 {
        self.scanned
    }

    /// Handles the matches that start before `cut` (an index into `held`), writes out the
    /// text before `cut` that no mask covers, and drops what was searched past.
    fn advance(&mut self, finder: &Finder, cut: usize, out: &mut Vec<u8>) {
        let base = self.base;
        let at = |index: usize| base + index as u64;
        let index = |position: u64| usize::try_from(position - base).unwrap_or(usize::MAX);
        self.scanned += self.held.len() as u64;
        let mut found: Vec<(usize, usize)> = finder
            .automaton
            .find_overlapping_iter(&self.held[..])
            .map(|found| (found.start(), found.end()))
            .filter(|&(start, _)| start < cut)
            .collect();
        found.sort_unstable();
        for (start, end) in found {
            if at(start) < self.masked_to {
                // Overlaps the last mask: it grows.
                self.masked_to = self.masked_to.max(at(end));
                self.written = self.written.max(self.masked_to);
                continue;
            }
            if self.written < at(start) {
                out.extend_from_slice(&self.held[index(self.written)..start]);
            }
            out.extend_from_slice(MASK.as_bytes());
            self.masked_to = at(end);
            self.written = at(end);
        }
        if self.written < at(cut) {
            out.extend_from_slice(&self.held[index(self.written)..cut]);
            self.written = at(cut);
        }
        self.held.drain(..cut);
        self.base = at(cut);
    }
}
#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_occurrence_is_masked() {
        let masker = Masker::new(["hunter2", "s3cr3t"]).expect("a masker");
        assert_eq!(
            masker.mask("pw=hunter2 again hunter2, s3cr3t!"),
            "pw=*** again ***, ***!"
        );
    }

    #[test]
    fn overlapping_secrets_are_masked_together() {
        let masker = Masker::new(["abcd", "cdef", "bc"]).expect("a masker");
        assert_eq!(masker.mask("xabcdefy"), "x***y");
        // A secret inside a longer one: the longer one wins.
        assert_eq!(masker.mask("abcd bc"), "*** ***");
        // Adjacent occurrences stay two masks.
        assert_eq!(masker.mask("abcdcdef"), "******");
        assert_eq!(masker.mask("bcbc"), "******");
    }

    #[test]
    fn multi_line_secrets_mask_each_line() {
        let key = "-----BEGIN KEY-----\r\nAAAA\n\nBBBB\n-----END KEY-----";
        let masker = Masker::new([key]).expect("a masker");
        assert_eq!(masker.mask("line: AAAA"), "line: ***");
        assert_eq!(masker.mask("-----END KEY-----"), "***");
        assert_eq!(masker.mask(key), "***");
        // The blank line of the secret masks nothing.
        assert_eq!(masker.mask("a  b"), "a  b");
    }

    #[test]
    fn no_match_borrows_and_empty_secrets_are_skipped() {
        let masker = Masker::new(["", "secret"]).expect("a masker");
        assert!(matches!(masker.mask("nothing here"), Cow::Borrowed(_)));
        assert!(matches!(masker.mask("a secret"), Cow::Owned(_)));
        let empty = Masker::new([""]).expect("a masker");
        assert!(empty.is_empty());
        assert!(matches!(empty.mask("anything"), Cow::Borrowed(_)));
        assert!(Masker::none().is_empty());
        assert!(!masker.is_empty());
    }

    #[test]
    fn maskers_are_shared_across_threads() {
        fn shared<T: Send + Sync + Clone>() {}
        shared::<Masker>();
        let masker = Masker::new(["x"]).expect("a masker");
        let clone = masker.clone();
        let handle = std::thread::spawn(move || clone.mask("axb").into_owned());
        assert_eq!(handle.join().expect("the thread ran"), "a***b");
    }

    /// Masks `text` given to a stream in pieces cut at `cuts`.
    fn streamed(masker: &Masker, text: &str, cuts: &[usize]) -> String {
        let mut stream = masker.stream();
        let mut out = Vec::new();
        let mut from = 0;
        for &cut in cuts {
            stream.push(&text.as_bytes()[from..cut], &mut out);
            from = cut;
        }
        stream.push(&text.as_bytes()[from..], &mut out);
        stream.finish(&mut out);
        String::from_utf8(out).expect("UTF-8")
    }

    #[test]
    fn a_stream_cut_anywhere_is_masked_as_a_whole() {
        let masker = Masker::new(["abcd", "cdef", "bc", "supersecret"]).expect("a masker");
        let texts = [
            "xabcdefy",
            "abcd bc abcdcdef bcbc",
            "no secret at all here",
            "..supersecret..supersecretsupersecret",
            "supersupersecret abcabcd",
        ];
        for text in texts {
            let whole = masker.mask(text).into_owned();
            for first in 0..=text.len() {
                for second in first..=text.len() {
                    assert_eq!(
                        streamed(&masker, text, &[first, second]),
                        whole,
                        "{text:?} cut at {first} and {second}"
                    );
                }
            }
            let bytes: Vec<usize> = (1..text.len()).collect();
            assert_eq!(
                streamed(&masker, text, &bytes),
                whole,
                "{text:?} byte by byte"
            );
        }
    }

    #[test]
    fn a_stream_holds_back_only_what_may_start_a_secret() {
        let masker = Masker::new(["supersecret"]).expect("a masker");
        let mut stream = masker.stream();
        let mut out = Vec::new();
        stream.push(b"hello\n", &mut out);
        assert_eq!(out, b"hello\n");
        stream.push(b"then super", &mut out);
        assert_eq!(out, b"hello\nthen ");
        stream.push(b"secret!", &mut out);
        assert_eq!(out, b"hello\nthen ***!");
    }

    #[test]
    fn a_stream_searches_each_byte_a_bounded_number_of_times() {
        // A long line without line breaks, in pieces: the work grows with the stream, not
        // with the square of the line's length.
        let masker = Masker::new(["needle-that-is-long"]).expect("a masker");
        let mut stream = masker.stream();
        let mut out = Vec::new();
        let piece = vec![b'x'; 4096];
        let pieces = 1000u64;
        for _ in 0..pieces {
            stream.push(&piece, &mut out);
        }
        stream.finish(&mut out);
        assert_eq!(out.len() as u64, pieces * 4096);
        assert!(
            stream.scanned() <= pieces * (4096 + 18),
            "{} bytes searched for {} bytes",
            stream.scanned(),
            pieces * 4096
        );
    }

    #[test]
    fn many_secrets_are_found_by_one_automaton() {
        // Built one way only: an automaton, whatever the number of secrets.
        let many: Vec<String> = (0..20_000).map(|i| format!("secret-{i:05}")).collect();
        let masker = Masker::new(&many).expect("a masker");
        assert_eq!(masker.mask("a secret-01234 b"), "a *** b");
    }
}
