//! engine: a declarative workflow engine. A YAML file describes tasks, their dependencies and
//! their isolation (`thread` or `process`); engine validates it with located diagnostics,
//! plans the dependency graph and runs ready tasks in parallel.

pub mod cli;
pub mod diagnostic;
pub mod error;
pub mod events;
pub mod exchange;
pub mod execute;
pub mod files;
pub mod model;
pub mod parse;
pub mod plan;
pub mod record;
pub mod report;
pub mod results;
pub mod run_report;
pub mod schedule;
pub mod script;
pub mod state_dir;
pub mod template;
pub mod validate;
pub mod watch;
