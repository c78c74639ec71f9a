//! What a run that found every task up to date leaves for the next one: what it was asked
//! (a digest of the engine, the command line and the environment), everything it looked at
//! on the file system with its stamp (`files::observe`: the workflow and its includes, each
//! input, discovered input and output, each directory a glob listed), the record it read,
//! and what it recorded of the run. When the next run is asked the same and every stamp is
//! still as listed, it would load the same workflow, read the same record and files, and
//! find every task up to date again: `engine run` then records the run and says so without
//! loading anything (ninja's no-op reads its logs and `stat`s; this is the same).
//!
//! The list trusts stamps exactly as the digest cache does (`files::SETTLED`): it is kept
//! only when every file and directory in it last changed longer ago than that. Every run
//! that may change the record removes the list when it starts, holding the workflow's lock,
//! so a list never outlives the record it was taken against. One file per workflow, written
//! whole to a temporary name and renamed: a list is whole or absent.

use std::io::{self, Write as _};
use std::os::unix::ffi::OsStrExt as _;
use std::os::unix::fs::MetadataExt as _;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use crate::files::observe::{Look, Seen};
use crate::files::{Digest, SETTLED, Stamp, from_hex, to_hex};
use crate::state_dir::StateDir;

/// The first line of the file: its format.
const HEADER: &str = "engine unchanged 1";

/// A no-op run, as the next run can repeat it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Unchanged {
    /// What the run was asked: engine, command line, environment (`request`).
    pub request: Digest,
    /// The record file's device and inode: a record made anew is not the one read.
    pub record: (u64, u64),
    /// Environment variables left out of `request`: shell variables the workflow does not
    /// mention (`observe::SHELL_VARIABLES`).
    pub ignored: Vec<String>,
    /// How many tasks were up to date.
    pub tasks: usize,
    /// How many join points (tasks without a command) succeeded, each after dependencies
    /// that were all up to date.
    pub joins: usize,
    /// The run row's `workflow_hash`.
    pub workflow_hash: String,
    /// The run row's `args`.
    pub args: String,
    /// Every path looked at, and what was there.
    pub looks: Vec<(PathBuf, Look)>,
}

impl Unchanged {
    /// The list of a no-op run that looked at `seen`, every look taken after `now`: a
    /// path that changed less than `SETTLED` before then may have changed again since
    /// within the same tick of a coarse clock, unseen by its stamp.
    ///
    /// # Errors
    /// Why it cannot be kept: a look it cannot stand for, or a path that changed too
    /// recently for its stamp to be trusted.
    pub fn of(
        seen: Seen,
        now: SystemTime,
        request: Digest,
        record: (u64, u64),
        ignored: Vec<String>,
        (tasks, joins): (usize, usize),
        run: (String, String),
    ) -> Result<Self, String> {
        if let Some(why) = seen.spoiled {
            return Err(why);
        }
        let now_ns = now
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_or(0, |since| {
                i64::try_from(since.as_nanos()).unwrap_or(i64::MAX)
            });
        let settle = i64::try_from(SETTLED.as_nanos()).unwrap_or(i64::MAX);
        let mut looks: Vec<(PathBuf, Look)> = seen.looks.into_iter().collect();
        for (path, look) in &looks {
            if path.as_os_str().as_bytes().contains(&b'\n') {
                return Err(format!("`{}` has a line break", path.display()));
            }
            if let Look::File(stamp) | Look::Dir(stamp) = look
                && stamp.mtime_ns.max(stamp.ctime_ns).saturating_add(settle) >= now_ns
            {
                return Err(format!("`{}` changed moments ago", path.display()));
            }
        }
        looks.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        let (workflow_hash, args) = run;
        Ok(Self {
            request,
            record,
            ignored,
            tasks,
            joins,
            workflow_hash,
            args,
            looks,
        })
    }

    /// Whether every path is still as listed and the record is the one read.
    #[must_use]
    pub fn holds(&self, record: &Path) -> bool {
        let same_record = std::fs::metadata(record)
            .is_ok_and(|metadata| (metadata.dev(), metadata.ino()) == self.record);
        same_record
            && self.looks.iter().all(|(path, look)| {
                let now = std::fs::metadata(path);
                match (look, now) {
                    (Look::Missing, Err(error)) => error.kind() == io::ErrorKind::NotFound,
                    (Look::File(stamp), Ok(metadata)) => {
                        metadata.is_file() && Stamp::of(&metadata) == *stamp
                    }
                    (Look::Dir(stamp), Ok(metadata)) => {
                        metadata.is_dir() && Stamp::of(&metadata) == *stamp
                    }
                    _ => false,
                }
            })
    }

