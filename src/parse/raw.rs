//! The `Raw*` types: the workflow file as written, with source spans on every value that a
//! later check may point at. They define the format: serde reads them, schemars turns them
//! into the JSON Schema. No checks beyond YAML types happen here.

use std::borrow::Cow;

use indexmap::IndexMap;
use rustc_hash::FxBuildHasher;
use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::Deserialize;
use serde::de::{self, Deserializer, SeqAccess, Visitor};
use serde_saphyr::Spanned;

/// A map of environment variables, names and values as written.
pub type RawEnv = IndexMap<Spanned<String>, Spanned<String>, FxBuildHasher>;

/// The tasks by name, in file order. Hashed with FxHash, which is 2% of a parse faster than
/// the default SipHash; each key's hash also covers its location.
pub type RawTasks = IndexMap<Spanned<String>, Spanned<Option<RawTask>>, FxBuildHasher>;

/// A workflow file.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(
    title = "engine workflow",
    description = "A pipeline for engine: tasks, what each depends on, and how each is isolated."
)]
pub struct RawWorkflow {
    /// The workflow's name, shown in progress output and records. Defaults to the file name.
    #[schemars(with = "Option<String>")]
    pub name: Option<Spanned<String>>,
    /// What this workflow does, shown by `engine list`.
    pub description: Option<String>,
    /// Environment variables given to every task (after the engine's own environment).
    #[serde(default)]
    #[schemars(schema_with = "env_schema")]
    pub env: Option<RawEnv>,
    /// Defaults for every task's fields; a task's own value wins.
    pub defaults: Option<RawDefaults>,
    /// Variables for templates (`${{ vars.name }}`): strings, numbers, booleans or lists.
    /// `engine run --var name=value` overrides them.
    #[serde(default)]
    #[schemars(schema_with = "vars_schema")]
    pub vars: Option<RawVars>,
    /// A `.env` file (relative to this file) whose `NAME=value` lines are given to every
    /// task, before the workflow's own `env`.
    #[schemars(with = "Option<String>")]
    pub env_file: Option<Spanned<String>>,
    /// Names of environment variables that hold secrets: tasks receive them, but their values
    /// are printed as `***` in everything engine shows, logs or records.
    #[schemars(with = "Option<Vec<String>>")]
    pub secrets: Option<Vec<Spanned<String>>>,
    /// Named limits on tasks running at once: `pools: { db: 1, gpu: 2 }`; a task joins one
    /// with `pool: db`.
    #[serde(default)]
    #[schemars(schema_with = "pools_schema")]
    pub pools: Option<RawPools>,
    /// Other workflow files (relative to this one) whose tasks, variables, pools and secrets
    /// join this workflow. Their `env` and `defaults` apply to their own tasks. A list joins
    /// their tasks as they are named; a mapping `{ docs: docs/engine.yaml }` names each task
    /// of that file `docs:<name>`, resolves the file's own names to its own tasks first, and
    /// runs its tasks in its own directory.
    #[serde(default)]
    #[schemars(schema_with = "include_schema")]
    pub include: Option<RawInclude>,
    /// Where process tasks run: `local` (child processes of the engine, the default) or
    /// `slurm` (one batch job each on a Slurm cluster). A task's or `defaults`' `executor`
    /// wins over this; `engine run --executor` wins over all of them.
    #[schemars(with = "Option<RawExecutor>")]
    pub executor: Option<Spanned<RawExecutor>>,
    /// The tasks, by name. Names are lowercase letters, digits, `_` and `-`, starting with a
    /// letter; a name starting with `_` (then a letter) is private: `engine list` does not
    /// show it. A task named `default` is what `engine run` runs when no task is named.
    #[schemars(with = "IndexMap<String, Option<RawTask>>")]
    #[schemars(extend("propertyNames" = { "pattern": "^_?[a-z][a-z0-9_-]*$" }))]
    pub tasks: Spanned<RawTasks>,
}

