//! The run record's file: an SQLite database in WAL mode in the state dir.
//!
//! Why SQLite: a commit survives the engine being killed once it returns (`synchronous =
//! NORMAL`: the WAL is written at each commit and flushed to disk at checkpoints; a power
//! loss may lose the commits since the last one, never the file's consistency), a process
//! killed at any instant leaves the last commit intact (the WAL is replayed or ignored frame
//! by frame, with checksums), readers never block the one writer, and the file can be opened with the `sqlite3` shell to inspect or
//! repair. The engine writes through one thread that commits in groups (`journal.rs`).

use std::borrow::Cow;
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use rusqlite::config::DbConfig;
use rusqlite::{Connection, ErrorCode, OpenFlags, OptionalExtension, TransactionBehavior, params};
use rustc_hash::FxHashMap;

use super::state::{AttemptStatus, RunOutcome, UnknownState};
use crate::files::{Digest, FileDigest, Learned, Stamp, from_hex, to_hex};
use crate::state_dir::StateDir;

/// Milliseconds since the epoch, now.
#[must_use]
pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// The schema this engine writes (`PRAGMA user_version`). Version 1 lacked `file_digests`;
/// versions 1 and 2 keyed workflows by their absolute path, which a moved project loses
/// (version 3 keys them by their path relative to the state dir: `StateDir::workflow_key`).
/// A run brings an older record up to date (`set_up`); reading commands read it as it is,
/// with each key translated to the absolute path it had (`Store::key`). Version 4 adds
/// each attempt's `why`, `command`, `job_id` and `queued_ms` (`ATTEMPT_CONTENT`); older
/// records read them as none.
const SCHEMA_VERSION: i32 = 4;

/// The first schema that keys workflows by their path relative to the state dir.
const RELATIVE_KEYS: i32 = 3;

/// The digests of files by path and stamp (`files::DigestCache`): what makes a no-op check
/// read no file that did not change. `seen_ms` is when the entry was last learned; entries
/// not learned again for `FILE_DIGESTS_KEPT_MS` are deleted.
const FILE_DIGESTS: &str = "
CREATE TABLE IF NOT EXISTS file_digests (
    path BLOB PRIMARY KEY,
    dev INTEGER NOT NULL,
    ino INTEGER NOT NULL,
    size INTEGER NOT NULL,
    mtime_ns INTEGER NOT NULL,
    ctime_ns INTEGER NOT NULL,
    digest BLOB NOT NULL,
    seen_ms INTEGER NOT NULL
) WITHOUT ROWID;
";

/// The first schema whose attempts say why they ran and the command that ran.
const ATTEMPT_CONTENT_VERSION: i32 = 4;

/// Why an attempt ran (the `--explain` text) and the command or script that ran, templates
/// filled in, both masked; its cluster job's id and how long that waited in the queue.
const ATTEMPT_CONTENT: &str = "
ALTER TABLE attempts ADD COLUMN why TEXT;
ALTER TABLE attempts ADD COLUMN command TEXT;
ALTER TABLE attempts ADD COLUMN job_id TEXT;
ALTER TABLE attempts ADD COLUMN queued_ms INTEGER;
";

/// How many runs of a workflow beyond the number kept wait for the next batch of pruning:
/// deleting old runs (their rows, their logs) and stale file digests costs a write and a
/// scan, so a run does it only when this many have gathered.
pub const PRUNE_SLACK: i64 = 10;

/// How large the WAL may grow before a run's writer checkpoints it, as the run starts, and
/// starts it over (two disk flushes). Each open reads the WAL's valid frames (SQLite rebuilds
/// its index), so a smaller WAL makes every start faster and more checkpoints cost more
/// flushes: 1 MiB costs about 0.5 ms to read.
const WAL_KEPT: u64 = 1 << 20;

/// The largest the WAL file is left when SQLite starts it over (`journal_size_limit`). It is
/// not cut to nothing: freeing its blocks costs about 1 ms a MiB here (ext4 mounted with
/// `discard`), and the next run would allocate them again.
const WAL_LIMIT: i64 = 4 << 20;

/// How long a file's digest is kept after it was last learned: 30 days.
const FILE_DIGESTS_KEPT_MS: i64 = 30 * 24 * 3600 * 1000;

/// Largest record checked whole when a run opens it (`PRAGMA quick_check`, about 3 ms a MiB
/// here); a larger one has its small tables checked, and SQLite reports the damage it finds
/// in the others when it reads them.
const CHECKED_WHOLE: i64 = 4 << 20;

/// How long the record waits for other engines that share the state dir (each runs its
/// own workflow and writes the record in short transactions) before it gives up.
const BUSY_TIMEOUT: Duration = Duration::from_secs(30);

const SCHEMA: &str = "
CREATE TABLE runs (
    id TEXT PRIMARY KEY,
    workflow TEXT NOT NULL,
    workflow_hash TEXT NOT NULL,
    started_ms INTEGER NOT NULL,
    ended_ms INTEGER,
    outcome TEXT,
    pid INTEGER NOT NULL,
    resumed_from TEXT,
    args TEXT NOT NULL,
    tasks INTEGER NOT NULL,
    succeeded INTEGER NOT NULL DEFAULT 0,
    failed INTEGER NOT NULL DEFAULT 0,
    skipped INTEGER NOT NULL DEFAULT 0,
    up_to_date INTEGER NOT NULL DEFAULT 0,
    cancelled INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX runs_by_workflow ON runs (workflow, started_ms);
CREATE TABLE attempts (
    run TEXT NOT NULL,
    task TEXT NOT NULL,
    attempt INTEGER NOT NULL,
    status TEXT NOT NULL,
    reason TEXT,
    exit_code INTEGER,
    signal INTEGER,
    message TEXT,
    started_ms INTEGER,
    ended_ms INTEGER,
    fingerprint BLOB,
    outputs BLOB,
    results TEXT,
    log TEXT,
    PRIMARY KEY (run, task, attempt)
) WITHOUT ROWID;
CREATE TABLE last_success (
    workflow TEXT NOT NULL,
    task TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    parts TEXT NOT NULL,
    outputs TEXT NOT NULL,
    output_files TEXT NOT NULL,
    results TEXT NOT NULL,
    run TEXT NOT NULL,
    duration_ms INTEGER NOT NULL,
    complete INTEGER NOT NULL,
    PRIMARY KEY (workflow, task)
) WITHOUT ROWID;
";

/// Why the record cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The file is not a database, or its pages do not add up.
    #[error("the run record `{}` is damaged: {detail}", path.display())]
    Damaged {
        /// The file.
        path: PathBuf,
        /// SQLite's words.
        detail: String,
    },
    /// A newer engine wrote it.
    #[error(
        "the run record `{}` was written by a newer engine (schema {found}; this engine reads {SCHEMA_VERSION})",
        path.display()
    )]
    Newer {
        /// The file.
        path: PathBuf,
        /// Its schema version.
        found: i32,
    },
    /// Other engines sharing the state dir kept it locked for longer than `BUSY_TIMEOUT`.
    #[error("the run record `{}` stayed locked by other engines for {}s: {detail}", path.display(), BUSY_TIMEOUT.as_secs())]
    Busy {
        /// The file.
        path: PathBuf,
        /// SQLite's words.
        detail: String,
    },
    /// The disk holding it is full.
    #[error("cannot write the run record `{}`: {detail}", path.display())]
    Full {
        /// The file.
        path: PathBuf,
        /// SQLite's words.
        detail: String,
    },
    /// Anything else: permissions, an I/O error.
    #[error("cannot use the run record `{}`: {detail}", path.display())]
    Other {
        /// The file.
        path: PathBuf,
        /// What failed.
        detail: String,
    },
}

impl StoreError {
    fn from_sqlite(path: &Path, error: &rusqlite::Error) -> Self {
        let detail = error.to_string();
        match error.sqlite_error_code() {
            Some(ErrorCode::NotADatabase | ErrorCode::DatabaseCorrupt) => Self::Damaged {
                path: path.to_owned(),
                detail,
            },
            Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked) => Self::Busy {
                path: path.to_owned(),
                detail,
            },
            Some(ErrorCode::DiskFull) => Self::Full {
                path: path.to_owned(),
                detail,
            },
            _ => Self::Other {
                path: path.to_owned(),
                detail,
            },
        }
    }

    /// What to do about it.
    #[must_use]
    pub fn hint(&self) -> String {
        match self {
            Self::Damaged { path, .. } => {
                let path = path.display();
                format!(
                    "move it aside and run again to start a new record (logs stay where they are): \
                     `mv {path} {path}.damaged`; `sqlite3 {path}.damaged .recover` may save its history"
                )
            }
            Self::Newer { .. } => {
                "use that engine, or give this one another `--state-dir`".to_owned()
            }
            Self::Busy { .. } => {
                "run again once the other runs in this state dir have ended, or give this \
                 workflow its own `--state-dir`"
                    .to_owned()
            }
            Self::Full { path, .. } => format!(
                "free some space on the disk that holds `{}`, or give another `--state-dir`",
                path.parent().unwrap_or(path).display()
            ),
            Self::Other { .. } => {
                "check that the state dir is writable and its disk not full, or give another `--state-dir`"
                    .to_owned()
            }
        }
    }

    /// As the command line's error (exit code 2).
    #[must_use]
    pub fn into_engine_error(self) -> crate::error::EngineError {
        crate::error::EngineError::State {
            hint: self.hint(),
            message: self.to_string(),
        }
    }
}

