//! Parallel parsing of large workflows. The entries of the `tasks:` mapping are cut at
//! task-key lines into chunks; each chunk is parsed on its own thread as a whole workflow
//! whose other tasks are left out, and the parts are merged into the `RawWorkflow` that
//! parsing the whole text gives, with the same spans.
//!
//! A chunk's text keeps the header (everything up to the first task) as written, then stands
//! in for the tasks before the chunk with one comment line and as many line breaks, of
//! exactly the same length in bytes and in characters, so every position after it (line,
//! column, character and byte offset) is what it is in the whole text. After its own tasks
//! comes the next chunk's first key alone (`name:`), so that its last task ends the way it
//! does in the whole text; the last chunk gets instead whatever follows the tasks.
//!
//! Why that is the whole parse: a line indented exactly like the task keys and starting
//! `name:` ends every block scalar, plain scalar and block collection of the task before
//! it (their lines are indented deeper), so it is the next key of the tasks mapping, unless
//! it is inside a quoted scalar or a flow collection that started earlier. If that started
//! in the chunk before, that chunk's text ends inside it and fails to parse; if it started
//! even earlier, the cut before was already inside it, and so on back to the first, whose
//! text is the file's own beginning. So when every chunk parses, each chunk's parser reads
//! its tasks in the same state, from the same text at the same positions, as the whole
//! parse does. Every chunk is also checked to hold exactly the task keys the line scan put
//! in it, at their lines and columns.
//!
//! The file is parsed whole instead (by the caller) when the scan finds anything else:
//! no `tasks:` line in column 0 with at most a comment after it; tasks that are not a block
//! mapping of plain `name:` keys (quoted or explicit keys, a flow mapping, `- ` entries or
//! any other content at the keys' indentation or between it and column 0); a lone `\r`
//! (YAML's third kind of line break) or a NUL; fewer than two chunks' worth of tasks. And
//! when any chunk fails to parse for any reason, holds other keys than expected, uses an
//! alias (its anchor may be in another chunk), or when a task name appears in two chunks:
//! the whole parse then gives the normal diagnostics. Budgets that add up over the file
//! (events, nodes, scalar bytes, anchors, ...) are divided among the chunks, so a file
//! over its budget is never accepted in chunks. Chunks are parsed with the fast options
//! of `parse_workflow`'s first try, under the same condition on keys.

use std::borrow::Cow;
use std::cell::Cell;
use std::rc::Rc;

use rustc_hash::FxHashSet;
use serde_saphyr::budget::BudgetReport;
use serde_saphyr::{Options, Spanned};

use super::{RawWorkflow, fast_parser_options, keys_are_distinct_words};

/// Files smaller than this are parsed whole: the threads would cost more than they save.
pub const MIN_CHUNKED_BYTES: usize = 1024 * 1024;

/// The least text worth a thread of its own.
const MIN_CHUNK_BYTES: usize = 256 * 1024;

/// The stack of a chunk's thread, as large as a main thread's: the parser recurses once per
/// level of nesting.
const STACK_BYTES: usize = 8 * 1024 * 1024;

/// How many chunks to cut a text of `len` bytes into on `threads()` threads (asked only for
/// large texts: finding the CPUs reads cgroup files): 1 means "parse it whole".
#[must_use]
pub fn chunk_count(len: usize, threads: impl FnOnce() -> usize) -> usize {
    if len < MIN_CHUNKED_BYTES {
        1
    } else {
        threads().min(len / MIN_CHUNK_BYTES).max(1)
    }
}

/// Parses `text` cut into at most `parts` chunks, one thread each. `None` when the text cannot
/// be cut soundly or when any chunk fails to parse or to match what the line scan expected;
/// the caller then parses the whole text.
#[must_use]
pub fn parse_chunked(text: &str, parts: usize) -> Option<RawWorkflow> {
    if parts < 2 || !plain_line_breaks(text) {
        return None;
    }
    let layout = Layout::scan(text)?;
    let chunks = layout.cut(parts)?;
    let count = chunks.len();
    let parsed = std::thread::scope(|scope| {
        let spawned: Vec<_> = chunks[1..]
            .iter()
            .map(|chunk| {
                let layout = &layout;
                std::thread::Builder::new()
                    .name("engine-parse".to_owned())
                    .stack_size(STACK_BYTES)
                    .spawn_scoped(scope, move || parse_chunk(text, layout, chunk, count))
            })
            .collect();
        let first = parse_chunk(text, &layout, &chunks[0], count);
        let rest: Vec<Option<RawWorkflow>> = spawned
            .into_iter()
            .map(|handle| handle.ok().and_then(|handle| handle.join().ok().flatten()))
            .collect();
        std::iter::once(first)
            .chain(rest)
            .collect::<Option<Vec<_>>>()
    })?;
    merge(parsed)
}