/// Defaults applied to every task that does not set the field itself.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawDefaults {
    /// Default isolation of `script` tasks. A `run` command always needs a process.
    #[schemars(with = "Option<RawIsolation>")]
    pub isolation: Option<Spanned<RawIsolation>>,
    /// Default shell program for `run` commands (run as `<shell> -c <command>`).
    #[schemars(with = "Option<String>")]
    pub shell: Option<Spanned<String>>,
    /// Environment variables for every task, after the workflow's `env`.
    #[serde(default)]
    #[schemars(schema_with = "env_schema")]
    pub env: Option<RawEnv>,
    /// Default working directory, relative to the workflow file.
    #[schemars(with = "Option<String>")]
    pub cwd: Option<Spanned<String>>,
    /// Default time limit of every task, like `10m`, `1h30m`, `45s` or `250ms`.
    #[serde(default)]
    #[schemars(schema_with = "duration_schema")]
    pub timeout: Option<Spanned<String>>,
    /// Default resources of every task.
    pub resources: Option<RawResources>,
    /// Default number of retries after a failure.
    #[schemars(with = "Option<u32>")]
    pub retries: Option<Spanned<u64>>,
    /// Default wait before the first retry.
    #[serde(default)]
    #[schemars(schema_with = "duration_schema")]
    pub retry_delay: Option<Spanned<String>>,
    /// Default executor of process tasks: `local` or `slurm` (see the task field).
    #[schemars(with = "Option<RawExecutor>")]
    pub executor: Option<Spanned<RawExecutor>>,
    /// Default Slurm options of every process task; a task's `partition` and `account` win,
    /// its `extra` options come after these.
    pub slurm: Option<RawSlurm>,
}

/// Template variables by name.
pub type RawVars = IndexMap<Spanned<String>, Spanned<RawValue>, FxBuildHasher>;

/// Pool sizes by name.
pub type RawPools = IndexMap<Spanned<String>, Spanned<u64>, FxBuildHasher>;

/// A task's matrix: each key with its values, listed or made by a template.
pub type RawMatrix = IndexMap<Spanned<String>, Spanned<RawAxis>, FxBuildHasher>;

/// One axis (key) of a matrix: its values as a list, or a template that yields the list
/// (`${{ glob("src/*.c") }}`). Any text is read as a template here; validation says when it
/// holds no `${{`.
#[derive(Debug)]
pub enum RawAxis {
    /// `os: [linux, mac]`, each value with its place.
    Values(Vec<Spanned<RawValue>>),
    /// `src: ${{ glob("src/*.c") }}`; its place is the enclosing `Spanned`'s.
    Template(String),
}

impl<'de> Deserialize<'de> for RawAxis {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct AxisVisitor;

        impl<'de> Visitor<'de> for AxisVisitor {
            type Value = RawAxis;

            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a list of values or a template like `${{ glob(\"*.c\") }}`")
            }

            fn visit_str<E: de::Error>(self, text: &str) -> Result<Self::Value, E> {
                Ok(RawAxis::Template(text.to_owned()))
            }

            // A lone scalar is kept as text, so that validation can point at it and suggest
            // a list.
            fn visit_bool<E: de::Error>(self, value: bool) -> Result<Self::Value, E> {
                Ok(RawAxis::Template(value.to_string()))
            }

            fn visit_i64<E: de::Error>(self, value: i64) -> Result<Self::Value, E> {
                Ok(RawAxis::Template(value.to_string()))
            }

            fn visit_u64<E: de::Error>(self, value: u64) -> Result<Self::Value, E> {
                Ok(RawAxis::Template(value.to_string()))
            }

            fn visit_f64<E: de::Error>(self, value: f64) -> Result<Self::Value, E> {
                Ok(RawAxis::Template(value.to_string()))
            }

            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                let mut values = Vec::with_capacity(seq.size_hint().unwrap_or(4));
                while let Some(value) = seq.next_element()? {
                    values.push(value);
                }
                Ok(RawAxis::Values(values))
            }
        }

        deserializer.deserialize_any(AxisVisitor)
    }
}

