//! Fail-fast `run` commands: `sh -e`, `bash -e -o pipefail`, and a `shell` with options used
//! as written.

use engine_test_support::Test;

#[test]
fn a_failing_first_line_stops_the_second_in_sh() {
    Test::run_of(
        r"
tasks:
  two_lines:
    run: |
      false
      echo second line ran
",
    )
    .status(1)
    .task_status("two_lines", "failed")
    .stdout_lacks("second line ran")
    .run();
}

#[test]
fn a_failing_first_line_stops_the_second_in_bash() {
    Test::run_of(
        r"
tasks:
  two_lines:
    shell: bash
    run: |
      false
      echo second line ran
",
    )
    .status(1)
    .task_status("two_lines", "failed")
    .stdout_lacks("second line ran")
    .run();
}

#[test]
fn bash_fails_a_pipeline_whose_first_command_fails() {
    Test::run_of(
        r"
tasks:
  piped:
    shell: bash
    run: |
      false | cat
      echo after the pipe
",
    )
    .status(1)
    .task_status("piped", "failed")
    .stdout_lacks("after the pipe")
    .run();
}

#[test]
fn a_shell_with_options_and_set_plus_e_opt_out() {
    Test::run_of(
        r"
tasks:
  written:
    shell: sh +e
    run: |
      false
      echo written went on
  unset:
    run: |
      set +e
      false
      echo unset went on
  piped:
    shell: bash --norc
    run: |
      false | cat
      echo piped went on
",
    )
    .stdout_has("[written] written went on")
    .stdout_has("[unset] unset went on")
    .stdout_has("[piped] piped went on")
    .run();
}