/// One run.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RunRow {
    /// Its id, like `20261125-153012-123-4242`.
    pub id: String,
    /// The workflow file, absolute.
    pub workflow: String,
    /// blake3 of the workflow file's text, hex.
    pub workflow_hash: String,
    /// Milliseconds since the epoch.
    pub started_ms: i64,
    /// `None` while it runs, or if the engine died.
    pub ended_ms: Option<i64>,
    /// A `RunOutcome` as stored (`outcome()` reads it); `None` while it runs or if the engine
    /// died.
    pub outcome: Option<String>,
    /// The engine's process id.
    pub pid: u32,
    /// The run it resumed.
    pub resumed_from: Option<String>,
    /// The request as JSON: selected tasks, forced tasks, variables.
    pub args: String,
    /// Tasks selected.
    pub tasks: i64,
    /// Final counts.
    pub counts: Counts,
}

/// How many tasks of a run ended how.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counts {
    /// Ran and succeeded (failures allowed with `allow_failure` count as failed).
    pub succeeded: i64,
    /// Failed, timed out.
    pub failed: i64,
    /// Skipped for any reason but being up to date.
    pub skipped: i64,
    /// Skipped as up to date, or as done by the run resumed.
    pub up_to_date: i64,
    /// Stopped by an interruption.
    pub cancelled: i64,
}

/// One attempt of one task in one run (attempt 0: the task did not run; `status` says why).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AttemptRow {
    /// The run's id.
    pub run: String,
    /// The task's name.
    pub task: String,
    /// From 1; 0 for a task that was skipped.
    pub attempt: u32,
    /// An `AttemptStatus` as stored (`state()` reads it).
    pub status: String,
    /// Why it was skipped, or what failed.
    pub reason: Option<String>,
    /// The exit code of a process.
    pub exit_code: Option<i32>,
    /// The signal that ended a process.
    pub signal: Option<i32>,
    /// When it started, milliseconds since the epoch.
    pub started_ms: Option<i64>,
    /// When it ended.
    pub ended_ms: Option<i64>,
    /// Its fingerprint.
    pub fingerprint: Option<Digest>,
    /// The digest of its outputs once it succeeded.
    pub outputs: Option<Digest>,
    /// Its results, as a JSON list of `[key, value]`.
    pub results: Option<String>,
    /// Its log file.
    pub log: Option<String>,
    /// Why it ran (the `--explain` text), masked; none in records before schema 4.
    pub why: Option<String>,
    /// The command or script that ran, templates filled in, masked; none in records before
    /// schema 4.
    pub command: Option<String>,
    /// Its cluster job's id (Slurm).
    pub job_id: Option<String>,
    /// How long its cluster job waited in the queue before it started.
    pub queued_ms: Option<i64>,
}

impl RunRow {
    /// How the run ended; `None` while it runs or if the engine died; an error for a word
    /// this engine does not know.
    pub fn outcome(&self) -> Option<Result<RunOutcome, UnknownState>> {
        self.outcome.as_deref().map(str::parse)
    }
}

impl AttemptRow {
    /// How the attempt ended; an error for a word this engine does not know.
    ///
    /// # Errors
    /// The stored word is not an `AttemptStatus`.
    pub fn state(&self) -> Result<AttemptStatus, UnknownState> {
        self.status.parse()
    }
}

/// The last successful run of a task: what an up-to-date check compares with.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Success {
    /// Its fingerprint.
    pub fingerprint: Digest,
    /// What went into the fingerprint, as JSON (`fresh::Parts`), to explain a change.
    pub parts: String,
    /// The digest of its outputs.
    pub outputs: Digest,
    /// Each output path and its digest, as JSON (`files_to_json`): read only to explain a
    /// change, as `outputs` says whether there is one.
    pub output_files: String,
    /// Its results, as a JSON list of `[key, value]`.
    pub results: String,
    /// The run it succeeded in.
    pub run: String,
    /// How long it took.
    pub duration_ms: i64,
    /// False once a later run started it again and did not finish it: its outputs are then
    /// incomplete.
    pub complete: bool,
}

/// The open record.
pub struct Store {
    conn: Connection,
    path: PathBuf,
    /// The state dir, when the record keys workflows by absolute path still (a record before
    /// schema 3 that only a reading command opened): keys are translated to that form.
    absolute_keys: Option<StateDir>,
    /// The columns attempts are read with: a record before schema 4 that only a reading
    /// command opened has no `why` nor `command`.
    attempt_columns: &'static str,
    /// For a run: when the record was last checked whole (now, or an earlier run's check
    /// that still holds), kept in the mark the run leaves when it closes the record.
    checked_ms: Option<i64>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

impl Store {
    /// Opens the record in `state_dir`, making the dir and the file if needed.
    ///
    /// # Errors
    /// A damaged file, one from a newer engine, or one that cannot be opened or written.
    pub fn open(state_dir: &StateDir) -> Result<Self, StoreError> {
        let path = state_dir.record();
        std::fs::create_dir_all(state_dir.path()).map_err(|error| StoreError::Other {
            path: path.clone(),
            detail: format!("cannot create the state dir: {error}"),
        })?;
        let conn = Connection::open(&path).map_err(|e| StoreError::from_sqlite(&path, &e))?;
        let mut store = Self {
            conn,
            path,
            absolute_keys: None,
            attempt_columns: ATTEMPT_COLUMNS,
            checked_ms: None,
        };
        store.prepare(Some(state_dir))?;
        Ok(store)
    }

    /// Opens an existing record for reading; `None` when the state dir has none.
    ///
    /// # Errors
    /// As `open`.
    pub fn open_existing(state_dir: &StateDir) -> Result<Option<Self>, StoreError> {
        let path = state_dir.record();
        if !path.exists() {
            return Ok(None);
        }
        let flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let conn = Connection::open_with_flags(&path, flags)
            .map_err(|e| StoreError::from_sqlite(&path, &e))?;
        let mut store = Self {
            conn,
            path,
            absolute_keys: None,
            attempt_columns: ATTEMPT_COLUMNS,
            checked_ms: None,
        };
        let version = store.prepare(None)?;
        if version < RELATIVE_KEYS {
            store.absolute_keys = Some(state_dir.clone());
        }
        if version < ATTEMPT_CONTENT_VERSION {
            store.attempt_columns = OLD_ATTEMPT_COLUMNS;
        }
        Ok(Some(store))
    }

    /// The file.
    #[must_use]
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Leaves the mark that lets the next run skip the whole check (`CheckMark`): called by
    /// a run as it closes the record, after its last write.
    pub fn leave_mark(&self) {
        if let Some(checked_ms) = self.checked_ms {
            CheckMark::leave(&self.path, checked_ms);
        }
    }

    /// Checkpoints the record and starts its WAL over when the WAL grew beyond `WAL_KEPT`:
    /// called by a run's writer as it starts, while the first tasks run. Waits for no other
    /// engine: when one is reading, the WAL stays as it is for a later run to trim.
    ///
    /// The WAL is started over in place rather than truncated: a `RESTART` checkpoint copies
    /// it into the record and flushes both, then one small write (the schema version, set to
    /// what it is) goes to the WAL's beginning with new salts, so the next open reads that
    /// frame alone. Truncating the file to nothing cost 4.6 ms at every other run's end
    /// (`strace -T`, layered 1,000): its blocks freed (and discarded), then allocated again.
    pub fn trim_wal(&self) {
        if wal_bytes(&self.path).is_some_and(|bytes| bytes > WAL_KEPT)
            && self.conn.busy_timeout(Duration::ZERO).is_ok()
        {
            // Its first column is 1 when a reader or writer kept it from finishing.
            let restarted = self
                .conn
                .query_row("PRAGMA wal_checkpoint(RESTART)", [], |row| {
                    row.get::<_, i64>(0)
                })
                .is_ok_and(|busy| busy == 0);
            if restarted
                && let Ok(version) = self
                    .conn
                    .pragma_query_value(None, "user_version", |row| row.get::<_, i32>(0))
            {
                let _ = self.conn.pragma_update(None, "user_version", version);
            }
        }
    }

    fn fail(&self, error: &rusqlite::Error) -> StoreError {
        StoreError::from_sqlite(&self.path, error)
    }