/// Whether every line break is `\n` or `\r\n` and there is no NUL: the parser also takes a
/// lone `\r` as a line break and treats NUL specially, which the line scan does not model.
fn plain_line_breaks(text: &str) -> bool {
    let bytes = text.as_bytes();
    !bytes.contains(&0)
        && text
            .match_indices('\r')
            .all(|(at, _)| bytes.get(at + 1) == Some(&b'\n'))
}

/// One task-key line: a line at the tasks' indentation that starts `name:`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct KeyLine {
    /// Byte offset of the line's start.
    offset: usize,
    /// 1-based line number.
    line: u64,
    /// Length in bytes of the key with its indentation and colon: `  name:`.
    key_len: usize,
}

/// The `tasks:` block mapping as a line scan sees it.
#[derive(Debug)]
struct Layout {
    /// Byte offset of the first task's key line; the header is everything before it.
    start: usize,
    /// Indentation of the task keys, in spaces (at least 1).
    indent: usize,
    /// Every task-key line, in file order; the first is at `start`.
    keys: Vec<KeyLine>,
    /// The line where the tasks end: the first line in column 0 after them, or one past the
    /// last line.
    end_line: u64,
}

/// What a line is, as far as cutting the tasks is concerned.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum LineKind {
    /// Only spaces and tabs.
    Blank,
    /// A comment line, at any indentation.
    Comment,
    /// Content starting in column 0: the tasks mapping has ended.
    TopLevel,
    /// A task key: `name:` at the tasks' indentation.
    Key,
    /// Content indented deeper than the task keys.
    Deeper,
    /// Anything else: content indented less than the keys, or at their indentation but not
    /// a plain `name:` key (a quoted or explicit key, a `-` entry, a flow continuation).
    Other,
}

/// The lines of `text` with the byte offset where each starts and its 1-based number. A line
/// excludes its `\n` and a `\r` before it.
fn lines(text: &str) -> impl Iterator<Item = (usize, u64, &str)> {
    let mut offset = 0;
    let mut number = 0;
    std::iter::from_fn(move || {
        if offset >= text.len() {
            return None;
        }
        let rest = &text[offset..];
        let len = rest.find('\n').map_or(rest.len(), |at| at + 1);
        let line = &rest[..len];
        let line = line.strip_suffix('\n').unwrap_or(line);
        let line = line.strip_suffix('\r').unwrap_or(line);
        let start = offset;
        offset += len;
        number += 1;
        Some((start, number, line))
    })
}

/// Whether `body` (a line without its indentation) starts a plain task key: a name of
/// lowercase letters, digits and `_` starting with a letter, then `:` and a space or the end.
fn is_task_key(body: &str) -> bool {
    let (name, rest) = body.split_at(name_len(body));
    name.starts_with(|c: char| c.is_ascii_lowercase()) && (rest == ":" || rest.starts_with(": "))
}

/// The length of the task-name characters at the start of `body`.
fn name_len(body: &str) -> usize {
    body.bytes()
        .position(|byte| !(byte.is_ascii_lowercase() || byte.is_ascii_digit() || byte == b'_'))
        .unwrap_or(body.len())
}

/// Classifies a line for tasks indented by `indent` spaces.
fn classify(line: &str, indent: usize) -> LineKind {
    let spaces = line
        .bytes()
        .position(|byte| byte != b' ')
        .unwrap_or(line.len());
    let body = &line[spaces..];
    if body.bytes().all(|byte| byte == b' ' || byte == b'\t') {
        LineKind::Blank
    } else if body.starts_with('#') {
        LineKind::Comment
    } else if spaces == 0 {
        LineKind::TopLevel
    } else if spaces > indent {
        LineKind::Deeper
    } else if spaces == indent && is_task_key(body) {
        LineKind::Key
    } else {
        LineKind::Other
    }
}

/// Whether `line` is the top-level `tasks:` key with nothing after it but a comment.
fn is_tasks_line(line: &str) -> bool {
    line.strip_prefix("tasks:").is_some_and(|rest| {
        let rest = rest.trim_start_matches(' ');
        rest.is_empty() || (rest.len() < line.len() - "tasks:".len() && rest.starts_with('#'))
    })
}

