//! What a failed attempt leaves is set aside, never deleted: before each attempt of a task
//! with `outputs`, the stamps of what its patterns match (`Stamps`); after a failed, timed-out
//! or interrupted one, each path it created or changed is moved (a rename) into
//! `<state dir>/incomplete/<run>/<task>/<attempt>/`, at its place relative to the workflow's
//! directory (`set_aside`). Whatever the patterns match, it never touches the workflow file or
//! a directory holding it, the state dir, any task's declared inputs, or anything outside the
//! workflow's directory once symlinks are resolved (`Guard`). Never deletes anything, and
//! leaves the directories engine creates for an attempt's outputs (the parents of its literal
//! outputs) where they are.

use std::fs;
use std::io::{self, ErrorKind};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use glob::Pattern;
use rustc_hash::FxHashMap;

use crate::files::{GLOB_OPTIONS, Stamp, is_glob, lexical, resolve_now};
use crate::model::Workflow;

/// A path as an attempt found it: its stamp and its kind (file, directory, symlink, ...).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Seen {
    stamp: Stamp,
    /// `st_mode & S_IFMT`.
    kind: u32,
}

impl Seen {
    fn of(metadata: &fs::Metadata) -> Self {
        Self {
            stamp: Stamp::of(metadata),
            kind: metadata.mode() & nix::libc::S_IFMT,
        }
    }
}

/// What a task's output patterns matched before an attempt: every path (directories walked,
/// symlinks not followed) with its stamp.
#[derive(Debug, Default)]
pub struct Stamps {
    seen: FxHashMap<PathBuf, Seen>,
    /// False when something could not be read: a path missing from `seen` may then have
    /// been there before, so it is never taken as created by the attempt.
    complete: bool,
}

impl Stamps {
    /// Takes the stamps of what `patterns` match under `cwd` now; not of what `guard` keeps
    /// out of reach (outside the workflow's directory, engine's own files), which is never
    /// set aside.
    #[must_use]
    pub fn take(cwd: &Path, patterns: &[String], guard: &Guard) -> Self {
        let (found, errors) = resolve_now(cwd, patterns);
        let mut stamps = Self {
            seen: FxHashMap::default(),
            complete: errors.is_empty(),
        };
        for (_, full) in found {
            // Matches are sorted: a path inside a directory walked already is known.
            if stamps.seen.contains_key(&full) {
                continue;
            }
            if resolved(&full).is_none_or(|path| guard.out_of_reach(&path)) {
                continue;
            }
            stamps.walk(full);
        }
        stamps
    }

    /// Records `top` and, for a directory, everything below it.
    fn walk(&mut self, top: PathBuf) {
        let mut pending = vec![top];
        while let Some(path) = pending.pop() {
            let metadata = match fs::symlink_metadata(&path) {
                Ok(metadata) => metadata,
                Err(error) if is_missing(&error) => continue,
                Err(_) => {
                    self.complete = false;
                    continue;
                }
            };
            if metadata.is_dir() {
                match fs::read_dir(&path) {
                    Ok(listing) => {
                        for entry in listing {
                            match entry {
                                Ok(entry) => pending.push(entry.path()),
                                Err(_) => self.complete = false,
                            }
                        }
                    }
                    Err(_) => self.complete = false,
                }
            }
            self.seen.insert(path, Seen::of(&metadata));
        }
    }

    /// Whether the attempt created or changed the path `now` describes: `None` when that
    /// cannot be known.
    fn changed(&self, path: &Path, now: &fs::Metadata) -> Option<bool> {
        match self.seen.get(path) {
            Some(before) => Some(*before != Seen::of(now)),
            None if self.complete => Some(true),
            None => None,
        }
    }

    /// Whether the path was there before the attempt.
    fn existed(&self, path: &Path) -> bool {
        self.seen.contains_key(path)
    }
}

/// Every task's declared inputs as written, with its working directory and name: what
/// `Guard::learn` resolves, owned so that it can travel to another thread.
#[derive(Debug, Default)]
pub struct Declared(Vec<(PathBuf, Vec<String>, String)>);