    /// `workflow`'s key as this record spells it: as given, or, in a record before schema 3
    /// opened by a reading command, the absolute path it stands for.
    fn key<'k>(&self, workflow: &'k str) -> Cow<'k, str> {
        match &self.absolute_keys {
            Some(state_dir) => Cow::Owned(state_dir.absolute_key(workflow)),
            None => Cow::Borrowed(workflow),
        }
    }

    /// Pragmas, then the schema: made in a new file, checked in an old one; brought up to
    /// date by a run (`create`, the state dir the record is in). Returns the schema version.
    fn prepare(&mut self, create: Option<&StateDir>) -> Result<i32, StoreError> {
        let path = self.path.clone();
        let fail = |e: rusqlite::Error| StoreError::from_sqlite(&path, &e);
        self.conn.busy_timeout(BUSY_TIMEOUT).map_err(fail)?;
        // The WAL stays when the record is closed, to be checkpointed by a later commit
        // (every 1,000 pages): closing would otherwise checkpoint it, flush the disk twice
        // and delete it, and the next run make it again (milliseconds on every run).
        self.conn
            .set_db_config(DbConfig::SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, true)
            .map_err(fail)?;
        let conn = &mut self.conn;
        // Engines of other workflows may open the same record at this very moment, and one
        // of them may be making it.
        let version = retry_busy(|| set_up(conn, create)).map_err(fail)?;
        match version {
            1..=SCHEMA_VERSION => {}
            0 => {
                return Err(StoreError::Damaged {
                    path,
                    detail: "it has no tables".to_owned(),
                });
            }
            found if found > SCHEMA_VERSION => return Err(StoreError::Newer { path, found }),
            found => {
                return Err(StoreError::Damaged {
                    path,
                    detail: format!("unknown schema version {found}"),
                });
            }
        }
        if create.is_some() {
            // A run writes the record: damage anywhere must stop it before anything runs,
            // not show up later as a warning that the run cannot be recorded. A check holds
            // while nothing but engine changed the file, for a day (`CheckMark`).
            self.checked_ms = CheckMark::holds(&path);
            if self.checked_ms.is_none() {
                if let Some(detail) = retry_busy(|| damage(conn)).map_err(fail)? {
                    return Err(StoreError::Damaged { path, detail });
                }
                self.checked_ms = Some(now_ms());
            }
        }
        // Reading the tables' root pages finds a file cut short early.
        retry_busy(|| {
            conn.query_row(
                "SELECT (SELECT count(*) FROM runs WHERE rowid < 0) + \
                 (SELECT count(*) FROM last_success WHERE task = '')",
                [],
                |row| row.get::<_, i64>(0),
            )
        })
        .map_err(fail)?;
        Ok(version)
    }

    /// Runs `write` in one transaction (committed durably, or not at all). While other
    /// engines sharing the state dir write, it waits for them and tries again (so `write` may
    /// be called more than once: each call's writes are rolled back but the last's).
    ///
    /// # Errors
    /// What SQLite said.
    pub fn transaction<T>(
        &mut self,
        mut write: impl FnMut(&Writer<'_>) -> rusqlite::Result<T>,
    ) -> Result<T, StoreError> {
        let conn = &mut self.conn;
        retry_busy(|| {
            // The write lock is taken (waiting for it if need be) before anything is read:
            // SQLite refuses at once, without waiting, a transaction that read the record
            // and then wants to write it after another engine wrote.
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let value = write(&Writer { tx: &tx })?;
            tx.commit()?;
            Ok(value)
        })
        .map_err(|e| StoreError::from_sqlite(&self.path, &e))
    }

    /// The last successful state of every task of `workflow` that has one.
    ///
    /// # Errors
    /// What SQLite said.
    pub fn successes(
        &self,
        workflow: &str,
    ) -> Result<rustc_hash::FxHashMap<String, Success>, StoreError> {
        let mut statement = self
            .conn
            .prepare_cached(
                "SELECT task, fingerprint, parts, outputs, output_files, results, run, \
                 duration_ms, complete FROM last_success WHERE workflow = ?1",
            )
            .map_err(|e| self.fail(&e))?;
        let rows = statement
            .query_map([self.key(workflow)], |row| {
                let task: String = row.get(0)?;
                Ok((
                    task,
                    Success {
                        fingerprint: digest(&row.get::<_, String>(1)?),
                        parts: row.get(2)?,
                        outputs: digest(&row.get::<_, String>(3)?),
                        output_files: row.get(4)?,
                        results: row.get(5)?,
                        run: row.get(6)?,
                        duration_ms: row.get(7)?,
                        complete: row.get(8)?,
                    },
                ))
            })
            .map_err(|e| self.fail(&e))?;
        rows.collect::<rusqlite::Result<_>>()
            .map_err(|e| self.fail(&e))
    }

    /// The runs of `workflow`, newest first.
    ///
    /// # Errors
    /// What SQLite said.
    pub fn runs(&self, workflow: &str, limit: usize) -> Result<Vec<RunRow>, StoreError> {
        let mut statement = self
            .conn
            .prepare_cached(&format!(
                "SELECT {RUN_COLUMNS} FROM runs WHERE workflow = ?1 \
                 ORDER BY started_ms DESC, id DESC LIMIT ?2"
            ))
            .map_err(|e| self.fail(&e))?;
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let rows = statement
            .query_map(params![self.key(workflow), limit], run_row)
            .map_err(|e| self.fail(&e))?;
        rows.collect::<rusqlite::Result<_>>()
            .map_err(|e| self.fail(&e))
    }

    /// The latest run of any workflow.
    ///
    /// # Errors
    /// What SQLite said.
    pub fn latest_run(&self) -> Result<Option<RunRow>, StoreError> {
        self.conn
            .query_row(
                &format!(
                    "SELECT {RUN_COLUMNS} FROM runs ORDER BY started_ms DESC, id DESC LIMIT 1"
                ),
                [],
                run_row,
            )
            .optional()
            .map_err(|e| self.fail(&e))
    }

    /// One run by id (of any workflow).
    ///
    /// # Errors
    /// What SQLite said.
    pub fn run(&self, id: &str) -> Result<Option<RunRow>, StoreError> {
        self.conn
            .query_row(
                &format!("SELECT {RUN_COLUMNS} FROM runs WHERE id = ?1"),
                [id],
                run_row,
            )
            .optional()
            .map_err(|e| self.fail(&e))
    }

    /// Run `id` if it is a run of `workflow`.
    ///
    /// # Errors
    /// What SQLite said.
    pub fn run_of(&self, workflow: &str, id: &str) -> Result<Option<RunRow>, StoreError> {
        self.conn
            .query_row(
                &format!("SELECT {RUN_COLUMNS} FROM runs WHERE id = ?1 AND workflow = ?2"),
                params![id, self.key(workflow)],
                run_row,
            )
            .optional()
            .map_err(|e| self.fail(&e))
    }

    /// Every attempt of a run, by task name then attempt.
    ///
    /// # Errors
    /// What SQLite said.
    pub fn attempts(&self, run: &str) -> Result<Vec<AttemptRow>, StoreError> {
        let mut statement = self
            .conn
            .prepare_cached(&format!(
                "SELECT {} FROM attempts WHERE run = ?1 ORDER BY task, attempt",
                self.attempt_columns
            ))
            .map_err(|e| self.fail(&e))?;
        let rows = statement
            .query_map([run], attempt_row)
            .map_err(|e| self.fail(&e))?;
        rows.collect::<rusqlite::Result<_>>()
            .map_err(|e| self.fail(&e))
    }

    /// The digests of files by absolute path, with the stamp each file had when read (empty
    /// for a record made before there were any).
    ///
    /// # Errors
    /// What SQLite said.
    pub fn file_digests(&self) -> Result<FxHashMap<PathBuf, (Stamp, Digest)>, StoreError> {
        let exists: bool = self
            .conn
            .query_row(
                "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'file_digests'",
                [],
                |row| row.get::<_, i64>(0),
            )
            .map(|count| count > 0)
            .map_err(|e| self.fail(&e))?;
        if !exists {
            return Ok(FxHashMap::default());
        }
        let mut statement = self
            .conn
            .prepare_cached(
                "SELECT path, dev, ino, size, mtime_ns, ctime_ns, digest FROM file_digests",
            )
            .map_err(|e| self.fail(&e))?;
        let rows = statement
            .query_map([], |row| {
                let path: Vec<u8> = row.get(0)?;
                let digest: Vec<u8> = row.get(6)?;
                Ok((
                    PathBuf::from(std::ffi::OsString::from_vec(path)),
                    Stamp {
                        dev: u64::from_ne_bytes(row.get::<_, i64>(1)?.to_ne_bytes()),
                        ino: u64::from_ne_bytes(row.get::<_, i64>(2)?.to_ne_bytes()),
                        size: u64::from_ne_bytes(row.get::<_, i64>(3)?.to_ne_bytes()),
                        mtime_ns: row.get(4)?,
                        ctime_ns: row.get(5)?,
                    },
                    digest,
                ))
            })
            .map_err(|e| self.fail(&e))?;
        let mut known = FxHashMap::default();
        for row in rows {
            let (path, stamp, digest) = row.map_err(|e| self.fail(&e))?;
            // A damaged digest is left out: the file is read again.
            if let Ok(digest) = Digest::try_from(digest.as_slice()) {
                known.insert(path, (stamp, digest));
            }
        }
        Ok(known)
    }

    /// How long each task of `workflow` took when it last succeeded, in milliseconds: in the
    /// latest run, else (for tasks with outputs) in their last success.
    ///
    /// # Errors
    /// What SQLite said.
    pub fn durations(
        &self,
        workflow: &str,
    ) -> Result<rustc_hash::FxHashMap<String, u64>, StoreError> {
        let mut statement = self
            .conn
            .prepare_cached(
                "SELECT task, ended_ms - started_ms FROM attempts \
                 WHERE run = (SELECT id FROM runs WHERE workflow = ?1 \
                              ORDER BY started_ms DESC LIMIT 1) \
                 AND status = ?2 AND started_ms IS NOT NULL AND ended_ms IS NOT NULL \
                 UNION ALL SELECT task, duration_ms FROM last_success WHERE workflow = ?1",
            )
            .map_err(|e| self.fail(&e))?;
        let rows = statement
            .query_map(
                params![self.key(workflow), AttemptStatus::Succeeded.as_str()],
                |row| Ok((row.get::<_, String>(0)?, row.get::<_, i64>(1)?)),
            )
            .map_err(|e| self.fail(&e))?;
        let mut durations = rustc_hash::FxHashMap::default();
        for row in rows {
            let (task, ms) = row.map_err(|e| self.fail(&e))?;
            // The latest run's rows come first and win.
            durations
                .entry(task)
                .or_insert_with(|| u64::try_from(ms).unwrap_or(0));
        }
        Ok(durations)
    }

    /// The runs of `workflow` that never recorded an end. Called by the holder of the
    /// workflow's lock, so their engines died.
    ///
    /// # Errors
    /// What SQLite said.
    pub fn unfinished_runs(&self, workflow: &str) -> Result<Vec<String>, StoreError> {
        let mut statement = self
            .conn
            .prepare_cached("SELECT id FROM runs WHERE workflow = ?1 AND outcome IS NULL")
            .map_err(|e| self.fail(&e))?;
        let rows = statement
            .query_map([self.key(workflow)], |row| row.get(0))
            .map_err(|e| self.fail(&e))?;
        rows.collect::<rusqlite::Result<_>>()
            .map_err(|e| self.fail(&e))
    }

    /// The latest attempt of each task of `workflow`, over all its runs.
    ///
    /// # Errors
    /// What SQLite said.
    pub fn latest_attempts(
        &self,
        workflow: &str,
    ) -> Result<rustc_hash::FxHashMap<String, AttemptRow>, StoreError> {
        let mut statement = self
            .conn
            .prepare_cached(&format!(
                "SELECT {} FROM attempts \
                 WHERE run IN (SELECT id FROM runs WHERE workflow = ?1) \
                 ORDER BY run, attempt",
                self.attempt_columns
            ))
            .map_err(|e| self.fail(&e))?;
        let rows = statement
            .query_map([self.key(workflow)], attempt_row)
            .map_err(|e| self.fail(&e))?;
        let mut latest = rustc_hash::FxHashMap::default();
        for row in rows {
            let row = row.map_err(|e| self.fail(&e))?;
            // Run ids sort by time, so the last row seen of a task is its latest.
            latest.insert(row.task.clone(), row);
        }
        Ok(latest)
    }
}