    /// The file's content.
    fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(64 * self.looks.len() + 256);
        let _ = writeln!(out, "{HEADER}");
        let _ = writeln!(out, "request {}", to_hex(&self.request));
        let _ = writeln!(out, "record {} {}", self.record.0, self.record.1);
        let _ = writeln!(out, "ignore {}", self.ignored.join(" "));
        let _ = writeln!(out, "tasks {} {}", self.tasks, self.joins);
        let _ = writeln!(out, "hash {}", self.workflow_hash);
        let _ = writeln!(out, "args {}", self.args);
        for (path, look) in &self.looks {
            match look {
                Look::File(s) | Look::Dir(s) => {
                    let kind = if matches!(look, Look::File(_)) {
                        'f'
                    } else {
                        'd'
                    };
                    let _ = write!(
                        out,
                        "{kind} {} {} {} {} {} ",
                        s.dev, s.ino, s.size, s.mtime_ns, s.ctime_ns
                    );
                }
                Look::Missing => out.extend_from_slice(b"m "),
            }
            out.extend_from_slice(path.as_os_str().as_bytes());
            out.push(b'\n');
        }
        out
    }

    /// The list in `bytes`; `None` for anything but a whole list of this format.
    fn from_bytes(bytes: &[u8]) -> Option<Self> {
        let mut lines = bytes.split(|&byte| byte == b'\n');
        let mut text = |prefix: &str| -> Option<String> {
            let line = std::str::from_utf8(lines.next()?).ok()?;
            line.strip_prefix(prefix).map(str::to_owned)
        };
        if text("")? != HEADER {
            return None;
        }
        let request = from_hex(&text("request ")?)?;
        let record = text("record ")?;
        let (dev, ino) = record.split_once(' ')?;
        let record = (dev.parse().ok()?, ino.parse().ok()?);
        let ignored = text("ignore ")?
            .split_ascii_whitespace()
            .map(str::to_owned)
            .collect();
        let counts = text("tasks ")?;
        let (tasks, joins) = counts.split_once(' ')?;
        let (tasks, joins) = (tasks.parse().ok()?, joins.parse().ok()?);
        let workflow_hash = text("hash ")?;
        let args = text("args ")?;
        let mut looks = Vec::new();
        let mut ended = false;
        for line in lines {
            if line.is_empty() {
                ended = true;
                continue;
            }
            if ended {
                return None;
            }
            let (look, path) = match line.split_first()? {
                (b'm', rest) => (Look::Missing, rest.strip_prefix(b" ")?),
                (&kind @ (b'f' | b'd'), rest) => {
                    let mut fields = rest.splitn(7, |&byte| byte == b' ').skip(1);
                    let mut number = || -> Option<i64> {
                        std::str::from_utf8(fields.next()?).ok()?.parse().ok()
                    };
                    let stamp = Stamp {
                        dev: u64::try_from(number()?).ok()?,
                        ino: u64::try_from(number()?).ok()?,
                        size: u64::try_from(number()?).ok()?,
                        mtime_ns: number()?,
                        ctime_ns: number()?,
                    };
                    let path = fields.next()?;
                    let look = if kind == b'f' {
                        Look::File(stamp)
                    } else {
                        Look::Dir(stamp)
                    };
                    (look, path)
                }
                _ => return None,
            };
            if path.is_empty() {
                return None;
            }
            looks.push((PathBuf::from(std::ffi::OsStr::from_bytes(path)), look));
        }
        // A file cut short ends without its last line break.
        ended.then_some(Self {
            request,
            record,
            ignored,
            tasks,
            joins,
            workflow_hash,
            args,
            looks,
        })
    }
}

/// Where the list of the workflow whose key is `key` is kept.
#[must_use]
pub fn path(state_dir: &StateDir, key: &str) -> PathBuf {
    state_dir.unchanged(key)
}

/// The list kept for the workflow `key`, if there is a whole one.
#[must_use]
pub fn read(state_dir: &StateDir, key: &str) -> Option<Unchanged> {
    let bytes = std::fs::read(path(state_dir, key)).ok()?;
    Unchanged::from_bytes(&bytes)
}

/// Keeps `list` for the workflow `key`, replacing the one before.
///
/// # Errors
/// The file cannot be written.
pub fn write(state_dir: &StateDir, key: &str, list: &Unchanged) -> io::Result<()> {
    let path = path(state_dir, key);
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let temporary = path.with_extension("new");
    std::fs::write(&temporary, list.to_bytes())?;
    std::fs::rename(&temporary, &path)
}

