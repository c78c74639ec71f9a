//! Resolving `inputs:` and `outputs:` patterns to paths: literal paths normalized, globs
//! expanded (`*`, `**`, dotfiles, symlinked directories), sorted and each path once, and the
//! lexical normalization of paths. Lists directories; never reads a file's content.

use std::fs;
use std::io::{self, ErrorKind};
use std::path::{Component, Path, PathBuf};

use glob::{MatchOptions, Pattern};

use super::FilesError;

/// How every glob is matched: `*` stays within one path component and skips dotfiles, `**`
/// matches any depth.
pub(crate) const GLOB_OPTIONS: MatchOptions = MatchOptions {
    case_sensitive: true,
    require_literal_separator: true,
    require_literal_leading_dot: true,
};

/// Whether the text has glob characters (`*`, `?`, `[`); anything else is a literal path.
#[must_use]
pub fn is_glob(pattern: &str) -> bool {
    pattern.contains(['*', '?', '['])
}

/// Checks a pattern's syntax, for validation (`engine check`).
///
/// # Errors
///
/// A message for an invalid glob, an empty string or a NUL byte.
pub fn check_pattern(pattern: &str) -> Result<(), String> {
    if pattern.is_empty() {
        return Err("the pattern is empty".to_owned());
    }
    if pattern.contains('\0') {
        return Err("the pattern contains a NUL byte".to_owned());
    }
    if is_glob(pattern) {
        Pattern::new(pattern)
            .map_err(|error| format!("{} (near character {})", error.msg, error.pos + 1))?;
    }
    Ok(())
}

/// The paths the patterns name now, for the cleanup after a failed attempt (`aside`): each
/// as shown (relative as in `FileDigest::path`) and as opened, sorted, each once. Left out:
/// the working directory and its parents (`.`, `..`, what `**` matches of them), and glob
/// matches reached through a symlinked directory, whose target lies elsewhere.
///
/// A literal pattern is listed whether or not it exists. Also returns every error met while
/// resolving (an invalid pattern, a directory a glob cannot list).
pub(crate) fn resolve_now(
    cwd: &Path,
    patterns: &[impl AsRef<str>],
) -> (Vec<(String, PathBuf)>, Vec<FilesError>) {
    let mut matches = Vec::with_capacity(patterns.len());
    let mut errors = Vec::new();
    for pattern in patterns {
        if let Err(error) = resolve(cwd, pattern.as_ref(), &mut matches) {
            errors.push(error);
        }
    }
    sort_and_dedup(&mut matches);
    let found = matches
        .into_iter()
        .filter(|found| !is_cwd_or_parent(&found.path))
        .filter(|found| {
            found
                .glob_from
                .is_none_or(|from| !crosses_symlink(cwd, &found.path, from))
        })
        .map(|found| (found.path, found.full))
        .collect();
    (found, errors)
}

/// The files `pattern` (a glob or a literal path, the language of `inputs`) names now below
/// `cwd`: as shown (relative to `cwd` when the pattern is relative), sorted, each once. Only
/// files count (a symlink to a file too); directories, missing literal paths and matches
/// reached through a symlinked directory are left out. For `glob()` in matrix axes.
///
/// # Errors
/// An invalid pattern, or a directory the glob cannot list.
pub fn glob_files(cwd: &Path, pattern: &str) -> Result<Vec<String>, FilesError> {
    let mut matches = Vec::new();
    resolve(cwd, pattern, &mut matches)?;
    sort_and_dedup(&mut matches);
    Ok(matches
        .into_iter()
        .filter(|found| !is_cwd_or_parent(&found.path))
        .filter(|found| {
            found
                .glob_from
                .is_none_or(|from| !crosses_symlink(cwd, &found.path, from))
        })
        .filter(|found| fs::metadata(&found.full).is_ok_and(|m| m.is_file()))
        .map(|found| found.path)
        .collect())
}

/// A path a pattern resolved to, before it is read.
pub(super) struct Match {
    /// The normalized path shown to users and returned.
    pub(super) path: String,
    /// The path to open: `cwd` joined with the pattern, or the glob's result.
    pub(super) full: PathBuf,
    /// For a glob match, how many leading components of `path` were literal in the pattern;
    /// `None` for a literal pattern.
    pub(super) glob_from: Option<usize>,
}