// Fields most tasks leave out are boxed, so that each absent one costs a pointer rather than
// its whole size in every task of a large workflow.
/// One task.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawTask {
    /// What this task does, shown by `engine list` and `engine plan`.
    pub description: Option<String>,
    /// Tasks that must succeed before this one starts: a list of task names, or one name. A
    /// name may select matrix items: `map[sample=A]`, `map[sample=${{ matrix.sample }}]`,
    /// `map[sample]` (this item's `sample`) or `map[..]` (every key both matrices share).
    #[schemars(with = "Option<RawDependsOn>")]
    pub depends_on: Option<Spanned<RawDependsOn>>,
    /// `thread`: inside the engine on a worker thread (cheap; for I/O-bound glue; timeouts are
    /// cooperative). `process`: its own OS process group (isolated, killable). Default: `process`
    /// for `run`, `thread` for `script`.
    #[schemars(with = "Option<RawIsolation>")]
    pub isolation: Option<Box<Spanned<RawIsolation>>>,
    /// A shell command line, run as `sh -c <run>` (or with `shell`). Needs `isolation: process`.
    #[serde(default, deserialize_with = "null_as_empty")]
    #[schemars(with = "String")]
    pub run: Option<Spanned<String>>,
    /// The shell for `run` and its options, e.g. `bash` or `bash -eo pipefail`, run as
    /// `<shell> -c <run>`. Default: `sh`.
    #[schemars(with = "Option<String>")]
    pub shell: Option<Box<Spanned<String>>>,
    /// An embedded script in the rhai language. Runs on a thread unless `isolation: process`.
    #[serde(default, deserialize_with = "null_as_empty")]
    #[schemars(with = "String")]
    pub script: Option<Spanned<String>>,
    /// Environment variables of this task, after the workflow's and the defaults'.
    #[serde(default)]
    #[schemars(schema_with = "env_schema")]
    pub env: Option<Box<RawEnv>>,
    /// Working directory, relative to the workflow file. Default: the workflow file's directory.
    #[schemars(with = "Option<String>")]
    pub cwd: Option<Box<Spanned<String>>>,
    /// Time limit, like `10m`, `1h30m`, `45s` or `250ms`. A process task gets SIGTERM, then
    /// SIGKILL after a grace period; a thread task is stopped at its script's next step.
    #[serde(default)]
    #[schemars(schema_with = "duration_schema")]
    pub timeout: Option<Box<Spanned<String>>>,
    /// What the task needs while it runs: `cpus` (slots of `-j` it takes, default 1) and
    /// `memory` (like `2G`; recorded, and requested from cluster executors).
    pub resources: Option<Box<RawResources>>,
    /// A condition evaluated when the task is ready, with or without `${{ }}`: false skips
    /// the task (its dependents still run). `success()` (the default: every dependency
    /// succeeded), `failure()` (one failed) and `always()` work as in GitHub Actions:
    /// `if: ${{ always() }}` runs a cleanup task even after a failure.
    #[serde(rename = "if", default, deserialize_with = "condition")]
    #[schemars(with = "Option<RawConditionSchema>")]
    pub condition: Option<Box<Spanned<String>>>,
    /// Let this task fail without failing the run or blocking the tasks that depend on it.
    pub allow_failure: Option<bool>,
    /// Runs the task once per combination of values: `matrix: { os: [linux, mac] }` makes
    /// `name[os=linux]` and `name[os=mac]`, with `${{ matrix.os }}` set in each. Depending on
    /// `name` waits for every combination. A key's values may also come from a template
    /// evaluated when the workflow is loaded, like `src: ${{ glob("src/*.c") }}` (in block
    /// style, or quoted inside `{ }`).
    #[serde(default)]
    #[schemars(schema_with = "matrix_schema")]
    pub matrix: Option<Box<Spanned<RawMatrix>>>,
    /// Parameters, by name: `${{ params.name }}` in the task's templates. A value is the
    /// default (`version: "1.0"`), `~` makes it required, and the long form says both and
    /// the values allowed: `env: { values: [dev, prod] }`, `level: { default: "1", values:
    /// ["1", "2"] }`. Given on the command line after the task's name (`engine run FILE
    /// deploy env=prod`) or by a dependency (`depends_on: [{ task: deploy, with: { env: dev
    /// } }]`); each different set of values is its own task, `deploy(env=dev)`.
    #[serde(default)]
    #[schemars(schema_with = "params_schema")]
    pub params: Option<Box<Spanned<RawParams>>>,
    /// How many times to run the task again after it fails or times out. Default 0.
    #[schemars(with = "Option<u32>")]
    pub retries: Option<Box<Spanned<u64>>>,
    /// The wait before the first retry, doubling with each further retry, plus up to a
    /// quarter more at random. Default `1s`.
    #[serde(default)]
    #[schemars(schema_with = "duration_schema")]
    pub retry_delay: Option<Box<Spanned<String>>>,
    /// A pool from the top-level `pools`: at most its size of the pool's tasks run at once.
    #[schemars(with = "Option<String>")]
    pub pool: Option<Box<Spanned<String>>>,
    /// Where this process task runs: `local` (a child process of the engine) or `slurm` (a
    /// batch job on a Slurm cluster). Thread tasks always run inside the engine.
    /// `engine run --executor` wins over this.
    #[schemars(with = "Option<RawExecutor>")]
    pub executor: Option<Box<Spanned<RawExecutor>>>,
    /// Options for the Slurm job of this process task, used when it runs on Slurm:
    /// `partition`, `account` and `extra` `sbatch` options.
    pub slurm: Option<Box<RawSlurm>>,
    /// Files the task reads: paths, directories or globs (`src/**/*.c`) relative to its
    /// `cwd`. Their content is part of the task's fingerprint: an edited input reruns the
    /// task and what depends on it. A path that does not exist when the task is about to run
    /// fails it.
    #[schemars(with = "Option<Vec<String>>")]
    pub inputs: Option<Box<Spanned<Vec<Spanned<String>>>>>,
    /// Files, directories or globs the task creates, relative to its `cwd`. A task with
    /// `outputs` is skipped as up to date when nothing it depends on changed since its last
    /// successful run and its outputs still hold what that run left. A task that succeeds
    /// without creating a listed path fails; one that fails has its outputs deleted (unless
    /// `engine run --keep-incomplete`).
    #[schemars(with = "Option<Vec<String>>")]
    pub outputs: Option<Box<Spanned<Vec<Spanned<String>>>>>,
    /// A file the task writes in Makefile syntax, relative to its `cwd`, naming the further
    /// files it read: what `gcc -MMD -MF out.d` and most compilers write (`out.o: src.c a.h`).
    /// After each success engine reads it and keeps the files it names in the run record;
    /// from the next run on they are inputs of the task too (a changed or deleted one reruns
    /// it; one that no longer exists is not an error). The file itself may be deleted
    /// afterwards. A success that did not write it, or wrote a malformed one, fails.
    #[schemars(with = "Option<String>")]
    pub depfile: Option<Box<Spanned<String>>>,
    /// `true`: run this task only when it is named on the command line (or by an alias) or
    /// a selected task depends on it; `engine run` without a task leaves it out. For `clean`,
    /// `release`, `deploy`.
    pub manual: Option<bool>,
    /// Other names for this task on the command line and in `engine check --target`, like
    /// `aliases: [b]` for `build`. An alias must not be another task's name or alias.
    #[schemars(with = "Option<Vec<String>>")]
    pub aliases: Option<Box<Spanned<Vec<Spanned<String>>>>>,
    /// A heading under which `engine list` shows this task, like `group: release`. (Tasks
    /// whose name starts with `_` are private: `engine list` does not show them.)
    #[schemars(with = "Option<String>")]
    pub group: Option<Box<Spanned<String>>>,
    /// Commands checked right before the task starts, in its `cwd` and environment, each run
    /// as `sh -c <run>` with its output discarded: the first that fails fails the task with
    /// its `message`, and nothing else of the task runs. For process tasks.
    #[schemars(with = "Option<Vec<RawRequirement>>")]
    pub requires: Option<Box<Spanned<Vec<RawRequirement>>>>,
    /// A question `engine run` asks on the terminal (y/N) before a run that selects this task
    /// starts, like `confirm: "Deploy to production?"`. No answer but yes runs nothing; without
    /// a terminal the run is refused unless `engine run --yes`.
    #[schemars(with = "Option<String>")]
    pub confirm: Option<Box<Spanned<String>>>,
}

