//! The `slurm` options of `defaults` and tasks: partition, account and extra `sbatch`
//! options, checked so that what reaches `sbatch` is one option per argument and never one
//! that engine sets itself.

use std::sync::Arc;

use serde_saphyr::Spanned;

use crate::diagnostic::{Diagnostic, DiagnosticKind, Source};
use crate::model::SlurmOptions;
use crate::parse::{RawSlurm, location_span};

/// `sbatch` options that engine sets itself, with what to write instead. Short options are
/// matched with or without their value attached (`-pdebug`), long ones up to any `=`.
const OWNED_OPTIONS: &[(&[&str], &str)] = &[
    (
        &["-J", "--job-name"],
        "engine names each job after the workflow and the task",
    ),
    (
        &["-D", "--chdir"],
        "the job runs in the task's `cwd`: set `cwd` instead",
    ),
    (
        &["-o", "--output", "-e", "--error", "-i", "--input"],
        "engine collects the job's output into the task's log",
    ),
    (
        &[
            "--parsable",
            "--wrap",
            "-W",
            "--wait",
            "--test-only",
            "-H",
            "--hold",
            "-a",
            "--array",
        ],
        "engine submits and tracks the job itself",
    ),
    (
        &["-c", "--cpus-per-task"],
        "set `resources: { cpus: N }` instead",
    ),
    (&["--mem"], "set `resources: { memory: 2G }` instead"),
    (
        &["-t", "--time"],
        "set the task's `timeout` instead (rounded up to minutes for Slurm)",
    ),
    (
        &["-p", "--partition"],
        "set `slurm: { partition: NAME }` instead",
    ),
    (
        &["-A", "--account"],
        "set `slurm: { account: NAME }` instead",
    ),
];

/// The checked options of a `slurm` mapping on top of `inherited`: a task's `partition` and
/// `account` replace the inherited ones, its `extra` options come after them. Problems are
/// appended to `found`.
pub(super) fn slurm_options(
    source: &Source,
    raw: Option<&RawSlurm>,
    inherited: &Arc<SlurmOptions>,
    place: &str,
    found: &mut Vec<Diagnostic>,
) -> Arc<SlurmOptions> {
    let Some(raw) = raw else {
        return Arc::clone(inherited);
    };
    let mut options = SlurmOptions::clone(inherited);
    for (field, value, slot) in [
        ("partition", &raw.partition, &mut options.partition),
        ("account", &raw.account, &mut options.account),
    ] {
        let Some(value) = value else { continue };
        let text = value.value.trim();
        if text.is_empty() || text.contains(char::is_whitespace) {
            found.push(
                Diagnostic::error(
                    DiagnosticKind::InvalidSlurmOption,
                    format!("invalid Slurm `{field}` `{}` in {place}", value.value),
                )
                .at(
                    location_span(source, value.referenced),
                    Some("expected one name".into()),
                )
                .hint(format!(
                    "write the {field}'s name, like `{field}: {}`",
                    if field == "partition" {
                        "gpu"
                    } else {
                        "my_project"
                    }
                )),
            );
        } else {
            *slot = Some(text.to_owned());
        }
    }
    for option in raw.extra.iter().flatten() {
        match check_extra(&option.value) {
            Ok(()) => options.extra.push(option.value.clone()),
            Err((label, hint)) => found.push(extra_problem(source, option, place, label, hint)),
        }
    }
    Arc::new(options)
}

fn extra_problem(
    source: &Source,
    option: &Spanned<String>,
    place: &str,
    label: &str,
    hint: String,
) -> Diagnostic {
    Diagnostic::error(
        DiagnosticKind::InvalidSlurmOption,
        format!(
            "invalid extra `sbatch` option `{}` in {place}",
            option.value
        ),
    )
    .at(location_span(source, option.referenced), Some(label.into()))
    .hint(hint)
}

/// Whether one `extra` item can be given to `sbatch` as it is: the label and hint of the
/// problem if not.
fn check_extra(option: &str) -> Result<(), (&'static str, String)> {
    let name = option.split_once('=').map_or(option, |(name, _)| name);
    if !option.starts_with('-') || option == "-" || option == "--" {
        return Err((
            "not an option",
            "each item is one `sbatch` option starting with `-`, like `--qos=high`".into(),
        ));
    }
    if name.contains(char::is_whitespace) {
        return Err((
            "one argument, not several",
            format!(
                "write the option and its value as one item joined by `=`, like `{}`",
                joined_like(option)
            ),
        ));
    }
    for (names, instead) in OWNED_OPTIONS {
        let owned = names.iter().any(|owned| {
            if owned.starts_with("--") {
                name == *owned
            } else {
                // `-p`, `-pdebug` and `-p=debug` all set the partition.
                option.starts_with(owned)
            }
        });
        if owned {
            return Err(("engine sets this option itself", (*instead).to_owned()));
        }
    }
    Ok(())
}