/// Appends the paths `pattern` names to `matches`.
pub(super) fn resolve(
    cwd: &Path,
    pattern: &str,
    matches: &mut Vec<Match>,
) -> Result<(), FilesError> {
    check_pattern(pattern).map_err(|message| FilesError::InvalidPattern {
        pattern: pattern.to_owned(),
        message,
    })?;
    if !is_glob(pattern) {
        let path = normalize(pattern);
        let full = cwd.join(&path);
        matches.push(Match {
            path,
            full,
            glob_from: None,
        });
        return Ok(());
    }
    resolve_glob(cwd, pattern, matches)
}

/// A glob pattern, prepared for matching.
struct Glob {
    /// The pattern normalized like a path, which every shown match is checked against.
    pattern: Pattern,
    /// How many leading components are literal.
    literal: usize,
    /// Whether a component after the literal ones starts with a dot, so dotfiles can match.
    dotted: bool,
    /// Whether it has a `**` component.
    recursive: bool,
    /// Whether only directories match: the pattern ends in `/` or in `**`.
    dirs_only: bool,
}

/// Appends the matches of glob `text` to `matches`.
fn resolve_glob(cwd: &Path, text: &str, matches: &mut Vec<Match>) -> Result<(), FilesError> {
    let normalized = normalize(text);
    let components: Vec<&str> = normalized.split('/').collect();
    let glob_from = components.iter().take_while(|c| !is_glob(c)).count();
    let glob = Glob {
        pattern: Pattern::new(&normalized).map_err(|error| invalid(text, &error))?,
        literal: glob_from,
        dotted: components[glob_from..].iter().any(|c| c.starts_with('.')),
        recursive: components.contains(&"**"),
        dirs_only: text.ends_with('/') || components.last() == Some(&"**"),
    };
    if glob.recursive {
        // The literal components, up to the separator after the last of them.
        let end = glob_from
            .checked_sub(1)
            .and_then(|last| normalized.match_indices('/').nth(last));
        let prefix = match end {
            Some((0, _)) => "/",
            Some((end, _)) => &normalized[..end],
            None => "",
        };
        walk(cwd, prefix, &glob, matches)
    } else {
        expand(cwd, text, &glob, matches)
    }
}

/// Appends the matches of a glob without `**`, as `glob::glob_with` lists them.
fn expand(cwd: &Path, text: &str, glob: &Glob, matches: &mut Vec<Match>) -> Result<(), FilesError> {
    // glob 0.3 drops every dotfile while listing a directory when `require_literal_leading_dot`
    // is set, even for a component such as `.*` that starts with a literal dot
    // (rust-lang/glob#189); and it panics (an `unwrap`) there on a name that is not UTF-8.
    // Listing dotfiles too and checking each match against the pattern avoids both.
    let full_text = glob_text(cwd, text)?;
    note_listed(cwd, text, glob);
    let (paths, recheck) = match list(&full_text, glob.dotted) {
        Some(paths) => (paths, glob.dotted),
        None => (
            list(&full_text, true).ok_or_else(|| FilesError::Unreadable {
                path: text.to_owned(),
                message: "the glob library failed while listing".to_owned(),
            })?,
            true,
        ),
    };
    let relative_to = Path::new(text).is_relative().then_some(cwd);
    for entry in paths.map_err(|error| invalid(text, &error))? {
        let full = entry.map_err(|error| FilesError::Unreadable {
            path: shown(relative_to, error.path()),
            message: error.error().to_string(),
        })?;
        // A component such as `.*` matches the `.` and `..` entries too; they name the
        // directory itself or its parent, never a file in it.
        let name = full.as_os_str().as_encoded_bytes();
        if name.ends_with(b"/.") || name.ends_with(b"/..") || name == b"." || name == b".." {
            continue;
        }
        let path = shown(relative_to, &full);
        if recheck && !glob.pattern.matches_with(&path, GLOB_OPTIONS) {
            continue;
        }
        matches.push(Match {
            path,
            full,
            glob_from: Some(glob.literal),
        });
    }
    Ok(())
}