/// One entry of `requires`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawRequirement {
    /// A shell command that must succeed, like `test -f .env`.
    #[schemars(with = "String")]
    pub run: Spanned<String>,
    /// What to say when it fails, like `run ./configure first`.
    pub message: Option<String>,
}

/// The schema of a condition: an expression, or `true`/`false`.
#[derive(JsonSchema)]
#[schemars(untagged)]
#[expect(
    dead_code,
    reason = "only the JSON schema is derived from it; the variants are never constructed"
)]
enum RawConditionSchema {
    /// An expression, like `${{ vars.deploy && success() }}`.
    Expression(String),
    /// Always or never.
    Constant(bool),
}

/// A value of `vars` or of a matrix: a string, a number, a boolean, or a list of them.
#[derive(Clone, Debug, PartialEq)]
pub enum RawValue {
    /// Text.
    String(String),
    /// A whole number.
    Integer(i64),
    /// A number with a fraction.
    Float(f64),
    /// `true` or `false`.
    Bool(bool),
    /// A list, each item with its place (where a number's text is read from).
    List(Vec<Spanned<RawValue>>),
}

impl<'de> Deserialize<'de> for RawValue {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ValueVisitor;

        impl<'de> Visitor<'de> for ValueVisitor {
            type Value = RawValue;

            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a string, a number, a boolean or a list of them")
            }

