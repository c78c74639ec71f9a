//! `StateDir` and `RunDir`: where engine keeps what it knows of runs, and the name of every
//! path in it (the record, its reserve, the locks, each run's logs, results and Slurm job
//! files, what failed attempts set aside). Resolved once, by one rule. It only names paths:
//! it creates, reads and deletes nothing, and knows nothing of what the files hold.
//!
//! ```text
//! <state dir>/record.sqlite              the run record (record::store)
//! <state dir>/record.reserve             room kept for it on a full disk (record::reserve)
//! <state dir>/record.checked             when it was last checked whole (record::store)
//! <state dir>/locks/<key digest>.lock    one run of a workflow at a time (record::lock)
//! <state dir>/runs/<run>/logs/<task>.log
//! <state dir>/runs/<run>/results/<...>   what tasks write to `$ENGINE_RESULTS`
//! <state dir>/runs/<run>/slurm/          job scripts, output, status files, jobs.tsv
//! <state dir>/incomplete/<run>/<task>/<attempt>/   outputs of failed attempts
//! ```

use std::path::{Component, Path, PathBuf};

use crate::files::lexical;
use crate::model::file_name;

/// The state dir's name next to the workflow when `--state-dir` is not given.
pub const DEFAULT_NAME: &str = ".engine";
const RECORD: &str = "record.sqlite";
const RESERVE: &str = "record.reserve";
const LOCKS: &str = "locks";
const UNCHANGED: &str = "unchanged";
const RUNS: &str = "runs";
const LOGS: &str = "logs";
const RESULTS: &str = "results";
const SLURM: &str = "slurm";
const JOB_LIST: &str = "jobs.tsv";
const INCOMPLETE: &str = "incomplete";

/// The state dir of one command.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StateDir {
    /// Absolute: jobs run elsewhere, in other directories.
    path: PathBuf,
    /// As the user gave it (or the default next to the workflow as given), for messages.
    shown: PathBuf,
}

impl StateDir {
    /// The state dir of a command on `workflow`: `given` (`--state-dir`), or `.engine/` next
    /// to the workflow file; made absolute against the current directory now.
    #[must_use]
    pub fn resolve(given: Option<&Path>, workflow: &Path) -> Self {
        let shown = given.map_or_else(
            || {
                workflow
                    .parent()
                    .map_or_else(|| PathBuf::from(DEFAULT_NAME), |dir| dir.join(DEFAULT_NAME))
            },
            Path::to_path_buf,
        );
        Self {
            path: std::path::absolute(&shown).unwrap_or_else(|_| shown.clone()),
            shown,
        }
    }

    /// The state dir at `path` (made absolute), shown as given.
    #[must_use]
    pub fn at(path: &Path) -> Self {
        Self::resolve(Some(path), Path::new(""))
    }

    /// The state dir, absolute.
    #[must_use]
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The state dir as the user gave it (or the default as the workflow was given).
    #[must_use]
    pub fn shown(&self) -> &Path {
        &self.shown
    }

    /// The run record's file.
    #[must_use]
    pub fn record(&self) -> PathBuf {
        self.path.join(RECORD)
    }

    /// The file of zeros that keeps room for the record.
    #[must_use]
    pub fn reserve(&self) -> PathBuf {
        self.path.join(RESERVE)
    }

    /// The lock file of the workflow whose key in the record is `key`
    /// (`workflow_key`): named after a digest of it.
    #[must_use]
    pub fn lock(&self, key: &str) -> PathBuf {
        let digest = blake3::hash(key.as_bytes()).to_hex();
        self.path
            .join(LOCKS)
            .join(format!("{}.lock", &digest.as_str()[..16]))
    }

    /// The list a no-op run of the workflow whose key is `key` leaves for the next
    /// (`record::unchanged`), named like its lock.
    #[must_use]
    pub fn unchanged(&self, key: &str) -> PathBuf {
        let digest = blake3::hash(key.as_bytes()).to_hex();
        self.path
            .join(UNCHANGED)
            .join(format!("{}.list", &digest.as_str()[..16]))
    }

