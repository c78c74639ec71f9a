//! Matrices from results: a task whose matrix axis reads a dependency's result expands during
//! the run into one task per value, and waits for them all as a join. Counts in events and
//! the summary, bad values, the cap, `--keep-going`, up-to-date items and `--resume`.

use engine_test_support::{Output, Test};

/// A workflow where `split` sets `shards` to `list` (JSON), `work` expands over it and
/// `join` waits for `work`.
fn fan_out(list: &str) -> String {
    format!(
        "
tasks:
  split:
    run: |
      echo 'shards={list}' >> \"$ENGINE_RESULTS\"
  work:
    depends_on: [split]
    matrix:
      shard: ${{{{ from_json(tasks.split.results.shards) }}}}
    script: |
      let shard = matrix.shard;
  join:
    depends_on: [work]
    run: echo joined
"
    )
}

/// The one `task_expanded` event of `task`.
#[track_caller]
fn expanded(run: &Output, task: &str) -> Vec<String> {
    let events: Vec<_> = run
        .events_of("task_expanded")
        .into_iter()
        .filter(|e| e["task"] == task)
        .collect();
    let [event] = events.as_slice() else {
        run.fail(&format!("expected one task_expanded event of `{task}`"));
    };
    let items: Vec<String> = event["items"]
        .as_array()
        .expect("a list of items")
        .iter()
        .map(|item| item.as_str().expect("a name").to_owned())
        .collect();
    assert_eq!(event["count"], items.len(), "{event}");
    items
}

#[test]
fn a_matrix_from_a_result_makes_one_task_per_value_and_its_dependents_wait_for_all() {
    let run = Test::run_of(&fan_out("[1, \"b\", true]"))
        .args(["--progress", "plain"])
        .status(0)
        .task_status("work[shard=1]", "succeeded")
        .task_status("work[shard=b]", "succeeded")
        .task_status("work[shard=true]", "succeeded")
        .task_status("work", "succeeded")
        .task_status("join", "succeeded")
        .stderr_has("expand work into 3 items")
        .stderr_has("done: 6 succeeded")
        .run();
    assert_eq!(
        expanded(&run, "work"),
        ["work[shard=1]", "work[shard=b]", "work[shard=true]"]
    );
    let join = run.position("task_started", "join");
    for item in ["work[shard=1]", "work[shard=b]", "work[shard=true]"] {
        assert!(
            run.position("task_finished", item) < join,
            "{item} before join"
        );
        assert!(
            run.position("task_expanded", "work") < run.position("task_started", item),
            "{item} is made before it starts"
        );
    }
}

#[test]
fn an_empty_list_expands_into_no_task_and_the_dependents_still_run() {
    let run = Test::run_of(&fan_out("[]"))
        .args(["--progress", "plain"])
        .status(0)
        .task_status("work", "succeeded")
        .task_status("join", "succeeded")
        .stderr_has("expand work into 0 items")
        .stderr_has("done: 3 succeeded")
        .run();
    assert!(expanded(&run, "work").is_empty());
}

#[test]
fn one_value_makes_one_task() {
    let run = Test::run_of(&fan_out("[\"only\"]"))
        .status(0)
        .task_status("work[shard=only]", "succeeded")
        .stderr_has("done: 4 succeeded")
        .run();
    assert_eq!(expanded(&run, "work"), ["work[shard=only]"]);
}

#[test]
fn a_thousand_values_make_a_thousand_tasks() {
    let list = format!(
        "[{}]",
        (0..1000)
            .map(|i| i.to_string())
            .collect::<Vec<_>>()
            .join(",")
    );
    let run = Test::run_of(&fan_out(&list))
        .status(0)
        .task_status("work[shard=0]", "succeeded")
        .task_status("work[shard=999]", "succeeded")
        .task_status("join", "succeeded")
        .stderr_has("done: 1003 succeeded")
        .run();
    assert_eq!(expanded(&run, "work").len(), 1000);
    assert_eq!(run.events_of("task_finished").len(), 1003);
    let join = run.position("task_started", "join");
    let last_item = run
        .events()
        .iter()
        .rposition(|e| {
            e["event"] == "task_finished"
                && e["task"].as_str().is_some_and(|t| t.starts_with("work["))
        })
        .expect("items finished");
    assert!(last_item < join, "the join starts after the last item");
}