impl Declared {
    /// The declared inputs of the tasks of `workflow` that have any.
    #[must_use]
    pub fn of(workflow: &Workflow) -> Self {
        Self(
            workflow
                .tasks
                .iter()
                .filter(|task| !task.inputs().is_empty())
                .map(|task| (task.cwd.clone(), task.inputs().to_vec(), task.name.clone()))
                .collect(),
        )
    }
}

/// One task's declared input, resolved against its working directory, for `Guard`.
#[derive(Debug)]
enum Input {
    /// A literal path: it and everything below it.
    Path(PathBuf),
    /// A glob (templates count as `*`): what it matches and everything below.
    Glob(Pattern),
}

/// What cleanup never touches: the workflow file and the directories holding it, the state
/// dir and everything in it, every task's declared inputs, and anything outside the
/// workflow's directory. Paths are compared once symlinks are resolved.
#[derive(Debug)]
pub struct Guard {
    /// The workflow's directory, canonical.
    root: PathBuf,
    /// The workflow file, canonical.
    workflow: PathBuf,
    /// The state dir, canonical.
    state_dir: PathBuf,
    /// Every task's inputs, with the task's name; resolved at the first failure
    /// (`learn_inputs`), as a run whose tasks succeed never needs them. Set once, so that
    /// the guard is shared by the threads that set outputs aside.
    inputs: std::sync::OnceLock<Vec<(Input, String)>>,
    /// Files engine writes during the run outside the state dir (the events file), canonical.
    own: Vec<PathBuf>,
}

impl Guard {
    /// The guard of a run of `workflow` that keeps its record in `state_dir` and writes
    /// the files `own` outside it.
    #[must_use]
    pub fn new(workflow: &Workflow, state_dir: &Path, own: &[PathBuf]) -> Self {
        let guard = Self::outline(&workflow.path, state_dir, own);
        guard.learn_inputs(workflow);
        guard
    }

    /// The guard without the tasks' inputs yet: enough to take stamps (`out_of_reach`),
    /// not to set aside.
    #[must_use]
    pub fn outline(workflow: &Path, state_dir: &Path, own: &[PathBuf]) -> Self {
        let file = canonical(workflow);
        let root = file
            .parent()
            .map_or_else(|| PathBuf::from("/"), Path::to_path_buf);
        Self {
            root,
            workflow: file,
            state_dir: canonical(state_dir),
            inputs: std::sync::OnceLock::new(),
            own: own.iter().map(|path| canonical(path)).collect(),
        }
    }

    /// Resolves the declared inputs of every task of `workflow`, once.
    pub fn learn_inputs(&self, workflow: &Workflow) {
        self.learn(&Declared::of(workflow));
    }

    /// Resolves the declared inputs `declared`, once.
    pub fn learn(&self, declared: &Declared) {
        self.inputs.get_or_init(|| {
            let mut cwds: FxHashMap<&Path, PathBuf> = FxHashMap::default();
            // Tasks of a matrix share their patterns: each is compared once.
            let mut seen: rustc_hash::FxHashSet<(PathBuf, &str)> = rustc_hash::FxHashSet::default();
            let mut inputs = Vec::new();
            for (cwd, patterns, name) in &declared.0 {
                let cwd = cwds.entry(cwd.as_path()).or_insert_with(|| canonical(cwd));
                for pattern in patterns {
                    if !seen.insert((cwd.clone(), pattern.as_str())) {
                        continue;
                    }
                    inputs.extend(
                        input(cwd, pattern)
                            .into_iter()
                            .map(|input| (input, name.clone())),
                    );
                }
            }
            inputs
        });
    }

    /// Whether the path (canonical) is no business of cleanup at all: outside the workflow's
    /// directory, the state dir or in it, or a file engine writes. Nothing there is stamped,
    /// moved or reported.
    fn out_of_reach(&self, path: &Path) -> bool {
        !path.starts_with(&self.root)
            || path.starts_with(&self.state_dir)
            || self.state_dir.starts_with(path)
            || self.own.iter().any(|own| own == path)
    }