    /// The directory of run `id`: its logs, results and job files.
    #[must_use]
    pub fn run(&self, id: &str) -> RunDir {
        RunDir {
            path: self.path.join(RUNS).join(id),
            id: id.to_owned(),
        }
    }

    /// Where failed attempts' outputs are set aside, one directory per run.
    #[must_use]
    pub fn incomplete(&self) -> PathBuf {
        self.path.join(INCOMPLETE)
    }

    /// What the failed attempts of run `id` set aside.
    #[must_use]
    pub fn incomplete_of(&self, id: &str) -> PathBuf {
        self.incomplete().join(id)
    }

    /// Where the outputs of a failed attempt of `task` in run `id` are set aside:
    /// `incomplete/<run>/<task>/<attempt>`, the task's name made one file name.
    #[must_use]
    pub fn aside(&self, id: &str, task: &str, attempt: u32) -> PathBuf {
        self.incomplete_of(id)
            .join(file_name(task))
            .join(attempt.to_string())
    }

    /// The workflow file's identity in the record: its path relative to the state dir,
    /// symbolic links resolved (`../flow.yaml` for the default state dir). A project moved or
    /// copied with its state dir keeps it.
    #[must_use]
    pub fn workflow_key(&self, workflow: &Path) -> String {
        let file = std::fs::canonicalize(workflow)
            .or_else(|_| std::path::absolute(workflow).map(|path| lexical(&path)))
            .unwrap_or_else(|_| workflow.to_owned());
        self.key_of(&file)
    }

    /// The key of a workflow whose absolute path is `file` (how records before schema 3 keyed
    /// it).
    #[must_use]
    pub fn key_of(&self, file: &Path) -> String {
        relative(&self.canonical(), &lexical(file))
            .to_string_lossy()
            .into_owned()
    }

    /// The absolute path a workflow had in records before schema 3, from its `key`.
    #[must_use]
    pub fn absolute_key(&self, key: &str) -> String {
        lexical(&self.canonical().join(key))
            .to_string_lossy()
            .into_owned()
    }

    /// The state dir with symbolic links resolved; the part that does not exist yet as given.
    fn canonical(&self) -> PathBuf {
        let mut missing = Vec::new();
        let mut at = self.path.as_path();
        loop {
            if let Ok(found) = std::fs::canonicalize(at) {
                let mut path = found;
                path.extend(missing.iter().rev());
                return lexical(&path);
            }
            match (at.parent(), at.file_name()) {
                (Some(parent), Some(name)) => {
                    missing.push(name.to_owned());
                    at = parent;
                }
                _ => return lexical(&self.path),
            }
        }
    }
}

/// The directory of one run in the state dir.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RunDir {
    /// `<state dir>/runs/<run>`, absolute.
    path: PathBuf,
    id: String,
}

impl RunDir {
    /// The run's directory.
    #[must_use]
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The task logs: one file per task that printed anything.
    #[must_use]
    pub fn logs(&self) -> PathBuf {
        self.path.join(LOGS)
    }

    /// The log of `task` (its name made one file name).
    #[must_use]
    pub fn log(&self, task: &str) -> PathBuf {
        self.logs().join(format!("{}.log", file_name(task)))
    }

    /// The log of `task` as the record keeps it: relative to the state dir, so that it
    /// holds wherever the state dir is moved.
    #[must_use]
    pub fn recorded_log(&self, task: &str) -> String {
        // Once per task in a run: built in one allocation, without `format!`.
        let name = file_name(task);
        let mut log =
            String::with_capacity(RUNS.len() + self.id.len() + LOGS.len() + name.len() + 7);
        for part in [RUNS, "/", &self.id, "/", LOGS, "/", &name, ".log"] {
            log.push_str(part);
        }
        log
    }

    /// Where process tasks write their results (`$ENGINE_RESULTS`): one file per attempt.
    #[must_use]
    pub fn results(&self) -> PathBuf {
        self.path.join(RESULTS)
    }