/// Writes inside one transaction.
pub struct Writer<'t> {
    tx: &'t rusqlite::Transaction<'t>,
}

impl Writer<'_> {
    /// Records a new run.
    ///
    /// # Errors
    /// What SQLite said.
    pub fn insert_run(&self, run: &RunRow) -> rusqlite::Result<()> {
        self.tx
            .prepare_cached(
                "INSERT INTO runs (id, workflow, workflow_hash, started_ms, pid, resumed_from, \
                 args, tasks) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            )?
            .execute(params![
                run.id,
                run.workflow,
                run.workflow_hash,
                run.started_ms,
                run.pid,
                run.resumed_from,
                run.args,
                run.tasks
            ])?;
        Ok(())
    }

    /// Records how a run ended.
    ///
    /// # Errors
    /// What SQLite said.
    pub fn finish_run(
        &self,
        id: &str,
        ended_ms: i64,
        outcome: RunOutcome,
        counts: Counts,
    ) -> rusqlite::Result<()> {
        self.tx
            .prepare_cached(
                "UPDATE runs SET ended_ms = ?2, outcome = ?3, succeeded = ?4, failed = ?5, \
                 skipped = ?6, up_to_date = ?7, cancelled = ?8 WHERE id = ?1",
            )?
            .execute(params![
                id,
                ended_ms,
                outcome.as_str(),
                counts.succeeded,
                counts.failed,
                counts.skipped,
                counts.up_to_date,
                counts.cancelled
            ])?;
        Ok(())
    }

    /// Records an attempt, or what became of it.
    ///
    /// # Errors
    /// What SQLite said.
    pub fn put_attempt(&self, row: &AttemptRow) -> rusqlite::Result<()> {
        self.tx
            .prepare_cached(
                "INSERT OR REPLACE INTO attempts (run, task, attempt, status, reason, exit_code, \
                 signal, started_ms, ended_ms, fingerprint, outputs, results, log, why, \
                 command, job_id, queued_ms) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, \
                 ?17)",
            )?
            .execute(params![
                row.run,
                row.task,
                row.attempt,
                row.status,
                row.reason,
                row.exit_code,
                row.signal,
                row.started_ms,
                row.ended_ms,
                row.fingerprint.as_ref().map(<[u8; 32]>::as_slice),
                row.outputs.as_ref().map(<[u8; 32]>::as_slice),
                row.results,
                row.log,
                row.why,
                row.command,
                row.job_id,
                row.queued_ms
            ])?;
        Ok(())
    }

    /// Records the successful run of a task.
    ///
    /// # Errors
    /// What SQLite said.
    pub fn put_success(
        &self,
        workflow: &str,
        task: &str,
        success: &Success,
    ) -> rusqlite::Result<()> {
        self.tx
            .prepare_cached(
                "INSERT OR REPLACE INTO last_success (workflow, task, fingerprint, parts, \
                 outputs, output_files, results, run, duration_ms, complete) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
            )?
            .execute(params![
                workflow,
                task,
                to_hex(&success.fingerprint),
                success.parts,
                to_hex(&success.outputs),
                success.output_files,
                success.results,
                success.run,
                success.duration_ms,
                success.complete
            ])?;
        Ok(())
    }

    /// Records that a run's engine died: the run's outcome is `died`, and its attempts that
    /// were running are `interrupted`.
    ///
    /// # Errors
    /// What SQLite said.
    pub fn mark_died(&self, run: &str) -> rusqlite::Result<()> {
        self.tx
            .prepare_cached("UPDATE runs SET outcome = ?2 WHERE id = ?1 AND outcome IS NULL")?
            .execute(params![run, RunOutcome::Died.as_str()])?;
        self.tx
            .prepare_cached(
                "UPDATE attempts SET status = ?2, reason = 'the engine died' \
                 WHERE run = ?1 AND status = ?3",
            )?
            .execute(params![
                run,
                AttemptStatus::Interrupted.as_str(),
                AttemptStatus::Running.as_str()
            ])?;
        Ok(())
    }

    /// Deletes the runs of `workflow` older than its newest `keep`, with their attempts;
    /// returns their ids (their logs are the caller's to delete).
    ///
    /// # Errors
    /// What SQLite said.
    pub fn prune(&self, workflow: &str, keep: usize) -> rusqlite::Result<Vec<String>> {
        let keep = i64::try_from(keep).unwrap_or(i64::MAX);
        // Pruned in batches: a run that deletes nothing costs one read of an index.
        let count: i64 = self
            .tx
            .prepare_cached("SELECT count(*) FROM runs WHERE workflow = ?1")?
            .query_row([workflow], |row| row.get(0))?;
        if count <= keep.saturating_add(PRUNE_SLACK) {
            return Ok(Vec::new());
        }
        let old: Vec<String> = self
            .tx
            .prepare_cached(
                "SELECT id FROM runs WHERE workflow = ?1 \
                 ORDER BY started_ms DESC, id DESC LIMIT -1 OFFSET ?2",
            )?
            .query_map(params![workflow, keep], |row| row.get(0))?
            .collect::<rusqlite::Result<_>>()?;
        for id in &old {
            self.tx
                .prepare_cached("DELETE FROM attempts WHERE run = ?1")?
                .execute([id])?;
            self.tx
                .prepare_cached("DELETE FROM runs WHERE id = ?1")?
                .execute([id])?;
        }
        self.tx
            .prepare_cached("DELETE FROM file_digests WHERE seen_ms < ?1")?
            .execute([now_ms() - FILE_DIGESTS_KEPT_MS])?;
        Ok(old)
    }

    /// Keeps the digests of files learned by a run, seen now.
    ///
    /// # Errors
    /// What SQLite said.
    pub fn put_file_digests(&self, learned: &[Learned]) -> rusqlite::Result<()> {
        let seen_ms = now_ms();
        let mut statement = self.tx.prepare_cached(
            "INSERT OR REPLACE INTO file_digests \
             (path, dev, ino, size, mtime_ns, ctime_ns, digest, seen_ms) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        )?;
        for (path, stamp, digest) in learned {
            statement.execute(params![
                path.as_os_str().as_bytes(),
                i64::from_ne_bytes(stamp.dev.to_ne_bytes()),
                i64::from_ne_bytes(stamp.ino.to_ne_bytes()),
                i64::from_ne_bytes(stamp.size.to_ne_bytes()),
                stamp.mtime_ns,
                stamp.ctime_ns,
                digest.as_slice(),
                seen_ms
            ])?;
        }
        Ok(())
    }

    /// Marks the outputs of a task's last success as incomplete: a run started it again.
    ///
    /// # Errors
    /// What SQLite said.
    pub fn mark_incomplete(&self, workflow: &str, task: &str) -> rusqlite::Result<()> {
        self.tx
            .prepare_cached(
                "UPDATE last_success SET complete = 0 WHERE workflow = ?1 AND task = ?2",
            )?
            .execute(params![workflow, task])?;
        Ok(())
    }
}

const RUN_COLUMNS: &str = "id, workflow, workflow_hash, started_ms, ended_ms, outcome, pid, \
                           resumed_from, args, tasks, succeeded, failed, skipped, up_to_date, \
                           cancelled";

const ATTEMPT_COLUMNS: &str = "run, task, attempt, status, reason, exit_code, signal, \
                               started_ms, ended_ms, fingerprint, outputs, results, log, why, \
                               command, job_id, queued_ms";

/// `ATTEMPT_COLUMNS` in a record before schema 4.
const OLD_ATTEMPT_COLUMNS: &str = "run, task, attempt, status, reason, exit_code, signal, \
                                   started_ms, ended_ms, fingerprint, outputs, results, log, \
                                   NULL, NULL, NULL, NULL";

fn run_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<RunRow> {
    Ok(RunRow {
        id: row.get(0)?,
        workflow: row.get(1)?,
        workflow_hash: row.get(2)?,
        started_ms: row.get(3)?,
        ended_ms: row.get(4)?,
        outcome: row.get(5)?,
        pid: row.get(6)?,
        resumed_from: row.get(7)?,
        args: row.get(8)?,
        tasks: row.get(9)?,
        counts: Counts {
            succeeded: row.get(10)?,
            failed: row.get(11)?,
            skipped: row.get(12)?,
            up_to_date: row.get(13)?,
            cancelled: row.get(14)?,
        },
    })
}

fn attempt_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<AttemptRow> {
    let digest = |value: Option<Vec<u8>>| value.and_then(|bytes| Digest::try_from(bytes).ok());
    Ok(AttemptRow {
        run: row.get(0)?,
        task: row.get(1)?,
        attempt: row.get(2)?,
        status: row.get(3)?,
        reason: row.get(4)?,
        exit_code: row.get(5)?,
        signal: row.get(6)?,
        started_ms: row.get(7)?,
        ended_ms: row.get(8)?,
        fingerprint: digest(row.get(9)?),
        outputs: digest(row.get(10)?),
        results: row.get(11)?,
        log: row.get(12)?,
        why: row.get(13)?,
        command: row.get(14)?,
        job_id: row.get(15)?,
        queued_ms: row.get(16)?,
    })
}

/// A digest from hex; a damaged value reads as all zeros, which matches nothing real.
fn digest(text: &str) -> Digest {
    from_hex(text).unwrap_or_default()
}

/// Output files as JSON: `[["path", "hex"], ...]`.
#[must_use]
pub fn files_to_json(files: &[FileDigest]) -> String {
    let list: Vec<(&str, String)> = files
        .iter()
        .map(|file| (file.path.as_str(), to_hex(&file.digest)))
        .collect();
    serde_json::to_string(&list).unwrap_or_else(|_| "[]".to_owned())
}

/// The inverse of `files_to_json`; damaged entries are dropped (and so never match).
#[must_use]
pub fn files_from_json(text: &str) -> Vec<FileDigest> {
    let list: Vec<(String, String)> = serde_json::from_str(text).unwrap_or_default();
    list.into_iter()
        .filter_map(|(path, hex)| from_hex(&hex).map(|digest| FileDigest { path, digest }))
        .collect()
}

/// Sets the pragmas and, for a run (`create`, with the state dir the record is in), makes
/// the schema or brings it up to date; returns the schema version it has then.
fn set_up(conn: &mut Connection, create: Option<&StateDir>) -> rusqlite::Result<i32> {
    // `journal_mode` reads the header: a file that is no database fails here.
    conn.pragma_update(None, "journal_mode", "WAL")?;
    // NORMAL: a commit is written to the WAL (the page cache) when it returns, so it
    // survives the engine being killed at any instant; the disk is flushed at checkpoints.
    // FULL would flush at every commit (about 1 ms here, on every task end a dependent
    // waits for). See README, "Incremental runs".
    conn.pragma_update(None, "synchronous", "NORMAL")?;
    conn.pragma_update(None, "journal_size_limit", WAL_LIMIT)?;
    let version: i32 = conn.pragma_query_value(None, "user_version", |row| row.get(0))?;
    let Some(state_dir) = create.filter(|_| version < SCHEMA_VERSION) else {
        return Ok(version);
    };
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    // Another engine may have made it meanwhile.
    let version: i32 = tx.pragma_query_value(None, "user_version", |row| row.get(0))?;
    if version >= SCHEMA_VERSION {
        return Ok(version);
    }
    if version == 0 {
        tx.execute_batch(SCHEMA)?;
    } else if version < RELATIVE_KEYS {
        relocate_keys(&tx, state_dir)?;
    }
    tx.execute_batch(FILE_DIGESTS)?;
    if version < ATTEMPT_CONTENT_VERSION {
        tx.execute_batch(ATTEMPT_CONTENT)?;
    }
    tx.pragma_update(None, "user_version", SCHEMA_VERSION)?;
    tx.commit()?;
    Ok(SCHEMA_VERSION)
}

/// Rewrites the absolute workflow paths that records before schema 3 keyed runs and
/// successes by as paths relative to `state_dir` (`StateDir::key_of`).
fn relocate_keys(tx: &rusqlite::Transaction<'_>, state_dir: &StateDir) -> rusqlite::Result<()> {
    let keys: Vec<String> = tx
        .prepare("SELECT workflow FROM runs UNION SELECT workflow FROM last_success")?
        .query_map([], |row| row.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    for old in keys.iter().filter(|key| key.starts_with('/')) {
        let new = state_dir.key_of(Path::new(old));
        for table in ["runs", "last_success"] {
            tx.execute(
                &format!("UPDATE {table} SET workflow = ?2 WHERE workflow = ?1"),
                params![old, new],
            )?;
        }
    }
    Ok(())
}

/// How long a whole check of the record holds while only engine changes the file: a day.
const CHECK_HOLDS_MS: i64 = 24 * 3600 * 1000;

/// The file's stamp must be this much older than the mark for the mark to hold: a change
/// within the same tick of a coarse file system clock could leave the stamp as it was.
const MARK_SETTLED_MS: i64 = 3000;

/// `record.checked` beside the record: what the record file looked like when a run closed
/// it (size, inode, modification time), when that was, and when the record was last checked
/// whole. A run whose record file still looks so skips `PRAGMA quick_check` (3 ms a MiB)
/// for a day: damage comes from outside engine (a disk error, another program, a copy cut
/// short), and anything that writes the file changes its stamp. Engine's own file of one
/// line, rewritten in place with one write (a rename over it would make ext4 flush it to
/// disk first: 0.7 ms at the end of every run); the line carries a digest of its numbers, so
/// a mark torn by a crash, or any mark that cannot be read, means a check.
struct CheckMark;

/// The length of `record.checked`: its line is padded with spaces to this many bytes, so
/// that each mark overwrites the whole of the one before.
const MARK_LEN: usize = 128;

impl CheckMark {
    fn path(record: &Path) -> PathBuf {
        record.with_file_name("record.checked")
    }

    fn stamp(record: &Path) -> Option<[i64; 4]> {
        use std::os::unix::fs::MetadataExt;
        let meta = std::fs::symlink_metadata(record).ok()?;
        let size = i64::try_from(meta.size()).ok()?;
        let ino = i64::try_from(meta.ino()).ok()?;
        Some([size, ino, meta.mtime(), meta.mtime_nsec()])
    }

    /// Whether nothing but a mark engine could have left is at `path`: no file, or a plain
    /// file (a link or anything else is someone else's, and stays as it is).
    fn is_ours(path: &Path) -> bool {
        std::fs::symlink_metadata(path).map_or_else(
            |error| error.kind() == std::io::ErrorKind::NotFound,
            |meta| meta.file_type().is_file(),
        )
    }

    /// When the record was last checked whole, if the mark left by the last run still holds.
    fn holds(record: &Path) -> Option<i64> {
        let path = Self::path(record);
        if !Self::is_ours(&path) {
            return None;
        }
        let text = std::fs::read_to_string(path).ok()?;
        let mut words = text.split_whitespace();
        let numbers: Vec<i64> = words
            .by_ref()
            .take(6)
            .map(str::parse)
            .collect::<Result<_, _>>()
            .ok()?;
        let &[size, ino, mtime_s, mtime_ns, written_ms, checked_ms] = numbers.as_slice() else {
            return None;
        };
        let digest = words.next()?;
        if words.next().is_some() || digest != Self::digest(&numbers) {
            return None;
        }
        let now = now_ms();
        let settled = written_ms - (mtime_s * 1000 + mtime_ns / 1_000_000) > MARK_SETTLED_MS;
        (Self::stamp(record)? == [size, ino, mtime_s, mtime_ns]
            && settled
            && (0..CHECK_HOLDS_MS).contains(&(now - checked_ms)))
        .then_some(checked_ms)
    }

    /// The digest a mark's line ends with: of its six numbers, as hex.
    fn digest(numbers: &[i64]) -> String {
        let mut hasher = blake3::Hasher::new();
        for number in numbers {
            hasher.update(&number.to_le_bytes());
        }
        hasher.finalize().to_hex()[..16].to_owned()
    }

    fn leave(record: &Path, checked_ms: i64) {
        let Some([size, ino, mtime_s, mtime_ns]) = Self::stamp(record) else {
            return;
        };
        let numbers = [size, ino, mtime_s, mtime_ns, now_ms(), checked_ms];
        let mut line = numbers.map(|number| number.to_string()).join(" ");
        line.push(' ');
        line.push_str(&Self::digest(&numbers));
        if line.len() >= MARK_LEN {
            return;
        }
        let mut text = format!("{line:<width$}", width = MARK_LEN - 1);
        text.push('\n');
        // Only engine's own mark is overwritten: with anything else at its name (a link, a
        // directory, a pipe, a file linked from elsewhere) no mark is left, nothing is
        // written through it, and the next run checks the record whole.
        if let Ok(Some(file)) = super::open_own(&Self::path(record)) {
            let _ = super::rewrite(&file, text.as_bytes());
        }
    }
}

/// How much of the record's WAL holds frames: the WAL file itself is left at its size when
/// SQLite starts it over. Read from the WAL index in `record.sqlite-shm` (its header's
/// `mxFrame` and page size, <https://www.sqlite.org/walformat.html>), which this engine's
/// connection keeps up to date; the WAL file's size when the index cannot be read.
fn wal_bytes(record: &Path) -> Option<u64> {
    let with = |suffix: &str| {
        let mut path = record.to_path_buf().into_os_string();
        path.push(suffix);
        PathBuf::from(path)
    };
    let from_index = (|| {
        let mut header = [0u8; 48];
        // Not through a link, and never waiting on a pipe put at its name.
        let mut index = std::os::unix::fs::OpenOptionsExt::custom_flags(
            std::fs::OpenOptions::new().read(true),
            nix::libc::O_NOFOLLOW | nix::libc::O_NONBLOCK,
        )
        .open(with("-shm"))
        .ok()?;
        std::io::Read::read_exact(&mut index, &mut header).ok()?;
        let word = |at: usize| {
            header
                .get(at..at + 4)?
                .try_into()
                .ok()
                .map(u32::from_ne_bytes)
        };
        let version = word(0)?;
        let initialised = header[12] == 1;
        let page = u64::from(u16::from_ne_bytes([header[14], header[15]]));
        // A page size of 65,536 is kept as 1.
        let page = if page == 1 { 65_536 } else { page };
        let frames = u64::from(word(16)?);
        (version == 3_007_000 && initialised && page >= 512).then(|| 32 + frames * (page + 24))
    })();
    from_index.or_else(|| std::fs::metadata(with("-wal")).ok().map(|meta| meta.len()))
}

/// What `PRAGMA quick_check` finds wrong in the record (the whole file when it is small, else
/// its small tables), or `None`.
fn damage(conn: &Connection) -> rusqlite::Result<Option<String>> {
    let size: i64 = conn.query_row(
        "SELECT page_count * page_size FROM pragma_page_count(), pragma_page_size()",
        [],
        |row| row.get(0),
    )?;
    let checks: &[&str] = if size <= CHECKED_WHOLE {
        &["PRAGMA quick_check"]
    } else {
        &[
            "PRAGMA quick_check(runs)",
            "PRAGMA quick_check(last_success)",
        ]
    };
    for check in checks {
        let mut statement = conn.prepare(check)?;
        let found: Vec<String> = statement
            .query_map([], |row| row.get(0))?
            .take(3)
            .collect::<rusqlite::Result<_>>()?;
        if found.first().is_some_and(|first| first != "ok") {
            // Each row may hold several lines, and the first only names the database.
            let lines: Vec<&str> = found
                .iter()
                .flat_map(|row| row.lines())
                .filter(|line| !line.starts_with("***"))
                .take(3)
                .collect();
            return Ok(Some(lines.join("; ")));
        }
    }
    Ok(None)
}

/// Whether SQLite refused because another connection holds the file.
fn is_busy(error: &rusqlite::Error) -> bool {
    matches!(
        error.sqlite_error_code(),
        Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked)
    )
}

/// Calls `attempt` again while the record is busy, for up to `BUSY_TIMEOUT` in all. The
/// busy timeout makes SQLite wait for most locks itself, but not for all: it refuses at once
/// to set up a new file that another engine sets up, or to let a transaction that read write
/// after another wrote, or while another recovers the WAL of an engine that died.
fn retry_busy<T>(mut attempt: impl FnMut() -> rusqlite::Result<T>) -> rusqlite::Result<T> {
    let deadline = Instant::now() + BUSY_TIMEOUT;
    let mut pause = Duration::from_millis(1);
    loop {
        match attempt() {
            Err(error) if is_busy(&error) && Instant::now() < deadline => {
                std::thread::sleep(pause);
                pause = (pause * 2).min(Duration::from_millis(50));
            }
            result => return result,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(id: &str) -> RunRow {
        RunRow {
            id: id.to_owned(),
            workflow: "/w/flow.yaml".to_owned(),
            workflow_hash: "00".to_owned(),
            started_ms: 1,
            pid: 42,
            args: "{}".to_owned(),
            tasks: 2,
            ..RunRow::default()
        }
    }

    #[test]
    fn a_new_record_keeps_runs_attempts_and_successes() {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut store = Store::open(&StateDir::at(dir.path())).expect("opens");
        store
            .transaction(|w| {
                w.insert_run(&run("r1"))?;
                w.put_attempt(&AttemptRow {
                    run: "r1".into(),
                    task: "build".into(),
                    attempt: 1,
                    status: "succeeded".into(),
                    fingerprint: Some([7; 32]),
                    ..AttemptRow::default()
                })?;
                w.put_success(
                    "/w/flow.yaml",
                    "build",
                    &Success {
                        fingerprint: [7; 32],
                        parts: "{}".into(),
                        outputs: [9; 32],
                        output_files: files_to_json(&[FileDigest {
                            path: "out".into(),
                            digest: [3; 32],
                        }]),
                        results: "[]".into(),
                        run: "r1".into(),
                        duration_ms: 5,
                        complete: true,
                    },
                )?;
                w.finish_run("r1", 9, RunOutcome::Succeeded, Counts::default())
            })
            .expect("writes");
        drop(store);
        let store = Store::open_existing(&StateDir::at(dir.path()))
            .expect("opens")
            .expect("exists");
        let runs = store.runs("/w/flow.yaml", 10).expect("runs");
        assert_eq!(runs.len(), 1);
        assert_eq!(runs[0].outcome.as_deref(), Some("succeeded"));
        let attempts = store.attempts("r1").expect("attempts");
        assert_eq!(attempts[0].fingerprint, Some([7; 32]));
        let successes = store.successes("/w/flow.yaml").expect("successes");
        assert_eq!(
            files_from_json(&successes["build"].output_files)[0].digest,
            [3; 32]
        );
        assert!(successes["build"].complete);
    }

    #[test]
    fn pruning_keeps_the_newest_runs_of_a_workflow_only() {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut store = Store::open(&StateDir::at(dir.path())).expect("opens");
        let add = |store: &mut Store, i: i64| {
            store
                .transaction(|w| {
                    let mut row = run(&format!("r{i:02}"));
                    row.started_ms = i;
                    w.insert_run(&row)?;
                    w.put_attempt(&AttemptRow {
                        run: row.id.clone(),
                        task: "t".into(),
                        attempt: 1,
                        status: "succeeded".into(),
                        ..AttemptRow::default()
                    })
                })
                .expect("writes");
        };
        // Two kept, and up to `PRUNE_SLACK` more waiting for a batch: nothing is deleted.
        for i in 0..2 + PRUNE_SLACK {
            add(&mut store, i);
        }
        store
            .transaction(|w| {
                let mut other = run("x0");
                other.workflow = "/w/other.yaml".into();
                w.insert_run(&other)
            })
            .expect("writes");
        let pruned = store
            .transaction(|w| w.prune("/w/flow.yaml", 2))
            .expect("prunes");
        assert!(pruned.is_empty(), "{pruned:?}");
        // One more: the batch is deleted, down to the two newest.
        add(&mut store, 2 + PRUNE_SLACK);
        let pruned = store
            .transaction(|w| w.prune("/w/flow.yaml", 2))
            .expect("prunes");
        let expected: Vec<String> = (0..=PRUNE_SLACK)
            .rev()
            .map(|i| format!("r{i:02}"))
            .collect();
        assert_eq!(pruned, expected);
        let left: Vec<String> = store
            .runs("/w/flow.yaml", 100)
            .expect("runs")
            .into_iter()
            .map(|run| run.id)
            .collect();
        let newest = [2 + PRUNE_SLACK, 1 + PRUNE_SLACK].map(|i| format!("r{i:02}"));
        assert_eq!(left, newest);
        assert!(store.attempts("r00").expect("attempts").is_empty());
        assert_eq!(store.attempts(&newest[0]).expect("attempts").len(), 1);
        assert_eq!(store.runs("/w/other.yaml", 10).expect("runs").len(), 1);
    }

    #[test]
    fn file_digests_are_kept_by_path_and_the_stale_ones_pruned() {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut store = Store::open(&StateDir::at(dir.path())).expect("opens");
        let stamp = Stamp {
            dev: u64::MAX,
            ino: 42,
            size: 3,
            mtime_ns: 1_700_000_000_000_000_000,
            ctime_ns: -5,
        };
        let path = PathBuf::from(std::ffi::OsString::from_vec(b"/data/\xff name".to_vec()));
        store
            .transaction(|w| {
                w.put_file_digests(&[(path.clone(), stamp, [1; 32])])?;
                w.put_file_digests(&[(PathBuf::from("/data/old"), stamp, [2; 32])])
            })
            .expect("writes");
        let known = store.file_digests().expect("reads");
        assert_eq!(known.len(), 2);
        assert_eq!(known[&path], (stamp, [1; 32]));
        // Learned again: replaced. Not learned for longer than kept: deleted at a prune.
        store
            .transaction(|w| w.put_file_digests(&[(path.clone(), stamp, [3; 32])]))
            .expect("writes");
        store
            .conn
            .execute(
                "UPDATE file_digests SET seen_ms = ?1 WHERE path = ?2",
                params![
                    super::now_ms() - FILE_DIGESTS_KEPT_MS - 1,
                    b"/data/old".as_slice()
                ],
            )
            .expect("ages an entry");
        // Stale digests go with a batch of old runs.
        store
            .transaction(|w| {
                for i in 0..=PRUNE_SLACK {
                    w.insert_run(&run(&format!("r{i}")))?;
                }
                Ok(())
            })
            .expect("writes");
        store
            .transaction(|w| w.prune("/w/flow.yaml", 0))
            .expect("prunes");
        let known = store.file_digests().expect("reads");
        assert_eq!(known.len(), 1);
        assert_eq!(known[&path], (stamp, [3; 32]));
    }

    #[test]
    fn a_record_of_schema_1_gets_the_file_digests_when_a_run_opens_it() {
        let dir = tempfile::tempdir().expect("temp dir");
        {
            let conn = Connection::open(StateDir::at(dir.path()).record()).expect("opens");
            conn.execute_batch(SCHEMA).expect("schema 1");
            conn.pragma_update(None, "user_version", 1)
                .expect("version");
        }
        // Reading commands read it as it is.
        let store = Store::open_existing(&StateDir::at(dir.path()))
            .expect("opens")
            .expect("exists");
        assert!(store.file_digests().expect("reads").is_empty());
        drop(store);
        let mut store = Store::open(&StateDir::at(dir.path())).expect("opens");
        let version: i32 = store
            .conn
            .pragma_query_value(None, "user_version", |row| row.get(0))
            .expect("version");
        assert_eq!(version, SCHEMA_VERSION);
        store
            .transaction(|w| {
                w.put_file_digests(&[(PathBuf::from("/a"), Stamp::default(), [1; 32])])
            })
            .expect("writes");
        assert_eq!(store.file_digests().expect("reads").len(), 1);
    }

    #[test]
    fn a_record_of_schema_2_keyed_by_absolute_paths_is_keyed_relative_to_the_state_dir() {
        let dir = tempfile::tempdir().expect("temp dir");
        let root = std::fs::canonicalize(dir.path()).expect("canonical");
        let state_dir = StateDir::at(&root.join("p/.engine"));
        std::fs::create_dir_all(state_dir.path()).expect("state dir");
        let (flow, other) = (root.join("p/flow.yaml"), root.join("elsewhere/other.yaml"));
        {
            let conn = Connection::open(state_dir.record()).expect("opens");
            conn.execute_batch(SCHEMA).expect("schema");
            conn.execute_batch(FILE_DIGESTS).expect("file digests");
            conn.pragma_update(None, "user_version", 2)
                .expect("version");
            for (id, workflow) in [("r1", &flow), ("r2", &flow), ("x1", &other)] {
                conn.execute(
                    "INSERT INTO runs (id, workflow, workflow_hash, started_ms, pid, args, tasks) \
                     VALUES (?1, ?2, '00', 1, 42, '{}', 1)",
                    params![id, workflow.to_string_lossy()],
                )
                .expect("a run");
            }
            conn.execute(
                "INSERT INTO last_success VALUES (?1, 'build', ?2, '{}', ?2, '[]', '[]', 'r2', 5, 1)",
                params![flow.to_string_lossy(), "07".repeat(32)],
            )
            .expect("a success");
        }
        let key = state_dir.workflow_key(&flow);
        assert_eq!(key, "../flow.yaml");
        // Reading commands find the old runs by the new key without writing.
        let store = Store::open_existing(&state_dir)
            .expect("opens")
            .expect("exists");
        assert_eq!(store.runs(&key, 10).expect("runs").len(), 2);
        assert!(store.run_of(&key, "r1").expect("run").is_some());
        assert!(store.run_of(&key, "x1").expect("run").is_none());
        assert_eq!(store.successes(&key).expect("successes").len(), 1);
        let version: i32 = store
            .conn
            .pragma_query_value(None, "user_version", |row| row.get(0))
            .expect("version");
        assert_eq!(version, 2);
        drop(store);
        // A run rewrites the keys, those of other workflows too.
        let store = Store::open(&state_dir).expect("opens");
        let version: i32 = store
            .conn
            .pragma_query_value(None, "user_version", |row| row.get(0))
            .expect("version");
        assert_eq!(version, SCHEMA_VERSION);
        assert_eq!(store.runs(&key, 10).expect("runs").len(), 2);
        assert!(store.run_of(&key, "r2").expect("run").is_some());
        assert_eq!(
            store.runs(&key, 10).expect("runs")[0].workflow,
            "../flow.yaml"
        );
        assert_eq!(store.successes(&key).expect("successes")["build"].run, "r2");
        assert_eq!(store.durations(&key).expect("durations")["build"], 5);
        let other_key = state_dir.workflow_key(&other);
        assert_eq!(other_key, "../../elsewhere/other.yaml");
        assert_eq!(store.runs(&other_key, 10).expect("runs").len(), 1);
        // Nothing is left under the old keys.
        assert!(
            store
                .runs(&flow.to_string_lossy(), 10)
                .expect("runs")
                .is_empty()
        );
        drop(store);
        // Moved with its state dir, the project keeps its record.
        let moved = root.join("q");
        std::fs::rename(root.join("p"), &moved).expect("move");
        std::fs::write(moved.join("flow.yaml"), "").expect("workflow");
        let state_dir = StateDir::at(&moved.join(".engine"));
        let store = Store::open(&state_dir).expect("opens");
        let key = state_dir.workflow_key(&moved.join("flow.yaml"));
        assert_eq!(store.runs(&key, 10).expect("runs").len(), 2);
    }

    #[test]
    fn a_record_of_schema_3_reads_its_attempts_without_why_and_command() {
        let dir = tempfile::tempdir().expect("temp dir");
        let state_dir = StateDir::at(dir.path());
        {
            let conn = Connection::open(state_dir.record()).expect("opens");
            conn.execute_batch(SCHEMA).expect("schema");
            conn.execute_batch(FILE_DIGESTS).expect("file digests");
            conn.pragma_update(None, "user_version", 3)
                .expect("version");
            conn.execute(
                "INSERT INTO attempts (run, task, attempt, status, reason) \
                 VALUES ('r1', 'build', 1, 'failed', 'exit code 1')",
                [],
            )
            .expect("an attempt");
        }
        let store = Store::open_existing(&state_dir)
            .expect("opens")
            .expect("exists");
        let rows = store.attempts("r1").expect("attempts");
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0].reason.as_deref(), Some("exit code 1"));
        assert_eq!(
            (rows[0].why.as_deref(), rows[0].command.as_deref()),
            (None, None)
        );
        drop(store);
        // A run adds the columns; what it writes reads back.
        let mut store = Store::open(&state_dir).expect("opens");
        store
            .transaction(|w| {
                w.put_attempt(&AttemptRow {
                    run: "r2".to_owned(),
                    task: "build".to_owned(),
                    attempt: 1,
                    status: "succeeded".to_owned(),
                    why: Some("input `a.c` changed".to_owned()),
                    command: Some("cc a.c".to_owned()),
                    job_id: Some("4242".to_owned()),
                    queued_ms: Some(1500),
                    ..AttemptRow::default()
                })
            })
            .expect("writes");
        assert_eq!(store.attempts("r1").expect("attempts")[0].why, None);
        let rows = store.attempts("r2").expect("attempts");
        assert_eq!(rows[0].why.as_deref(), Some("input `a.c` changed"));
        assert_eq!(rows[0].command.as_deref(), Some("cc a.c"));
        assert_eq!(
            (rows[0].job_id.as_deref(), rows[0].queued_ms),
            (Some("4242"), Some(1500))
        );
    }

    #[test]
    fn a_busy_record_is_not_blamed_on_the_disk() {
        let path = Path::new("/s/record.sqlite");
        for code in [rusqlite::ffi::SQLITE_BUSY, rusqlite::ffi::SQLITE_LOCKED] {
            let error = rusqlite::Error::SqliteFailure(rusqlite::ffi::Error::new(code), None);
            let error = StoreError::from_sqlite(path, &error);
            assert!(matches!(error, StoreError::Busy { .. }), "{error:?}");
            assert!(!error.hint().contains("disk"), "{}", error.hint());
            assert!(error.hint().contains("--state-dir"), "{}", error.hint());
        }
    }

    #[test]
    fn a_full_disk_is_said_to_be_one() {
        let error = rusqlite::Error::SqliteFailure(
            rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_FULL),
            None,
        );
        let error = StoreError::from_sqlite(Path::new("/s/record.sqlite"), &error);
        assert!(matches!(error, StoreError::Full { .. }), "{error:?}");
        assert!(error.hint().contains("free some space"), "{}", error.hint());
    }

    #[test]
    fn two_engines_making_a_new_record_at_once_both_open_it() {
        for _ in 0..20 {
            let dir = tempfile::tempdir().expect("temp dir");
            let barrier = std::sync::Barrier::new(2);
            std::thread::scope(|scope| {
                let open = || {
                    barrier.wait();
                    let mut store = Store::open(&StateDir::at(dir.path()))?;
                    store.transaction(|w| w.prune("/w/flow.yaml", 1).map(drop))
                };
                let first = scope.spawn(open);
                let second = open();
                second.expect("the second opens");
                first.join().expect("joins").expect("the first opens");
            });
        }
    }

    #[test]
    fn a_file_that_is_no_database_is_damaged_with_a_way_out() {
        let dir = tempfile::tempdir().expect("temp dir");
        std::fs::write(StateDir::at(dir.path()).record(), vec![b'x'; 8192]).expect("writes");
        let error = Store::open(&StateDir::at(dir.path())).expect_err("refuses");
        assert!(matches!(error, StoreError::Damaged { .. }), "{error:?}");
        assert!(error.hint().contains("mv "), "{}", error.hint());
    }

    /// A record of 200 runs with its WAL folded into the file.
    fn folded_record_of_200_runs(state: &StateDir) -> Store {
        let mut store = Store::open(state).expect("opens");
        store
            .transaction(|w| {
                for i in 0..200 {
                    w.insert_run(&run(&format!("r{i}")))?;
                }
                Ok(())
            })
            .expect("writes");
        store
            .conn
            .pragma_update(None, "wal_checkpoint", "TRUNCATE")
            .expect("checkpoint");
        store
    }

    fn set_modified(path: &Path, time: SystemTime) {
        std::fs::OpenOptions::new()
            .write(true)
            .open(path)
            .expect("opens")
            .set_modified(time)
            .expect("sets the time");
    }

    /// A WAL past `WAL_KEPT` is copied into the record and started over in place: the next
    /// open reads one frame, the file keeps its blocks, nothing is lost; a WAL below it is
    /// left alone.
    #[test]
    fn a_large_wal_is_started_over_in_place_and_a_small_one_is_left() {
        let dir = tempfile::tempdir().expect("temp dir");
        let state = StateDir::at(dir.path());
        let store = Store::open(&state).expect("opens");
        let wal = dir.path().join("record.sqlite-wal");
        store
            .conn
            .execute_batch("CREATE TABLE scratch (b BLOB)")
            .expect("table");
        let fill = |rows: usize| {
            store
                .conn
                .execute_batch(&format!(
                    "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < {rows}) \
                     INSERT INTO scratch SELECT randomblob(4000) FROM n"
                ))
                .expect("fills");
        };
        fill(8);
        let small = wal_bytes(&state.record()).expect("wal");
        assert!(small < WAL_KEPT, "{small}");
        store.trim_wal();
        assert_eq!(
            wal_bytes(&state.record()),
            Some(small),
            "a small WAL is left"
        );
        fill(400);
        let large = wal_bytes(&state.record()).expect("wal");
        assert!(large > WAL_KEPT, "{large}");
        let file = std::fs::metadata(&wal).expect("wal file").len();
        store.trim_wal();
        let page: i64 = store
            .conn
            .pragma_query_value(None, "page_size", |row| row.get(0))
            .expect("page size");
        let page = u64::try_from(page).expect("page size");
        assert_eq!(
            wal_bytes(&state.record()),
            Some(32 + page + 24),
            "one frame"
        );
        assert_eq!(std::fs::metadata(&wal).expect("wal file").len(), file);
        drop(store);
        let store = Store::open(&state).expect("opens again");
        let rows: i64 = store
            .conn
            .query_row("SELECT count(*) FROM scratch", [], |row| row.get(0))
            .expect("counts");
        assert_eq!(rows, 408);
    }

    #[test]
    fn a_whole_check_holds_while_the_file_keeps_the_stamp_the_last_run_left() {
        let dir = tempfile::tempdir().expect("temp dir");
        let state = StateDir::at(dir.path());
        let store = folded_record_of_200_runs(&state);
        // The file settled long before the run closed it.
        let path = state.record();
        let then = SystemTime::now() - Duration::from_secs(60);
        set_modified(&path, then);
        store.leave_mark();
        drop(store);
        // Damage that keeps the size, and the stamp put back: the check is not made again.
        let mut bytes = std::fs::read(&path).expect("reads");
        // A leaf of `runs` (type 0x0d) with its newest rows: the run's reads never visit it.
        let page = bytes
            .chunks(4096)
            .position(|page| page[0] == 0x0d && page.windows(4).any(|w| w == b"r199"))
            .expect("a leaf with the newest runs");
        bytes[page * 4096..(page + 1) * 4096].fill(0x55);
        std::fs::write(&path, &bytes).expect("damages");
        set_modified(&path, then);
        let opened = Store::open(&state);
        assert!(opened.is_ok(), "the mark held: {opened:?}");
        // Any other stamp: checked whole, and found.
        set_modified(&path, SystemTime::now());
        let error = Store::open(&state).expect_err("refuses");
        assert!(matches!(error, StoreError::Damaged { .. }), "{error:?}");
    }

    #[test]
    fn a_link_at_the_marks_names_is_never_written_through_nor_replaced() {
        let dir = tempfile::tempdir().expect("temp dir");
        let outside = tempfile::tempdir().expect("another dir");
        let state = StateDir::at(dir.path());
        let store = folded_record_of_200_runs(&state);
        set_modified(&state.record(), SystemTime::now() - Duration::from_secs(60));
        let theirs = outside.path().join("theirs.txt");
        std::fs::write(&theirs, "the user's\n").expect("writes");
        let mark = dir.path().join("record.checked");
        // A symbolic link, then a hard link: the user's file is never written to.
        for hard in [false, true] {
            if hard {
                std::fs::hard_link(&theirs, &mark).expect("links");
            } else {
                std::os::unix::fs::symlink(&theirs, &mark).expect("links");
            }
            store.leave_mark();
            assert_eq!(
                std::fs::read_to_string(&theirs).expect("reads"),
                "the user's\n"
            );
            let meta = std::fs::symlink_metadata(&mark).expect("still there");
            assert_eq!(
                meta.file_type().is_symlink(),
                !hard,
                "the link was replaced"
            );
            // No mark of engine's holds: the next run checks the record whole.
            assert_eq!(CheckMark::holds(&state.record()), None);
            std::fs::remove_file(&mark).expect("unlinks");
        }
        // With the names free, the mark is left and holds.
        store.leave_mark();
        assert!(CheckMark::holds(&state.record()).is_some());
    }

    #[test]
    fn a_mark_is_rewritten_in_place_and_a_torn_one_does_not_hold() {
        let dir = tempfile::tempdir().expect("temp dir");
        let state = StateDir::at(dir.path());
        let store = folded_record_of_200_runs(&state);
        set_modified(&state.record(), SystemTime::now() - Duration::from_secs(60));
        let mark = dir.path().join("record.checked");
        // A longer file than a mark (an older engine's, say) is cut to the mark's length.
        std::fs::write(&mark, "x".repeat(3 * MARK_LEN)).expect("writes");
        store.leave_mark();
        let text = std::fs::read_to_string(&mark).expect("reads");
        assert_eq!(text.len(), MARK_LEN);
        assert!(CheckMark::holds(&state.record()).is_some());
        // Each number changed in turn (a write torn by a crash): the digest no longer
        // matches, so the mark does not hold.
        let words: Vec<&str> = text.split_whitespace().collect();
        for at in 0..6 {
            let mut torn = words.clone();
            let number: i64 = words[at].parse().expect("a number");
            let changed = (number - 1).to_string();
            torn[at] = &changed;
            std::fs::write(&mark, torn.join(" ")).expect("writes");
            assert_eq!(CheckMark::holds(&state.record()), None, "number {at}");
        }
        // Without its digest (the format before it), neither.
        std::fs::write(&mark, words[..6].join(" ")).expect("writes");
        assert_eq!(CheckMark::holds(&state.record()), None);
        store.leave_mark();
        assert!(CheckMark::holds(&state.record()).is_some());
    }

    #[test]
    fn a_record_cut_short_is_damaged() {
        let dir = tempfile::tempdir().expect("temp dir");
        // Fold the WAL into the file, then cut the file in the middle of its pages.
        drop(folded_record_of_200_runs(&StateDir::at(dir.path())));
        let path = StateDir::at(dir.path()).record();
        let length = std::fs::metadata(&path).expect("exists").len();
        let file = std::fs::OpenOptions::new()
            .write(true)
            .open(&path)
            .expect("opens");
        file.set_len(length / 2).expect("truncates");
        drop(file);
        let error = Store::open(&StateDir::at(dir.path()))
            .and_then(|store| store.runs("/w/flow.yaml", 1000).map(|_| ()))
            .expect_err("refuses");
        assert!(matches!(error, StoreError::Damaged { .. }), "{error:?}");
    }
}