    /// Why cleanup must leave the path (canonical, in reach) alone, if it must.
    fn forbids(&self, path: &Path) -> Option<String> {
        if path == self.workflow {
            return Some("it is the workflow file".to_owned());
        }
        if self.workflow.starts_with(path) {
            return Some("it holds the workflow file".to_owned());
        }
        if self.inputs.get().is_none() {
            // Not asked for before `learn_inputs`; if it were, nothing could be told apart.
            return Some("the tasks' inputs are not known".to_owned());
        }
        self.input_of(path)
            .map(|task| format!("it is an input of task `{task}`"))
    }

    /// The task whose declared inputs hold the path, if any does.
    fn input_of(&self, path: &Path) -> Option<&str> {
        self.inputs
            .get()
            .map_or(&[][..], Vec::as_slice)
            .iter()
            .find(|(input, _)| match input {
                Input::Path(input) => path.starts_with(input),
                Input::Glob(glob) => path
                    .ancestors()
                    .any(|at| glob.matches_path_with(at, GLOB_OPTIONS)),
            })
            .map(|(_, task)| task.as_str())
    }
}

/// A task's input pattern resolved against its (canonical) working directory: a literal
/// path as written and, when it exists, as resolved; a glob with templates as `*`.
fn input(cwd: &Path, pattern: &str) -> Vec<Input> {
    let text = without_templates(pattern);
    if !is_glob(&text) {
        let full = lexical(&cwd.join(&text));
        let resolved = fs::canonicalize(&full).ok().filter(|path| *path != full);
        return std::iter::once(full)
            .chain(resolved)
            .map(Input::Path)
            .collect();
    }
    let full = if Path::new(&text).is_absolute() {
        PathBuf::from(&text)
    } else {
        cwd.join(&text)
    };
    let full = lexical(&full);
    // The literal directories before the first glob component, as written and resolved.
    let components: Vec<_> = full.components().collect();
    let literal = components
        .iter()
        .take_while(|c| !is_glob(&c.as_os_str().to_string_lossy()))
        .count();
    let prefix: PathBuf = components[..literal].iter().collect();
    let rest: PathBuf = components[literal..].iter().collect();
    let mut bases = vec![prefix.clone()];
    bases.extend(
        fs::canonicalize(&prefix)
            .ok()
            .filter(|base| *base != prefix),
    );
    bases
        .into_iter()
        .filter_map(|base| {
            let mut text = Pattern::escape(&base.to_string_lossy());
            if !text.ends_with('/') {
                text.push('/');
            }
            text.push_str(&rest.to_string_lossy());
            Pattern::new(&text).ok().map(Input::Glob)
        })
        .collect()
}

/// The text with each `${{ ... }}` replaced by `*`.
fn without_templates(pattern: &str) -> String {
    let mut out = String::with_capacity(pattern.len());
    let mut rest = pattern;
    while let Some(start) = rest.find("${{") {
        out.push_str(&rest[..start]);
        out.push('*');
        rest = rest[start..]
            .find("}}")
            .map_or("", |end| &rest[start + end + 2..]);
    }
    out.push_str(rest);
    out
}

/// The path with every symlink resolved, or as it is when it cannot be.
fn canonical(path: &Path) -> PathBuf {
    fs::canonicalize(path)
        .unwrap_or_else(|_| lexical(&std::path::absolute(path).unwrap_or_default()))
}

/// What `set_aside` did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SetAside {
    /// The paths moved, as the task's patterns name them.
    pub moved: Vec<String>,
    /// The paths the attempt created or changed that stay where they are, and why.
    pub left: Vec<(String, String)>,
}

impl SetAside {
    /// Notes a path left in place, once (two patterns may match it).
    fn leave(&mut self, shown: &str, why: String) {
        if !self.left.iter().any(|(path, _)| path == shown) {
            self.left.push((shown.to_owned(), why));
        }
    }

    /// Whether there is nothing to tell.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.moved.is_empty() && self.left.is_empty()
    }
}

/// Moves what `patterns` match under `cwd` and the attempt created or changed (compared
/// with `before`) to `to`, each at its place relative to the workflow's directory; what
/// `guard` forbids, or cannot be moved, stays.
#[must_use]
pub fn set_aside(
    cwd: &Path,
    patterns: &[String],
    before: &Stamps,
    guard: &Guard,
    to: &Path,
) -> SetAside {
    let (found, _) = resolve_now(cwd, patterns);
    let mut done = SetAside::default();
    let made = output_dirs(cwd, patterns);
    for (shown, full) in found {
        visit(&shown, &full, before, &made, guard, to, &mut done);
    }
    done
}