    /// The results file of `attempt` of a local process task, named by the task's `index`.
    #[must_use]
    pub fn results_of(&self, index: usize, attempt: u32) -> PathBuf {
        self.results().join(format!("{index}.{attempt}"))
    }

    /// The results file of `attempt` of a Slurm job of `task` (its name made one file name).
    #[must_use]
    pub fn job_results(&self, task: &str, attempt: u32) -> PathBuf {
        self.results()
            .join(format!("{}.{attempt}", file_name(task)))
    }

    /// The Slurm job files: wrapper scripts, job output, status files, the job list.
    #[must_use]
    pub fn slurm(&self) -> PathBuf {
        self.path.join(SLURM)
    }

    /// The list of the run's Slurm jobs (`task attempt job` per line), for `scancel` should
    /// engine be killed.
    #[must_use]
    pub fn job_list(&self) -> PathBuf {
        self.slurm().join(JOB_LIST)
    }

    /// The files of `attempt` of `task`'s Slurm job.
    #[must_use]
    pub fn job_files(&self, task: &str, attempt: u32) -> JobFiles {
        JobFiles::new(&self.slurm(), task, attempt)
    }
}

/// The files of one attempt of one task's job, all in the run's `slurm/` directory, which
/// the cluster's nodes must share with the engine.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct JobFiles {
    /// The wrapper script `sbatch` runs.
    pub script: PathBuf,
    /// The job's standard output, appended to by Slurm.
    pub stdout: PathBuf,
    /// The job's standard error.
    pub stderr: PathBuf,
    /// The command's exit status, written by the wrapper when the command ends.
    pub status: PathBuf,
}

impl JobFiles {
    /// The files of attempt `attempt` of `task` (its name, made one file name), in `dir`.
    #[must_use]
    pub fn new(dir: &Path, task: &str, attempt: u32) -> Self {
        let task = file_name(task);
        let file = |extension: &str| dir.join(format!("{task}.{attempt}.{extension}"));
        Self {
            script: file("sh"),
            stdout: file("out"),
            stderr: file("err"),
            status: file("status"),
        }
    }
}