#[test]
fn a_value_that_is_not_a_json_list_of_scalars_fails_the_task_clearly() {
    for (list, says) in [
        ("not json", "cannot expand the matrix key `shard` of `work`"),
        (
            "{\"a\": 1}",
            "the matrix key `shard` of `work` must be a list of strings, numbers or booleans (a JSON array), got a map",
        ),
        (
            "[1, [2, 3]]",
            "the matrix key `shard` of `work` must be a list of strings, numbers or booleans (a JSON array), got a list holding a list",
        ),
        ("[1, 1]", "the matrix key `shard` of `work` lists `1` twice"),
    ] {
        Test::run_of(&fan_out(list))
            .status(1)
            .task_status("split", "succeeded")
            .task_status("work", "failed")
            .skipped("join", "dependency_failed")
            .stderr_has(says)
            .run();
    }
}

#[test]
fn more_combinations_than_the_cap_fail_the_task_clearly() {
    // 400 x 300 = 120,000 combinations, over the cap of 100,000.
    let yaml = "
tasks:
  split:
    run: |
      echo \"a=[$(seq -s, 1 400)]\" >> \"$ENGINE_RESULTS\"
      echo \"b=[$(seq -s, 1 300)]\" >> \"$ENGINE_RESULTS\"
  work:
    depends_on: [split]
    matrix:
      a: ${{ from_json(tasks.split.results.a) }}
      b: ${{ from_json(tasks.split.results.b) }}
    run: 'true'
";
    let run = Test::run_of(yaml)
        .status(1)
        .task_status("work", "failed")
        .stderr_has("the matrix of `work` makes more than 100000 tasks")
        .run();
    assert!(run.events_of("task_expanded").is_empty());
}