impl Layout {
    /// Finds the tasks in `text`: the first `tasks:` line in column 0, then a block mapping
    /// of plain task keys indented by the same number of spaces, up to the next content in
    /// column 0. `None` when the text does not have that shape.
    fn scan(text: &str) -> Option<Self> {
        // A byte order mark is no part of the first line's content.
        let mut lines = lines(text)
            .skip_while(|&(offset, _, line)| {
                let line = if offset == 0 {
                    line.trim_start_matches('\u{feff}')
                } else {
                    line
                };
                !is_tasks_line(line)
            })
            .skip(1);
        let (start, line, first) = lines.find(|(_, _, line)| {
            !matches!(classify(line, 0), LineKind::Blank | LineKind::Comment)
        })?;
        let indent = first.len() - first.trim_start_matches(' ').len();
        if indent == 0 || classify(first, indent) != LineKind::Key {
            return None;
        }
        let key = |offset, line| KeyLine {
            offset,
            line,
            key_len: indent + name_len(&text[offset + indent..]) + 1,
        };
        let mut keys = vec![key(start, line)];
        let mut end_line = line + 1;
        for (offset, line, content) in lines {
            end_line = line + 1;
            match classify(content, indent) {
                LineKind::Blank | LineKind::Comment | LineKind::Deeper => {}
                LineKind::Key => keys.push(key(offset, line)),
                LineKind::TopLevel => {
                    end_line = line;
                    break;
                }
                LineKind::Other => return None,
            }
        }
        Some(Self {
            start,
            indent,
            keys,
            end_line,
        })
    }

    /// Cuts the tasks into at most `parts` chunks of about as many lines each, every chunk
    /// starting at a task-key line. Lines, not bytes: the parse costs about the same per
    /// line in flow style (a task a line) and in block style (a field or a list item a
    /// line). `None` when there would be fewer than two chunks.
    fn cut(&self, parts: usize) -> Option<Vec<Chunk>> {
        let first_line = self.keys.first()?.line;
        let lines = self.end_line - first_line;
        let mut firsts = vec![0];
        for part in 1..parts {
            let target = first_line + lines * part as u64 / parts as u64;
            let first = self.keys.partition_point(|key| key.line < target);
            if first < self.keys.len() && first > *firsts.last()? {
                firsts.push(first);
            }
        }
        if firsts.len() < 2 {
            return None;
        }
        let chunks = firsts
            .iter()
            .enumerate()
            .map(|(index, &first)| {
                let next = firsts.get(index + 1).copied();
                Chunk {
                    keys: first..next.unwrap_or(self.keys.len()),
                    from: self.keys[first].offset,
                    next: next.map(|next| self.keys[next]),
                }
            })
            .collect();
        Some(chunks)
    }
}

/// One chunk of the tasks.
#[derive(Debug)]
struct Chunk {
    /// Indices into `Layout::keys` of the tasks it holds.
    keys: std::ops::Range<usize>,
    /// Byte offset of its first task's key line.
    from: usize,
    /// Where it ends: the next chunk's first key line, or `None` for the end of the text.
    next: Option<KeyLine>,
}

/// The text a chunk is parsed from: the header as written, the tasks before the chunk
/// blanked out (same length in bytes, characters and lines), the chunk's tasks, and then
/// either the rest of the text (the last chunk) or the next chunk's first key alone, as
/// `name:` with no value.
///
/// That key matters: the parser ends a value at what follows it (a block scalar's span, for
/// one, runs up to the next key's indentation), so each chunk must end the way its last task
/// ends in the whole text. The key is then one task too many, which `parse_chunk` drops.
fn chunk_text<'t>(text: &'t str, layout: &Layout, chunk: &Chunk) -> Option<Cow<'t, str>> {
    let (to, next_key) = match chunk.next {
        Some(next) => (next.offset, &text[next.offset..next.offset + next.key_len]),
        None => (text.len(), ""),
    };
    if chunk.from == layout.start && next_key.is_empty() {
        return Some(Cow::Borrowed(&text[..to]));
    }
    let mut padded = String::with_capacity(to + next_key.len() + 1);
    padded.push_str(&text[..layout.start]);
    if chunk.from > layout.start {
        push_blank(&mut padded, &text[layout.start..chunk.from])?;
    }
    padded.push_str(&text[chunk.from..to]);
    if !next_key.is_empty() {
        padded.push_str(next_key);
        padded.push('\n');
    }
    Some(Cow::Owned(padded))
}

/// Appends a stand-in for `region` (whole lines, ending in a line break): one comment line,
/// then empty lines, as many bytes, characters and line breaks as `region` has. `None` when
/// no such comment exists (never for a region that starts with a task key).
fn push_blank(out: &mut String, region: &str) -> Option<()> {
    let breaks = region.bytes().filter(|&byte| byte == b'\n').count();
    // The comment is `#` and a filler; the region's `\r`s, if any, become filler too.
    let filler_bytes = region.len().checked_sub(breaks + 1)?;
    let filler_chars = region.chars().count().checked_sub(breaks + 1)?;
    // Each filler character of n bytes adds n - 1 bytes over the character count.
    let extra = filler_bytes - filler_chars;
    let (four_byte, rest) = (extra / 3, extra % 3);
    let wide = four_byte + usize::from(rest > 0);
    let spaces = filler_chars.checked_sub(wide)?;
    out.push('#');
    out.extend(std::iter::repeat_n('\u{10000}', four_byte));
    match rest {
        1 => out.push('\u{e9}'),
        2 => out.push('\u{20ac}'),
        _ => {}
    }
    out.extend(std::iter::repeat_n(' ', spaces));
    out.extend(std::iter::repeat_n('\n', breaks));
    Some(())
}