            fn visit_str<E: de::Error>(self, text: &str) -> Result<Self::Value, E> {
                Ok(RawValue::String(text.to_owned()))
            }

            fn visit_bool<E: de::Error>(self, value: bool) -> Result<Self::Value, E> {
                Ok(RawValue::Bool(value))
            }

            fn visit_i64<E: de::Error>(self, value: i64) -> Result<Self::Value, E> {
                Ok(RawValue::Integer(value))
            }

            fn visit_u64<E: de::Error>(self, value: u64) -> Result<Self::Value, E> {
                i64::try_from(value)
                    .map(RawValue::Integer)
                    .map_err(|_| E::custom("number too large"))
            }

            fn visit_f64<E: de::Error>(self, value: f64) -> Result<Self::Value, E> {
                Ok(RawValue::Float(value))
            }

            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                let mut values = Vec::with_capacity(seq.size_hint().unwrap_or(4));
                while let Some(value) = seq.next_element()? {
                    values.push(value);
                }
                Ok(RawValue::List(values))
            }
        }

        deserializer.deserialize_any(ValueVisitor)
    }
}

/// Reads `if:` as text: an expression, or `true`/`false` written as YAML booleans.
fn condition<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<Box<Spanned<String>>>, D::Error> {
    struct ConditionVisitor;

    impl Visitor<'_> for ConditionVisitor {
        type Value = String;

        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("an expression or true/false")
        }

        fn visit_str<E: de::Error>(self, text: &str) -> Result<Self::Value, E> {
            Ok(text.to_owned())
        }

        fn visit_bool<E: de::Error>(self, value: bool) -> Result<Self::Value, E> {
            Ok(value.to_string())
        }
    }

    struct Condition(String);

    impl<'de> Deserialize<'de> for Condition {
        fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
            deserializer
                .deserialize_any(ConditionVisitor)
                .map(Condition)
        }
    }

    let value = Spanned::<Condition>::deserialize(deserializer)?;
    Ok(Some(Box::new(Spanned::new(
        value.value.0,
        value.referenced,
        value.defined,
    ))))
}

/// `executor`: where process tasks run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum RawExecutor {
    /// A child process of the engine on this machine.
    Local,
    /// A batch job on a Slurm cluster, submitted with `sbatch`.
    Slurm,
}

