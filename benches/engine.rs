//! Micro-benchmarks of the pipeline's stages on generated layered workflows: parse, validate,
//! plan, and the coordinator's per-task cost with the fake executor and a no-op event sink.
//!
//! Run with `cargo bench --bench engine`; results and how to read them are in `bench/MICRO.md`.
//! Every benchmark counts tasks, so divan prints the throughput next to the time per run: the
//! per-task cost is the median divided by the size.

use std::path::PathBuf;
use std::time::Duration;

use divan::Bencher;
use divan::counter::ItemsCount;
use engine::diagnostic::Source;
use engine::events::{Event, EventSink};
use engine::execute::FakeExecutor;
use engine::model::Workflow;
use engine::parse::{RawWorkflow, parse_workflow};
use engine::plan::Graph;
use engine::schedule::{Coordinator, Options};
use engine::validate::validate_workflow;

fn main() {
    divan::main();
}

/// Workflow sizes, in tasks.
const SIZES: &[usize] = &[1_000, 10_000, 100_000];

/// Tasks per layer of the layered shape.
const WIDTH: usize = 100;

/// Fixed seed of the dependency picks, so every run measures the same workflows.
const SEED: u64 = 1;

/// A layered workflow of `count` tasks as YAML: layers of `WIDTH` tasks, each task after the
/// first layer depending on 2 distinct tasks of the layer before, picked with a seeded
/// generator. Even tasks are process tasks (`run: "true"`), odd ones thread tasks
/// (`script: "()"`), so both ready queues of the coordinator are busy. One task a line in flow
/// style, like `bench/gen_workflow.py`.
fn layered_yaml(count: usize) -> String {
    let digits = count.saturating_sub(1).max(1).to_string().len();
    let name = |i: usize| format!("t{i:0digits$}");
    let mut rng = SplitMix(SEED);
    let mut text = format!("name: layered-{count}\ntasks:\n");
    for i in 0..count {
        let command = if i % 2 == 0 {
            r#"run: "true""#
        } else {
            r#"script: "()""#
        };
        let layer_start = i - i % WIDTH;
        if layer_start == 0 {
            text.push_str(&format!("  {}: {{{command}}}\n", name(i)));
            continue;
        }
        let previous = layer_start - WIDTH;
        let first = rng.below(WIDTH);
        let mut second = rng.below(WIDTH - 1);
        if second >= first {
            second += 1;
        }
        let (low, high) = (first.min(second), first.max(second));
        text.push_str(&format!(
            "  {}: {{depends_on: [{}, {}], {command}}}\n",
            name(i),
            name(previous + low),
            name(previous + high),
        ));
    }
    text
}

/// splitmix64: a small seeded generator, enough to pick dependencies reproducibly.
struct SplitMix(u64);

impl SplitMix {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, bound: usize) -> usize {
        usize::try_from(self.next() % bound as u64).expect("below a usize bound")
    }
}

fn source(count: usize) -> Source {
    Source::new(
        PathBuf::from("layered.yaml"),
        "layered.yaml".to_owned(),
        layered_yaml(count),
    )
}

fn parsed(source: &Source) -> RawWorkflow {
    parse_workflow(source).expect("the generated workflow parses")
}

fn validated(count: usize) -> Workflow {
    let source = source(count);
    validate_workflow(&source, parsed(&source)).expect("the generated workflow is valid")
}

/// Drops every event: the measurement is the coordinator, not event storage.
struct NullSink;

impl EventSink for NullSink {
    fn event(&mut self, _event: &Event) {}
}

/// YAML text to `RawWorkflow`.
#[divan::bench_group(sample_count = 20, max_time = 20)]
mod parse {
    use super::{Bencher, ItemsCount, SIZES, parsed, source};

    #[divan::bench(args = SIZES)]
    fn layered(bencher: Bencher, count: usize) {
        let source = source(count);
        bencher
            .counter(ItemsCount::new(count))
            .bench(|| parsed(divan::black_box(&source)));
    }

    /// The YAML library's own floor: the same text read by serde-saphyr on one thread into
    /// `IgnoredAny` (events only: no spans, no engine types, no budgets). `layered` above runs
    /// on up to 2 threads, so it beats this floor only by parallelism.
    #[divan::bench(args = SIZES)]
    fn yaml_floor(bencher: Bencher, count: usize) {
        let source = source(count);
        // Options are not `Sync`: each sample makes its own (a few fields, no allocation).
        let options = || {
            let mut options = serde_saphyr::options! { with_snippet: false };
            options.budget = None;
            options.duplicate_keys = serde_saphyr::DuplicateKeyPolicy::PassThrough;
            options
        };
        bencher.counter(ItemsCount::new(count)).bench(|| {
            serde_saphyr::from_str_with_options::<serde::de::IgnoredAny>(
                divan::black_box(source.text()),
                options(),
            )
            .expect("generated YAML parses")
        });
    }
}

/// `RawWorkflow` to `Workflow`: names, dependencies, cycles, scripts compiled once each.
#[divan::bench_group(sample_count = 20, max_time = 20)]
mod validate {
    use super::{Bencher, ItemsCount, SIZES, parsed, source, validate_workflow};

    #[divan::bench(args = SIZES)]
    fn layered(bencher: Bencher, count: usize) {
        let source = source(count);
        bencher
            .counter(ItemsCount::new(count))
            .with_inputs(|| parsed(&source))
            .bench_values(|raw| validate_workflow(&source, raw).expect("valid"));
    }
}

/// `Workflow` to `Graph`: edges, topological order, waves and chain priorities.
#[divan::bench_group(sample_count = 50, max_time = 10)]
mod plan {
    use super::{Bencher, Graph, ItemsCount, SIZES, validated};

    #[divan::bench(args = SIZES)]
    fn layered(bencher: Bencher, count: usize) {
        let workflow = validated(count);
        bencher
            .counter(ItemsCount::new(count))
            .bench(|| Graph::build(divan::black_box(&workflow), &[]).expect("all tasks"));
    }
}

/// A whole run on the fake executor (it finishes one task each time the coordinator waits)
/// with a no-op sink, 2 process slots and 2 threads: the coordinator's cost per task.
#[divan::bench_group(sample_count = 50, max_time = 10)]
mod coordinator {
    use super::{
        Bencher, Coordinator, Duration, FakeExecutor, Graph, ItemsCount, NullSink, Options, SIZES,
        validated,
    };

    #[divan::bench(args = SIZES)]
    fn layered(bencher: Bencher, count: usize) {
        let workflow = std::sync::Arc::new(validated(count));
        let graph = Graph::build(&workflow, &[]).expect("all tasks");
        let options = Options {
            jobs: 2,
            threads: 2,
            keep_going: false,
            grace: Duration::from_secs(1),
        };
        bencher
            .counter(ItemsCount::new(count))
            .with_inputs(|| FakeExecutor::new(Vec::new()))
            .bench_values(|fake| {
                let mut coordinator = Coordinator::new(
                    std::sync::Arc::clone(&workflow),
                    &graph,
                    fake,
                    NullSink,
                    options,
                );
                let summary = coordinator.run("bench");
                assert_eq!(summary.succeeded, count, "every task runs");
                coordinator.into_parts()
            });
    }
}
