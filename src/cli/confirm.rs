//! `confirm`: before a run starts, the question of every selected task that has one is asked
//! on the terminal (y/N), all of them up front, never in the middle of a run. Without a
//! terminal the run is refused unless `--yes` answers them.

use std::io::{BufRead, IsTerminal, Write};

use crate::error::EngineError;
use crate::model::Workflow;
use crate::plan::Graph;

/// Asks every question of the selected tasks; all must be answered yes.
///
/// # Errors
/// `Declined` (exit 1) when one is not answered yes; a usage error (exit 2) when there is a
/// question, no terminal to ask it on and no `--yes`.
pub fn confirm(workflow: &Workflow, graph: &Graph, yes: bool) -> Result<(), EngineError> {
    // One question per task as written: a matrix task's items share it.
    let mut questions: Vec<(&str, &str)> = Vec::new();
    for &id in graph.tasks() {
        let task = workflow.task(id);
        if let Some(question) = task.confirm() {
            let name = task.group.as_deref().unwrap_or(&task.name);
            if !questions.iter().any(|(asked, _)| *asked == name) {
                questions.push((name, question));
            }
        }
    }
    if questions.is_empty() {
        return Ok(());
    }
    // A run answered from a no-op list would skip the questions: this one leaves none.
    crate::files::observe::spoil("a selected task asks for confirmation");
    if yes {
        return Ok(());
    }
    let stdin = std::io::stdin();
    if !stdin.is_terminal() {
        let (task, question) = questions[0];
        return Err(EngineError::Usage {
            message: format!(
                "task `{task}` asks \"{question}\", and there is no terminal to answer on: nothing was run"
            ),
            hint: Some("`engine run --yes` answers yes to every `confirm` question".to_owned()),
        });
    }
    let mut input = stdin.lock();
    for (task, question) in questions {
        let mut err = std::io::stderr().lock();
        let _ = write!(err, "{task}: {question} [y/N] ");
        let _ = err.flush();
        drop(err);
        let mut answer = String::new();
        input
            .read_line(&mut answer)
            .map_err(EngineError::io("cannot read the answer"))?;
        if !is_yes(&answer) {
            return Err(EngineError::Declined {
                task: task.to_owned(),
            });
        }
    }
    Ok(())
}

/// `y` or `yes`, in any case; anything else (an empty line, end of input) is no.
fn is_yes(answer: &str) -> bool {
    matches!(answer.trim().to_ascii_lowercase().as_str(), "y" | "yes")
}

#[cfg(test)]
mod tests {
    #[test]
    fn only_y_or_yes_is_yes() {
        for yes in ["y\n", "Y", " yes \n", "YES"] {
            assert!(super::is_yes(yes), "{yes:?}");
        }
        for no in ["", "\n", "n", "no", "yep", "ja"] {
            assert!(!super::is_yes(no), "{no:?}");
        }
    }
}