/// Notes the directory a glob without `**` lists (`observe`): the one named by its literal
/// components when only its last component has glob characters. The glob library lists
/// the directories a pattern such as `*/x.c` matches on its own, unseen: such a pattern
/// spoils the list.
fn note_listed(cwd: &Path, text: &str, glob: &Glob) {
    if !super::observe::on() {
        return;
    }
    let normalized = normalize(text);
    let components = normalized.split('/').count();
    if glob.literal + 1 != components {
        super::observe::spoil("a glob with glob characters before its last component");
        return;
    }
    let parent = Path::new(&normalized).parent().unwrap_or(Path::new(""));
    super::observe::dir_at(&cwd.join(parent));
}

/// Appends the matches of a glob with a `**` component, found by walking the directories
/// below its literal `prefix`. Unlike glob 0.3, the walk never enters a symlinked directory
/// (it may still match one), so a directory holding two links to itself ends; directories
/// whose name starts with a dot are skipped unless the pattern names such entries.
fn walk(cwd: &Path, prefix: &str, glob: &Glob, matches: &mut Vec<Match>) -> Result<(), FilesError> {
    let base = cwd.join(prefix);
    let base = if base.as_os_str().is_empty() {
        PathBuf::from(".")
    } else {
        base
    };
    let mut pending = vec![(base, prefix.to_owned())];
    while let Some((dir, shown)) = pending.pop() {
        let unreadable = |error: io::Error| FilesError::Unreadable {
            path: if shown.is_empty() {
                ".".to_owned()
            } else {
                shown.clone()
            },
            message: error.to_string(),
        };
        super::observe::dir_at(&dir);
        let listing = match fs::read_dir(&dir) {
            Ok(listing) => listing,
            Err(error) if is_missing(&error) => continue,
            Err(error) => return Err(unreadable(error)),
        };
        for entry in listing {
            let entry = entry.map_err(unreadable)?;
            let name = entry.file_name();
            // Like glob, names that are not UTF-8 cannot match.
            let Some(name) = name.to_str() else { continue };
            if name.starts_with('.') && !glob.dotted {
                continue;
            }
            let kind = entry.file_type().map_err(unreadable)?;
            let path = match shown.as_str() {
                "" => name.to_owned(),
                "/" => format!("/{name}"),
                shown => format!("{shown}/{name}"),
            };
            let full = entry.path();
            let is_dir = || {
                kind.is_dir()
                    || (kind.is_symlink() && fs::metadata(&full).is_ok_and(|m| m.is_dir()))
            };
            if glob.pattern.matches_with(&path, GLOB_OPTIONS) && (!glob.dirs_only || is_dir()) {
                matches.push(Match {
                    path: path.clone(),
                    full: full.clone(),
                    glob_from: Some(glob.literal),
                });
            }
            if kind.is_dir() {
                pending.push((full, path));
            }
        }
    }
    Ok(())
}

/// The error for a pattern the glob library refuses.
fn invalid(text: &str, error: &glob::PatternError) -> FilesError {
    FilesError::InvalidPattern {
        pattern: text.to_owned(),
        message: error.msg.to_owned(),
    }
}

/// Every match of glob `text`, listing dotfiles too when `keep_dots`; `None` when the glob
/// library panicked.
fn list(text: &str, keep_dots: bool) -> Option<Result<Vec<glob::GlobResult>, glob::PatternError>> {
    let options = MatchOptions {
        require_literal_leading_dot: !keep_dots,
        ..GLOB_OPTIONS
    };
    std::panic::catch_unwind(|| glob::glob_with(text, options).map(Iterator::collect)).ok()
}

/// The glob to give `glob::glob_with`: the pattern itself when absolute, else the pattern
/// under `cwd`, with the glob characters of `cwd` escaped.
fn glob_text(cwd: &Path, pattern: &str) -> Result<String, FilesError> {
    if Path::new(pattern).is_absolute() {
        return Ok(pattern.to_owned());
    }
    let cwd = cwd.to_str().ok_or_else(|| FilesError::Unreadable {
        path: cwd.to_string_lossy().into_owned(),
        message: "a glob needs a working directory whose path is valid UTF-8".to_owned(),
    })?;
    let mut text = Pattern::escape(cwd);
    if !text.is_empty() && !text.ends_with('/') {
        text.push('/');
    }
    text.push_str(pattern);
    Ok(text)
}