/// Parser options for one of `parts` chunks: the fast options, with every budget that adds
/// up over a document divided among the chunks, so that chunks within theirs prove the whole
/// text within its.
fn chunk_options(parts: usize) -> Options {
    let mut options = fast_parser_options();
    if let Some(budget) = options.budget.as_mut() {
        for limit in [
            &mut budget.max_events,
            &mut budget.max_nodes,
            &mut budget.max_total_scalar_bytes,
            &mut budget.max_aliases,
            &mut budget.max_anchors,
            &mut budget.max_recorded_anchor_events,
            &mut budget.max_recorded_anchor_bytes,
            &mut budget.max_merge_keys,
            &mut budget.max_documents,
        ] {
            *limit /= parts;
        }
    }
    options.alias_limits.max_total_replayed_events /= parts;
    options
}

/// Parses one chunk with the fast options and checks that it holds exactly the tasks the
/// line scan put in it (and the next chunk's first key, which it drops). `None` on any
/// error, any alias (an alias may name an anchor of another chunk, and the alias budgets do
/// not divide), any mismatch, or keys the fast options may have let through.
fn parse_chunk(text: &str, layout: &Layout, chunk: &Chunk, parts: usize) -> Option<RawWorkflow> {
    let chunk_text = chunk_text(text, layout, chunk)?;
    let aliases = Rc::new(Cell::new(usize::MAX));
    let report = Rc::clone(&aliases);
    let options = chunk_options(parts)
        .with_budget_report(move |found: BudgetReport| report.set(found.aliases));
    let mut workflow: RawWorkflow =
        serde_saphyr::from_str_with_options(&chunk_text, options).ok()?;
    let expected =
        &layout.keys[chunk.keys.start..chunk.keys.end + usize::from(chunk.next.is_some())];
    if aliases.get() != 0
        || !holds_keys(&workflow, expected, layout.indent)
        || !keys_are_distinct_words(&workflow)
    {
        return None;
    }
    if chunk.next.is_some() {
        workflow.tasks.value.pop();
    }
    Some(workflow)
}

/// Whether the parsed tasks are exactly the expected key lines, in order, each at the tasks'
/// indentation, and the tasks mapping starts at the first of them.
fn holds_keys(workflow: &RawWorkflow, expected: &[KeyLine], indent: usize) -> bool {
    let column = u64::try_from(indent).map_or(u64::MAX, |indent| indent + 1);
    let at = |location: &serde_saphyr::Location, key: &KeyLine| {
        location.line() == key.line && location.column() == column
    };
    let tasks = &workflow.tasks;
    tasks.value.len() == expected.len()
        && expected
            .first()
            .is_some_and(|first| at(&tasks.referenced, first))
        && tasks
            .value
            .keys()
            .zip(expected)
            .all(|(name, key)| at(&name.referenced, key))
}

/// Joins the chunks' workflows: the tasks in order, the tasks mapping's span from the first
/// chunk, everything else from the last (the only one that saw what follows the tasks).
/// `None` when a task name appears in two chunks: the whole-text parse reports that.
fn merge(mut parts: Vec<RawWorkflow>) -> Option<RawWorkflow> {
    if has_repeated_name(&parts) {
        return None;
    }
    let mut last = parts.pop()?;
    let mut earlier = parts.into_iter();
    let Some(first) = earlier.next() else {
        return Some(last);
    };
    let (referenced, defined) = (first.tasks.referenced, first.tasks.defined);
    let mut tasks = first.tasks.value;
    // One exact reservation: growing by doubling would copy the entries (about 1 KB a task)
    // several times over while the other parts still hold theirs.
    let others: usize = earlier
        .as_slice()
        .iter()
        .map(|part| part.tasks.value.len())
        .sum();
    tasks.reserve_exact(others + last.tasks.value.len());
    for part in earlier {
        tasks.extend(part.tasks.value);
    }
    tasks.extend(std::mem::take(&mut last.tasks.value));
    last.tasks = Spanned::new(tasks, referenced, defined);
    Some(last)
}

/// Whether any task name appears in more than one of `parts` (each part alone has none
/// twice: the parser refuses duplicate keys).
fn has_repeated_name(parts: &[RawWorkflow]) -> bool {
    let total = parts.iter().map(|part| part.tasks.value.len()).sum();
    let mut seen = FxHashSet::with_capacity_and_hasher(total, rustc_hash::FxBuildHasher);
    !parts
        .iter()
        .flat_map(|part| part.tasks.value.keys())
        .all(|name| seen.insert(name.value.as_str()))
}

#[cfg(test)]
mod tests;
