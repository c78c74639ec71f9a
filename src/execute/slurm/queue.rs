//! What Slurm says about jobs: `squeue` lines and `scontrol show job` records, parsed into
//! `JobState`s, reasons, nodes and exit codes.

use std::fmt;

/// The `squeue` output format engine asks for: id, state, reason, nodes.
pub const SQUEUE_FORMAT: &str = "%i|%T|%r|%N";

/// A job's state as Slurm names it (`squeue %T`, `scontrol JobState=`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum JobState {
    /// Waiting for resources or priority.
    Pending,
    /// Its nodes are booting.
    Configuring,
    /// Running.
    Running,
    /// Suspended by the administrator or a preempting job.
    Suspended,
    /// Its processes are being cleaned up after it ended.
    Completing,
    /// Its script exited with 0.
    Completed,
    /// Its script exited non-zero or was killed.
    Failed,
    /// Cancelled by `scancel` or an administrator.
    Cancelled,
    /// Hit its time limit.
    Timeout,
    /// Hit its memory limit.
    OutOfMemory,
    /// Its node failed.
    NodeFail,
    /// Its node could not boot.
    BootFail,
    /// Missed its deadline.
    Deadline,
    /// Preempted (and not requeued).
    Preempted,
    /// A state engine does not know, kept as Slurm wrote it.
    Other(String),
}

impl JobState {
    /// The state of Slurm's long name, like `PENDING`.
    #[must_use]
    pub fn parse(name: &str) -> Self {
        match name.trim() {
            "PENDING" => Self::Pending,
            "CONFIGURING" => Self::Configuring,
            "RUNNING" => Self::Running,
            "SUSPENDED" => Self::Suspended,
            "COMPLETING" => Self::Completing,
            "COMPLETED" => Self::Completed,
            "FAILED" => Self::Failed,
            "CANCELLED" => Self::Cancelled,
            "TIMEOUT" => Self::Timeout,
            "OUT_OF_MEMORY" => Self::OutOfMemory,
            "NODE_FAIL" => Self::NodeFail,
            "BOOT_FAIL" => Self::BootFail,
            "DEADLINE" => Self::Deadline,
            "PREEMPTED" => Self::Preempted,
            other => Self::Other(other.to_owned()),
        }
    }

    /// Slurm's name of the state.
    #[must_use]
    pub fn name(&self) -> &str {
        match self {
            Self::Pending => "PENDING",
            Self::Configuring => "CONFIGURING",
            Self::Running => "RUNNING",
            Self::Suspended => "SUSPENDED",
            Self::Completing => "COMPLETING",
            Self::Completed => "COMPLETED",
            Self::Failed => "FAILED",
            Self::Cancelled => "CANCELLED",
            Self::Timeout => "TIMEOUT",
            Self::OutOfMemory => "OUT_OF_MEMORY",
            Self::NodeFail => "NODE_FAIL",
            Self::BootFail => "BOOT_FAIL",
            Self::Deadline => "DEADLINE",
            Self::Preempted => "PREEMPTED",
            Self::Other(name) => name,
        }
    }

    /// Whether the job is over and its processes gone. `COMPLETING` is not: its processes are
    /// still being killed.
    #[must_use]
    pub fn is_final(&self) -> bool {
        matches!(
            self,
            Self::Completed
                | Self::Failed
                | Self::Cancelled
                | Self::Timeout
                | Self::OutOfMemory
                | Self::NodeFail
                | Self::BootFail
                | Self::Deadline
                | Self::Preempted
        ) || matches!(self, Self::Other(name) if name == "REVOKED" || name == "SPECIAL_EXIT")
    }

    /// Whether the job waits in the queue, not yet running.
    #[must_use]
    pub fn is_queued(&self) -> bool {
        matches!(self, Self::Pending | Self::Configuring)
    }
}

impl fmt::Display for JobState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// One job as `squeue` lists it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct QueueEntry {
    /// The job id.
    pub id: String,
    /// Its state.
    pub state: JobState,
    /// Why it waits (`Resources`, `Priority`, ...), `None` when it does not.
    pub reason: String,
    /// The nodes it runs on, empty while it waits.
    pub nodes: String,
}

impl QueueEntry {
    /// The state as people see it: `PENDING (Resources)`, `RUNNING on node1`.
    #[must_use]
    pub fn describe(&self) -> String {
        let reason = self.reason.trim();
        match &self.state {
            JobState::Running if !self.nodes.is_empty() => format!("RUNNING on {}", self.nodes),
            state if state.is_queued() && !reason.is_empty() && reason != "None" => {
                format!("{state} ({reason})")
            }
            state => state.name().to_owned(),
        }
    }
}

/// Parses `squeue -h -o '%i|%T|%r|%N'` output; lines that do not fit are skipped.
#[must_use]
pub fn parse_squeue(text: &str) -> Vec<QueueEntry> {
    text.lines()
        .filter_map(|line| {
            let mut fields = line.splitn(4, '|');
            let id = fields.next()?.trim();
            let state = fields.next()?;
            let reason = fields.next()?;
            let nodes = fields.next().unwrap_or_default();
            if id.is_empty() {
                return None;
            }
            Some(QueueEntry {
                id: id.to_owned(),
                state: JobState::parse(state),
                reason: reason.trim().to_owned(),
                nodes: nodes.trim().to_owned(),
            })
        })
        .collect()
}

