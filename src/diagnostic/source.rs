//! `Source`: a workflow file's name and text, and the mapping between byte offsets and
//! line/column positions that diagnostics need.

use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

/// The text of one workflow file.
#[derive(Debug)]
pub struct Source {
    path: PathBuf,
    name: String,
    text: Arc<str>,
    line_starts: OnceLock<Vec<usize>>,
}

impl Source {
    /// A source read from `path` (shown to users as `name`).
    #[must_use]
    pub fn new(path: PathBuf, name: String, text: impl Into<Arc<str>>) -> Self {
        Self {
            path,
            name,
            text: text.into(),
            line_starts: OnceLock::new(),
        }
    }

    /// The path the text was read from.
    #[must_use]
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The name shown in messages: the path as the user gave it.
    #[must_use]
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The whole text.
    #[must_use]
    pub fn text(&self) -> &str {
        &self.text
    }

    /// A shared handle on the text, for rendering.
    #[must_use]
    pub fn shared_text(&self) -> Arc<str> {
        Arc::clone(&self.text)
    }

    fn line_starts(&self) -> &[usize] {
        self.line_starts.get_or_init(|| {
            std::iter::once(0)
                .chain(self.text.match_indices('\n').map(|(at, _)| at + 1))
                .collect()
        })
    }

    /// The 1-based line and character column of a byte offset.
    #[must_use]
    pub fn position(&self, offset: usize) -> (usize, usize) {
        let offset = offset.min(self.text.len());
        let starts = self.line_starts();
        let line = starts.partition_point(|&start| start <= offset).max(1);
        let start = starts[line - 1];
        let column = self
            .text
            .get(start..offset)
            .map_or(1, |prefix| prefix.chars().count() + 1);
        (line, column)
    }

    /// The byte offset of a 1-based line and character column, clamped to the text.
    #[must_use]
    pub fn offset(&self, line: usize, column: usize) -> usize {
        let starts = self.line_starts();
        let Some(&start) = starts.get(line.saturating_sub(1)) else {
            return self.text.len();
        };
        let line_text = &self.text[start..];
        let line_text = &line_text[..line_text.find('\n').unwrap_or(line_text.len())];
        let within = line_text
            .char_indices()
            .nth(column.saturating_sub(1))
            .map_or(line_text.len(), |(at, _)| at);
        start + within
    }

    /// The text of a 1-based line, without its line break.
    #[must_use]
    pub fn line(&self, line: usize) -> Option<&str> {
        let start = *self.line_starts().get(line.checked_sub(1)?)?;
        let rest = &self.text[start..];
        Some(rest[..rest.find('\n').unwrap_or(rest.len())].trim_end_matches('\r'))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maps_offsets_and_positions_both_ways() {
        let source = Source::new("w.yaml".into(), "w.yaml".into(), "ab\nçd\n\nx");
        assert_eq!(source.position(0), (1, 1));
        assert_eq!(source.position(3), (2, 1));
        assert_eq!(source.position(5), (2, 2));
        assert_eq!(source.position(7), (3, 1));
        assert_eq!(source.position(8), (4, 1));
        assert_eq!(source.position(9), (4, 2));
        assert_eq!(source.offset(2, 2), 5);
        assert_eq!(source.offset(4, 1), 8);
        assert_eq!(source.offset(9, 1), 9);
        assert_eq!(source.line(2), Some("çd"));
        assert_eq!(source.line(5), None);
    }
}