#[test]
fn with_keep_going_a_failed_item_blocks_only_what_waits_for_the_placeholder() {
    let yaml = "
tasks:
  split:
    script: result(\"shards\", \"[1, 2, 3]\");
  work:
    depends_on: [split]
    matrix:
      shard: ${{ from_json(tasks.split.results.shards) }}
    run: test ${{ matrix.shard }} != 2
  join:
    depends_on: [work]
    run: echo joined
  other:
    depends_on: [split]
    run: echo other
";
    Test::run_of(yaml)
        .args(["--keep-going"])
        .status(1)
        .task_status("work[shard=1]", "succeeded")
        .task_status("work[shard=2]", "failed")
        .task_status("work[shard=3]", "succeeded")
        .skipped("work", "dependency_failed")
        .skipped("join", "dependency_failed")
        .task_status("other", "succeeded")
        .run();
}

/// Items with outputs: `split` writes its list to a file as well.
const WITH_OUTPUTS: &str = "
tasks:
  split:
    inputs: [list.json]
    outputs: [split.out]
    run: cp list.json split.out; echo \"shards=$(cat list.json)\" >> \"$ENGINE_RESULTS\"
  work:
    depends_on: [split]
    matrix:
      shard: ${{ from_json(tasks.split.results.shards) }}
    outputs: ['out/${{ matrix.shard }}.txt']
    run: |
      echo ${{ matrix.shard }} >> count
      mkdir -p out && echo ${{ matrix.shard }} > out/${{ matrix.shard }}.txt
      if [ -e block ] && [ ${{ matrix.shard }} = b ]; then sleep 0.5; kill -9 $PPID; sleep 5; fi
  join:
    depends_on: [work]
    outputs: [all.txt]
    run: cat out/*.txt > all.txt
";

#[test]
fn a_second_run_skips_every_unchanged_item() {
    let test = Test::run_of(WITH_OUTPUTS).file("list.json", "[\"a\", \"b\"]\n");
    test.again().status(0).run();
    let run = test
        .again()
        .status(0)
        .skipped("split", "up_to_date")
        .skipped("work[shard=a]", "up_to_date")
        .skipped("work[shard=b]", "up_to_date")
        .skipped("join", "up_to_date")
        .run();
    assert_eq!(expanded(&run, "work").len(), 2);
    // The two items ran at once in the first run, in either order.
    let count = std::fs::read_to_string(test.path("count")).expect("count");
    let mut ran: Vec<&str> = count.lines().collect();
    ran.sort_unstable();
    assert_eq!(ran, ["a", "b"], "no item ran again");
}

#[test]
fn resume_after_the_engine_died_among_the_items() {
    // With `--jobs 1`, `b` starts as soon as `a` exits, while `a`'s output is still being
    // digested; `b` kills the engine half a second later, when `a`'s end is in the record
    // (it is committed within 20 ms of being known).
    let test = Test::run_of(WITH_OUTPUTS)
        .file("list.json", "[\"a\", \"b\", \"c\"]\n")
        .file("block", "")
        .args(["--jobs", "1"]);
    test.again().any_status().run();
    std::fs::remove_file(test.path("block")).expect("remove the block file");
    let run = test
        .again()
        .args(["--resume"])
        .status(0)
        .skipped("split", "resumed")
        .skipped("work[shard=a]", "resumed")
        .task_status("work[shard=b]", "succeeded")
        .task_status("work[shard=c]", "succeeded")
        .task_status("join", "succeeded")
        .run();
    assert_eq!(expanded(&run, "work").len(), 3);
    let count = std::fs::read_to_string(test.path("count")).expect("count");
    assert_eq!(count, "a\nb\nb\nc\n", "`a` ran once, `b` again, `c` once");
}

#[test]
fn selecting_the_placeholder_runs_all_its_items() {
    Test::run_of(&fan_out("[1, 2]"))
        .args(["work"])
        .status(0)
        .task_status("split", "succeeded")
        .task_status("work[shard=1]", "succeeded")
        .task_status("work[shard=2]", "succeeded")
        .not_started("join")
        .run();
}

#[test]
fn a_result_that_holds_a_secret_expands_masked_and_the_secret_is_never_shown_or_recorded() {
    // Results are masked where they are read, so a secret never becomes part of a task's
    // name (names are shown, name log files and are recorded) nor of its matrix value.
    let yaml = format!("secrets: [TOK]\n{}", fan_out("[\"a\", \"x-hunter2-y\"]"));
    let test = Test::run_of(&yaml)
        .env("TOK", "hunter2")
        .args(["--progress", "plain"])
        .status(0)
        .task_status("work[shard=x-***-y]", "succeeded")
        .stderr_lacks("hunter2")
        .stdout_lacks("hunter2");
    let state = test.state_dir();
    let run = test.run();
    assert_eq!(
        expanded(&run, "work"),
        ["work[shard=a]", "work[shard=x-***-y]"]
    );
    for file in engine_test_support::files_under(&state) {
        let bytes = std::fs::read(&file).expect("read a state file");
        assert!(
            !bytes.windows(7).any(|window| window == b"hunter2"),
            "{} holds the secret",
            file.display()
        );
    }
}

#[test]
fn the_outputs_of_the_items_made_during_the_run_are_the_tasks_outputs() {
    let run = Test::run_of(
        r#"
tasks:
  split:
    run: echo 'shards=["a", "b"]' >> "$ENGINE_RESULTS"
  work:
    depends_on: [split]
    matrix:
      shard: ${{ from_json(tasks.split.results.shards) }}
    outputs: ["out/${{ matrix.shard }}.txt"]
    run: echo ${{ matrix.shard }} > out/${{ matrix.shard }}.txt
  all:
    depends_on: [work]
    run: echo "status=${{ tasks.work.status }} outputs=${{ tasks.work.outputs }}"
"#,
    )
    .args(["--progress", "plain"])
    .status(0)
    .stdout_has("[all] status=success outputs=out/a.txt out/b.txt")
    .run();
    assert_eq!(expanded(&run, "work"), ["work[shard=a]", "work[shard=b]"]);
}

#[test]
fn a_selector_cannot_pick_items_that_are_made_during_the_run() {
    // Picking one item of a placeholder would otherwise drop the dependency: refused.
    Test::run_of(
        r#"
tasks:
  split:
    run: echo 'shards=["a"]' >> "$ENGINE_RESULTS"
  work:
    depends_on: [split]
    matrix:
      shard: ${{ from_json(tasks.split.results.shards) }}
    run: echo ${{ matrix.shard }}
  after:
    depends_on: ["work[shard=a]"]
    run: echo after
"#,
    )
    .status(2)
    .stderr_has("selects items of `work`, whose items are made during the run")
    .stderr_has("depend on `work` itself")
    .not_started("split")
    .run();
}
