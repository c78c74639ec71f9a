#!/usr/bin/env python3
"""Does hashing a large output hold up other tasks' starts? (issue 14)

Runs one workflow in a temp dir: task `big` writes a file of --size bytes declared as its
output (engine hashes it when the task ends), while --tasks short process tasks run one
after another beside it (`s001` depends on `s000`, ...), each sleeping --sleep seconds. With
the record on (the default), then reports for the short tasks:

  gap       each one's start (its own clock, `date +%s%N` as its first command) minus the
            previous one's end (its own clock, as its last command): the real delay between
            a task ending and its dependent starting; a few ms is spawning `sh` and `date`
  noticed   when engine reported each one finished (`task_finished` in --events) minus when
            it really ended (its own clock): how late the coordinator saw the end
  ready     `task_started` minus `task_ready` in --events, both stamped by the coordinator

The events carry the time the coordinator wrote them (`t_ms`, milliseconds since the events
file was opened; `run_started` adds the wall clock as `unix_ms`), not the time a process
ended or a task really became ready: a coordinator that is busy hashing stamps the end of a
task, its dependent's readiness and its start late and all together, so `ready` cannot show
that stall; `gap` and `noticed`, measured with the tasks' own clocks, do.

Example:
  cargo build --release
  python3 bench/big_output.py                       # 2 GiB, 100 tasks of 30 ms
  python3 bench/big_output.py --size 256M --rounds 3
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def size_bytes(text):
    units = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30}
    if text[-1:].upper() in units:
        return int(text[:-1]) * units[text[-1:].upper()]
    return int(text)


def workflow(size, tasks, sleep):
    lines = [
        "name: big-output",
        "tasks:",
        "  big:",
        f'    run: "head -c {size} /dev/zero > big.bin && date +%s%N > stamps/big"',
        "    outputs: [big.bin]",
    ]
    for i in range(tasks):
        lines.append(f"  s{i:03}:")
        if i:
            lines.append(f"    depends_on: [s{i - 1:03}]")
        lines.append(
            f'    run: "date +%s%N > stamps/s{i:03}; sleep {sleep}; date +%s%N >> stamps/s{i:03}"'
        )
    return "\n".join(lines) + "\n"


def stats(name, values_ms):
    values = sorted(values_ms)
    over = sum(1 for v in values if v > 10)
    p90 = values[int(0.9 * (len(values) - 1))]
    return (
        f"  {name:8} median {statistics.median(values):7.1f} ms  p90 {p90:7.1f} ms  "
        f"max {values[-1]:7.1f} ms  over 10 ms: {over}/{len(values)}"
    )


def one_round(engine, size, tasks, sleep, keep):
    work = tempfile.mkdtemp(prefix="engine-big-output-")
    os.mkdir(os.path.join(work, "stamps"))
    with open(os.path.join(work, "workflow.yaml"), "w") as f:
        f.write(workflow(size, tasks, sleep))
    events_path = os.path.join(work, "events.jsonl")
    started = time.monotonic()
    subprocess.run(
        [engine, "run", "workflow.yaml", "-j", "2", "--progress", "none",
         "--output", "quiet", "--events", events_path],
        cwd=work, check=True,
    )
    wall = time.monotonic() - started
    events = [json.loads(line) for line in open(events_path)]
    run = next(e for e in events if e["event"] == "run_started")
    # The wall clock of an event, in ns: the run's start on the wall clock plus t_ms.
    base_ns = (run["unix_ms"] - run["t_ms"]) * 1_000_000
    at = {}
    for e in events:
        if e["event"] in ("task_ready", "task_started", "task_finished"):
            at[(e["event"], e["task"])] = base_ns + e["t_ms"] * 1_000_000

    def stamps(name):
        with open(os.path.join(work, "stamps", name)) as f:
            return [int(line) for line in f.read().split()]

    own = {f"s{i:03}": stamps(f"s{i:03}") for i in range(tasks)}
    big_end = stamps("big")[0]
    gap, noticed, ready = [], [], []
    worst = (0, None)
    for i in range(tasks):
        name = f"s{i:03}"
        start, end = own[name]
        noticed.append((at[("task_finished", name)] - end) / 1e6)
        if ("task_ready", name) in at:
            ready.append((at[("task_started", name)] - at[("task_ready", name)]) / 1e6)
        if i:
            delay = (start - own[f"s{i - 1:03}"][1]) / 1e6
            gap.append(delay)
            worst = max(worst, (delay, name))
    big_seen = (at[("task_finished", "big")] - big_end) / 1e6
    print(f"round: {wall:.2f} s, {size / (1 << 30):.2f} GiB output, {tasks} short tasks")
    print(stats("gap", gap))
    print(stats("noticed", noticed))
    print(stats("ready", ready) if ready else "  ready    (no task_ready events)")
    print(f"  big's end reported {big_seen:.0f} ms after it wrote its output; "
          f"largest gap {worst[0]:.1f} ms before {worst[1]}")
    if keep:
        print(f"  kept {work}")
    else:
        subprocess.run(["rm", "-rf", work], check=True)
    return max(gap)


def main():
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--engine", default=os.path.join(ROOT, "target/release/engine"))
    parser.add_argument("--size", default="2G", help="the output's size (K, M, G suffixes)")
    parser.add_argument("--tasks", type=int, default=100, help="short tasks in the chain")
    parser.add_argument("--sleep", default="0.03", help="seconds each short task sleeps")
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--keep", action="store_true", help="keep the temp dirs")
    args = parser.parse_args()
    if not os.access(args.engine, os.X_OK):
        sys.exit(f"{args.engine} is not built: cargo build --release")
    worst = [one_round(args.engine, size_bytes(args.size), args.tasks, args.sleep, args.keep)
             for _ in range(args.rounds)]
    print(f"largest gap per round: {', '.join(f'{w:.1f} ms' for w in worst)} "
          f"(goal of issue 14: none over 10 ms)")


if __name__ == "__main__":
    main()