/// `slurm`: a task's `sbatch` options. `cpus` and `memory` come from `resources`, the time
/// limit from `timeout` (rounded up to whole minutes).
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawSlurm {
    /// The partition (queue) to submit to: `sbatch --partition`. Default: the cluster's.
    #[schemars(with = "Option<String>")]
    pub partition: Option<Spanned<String>>,
    /// The account to charge: `sbatch --account`. Default: the user's.
    #[schemars(with = "Option<String>")]
    pub account: Option<Spanned<String>>,
    /// Further `sbatch` options, one per item, written `--name=value`: like `--qos=high`,
    /// `--gres=gpu:1` or `--constraint=avx2`. Options that engine sets itself (job name,
    /// directory, output files, CPUs, memory, time, partition, account) are refused.
    #[schemars(with = "Option<Vec<String>>")]
    pub extra: Option<Vec<Spanned<String>>>,
}

/// `resources`: what a task needs while it runs.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawResources {
    /// CPUs the task uses: it takes this many of the `-j` slots (thread tasks: of the thread
    /// pool's slots), and Slurm jobs ask for this many with `--cpus-per-task`. Default 1.
    #[schemars(with = "Option<u32>", range(min = 1))]
    pub cpus: Option<Spanned<u64>>,
    /// Memory the task needs, like `512M` or `2G` (binary units K, M, G, T). Recorded, and
    /// requested from cluster executors (`sbatch --mem`).
    #[serde(default)]
    #[schemars(schema_with = "memory_schema")]
    pub memory: Option<Spanned<String>>,
}

/// `isolation`: where a task runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum RawIsolation {
    /// Inside the engine on a worker thread.
    Thread,
    /// In its own OS process group.
    Process,
}

/// `include`: a list of files, or files by namespace.
#[derive(Debug)]
pub enum RawInclude {
    /// `include: [ci.yaml]`: the tasks keep their names.
    Flat(Vec<Spanned<String>>),
    /// `include: { docs: docs/engine.yaml }`: the tasks are named `docs:<name>`.
    Namespaced(IndexMap<Spanned<String>, Spanned<String>, FxBuildHasher>),
}

impl<'de> Deserialize<'de> for RawInclude {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct IncludeVisitor;

        impl<'de> Visitor<'de> for IncludeVisitor {
            type Value = RawInclude;

            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a list of files, or a mapping of namespaces to files")
            }

            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                let mut files = Vec::with_capacity(seq.size_hint().unwrap_or(2));
                while let Some(file) = seq.next_element()? {
                    files.push(file);
                }
                Ok(RawInclude::Flat(files))
            }

            fn visit_map<A: de::MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut files = IndexMap::default();
                while let Some((name, file)) = map.next_entry()? {
                    files.insert(name, file);
                }
                Ok(RawInclude::Namespaced(files))
            }
        }

        deserializer.deserialize_any(IncludeVisitor)
    }
}

/// The schema of `include`.
fn include_schema(_: &mut SchemaGenerator) -> Schema {
    json_schema!({
        "anyOf": [
            { "type": "array", "items": { "type": "string" } },
            {
                "type": "object",
                "propertyNames": { "pattern": "^[a-z][a-z0-9_-]*$" },
                "additionalProperties": { "type": "string" }
            },
            { "type": "null" }
        ]
    })
}

/// A task's parameters by name, in file order.
pub type RawParams = IndexMap<Spanned<String>, Spanned<RawParam>, FxBuildHasher>;

/// One parameter: required (`~`), a default (`"1.0"`), or the long form.
#[derive(Debug)]
pub enum RawParam {
    /// `env: ~`: no default.
    Required,
    /// `version: "1.0"`: the default, any value allowed. Its text is the enclosing
    /// `Spanned`'s (a number keeps the text it was written with).
    Default(RawValue),
    /// `env: { default: dev, values: [dev, prod] }`.
    Spec(RawParamSpec),
}

/// The long form of a parameter.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawParamSpec {
    /// The value when none is given; without it the parameter is required.
    pub default: Option<Spanned<RawValue>>,
    /// The values it may take.
    pub values: Option<Vec<Spanned<RawValue>>>,
    /// What it is for.
    pub description: Option<String>,
}

impl<'de> Deserialize<'de> for RawParam {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ParamVisitor;

