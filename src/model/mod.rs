//! The validated workflow: what every later stage (plan, schedule, execute) works on.
//! It never sees YAML; it holds parsed templates and builds the secrets masker, so it uses
//! `template` and nothing else of the crate.

mod duration;
mod file_name;
mod item_counts;
mod memory;
mod params;
mod selector;
mod slurm;
mod task;
mod value;
mod workflow;

pub use duration::{Duration, DurationError};
pub use file_name::file_name;
pub use item_counts::ItemCounts;
pub use memory::{Memory, MemoryError};
pub use params::{Given, Param, ParamError, Signature, Target, TargetError, read_targets};
pub use selector::{Pick, Selector, SelectorError, item_has, item_matches};
pub use slurm::{ExecutorKind, SlurmOptions};
pub use task::{
    Axis, Command, Condition, Expansion, Interface, Isolation, Requirement, Resources, Task,
    TaskFiles, TaskId, Templates, shell_invocation, shell_words,
};
pub use value::{Number, Value};
pub use workflow::{Pool, SecretError, Workflow};