/// Removes the list of the workflow `key`: a run that may change the record is starting.
///
/// # Errors
/// The file exists and cannot be removed.
pub fn forget(state_dir: &StateDir, key: &str) -> io::Result<()> {
    match std::fs::remove_file(path(state_dir, key)) {
        Err(error) if error.kind() != io::ErrorKind::NotFound => Err(error),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn list(dir: &Path) -> Unchanged {
        let file = dir.join("a.c");
        std::fs::write(&file, "int a;\n").expect("write");
        let metadata = std::fs::metadata(&file).expect("stat");
        let mut seen = Seen::default();
        seen.looks.insert(file, Look::File(Stamp::of(&metadata)));
        seen.looks.insert(dir.join("gone.h"), Look::Missing);
        let dir_metadata = std::fs::metadata(dir).expect("stat");
        seen.looks
            .insert(dir.to_path_buf(), Look::Dir(Stamp::of(&dir_metadata)));
        let later = SystemTime::now() + SETTLED + Duration::from_secs(1);
        Unchanged::of(
            seen,
            later,
            [7; 32],
            (1, 2),
            vec!["OLDPWD".into()],
            (3, 1),
            ("abc".into(), r#"{"tasks":[]}"#.into()),
        )
        .expect("settled")
    }

    #[test]
    fn a_list_reads_back_as_written() {
        let dir = tempfile::tempdir().expect("tempdir");
        let written = list(dir.path());
        let read = Unchanged::from_bytes(&written.to_bytes()).expect("read back");
        assert_eq!(read, written);
        assert_eq!(read.looks.len(), 3);
    }

    #[test]
    fn a_list_cut_short_or_of_another_format_is_none() {
        let dir = tempfile::tempdir().expect("tempdir");
        let bytes = list(dir.path()).to_bytes();
        assert!(Unchanged::from_bytes(&bytes[..bytes.len() - 1]).is_none());
        assert!(Unchanged::from_bytes(&bytes[..bytes.len() / 2]).is_none());
        let other = String::from_utf8(bytes)
            .expect("utf8")
            .replace(" 1\n", " 2\n");
        assert!(Unchanged::from_bytes(other.as_bytes()).is_none());
    }

    #[test]
    fn a_list_holds_until_a_listed_path_changes() {
        let dir = tempfile::tempdir().expect("tempdir");
        let record = dir.path().join("record");
        std::fs::write(&record, "").expect("record");
        let metadata = std::fs::metadata(&record).expect("stat");
        let mut written = list(dir.path());
        written.record = (metadata.dev(), metadata.ino());
        // The directory's own stamp changed when `record` was made in it.
        let dir_metadata = std::fs::metadata(dir.path()).expect("stat");
        for (path, look) in &mut written.looks {
            if path == dir.path() {
                *look = Look::Dir(Stamp::of(&dir_metadata));
            }
        }
        assert!(written.holds(&record));
        // A missing path that appears.
        std::fs::write(dir.path().join("gone.h"), "").expect("write");
        assert!(!written.holds(&record));
        std::fs::remove_file(dir.path().join("gone.h")).expect("remove");
        // Same size, new content: the status change time moves.
        let dir_metadata = std::fs::metadata(dir.path()).expect("stat");
        for (path, look) in &mut written.looks {
            if path == dir.path() {
                *look = Look::Dir(Stamp::of(&dir_metadata));
            }
        }
        assert!(written.holds(&record));
        std::fs::write(dir.path().join("a.c"), "int b;\n").expect("write");
        assert!(!written.holds(&record));
    }

    #[test]
    fn a_list_is_not_kept_when_a_path_changed_moments_ago_or_a_look_spoiled_it() {
        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join("a.c");
        std::fs::write(&file, "x").expect("write");
        let metadata = std::fs::metadata(&file).expect("stat");
        let mut seen = Seen::default();
        seen.looks.insert(file, Look::File(Stamp::of(&metadata)));
        let run = ("h".to_owned(), "{}".to_owned());
        let why = Unchanged::of(
            seen,
            SystemTime::now(),
            [0; 32],
            (0, 0),
            vec![],
            (1, 0),
            run.clone(),
        )
        .expect_err("too recent");
        assert!(why.contains("moments ago"), "{why}");
        let seen = Seen {
            spoiled: Some("a glob".into()),
            ..Seen::default()
        };
        let later = SystemTime::now() + SETTLED * 2;
        assert_eq!(
            Unchanged::of(seen, later, [0; 32], (0, 0), vec![], (1, 0), run),
            Err("a glob".into())
        );
    }
}