/// `to` relative to the directory `from` (both absolute and lexical): `..` for each component
/// of `from` past what they share, then the rest of `to`.
fn relative(from: &Path, to: &Path) -> PathBuf {
    let from: Vec<Component<'_>> = from.components().collect();
    let to: Vec<Component<'_>> = to.components().collect();
    let shared = from.iter().zip(&to).take_while(|(a, b)| a == b).count();
    let mut out = PathBuf::new();
    for _ in shared..from.len() {
        out.push("..");
    }
    out.extend(&to[shared..]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_is_next_to_the_workflow_and_absolute() {
        let cwd = std::env::current_dir().expect("cwd");
        let state = StateDir::resolve(None, Path::new("project/flow.yaml"));
        assert_eq!(state.shown(), Path::new("project/.engine"));
        assert_eq!(state.path(), cwd.join("project/.engine"));
        let state = StateDir::resolve(None, Path::new("flow.yaml"));
        assert_eq!(state.shown(), Path::new(".engine"));
        assert_eq!(state.path(), cwd.join(".engine"));
    }

    #[test]
    fn a_given_state_dir_wins_relative_or_absolute() {
        let cwd = std::env::current_dir().expect("cwd");
        let state = StateDir::resolve(Some(Path::new("state")), Path::new("p/flow.yaml"));
        assert_eq!(state.shown(), Path::new("state"));
        assert_eq!(state.path(), cwd.join("state"));
        let state = StateDir::resolve(Some(Path::new("/srv/state")), Path::new("p/flow.yaml"));
        assert_eq!(state.shown(), Path::new("/srv/state"));
        assert_eq!(state.path(), Path::new("/srv/state"));
    }

    #[test]
    fn every_path_in_it() {
        let state = StateDir::at(Path::new("/s"));
        assert_eq!(state.record(), Path::new("/s/record.sqlite"));
        assert_eq!(state.reserve(), Path::new("/s/record.reserve"));
        let lock = state.lock("../flow.yaml");
        assert_eq!(lock.parent(), Some(Path::new("/s/locks")));
        assert_eq!(lock.extension().and_then(|e| e.to_str()), Some("lock"));
        assert_ne!(lock, state.lock("../other.yaml"));
        assert_eq!(
            state.aside("r1", "t[v=a/b]", 2),
            Path::new("/s/incomplete/r1/t[v=a%2Fb]/2")
        );
        assert_eq!(state.incomplete_of("r1"), Path::new("/s/incomplete/r1"));
        let run = state.run("r1");
        assert_eq!(run.path(), Path::new("/s/runs/r1"));
        assert_eq!(
            run.log("t[v=a/b]"),
            Path::new("/s/runs/r1/logs/t[v=a%2Fb].log")
        );
        assert_eq!(run.recorded_log("t[v=a/b]"), "runs/r1/logs/t[v=a%2Fb].log");
        assert_eq!(state.path().join(run.recorded_log("x")), run.log("x"));
        assert_eq!(run.results_of(3, 2), Path::new("/s/runs/r1/results/3.2"));
        assert_eq!(
            run.job_results("b/c", 1),
            Path::new("/s/runs/r1/results/b%2Fc.1")
        );
        assert_eq!(run.job_list(), Path::new("/s/runs/r1/slurm/jobs.tsv"));
        assert_eq!(
            run.job_files("build", 2).script,
            Path::new("/s/runs/r1/slurm/build.2.sh")
        );
    }

    #[test]
    fn a_task_name_with_a_slash_is_one_job_file_name() {
        let files = JobFiles::new(Path::new("/state/slurm"), "t[v=../b/c]", 2);
        assert_eq!(files.script, Path::new("/state/slurm/t[v=..%2Fb%2Fc].2.sh"));
        assert_eq!(files.stdout.parent(), Some(Path::new("/state/slurm")));
    }

    #[test]
    fn the_workflow_key_is_its_path_from_the_state_dir() {
        let dir = tempfile::tempdir().expect("temp dir");
        let root = std::fs::canonicalize(dir.path()).expect("canonical");
        std::fs::create_dir_all(root.join("p/sub")).expect("dirs");
        std::fs::write(root.join("p/flow.yaml"), "").expect("workflow");
        // The state dir need not exist yet.
        let state = StateDir::at(&root.join("p/.engine"));
        assert_eq!(
            state.workflow_key(&root.join("p/flow.yaml")),
            "../flow.yaml"
        );
        // Written another way, through `..`, or through a symlink: the same key.
        assert_eq!(
            state.workflow_key(&root.join("p/sub/../flow.yaml")),
            "../flow.yaml"
        );
        std::os::unix::fs::symlink(root.join("p"), root.join("link")).expect("symlink");
        assert_eq!(
            StateDir::at(&root.join("link/.engine")).workflow_key(&root.join("link/flow.yaml")),
            "../flow.yaml"
        );
        let elsewhere = StateDir::at(&root.join("state"));
        assert_eq!(
            elsewhere.workflow_key(&root.join("p/flow.yaml")),
            "../p/flow.yaml"
        );
        // A state dir inside the workflow's directory tree, deeper.
        let deep = StateDir::at(&root.join("p/sub/.state"));
        assert_eq!(
            deep.workflow_key(&root.join("p/flow.yaml")),
            "../../flow.yaml"
        );
    }

    #[test]
    fn old_absolute_keys_map_to_the_relative_ones_and_back() {
        let state = StateDir::at(Path::new("/nonexistent-engine-test/p/.engine"));
        let key = state.key_of(Path::new("/nonexistent-engine-test/p/flow.yaml"));
        assert_eq!(key, "../flow.yaml");
        assert_eq!(
            state.absolute_key(&key),
            "/nonexistent-engine-test/p/flow.yaml"
        );
        assert_eq!(state.key_of(Path::new("/w/a.yaml")), "../../../w/a.yaml");
    }
}
