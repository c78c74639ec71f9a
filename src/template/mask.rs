//! Masking secrets in task output: every occurrence of a secret value becomes `***`. One
//! Aho-Corasick automaton finds all secrets in one pass over each line. It does not decide
//! what is secret.

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
enum Finder {
    Automaton(AhoCorasick),
    /// Only when the automaton cannot be built (an enormous set of secrets): one search per
    /// secret, same result.
    Patterns(Vec<String>),
}

impl Masker {
    /// A masker for `secrets`. Empty values are skipped; a multi-line secret also masks each
    /// of its non-blank lines, because output is masked line by line.
    pub fn new<I: IntoIterator<Item = S>, S: AsRef<str>>(secrets: I) -> Self {
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
            return Self::none();
        }
        let finder = match AhoCorasick::new(&patterns) {
            Ok(automaton) => Finder::Automaton(automaton),
            Err(_) => Finder::Patterns(patterns),
        };
        Self {
            finder: Some(Arc::new(finder)),
        }
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
        let mut found: Vec<(usize, usize)> = match &**finder {
            Finder::Automaton(automaton) => automaton
                .find_overlapping_iter(text)
                .map(|found| (found.start(), found.end()))
                .collect(),
            Finder::Patterns(patterns) => patterns
                .iter()
                .flat_map(|pattern| {
                    text.match_indices(pattern.as_str())
                        .map(|(start, matched)| (start, start + matched.len()))
                })
                .collect(),
        };
        if found.is_empty() {
            return Cow::Borrowed(text);
        }
        found.sort_unstable();
        let mut masked = String::with_capacity(text.len());
        let mut written = 0;
        let mut current: Option<(usize, usize)> = None;
        for (start, end) in found {
            match &mut current {
                Some((_, current_end)) if start < *current_end => {
                    *current_end = (*current_end).max(end);
                }
                _ => {
                    if let Some((from, to)) = current.replace((start, end)) {
                        masked.push_str(&text[written..from]);
                        masked.push_str(MASK);
                        written = to;
                    }
                }
            }
        }
        if let Some((from, to)) = current {
            masked.push_str(&text[written..from]);
            masked.push_str(MASK);
            written = to;
        }
        masked.push_str(&text[written..]);
        Cow::Owned(masked)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_occurrence_is_masked() {
        let masker = Masker::new(["hunter2", "s3cr3t"]);
        assert_eq!(
            masker.mask("pw=hunter2 again hunter2, s3cr3t!"),
            "pw=*** again ***, ***!"
        );
    }

    #[test]
    fn overlapping_secrets_are_masked_together() {
        let masker = Masker::new(["abcd", "cdef", "bc"]);
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
        let masker = Masker::new([key]);
        assert_eq!(masker.mask("line: AAAA"), "line: ***");
        assert_eq!(masker.mask("-----END KEY-----"), "***");
        assert_eq!(masker.mask(key), "***");
        // The blank line of the secret masks nothing.
        assert_eq!(masker.mask("a  b"), "a  b");
    }

    #[test]
    fn no_match_borrows_and_empty_secrets_are_skipped() {
        let masker = Masker::new(["", "secret"]);
        assert!(matches!(masker.mask("nothing here"), Cow::Borrowed(_)));
        assert!(matches!(masker.mask("a secret"), Cow::Owned(_)));
        let empty = Masker::new([""]);
        assert!(empty.is_empty());
        assert!(matches!(empty.mask("anything"), Cow::Borrowed(_)));
        assert!(Masker::none().is_empty());
        assert!(!masker.is_empty());
    }

    #[test]
    fn maskers_are_shared_across_threads() {
        fn shared<T: Send + Sync + Clone>() {}
        shared::<Masker>();
        let masker = Masker::new(["x"]);
        let clone = masker.clone();
        let handle = std::thread::spawn(move || clone.mask("axb").into_owned());
        assert_eq!(handle.join().expect("the thread ran"), "a***b");
    }
}