/// The directories engine creates before each attempt (the parents of the literal outputs,
/// `execute::create_output_dirs`): not the attempt's doing, so never set aside, even where a
/// pattern matches them and they are empty.
fn output_dirs(cwd: &Path, patterns: &[String]) -> rustc_hash::FxHashSet<PathBuf> {
    patterns
        .iter()
        .filter(|pattern| !pattern.is_empty() && !is_glob(pattern))
        .flat_map(|pattern| {
            lexical(&cwd.join(pattern))
                .ancestors()
                .skip(1)
                .map(Path::to_path_buf)
                .collect::<Vec<_>>()
        })
        .collect()
}

/// Sets aside one path: a file, a symlink or another non-directory that changed is moved; a
/// directory is visited entry by entry, and moved itself once empty if the attempt made it
/// (not engine: `made`).
fn visit(
    shown: &str,
    full: &Path,
    before: &Stamps,
    made: &rustc_hash::FxHashSet<PathBuf>,
    guard: &Guard,
    to: &Path,
    done: &mut SetAside,
) {
    let Ok(metadata) = fs::symlink_metadata(full) else {
        return;
    };
    let Some(resolved) = resolved(full) else {
        return;
    };
    if guard.out_of_reach(&resolved) {
        return;
    }
    if metadata.is_dir() {
        if guard.forbids(&resolved).is_some() {
            return;
        }
        let mut entries: Vec<_> = match fs::read_dir(full) {
            Ok(listing) => listing
                .filter_map(Result::ok)
                .map(|e| e.file_name())
                .collect(),
            Err(_) => return,
        };
        entries.sort_unstable();
        for name in &entries {
            let shown = format!("{shown}/{}", name.to_string_lossy());
            visit(&shown, &full.join(name), before, made, guard, to, done);
        }
        let empty = fs::read_dir(full).is_ok_and(|mut listing| listing.next().is_none());
        if empty && !before.existed(full) && before.complete && !made.contains(&lexical(full)) {
            move_dir(shown, full, &resolved, guard, to, done);
        }
        return;
    }
    match before.changed(full, &metadata) {
        Some(false) => {}
        Some(true) => match guard.forbids(&resolved) {
            Some(reason) => done.leave(shown, reason),
            None => move_one(shown, full, &resolved, guard, to, done),
        },
        None => done.leave(
            shown,
            "what was there before the attempt could not be read".to_owned(),
        ),
    }
}

/// Renames `full` (canonical `resolved`) into `to`.
fn move_one(
    shown: &str,
    full: &Path,
    resolved: &Path,
    guard: &Guard,
    to: &Path,
    done: &mut SetAside,
) {
    let Ok(relative) = resolved.strip_prefix(&guard.root) else {
        return;
    };
    let target = to.join(relative);
    // Private, as all of the state dir: what a task wrote may be anyone's data.
    let moved = target
        .parent()
        .map_or(Ok(()), |parent| {
            std::os::unix::fs::DirBuilderExt::mode(fs::DirBuilder::new().recursive(true), 0o700)
                .create(parent)
        })
        .and_then(|()| fs::rename(full, &target));
    match moved {
        Ok(()) => done.moved.push(shown.to_owned()),
        Err(error) => done.leave(shown, why_not_moved(&error)),
    }
}

/// Moves an empty directory the attempt made into `to`. Once what it held was moved, its
/// place there exists already: then it is only removed (it is empty), and not listed, as
/// what it held is.
fn move_dir(
    shown: &str,
    full: &Path,
    resolved: &Path,
    guard: &Guard,
    to: &Path,
    done: &mut SetAside,
) {
    let Ok(relative) = resolved.strip_prefix(&guard.root) else {
        return;
    };
    if to.join(relative).is_dir() {
        if let Err(error) = fs::remove_dir(full) {
            done.leave(shown, why_not_moved(&error));
        }
        return;
    }
    move_one(shown, full, resolved, guard, to, done);
}