/// `--gres gpu:1` as `--gres=gpu:1`, for a hint.
fn joined_like(option: &str) -> String {
    let mut words = option.split_whitespace();
    let first = words.next().unwrap_or_default();
    let rest: Vec<&str> = words.collect();
    if rest.is_empty() {
        first.to_owned()
    } else {
        format!("{first}={}", rest.join(" "))
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::model::{ExecutorKind, Workflow};

    fn load(text: &str) -> (Source, Result<Workflow, Vec<Diagnostic>>) {
        let source = Source::new(Path::new("/flows/w.yaml").into(), "w.yaml".into(), text);
        let loaded = crate::parse::parse_workflow(&source)
            .and_then(|raw| crate::validate::validate_workflow(&source, raw));
        (source, loaded)
    }

    /// The problems of `text` as (kind, line, column, underlined text).
    fn problems(text: &str) -> Vec<(DiagnosticKind, usize, usize, String)> {
        let (source, loaded) = load(text);
        let found = loaded.err().unwrap_or_default();
        found
            .iter()
            .map(|d| {
                let span = d.primary.as_ref().expect("located").span;
                let (line, column) = source.position(span.offset);
                let text = source.text()[span.offset..span.offset + span.len].to_owned();
                (d.kind, line, column, text)
            })
            .collect()
    }

    #[test]
    fn executor_comes_from_the_task_then_defaults_then_the_workflow() {
        let (_, loaded) = load(
            "\
executor: slurm
defaults:
  slurm: { partition: debug, extra: [--qos=low] }
tasks:
  inherits:
    run: 'true'
  local:
    executor: local
    run: 'true'
  own:
    run: 'true'
    slurm: { partition: gpu, account: lab, extra: ['--gres=gpu:1'] }
  script:
    script: print(1);
",
        );
        let workflow = loaded.expect("valid");
        let task = |name: &str| workflow.task(workflow.find(name).expect("task"));
        assert_eq!(task("inherits").executor, ExecutorKind::Slurm);
        assert_eq!(task("local").executor, ExecutorKind::Local);
        assert_eq!(task("inherits").slurm.partition.as_deref(), Some("debug"));
        let own = &task("own").slurm;
        assert_eq!(own.partition.as_deref(), Some("gpu"));
        assert_eq!(own.account.as_deref(), Some("lab"));
        assert_eq!(own.extra, ["--qos=low", "--gres=gpu:1"]);
        // Inherited Slurm settings do not touch thread tasks.
        assert_eq!(task("script").executor, ExecutorKind::Slurm);
        let (_, loaded) =
            load("defaults: { executor: local }\nexecutor: slurm\ntasks:\n  a: { run: 'true' }\n");
        let workflow = loaded.expect("valid");
        assert_eq!(
            workflow.tasks[0].executor,
            ExecutorKind::Local,
            "defaults win"
        );
    }

    #[test]
    fn slurm_problems_are_located() {
        use DiagnosticKind as K;
        let found = problems(
            "\
tasks:
  a:
    run: 'true'
    slurm:
      partition: ''
      account: two words
      extra: [--qos=high, qos=low, '--gres gpu:1', --job-name=x, -c4]
  b:
    script: print(1);
    executor: slurm
    slurm: { account: lab }
",
        );
        let expected = [
            (K::InvalidSlurmOption, 5, 18, "''"),
            (K::InvalidSlurmOption, 6, 16, "two words"),
            (K::InvalidSlurmOption, 7, 27, "qos=low"),
            (K::InvalidSlurmOption, 7, 36, "'--gres gpu:1'"),
            (K::InvalidSlurmOption, 7, 52, "--job-name=x"),
            (K::InvalidSlurmOption, 7, 66, "-c4"),
            (K::InvalidExecutor, 10, 15, "slurm"),
            (K::InvalidExecutor, 11, 23, "lab"),
        ];
        let found: Vec<_> = found
            .iter()
            .map(|(kind, line, column, text)| (*kind, *line, *column, text.as_str()))
            .collect();
        assert_eq!(found, expected);
    }

    #[test]
    fn extra_options_pass_when_engine_does_not_own_them() {
        for option in [
            "--qos=high",
            "--gres=gpu:1",
            "--constraint=avx2",
            "--mem-per-cpu=100",
            "--exclusive",
            "-N1",
            "--comment=two words",
            "--time-min=5",
        ] {
            assert_eq!(check_extra(option), Ok(()), "{option}");
        }
    }

    #[test]
    fn extra_options_that_engine_sets_or_that_are_not_options_are_refused() {
        for (option, label) in [
            ("qos=high", "not an option"),
            ("-", "not an option"),
            ("--gres gpu:1", "one argument, not several"),
            ("--job-name=x", "engine sets this option itself"),
            ("-Jx", "engine sets this option itself"),
            ("--output=/tmp/x", "engine sets this option itself"),
            ("-c4", "engine sets this option itself"),
            ("--cpus-per-task=4", "engine sets this option itself"),
            ("--mem=2G", "engine sets this option itself"),
            ("--time=10", "engine sets this option itself"),
            ("-pdebug", "engine sets this option itself"),
            ("--account=x", "engine sets this option itself"),
            ("--array=1-3", "engine sets this option itself"),
            ("--wrap=true", "engine sets this option itself"),
        ] {
            assert_eq!(check_extra(option).map_err(|e| e.0), Err(label), "{option}");
        }
        assert_eq!(
            check_extra("--gres gpu:1").map_err(|e| e.1),
            Err(
                "write the option and its value as one item joined by `=`, like `--gres=gpu:1`"
                    .into()
            )
        );
    }
}