        impl<'de> Visitor<'de> for ParamVisitor {
            type Value = RawParam;

            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a default value, `~` (required) or `{ default: ..., values: [...] }`")
            }

            fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
                Ok(RawParam::Required)
            }

            fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
                Ok(RawParam::Required)
            }

            fn visit_str<E: de::Error>(self, text: &str) -> Result<Self::Value, E> {
                Ok(RawParam::Default(RawValue::String(text.to_owned())))
            }

            fn visit_bool<E: de::Error>(self, value: bool) -> Result<Self::Value, E> {
                Ok(RawParam::Default(RawValue::Bool(value)))
            }

            fn visit_i64<E: de::Error>(self, value: i64) -> Result<Self::Value, E> {
                Ok(RawParam::Default(RawValue::Integer(value)))
            }

            fn visit_u64<E: de::Error>(self, value: u64) -> Result<Self::Value, E> {
                i64::try_from(value)
                    .map(|value| RawParam::Default(RawValue::Integer(value)))
                    .map_err(|_| E::custom("number too large"))
            }

            fn visit_f64<E: de::Error>(self, value: f64) -> Result<Self::Value, E> {
                Ok(RawParam::Default(RawValue::Float(value)))
            }

            fn visit_map<A: de::MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
                RawParamSpec::deserialize(de::value::MapAccessDeserializer::new(map))
                    .map(RawParam::Spec)
            }
        }

        deserializer.deserialize_any(ParamVisitor)
    }
}

/// The schema of `params`.
fn params_schema(_: &mut SchemaGenerator) -> Schema {
    json_schema!({
        "type": ["object", "null"],
        "propertyNames": { "pattern": "^[a-z_][a-z0-9_]*$" },
        "additionalProperties": {
            "anyOf": [
                { "type": "null", "description": "Required: no default." },
                { "type": ["string", "number", "boolean"], "description": "The default." },
                {
                    "type": "object",
                    "additionalProperties": false,
                    "properties": {
                        "default": { "type": ["string", "number", "boolean"] },
                        "values": { "type": "array", "items": { "type": ["string", "number", "boolean"] } },
                        "description": { "type": "string" }
                    }
                }
            ]
        }
    })
}

/// `depends_on`: one task name or a list of them.
#[derive(Debug)]
pub enum RawDependsOn {
    /// `depends_on: build`; its span is the enclosing `Spanned`'s.
    One(String),
    /// `depends_on: [build, test]`.
    Many(Vec<Spanned<RawDependency>>),
}

/// One entry of a `depends_on` list.
#[derive(Clone, Debug)]
pub enum RawDependency {
    /// `build`, `test[os=linux]`.
    Name(String),
    /// `{ task: build, with: { profile: release } }`: a task with parameters.
    Call(Box<RawCall>),
}

/// A dependency on a task with parameters.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawCall {
    /// The task's name as written.
    pub task: Spanned<String>,
    /// Its parameters' values (templates may read `params` and `vars`).
    #[serde(default)]
    pub with: IndexMap<Spanned<String>, Spanned<RawValue>, FxBuildHasher>,
}

impl<'de> Deserialize<'de> for RawDependency {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct DependencyVisitor;

        impl<'de> Visitor<'de> for DependencyVisitor {
            type Value = RawDependency;

            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a task name or `{ task: name, with: { param: value } }`")
            }

            fn visit_str<E: de::Error>(self, name: &str) -> Result<Self::Value, E> {
                Ok(RawDependency::Name(name.to_owned()))
            }

            fn visit_map<A: de::MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
                RawCall::deserialize(de::value::MapAccessDeserializer::new(map))
                    .map(|call| RawDependency::Call(Box::new(call)))
            }
        }

        deserializer.deserialize_any(DependencyVisitor)
    }
}

impl<'de> Deserialize<'de> for RawDependsOn {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct DependsOnVisitor;

        impl<'de> Visitor<'de> for DependsOnVisitor {
            type Value = RawDependsOn;

            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a list of task names or one task name")
            }