/// What `scontrol -o show job ID` says about a job.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct JobRecord {
    /// Its state.
    pub state: JobState,
    /// `ExitCode=code:signal` of its batch script, if given.
    pub exit: Option<(i32, i32)>,
    /// Why it is in its state.
    pub reason: String,
    /// The nodes it ran on.
    pub nodes: String,
}

/// Parses the one-line record of `scontrol -o show job ID`; `None` when it holds no
/// `JobState`.
#[must_use]
pub fn parse_scontrol(text: &str) -> Option<JobRecord> {
    let field = |key: &str| {
        text.split_whitespace()
            .find_map(|token| token.strip_prefix(key)?.strip_prefix('='))
    };
    let state = JobState::parse(field("JobState")?);
    let exit = field("ExitCode").and_then(|value| {
        let (code, signal) = value.split_once(':')?;
        Some((code.parse().ok()?, signal.parse().ok()?))
    });
    Some(JobRecord {
        state,
        exit,
        reason: field("Reason").unwrap_or_default().to_owned(),
        nodes: field("NodeList")
            .filter(|nodes| *nodes != "(null)")
            .unwrap_or_default()
            .to_owned(),
    })
}

/// Whether Slurm's answer means it does not know the job (any more).
#[must_use]
pub fn is_unknown_job(stderr: &str) -> bool {
    stderr.contains("Invalid job id")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn squeue_lines_become_entries() {
        let text = "\
12|PENDING|Resources|
13|RUNNING|None|vm
14|COMPLETING|None|vm
15|CANCELLED|None|
16|FAILED|NonZeroExitCode|node[1-2]
17|PENDING|Priority|
18|REQUEUE_HOLD|JobHeldUser|
garbage
|RUNNING|None|vm
";
        let entries = parse_squeue(text);
        let described: Vec<(String, String)> = entries
            .iter()
            .map(|e| (e.id.clone(), e.describe()))
            .collect();
        let expected = [
            ("12", "PENDING (Resources)"),
            ("13", "RUNNING on vm"),
            ("14", "COMPLETING"),
            ("15", "CANCELLED"),
            ("16", "FAILED"),
            ("17", "PENDING (Priority)"),
            ("18", "REQUEUE_HOLD"),
        ];
        let expected: Vec<(String, String)> = expected
            .iter()
            .map(|(a, b)| ((*a).to_owned(), (*b).to_owned()))
            .collect();
        assert_eq!(described, expected);
        assert_eq!(entries[6].state, JobState::Other("REQUEUE_HOLD".into()));
        assert_eq!(entries[4].nodes, "node[1-2]");
    }

    #[test]
    fn final_and_queued_states() {
        for name in [
            "COMPLETED",
            "FAILED",
            "CANCELLED",
            "TIMEOUT",
            "OUT_OF_MEMORY",
            "NODE_FAIL",
            "BOOT_FAIL",
            "DEADLINE",
            "PREEMPTED",
        ] {
            let state = JobState::parse(name);
            assert!(state.is_final(), "{name}");
            assert_eq!(state.name(), name);
        }
        for name in [
            "PENDING",
            "CONFIGURING",
            "RUNNING",
            "COMPLETING",
            "SUSPENDED",
            "REQUEUED",
        ] {
            assert!(!JobState::parse(name).is_final(), "{name}");
        }
        assert!(JobState::Pending.is_queued());
        assert!(!JobState::Running.is_queued());
    }

    #[test]
    fn scontrol_records_give_state_and_exit_code() {
        // As printed by Slurm 22.05 here, shortened.
        let text = "JobId=5 JobName=t1 UserId=root(0) JobState=FAILED Reason=NonZeroExitCode \
                    Dependency=(null) Requeue=1 Restarts=0 BatchFlag=1 ExitCode=3:0 \
                    RunTime=00:00:00 NodeList=vm BatchHost=vm NumCPUs=1 CPUs/Task=1 \
                    TRES=cpu=1,mem=100M,node=1,billing=1 MinMemoryNode=100M WorkDir=/tmp\n";
        assert_eq!(
            parse_scontrol(text),
            Some(JobRecord {
                state: JobState::Failed,
                exit: Some((3, 0)),
                reason: "NonZeroExitCode".into(),
                nodes: "vm".into(),
            })
        );
        let cancelled = "JobId=2 JobState=CANCELLED Reason=None ExitCode=0:15 NodeList=(null)";
        let record = parse_scontrol(cancelled).expect("a record");
        assert_eq!(record.state, JobState::Cancelled);
        assert_eq!(record.exit, Some((0, 15)));
        assert_eq!(record.nodes, "");
        assert_eq!(
            parse_scontrol("slurm_load_jobs error: Invalid job id specified"),
            None
        );
        assert!(is_unknown_job(
            "slurm_load_jobs error: Invalid job id specified\n"
        ));
    }
}