/// The path with its parent's symlinks resolved (the last component stays as it is: a
/// symlink is moved itself, never its target); `None` when the parent cannot be resolved.
fn resolved(full: &Path) -> Option<PathBuf> {
    let name = full.file_name()?;
    let parent = match full.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    };
    Some(fs::canonicalize(parent).ok()?.join(name))
}

/// Why a rename failed, in words.
fn why_not_moved(error: &io::Error) -> String {
    if error.raw_os_error() == Some(nix::libc::EXDEV) {
        "it is on another file system than the state dir".to_owned()
    } else {
        format!("it cannot be moved: {error}")
    }
}

/// Whether nothing is at the path (or a symlink on the way dangles).
fn is_missing(error: &io::Error) -> bool {
    matches!(error.kind(), ErrorKind::NotFound | ErrorKind::NotADirectory)
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::symlink;

    use super::*;

    /// A workflow dir `wf` (with `workflow.yaml` and the state dir `.engine`) beside a
    /// directory `outside`, in a temp dir.
    struct Place {
        dir: tempfile::TempDir,
    }

    impl Place {
        fn new() -> Self {
            let place = Self {
                dir: tempfile::tempdir().expect("temp dir"),
            };
            place.write("wf/workflow.yaml", "tasks: {}\n");
            fs::create_dir_all(place.path("wf/.engine")).expect("state dir");
            fs::create_dir_all(place.path("outside")).expect("outside");
            place
        }

        fn path(&self, relative: &str) -> PathBuf {
            self.dir.path().join(relative)
        }

        fn wf(&self) -> PathBuf {
            self.path("wf")
        }

        fn write(&self, relative: &str, content: &str) {
            let full = self.path(relative);
            fs::create_dir_all(full.parent().expect("a parent")).expect("parents");
            fs::write(full, content).expect("write");
        }

        fn read(&self, relative: &str) -> Option<String> {
            fs::read_to_string(self.path(relative)).ok()
        }

        /// The guard of a workflow whose one task reads `inputs`.
        fn guard(&self, inputs: &[&str]) -> Guard {
            let mut task = crate::model::Task::for_tests(
                crate::model::TaskId(0),
                "t",
                crate::model::Isolation::Process,
                crate::model::Command::None,
                Vec::new(),
            );
            task.cwd = self.wf();
            task.files = Some(std::sync::Arc::new(crate::model::TaskFiles {
                inputs: inputs.iter().map(|i| (*i).to_owned()).collect(),
                outputs: Vec::new(),
                depfile: None,
            }));
            let path = self.path("wf/workflow.yaml");
            let workflow = Workflow::for_tests(&path.to_string_lossy(), "workflow", vec![task]);
            Guard::new(
                &workflow,
                &self.path("wf/.engine"),
                &[self.path("wf/events")],
            )
        }

        fn to(&self) -> PathBuf {
            self.path("wf/.engine/incomplete/run/t/1")
        }

        /// Takes the stamps, runs `attempt`, sets aside.
        fn fail(&self, outputs: &[&str], inputs: &[&str], attempt: impl FnOnce()) -> SetAside {
            let outputs: Vec<String> = outputs.iter().map(|o| (*o).to_owned()).collect();
            let guard = self.guard(inputs);
            let before = Stamps::take(&self.wf(), &outputs, &guard);
            attempt();
            set_aside(&self.wf(), &outputs, &before, &guard, &self.to())
        }
    }

    #[test]
    fn the_directories_engine_made_for_the_outputs_stay() {
        let place = Place::new();
        // Engine creates `out/deep` after the stamps, as the attempt starts; the attempt
        // writes `x.txt` there and the empty `out/other`, then fails.
        let done = place.fail(&["out", "out/deep/x.txt"], &[], || {
            fs::create_dir_all(place.path("wf/out/deep")).expect("engine's mkdir");
            place.write("wf/out/deep/x.txt", "half");
            fs::create_dir_all(place.path("wf/out/other")).expect("the task's mkdir");
        });
        assert_eq!(done.moved, ["out/deep/x.txt", "out/other"]);
        assert!(
            place.path("wf/out/deep").is_dir(),
            "engine's directory stays"
        );
        assert!(place.read("wf/out/deep/x.txt").is_none());
    }

    #[test]
    fn only_what_the_attempt_created_or_changed_is_moved() {
        let place = Place::new();
        place.write("wf/out/old", "old");
        place.write("wf/out/edited", "v1");
        let done = place.fail(&["out"], &[], || {
            place.write("wf/out/edited", "v2, longer");
            place.write("wf/out/new/deep", "new");
        });
        assert_eq!(done.moved, ["out/edited", "out/new/deep"]);
        assert!(done.left.is_empty(), "{:?}", done.left);
        assert_eq!(place.read("wf/out/old").as_deref(), Some("old"));
        assert!(
            !place.path("wf/out/new").exists(),
            "the new directory stayed"
        );
        let to = place.to();
        assert_eq!(
            fs::read_to_string(to.join("out/edited")).ok().as_deref(),
            Some("v2, longer")
        );
        assert_eq!(
            fs::read_to_string(to.join("out/new/deep")).ok().as_deref(),
            Some("new")
        );
    }

    #[test]
    fn inputs_the_workflow_the_state_dir_and_the_outside_stay() {
        let place = Place::new();
        place.write("wf/data.csv", "b\na\n");
        place.write("wf/src/a.py", "a");
        place.write("outside/precious", "keep");
        symlink(place.path("outside"), place.wf().join("lnk")).expect("symlink");
        let outside = place.path("outside/precious");
        let outside = outside.to_string_lossy();
        let outputs = [
            "data.csv",
            "src/**/*.py",
            "lnk/*",
            "../outside/*",
            "../*",
            "..",
            "*",
            "**/*",
            ".engine",
            "workflow.yaml",
            &outside,
        ];
        let done = place.fail(&outputs, &["data.csv", "src/**/*.py"], || {
            place.write("wf/data.csv", "a\nb\n");
            place.write("wf/src/bad.py", "bad");
            place.write("outside/precious", "changed by the task");
            place.write("outside/new", "made by the task");
            place.write("wf/workflow.yaml", "tasks: {a: {}}\n");
            place.write("wf/.engine/log", "log");
            place.write("wf/events", "{}");
        });
        assert!(done.moved.is_empty(), "{:?}", done.moved);
        for kept in [
            "wf/data.csv",
            "wf/src/a.py",
            "wf/src/bad.py",
            "outside/precious",
            "outside/new",
            "wf/workflow.yaml",
            "wf/.engine/log",
            "wf/events",
        ] {
            assert!(place.path(kept).exists(), "{kept} was moved");
        }
        // Kept and said so: what the attempt changed that is an input or the workflow.
        let left: Vec<&str> = done.left.iter().map(|(path, _)| path.as_str()).collect();
        assert_eq!(left, ["data.csv", "src/bad.py", "workflow.yaml"]);
    }

    #[test]
    fn a_symlink_is_moved_itself_never_its_target() {
        let place = Place::new();
        place.write("outside/target", "keep");
        let done = place.fail(&["out/*"], &[], || {
            fs::create_dir_all(place.path("wf/out")).expect("mkdir");
            symlink(place.path("outside/target"), place.path("wf/out/link")).expect("symlink");
        });
        assert_eq!(done.moved, ["out/link"]);
        assert_eq!(place.read("outside/target").as_deref(), Some("keep"));
        assert!(place.to().join("out/link").is_symlink());
    }

    #[test]
    fn what_cannot_be_moved_stays_and_is_reported() {
        let place = Place::new();
        // The place in the state dir is taken by a file, so the rename cannot happen.
        place.write("wf/.engine/incomplete/run/t/1/out", "in the way");
        let done = place.fail(&["out/x"], &[], || place.write("wf/out/x", "half"));
        assert!(done.moved.is_empty());
        assert_eq!(done.left.len(), 1, "{:?}", done.left);
        assert_eq!(done.left[0].0, "out/x");
        assert_eq!(place.read("wf/out/x").as_deref(), Some("half"));
    }

    #[test]
    fn templates_in_inputs_count_as_wildcards() {
        assert_eq!(without_templates("data/${{ matrix.x }}.csv"), "data/*.csv");
        assert_eq!(without_templates("a${{b}}c${{d"), "a*c*");
    }

    /// The files below `root` (symlinks not followed) and their contents.
    fn contents(root: &Path) -> std::collections::BTreeMap<PathBuf, Vec<u8>> {
        let mut found = std::collections::BTreeMap::new();
        let mut pending = vec![root.to_path_buf()];
        while let Some(dir) = pending.pop() {
            for entry in fs::read_dir(&dir).into_iter().flatten().flatten() {
                let kind = entry.file_type().expect("file type");
                if kind.is_dir() {
                    pending.push(entry.path());
                } else if kind.is_file() {
                    found.insert(entry.path(), fs::read(entry.path()).expect("read"));
                }
            }
        }
        found
    }

    use proptest::prelude::*;

    /// Paths below the temp dir a tree, a pattern or an attempt may use.
    const NAMES: [&str; 11] = [
        "wf/a.txt",
        "wf/b.csv",
        "wf/d/c.txt",
        "wf/d/e/f.txt",
        "wf/g/h.txt",
        "wf/.engine/log",
        "wf/workflow.yaml",
        "outside/x.txt",
        "outside/d/y.txt",
        "wf/d/new.txt",
        "wf/events",
    ];

    const PATTERNS: [&str; 16] = [
        "*",
        "**/*",
        "*.txt",
        "d",
        "d/**",
        "a.txt",
        "../*",
        "..",
        "../outside",
        "../outside/**/*",
        "lnk/*",
        "lnk/d/y.txt",
        "g/*.txt",
        "b.csv",
        ".engine/*",
        "{outside}/x.txt",
    ];

    proptest! {
        #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

        /// Whatever the patterns, inputs and attempt: every file that existed before the
        /// attempt and that it did not change is byte-identical afterwards, and every moved
        /// file is found in the state dir with what the attempt left in it.
        #[test]
        fn set_aside_never_loses_or_moves_untouched_files(
            tree in proptest::collection::vec(any::<bool>(), NAMES.len()),
            outputs in proptest::collection::vec(0..PATTERNS.len(), 1..5),
            inputs in proptest::collection::vec(0..PATTERNS.len(), 0..3),
            writes in proptest::collection::vec((0..NAMES.len(), any::<bool>()), 0..6),
        ) {
            let place = Place::new();
            symlink(place.path("outside"), place.wf().join("lnk")).expect("symlink");
            for (name, present) in NAMES.iter().zip(&tree) {
                if *present && *name != "wf/workflow.yaml" {
                    place.write(name, &format!("before {name}"));
                }
            }
            let absolute = place.path("outside").to_string_lossy().into_owned();
            let pattern = |at: &usize| PATTERNS[*at].replace("{outside}", &absolute);
            let outputs: Vec<String> = outputs.iter().map(pattern).collect();
            let inputs: Vec<String> = inputs.iter().map(pattern).collect();
            let before_files = contents(place.dir.path());
            let inputs: Vec<&str> = inputs.iter().map(String::as_str).collect();
            let guard = place.guard(&inputs);
            let before = Stamps::take(&place.wf(), &outputs, &guard);
            // A write of the same length within one tick of the clock may keep a file's
            // stamp: the attempt always changes the length.
            let mut written = std::collections::BTreeSet::new();
            for (name, longer) in &writes {
                let path = place.path(NAMES[*name]);
                let old = fs::read(&path).unwrap_or_default();
                let mut new = old.clone();
                new.extend_from_slice(if *longer { b"++" } else { b"+" });
                place.write(NAMES[*name], &String::from_utf8_lossy(&new));
                written.insert(path);
            }
            let done = set_aside(&place.wf(), &outputs, &before, &guard, &place.to());
            for (path, content) in &before_files {
                if written.contains(path) {
                    continue;
                }
                let now = fs::read(path).ok();
                prop_assert_eq!(now.as_ref(), Some(content), "{:?} changed or moved; {:?}", path, done);
            }
            for moved in &done.moved {
                let full = lexical(&place.wf().join(moved));
                prop_assert!(!full.exists(), "{} still there", moved);
                let relative = full.strip_prefix(place.wf()).expect("inside");
                let aside = place.to().join(relative);
                prop_assert!(aside.exists() || aside.is_symlink(), "{} not in the state dir", moved);
            }
        }
    }
}