            fn visit_str<E: de::Error>(self, name: &str) -> Result<Self::Value, E> {
                Ok(RawDependsOn::One(name.to_owned()))
            }

            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                let mut names = Vec::with_capacity(seq.size_hint().unwrap_or(2));
                while let Some(name) = seq.next_element()? {
                    names.push(name);
                }
                Ok(RawDependsOn::Many(names))
            }
        }

        deserializer.deserialize_any(DependsOnVisitor)
    }
}

impl JsonSchema for RawDependsOn {
    fn schema_name() -> Cow<'static, str> {
        "DependsOn".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "description": "Task names that must succeed first; `name[key=value]`, `name[key]` or `name[..]` selects matrix items; `{ task: name, with: { param: value } }` gives a task's parameters.",
            "anyOf": [
                { "type": "array", "items": { "anyOf": [
                    { "type": "string" },
                    {
                        "type": "object",
                        "additionalProperties": false,
                        "required": ["task"],
                        "properties": {
                            "task": { "type": "string" },
                            "with": { "type": "object", "additionalProperties": { "type": ["string", "number", "boolean"] } }
                        }
                    }
                ] } },
                { "type": "string" }
            ]
        })
    }
}

/// Reads a key that is present as `Some`, even when its value is null (`run:` with nothing
/// after it), which becomes an empty string so that validation can say the command is empty
/// instead of silently treating the task as a join point.
fn null_as_empty<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<Spanned<String>>, D::Error> {
    let value = Spanned::<Option<String>>::deserialize(deserializer)?;
    Ok(Some(Spanned::new(
        value.value.unwrap_or_default(),
        value.referenced,
        value.defined,
    )))
}

/// The schema of an `env` mapping. Values are text; a number or a boolean is taken as written
/// (`PORT: 8080` sets `PORT=8080`), so the schema allows them too and editors do not flag them.
fn env_schema(_: &mut SchemaGenerator) -> Schema {
    json_schema!({
        "type": ["object", "null"],
        "additionalProperties": { "type": ["string", "number", "boolean"] }
    })
}

/// The schema of a duration string such as `1h30m`.
fn duration_schema(_: &mut SchemaGenerator) -> Schema {
    json_schema!({
        "type": ["string", "null"],
        "pattern": "^([0-9]+(ms|s|m|h|d))+$",
        "examples": ["10m", "1h30m", "45s", "250ms"]
    })
}

/// The schema of a memory amount such as `2G`.
fn memory_schema(_: &mut SchemaGenerator) -> Schema {
    json_schema!({
        "type": ["string", "null"],
        "pattern": "^[0-9]+([KMGTkmgt](i?[Bb])?)$",
        "examples": ["512M", "2G", "1T"]
    })
}

/// The schema of `vars`.
fn vars_schema(_: &mut SchemaGenerator) -> Schema {
    json_schema!({
        "type": ["object", "null"],
        "propertyNames": { "pattern": "^[A-Za-z_][A-Za-z0-9_]*$" },
        "additionalProperties": {
            "type": ["string", "number", "boolean", "array"],
            "items": { "type": ["string", "number", "boolean"] }
        }
    })
}

/// The schema of `pools`.
fn pools_schema(_: &mut SchemaGenerator) -> Schema {
    json_schema!({
        "type": ["object", "null"],
        "propertyNames": { "pattern": "^[a-z][a-z0-9_]*$" },
        "additionalProperties": { "type": "integer", "minimum": 1 }
    })
}

/// The schema of a task's `matrix`.
fn matrix_schema(_: &mut SchemaGenerator) -> Schema {
    json_schema!({
        "type": ["object", "null"],
        "propertyNames": { "pattern": "^[A-Za-z_][A-Za-z0-9_]*$" },
        "additionalProperties": {
            "anyOf": [
                {
                    "type": "array",
                    "minItems": 1,
                    "items": { "type": ["string", "number", "boolean"] }
                },
                {
                    "type": "string",
                    "description": "A template that yields the list, evaluated when the workflow is loaded: `${{ glob(\"src/*.c\") }}`.",
                    "pattern": "\\$\\{\\{"
                }
            ]
        }
    })
}