/// A glob result as shown: relative to `cwd` when the pattern was relative, normalized.
fn shown(relative_to: Option<&Path>, full: &Path) -> String {
    let path = relative_to
        .and_then(|cwd| full.strip_prefix(cwd).ok())
        .unwrap_or(full);
    normalize(&path.to_string_lossy())
}

/// A path without `.` components, repeated slashes or a trailing slash; `.` when nothing is
/// left. Purely textual: `..` stays, since a symlink may stand before it.
fn normalize(path: &str) -> String {
    let clean = !path.starts_with("./")
        && !path.contains("//")
        && !path.contains("/./")
        && !path.ends_with("/.")
        && (path == "/" || !path.ends_with('/'));
    if clean && !path.is_empty() {
        return path.to_owned();
    }
    let mut out = String::with_capacity(path.len());
    if path.starts_with('/') {
        out.push('/');
    }
    for component in path.split('/').filter(|c| !c.is_empty() && *c != ".") {
        if !out.is_empty() && !out.ends_with('/') {
            out.push('/');
        }
        out.push_str(component);
    }
    if out.is_empty() {
        out.push('.');
    }
    out
}

/// Sorts matches by path and keeps each path once, a literal pattern's before a glob's (so
/// a missing literal is still reported).
pub(super) fn sort_and_dedup(matches: &mut Vec<Match>) {
    matches.sort_unstable_by(|a, b| {
        (a.path.as_str(), a.glob_from.is_some()).cmp(&(b.path.as_str(), b.glob_from.is_some()))
    });
    matches.dedup_by(|later, earlier| later.path == earlier.path);
}

/// Whether any of the sorted `rest` lies below `path`, so digests found inside its tree are
/// worth remembering.
pub(super) fn has_descendants(rest: &[Match], path: &str) -> bool {
    if path == "." {
        return rest
            .iter()
            .any(|m| !m.path.starts_with('/') && m.path != ".." && !m.path.starts_with("../"));
    }
    // The prefix is `path` with a trailing `/`, compared in place: no string is made for
    // each of a task's many matches.
    let dir = path.strip_suffix('/').unwrap_or(path);
    let prefix = || dir.bytes().chain(std::iter::once(b'/'));
    // The paths starting with the prefix form one run in sorted order.
    let start = rest.partition_point(|m| m.path.bytes().lt(prefix()));
    rest.get(start).is_some_and(|m| {
        m.path.len() > dir.len() && m.path.bytes().take(dir.len() + 1).eq(prefix())
    })
}

/// Whether `path` is `.`, `/`, or ends in `..`: the working directory or one of its parents.
fn is_cwd_or_parent(path: &str) -> bool {
    path == "." || path == "/" || path == ".." || path.ends_with("/..")
}

/// Whether a directory between the glob part of a match and its last component is a
/// symlink, so that the match lies in the link's target.
fn crosses_symlink(cwd: &Path, path: &str, glob_from: usize) -> bool {
    // The separator after component `n` ends the directory that component names.
    path.match_indices('/')
        .skip(glob_from)
        .any(|(end, _)| fs::symlink_metadata(cwd.join(&path[..end])).is_ok_and(|m| m.is_symlink()))
}

/// Whether opening failed because nothing is there: a missing path, a file where a
/// directory was expected, or a symlink that dangles or loops.
pub(super) fn is_missing(error: &io::Error) -> bool {
    matches!(error.kind(), ErrorKind::NotFound | ErrorKind::NotADirectory)
        || error.raw_os_error() == Some(nix::libc::ELOOP)
}

/// The path with `.` and `..` resolved by its components alone (no file system access).
#[must_use]
pub fn lexical(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for component in path.components() {
        match component {
            Component::CurDir => {}
            Component::ParentDir => {
                if !out.pop() {
                    out.push("..");
                }
            }
            other => out.push(other),
        }
    }
    out
}
