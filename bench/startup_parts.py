#!/usr/bin/env python3
"""Where a one-task run's time goes (issue 17, goal 4): each part timed side by side.

Runs, alternately for ROUNDS rounds, each with stdin/stdout/stderr on /dev/null, timed from
posix_spawn to wait4 (wall) with the user + system time wait4 reports (CPU):

  /bin/true                      a bare process start
  make --version / make -s       make's start, and make running the one-task Makefile
  engine --version               engine's start (its binary, the loader, clap)
  engine check                   + reading and validating the one-task workflow
  engine run --no-record         + running the task (threads, pipes, log, process group)
  engine run                     + the record (lock, SQLite open, the run's rows, the mark)
  record_floor                   SQLite alone doing the record's least (examples/record_floor.rs)
                                 on a copy of the record that engine run keeps

The task is `true`. Prints a markdown table of medians.

  cargo build --release --bin engine --example record_floor
  bench/startup_parts.py                    # 40 rounds, target/release binaries
  bench/startup_parts.py --rounds 80 --engine /tmp/engine
"""
import argparse
import os
import pathlib
import shutil
import statistics
import subprocess
import tempfile
import time

REPO = pathlib.Path(__file__).resolve().parent.parent


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    target = pathlib.Path(os.environ.get("CARGO_TARGET_DIR", REPO / "target")) / "release"
    parser.add_argument("--rounds", type=int, default=40)
    parser.add_argument("--engine", default=str(target / "engine"))
    parser.add_argument("--record-floor", default=str(target / "examples" / "record_floor"))
    args = parser.parse_args()
    make = shutil.which("make")
    with tempfile.TemporaryDirectory() as work:
        work = pathlib.Path(work)
        (work / "e").mkdir()
        (work / "m").mkdir()
        (work / "e" / "workflow.yaml").write_text("tasks:\n  t0: {run: \"true\"}\n")
        (work / "m" / "Makefile").write_text(".PHONY: t0\nt0:\n\ttrue\n")
        engine = [args.engine]
        run = engine + ["run", "workflow.yaml", "-j", "2", "--progress", "none"]
        subprocess.run(run, cwd=work / "e", check=True, capture_output=True)
        floor_dir = work / "floor"
        shutil.copytree(work / "e" / ".engine", floor_dir)
        record = str(floor_dir / "record.sqlite")
        parts = [
            ("/bin/true", ["/bin/true"], work),
            ("make --version", [make, "--version"], work),
            ("make -s (the task)", [make, "-s", "-j", "2"], work / "m"),
            ("engine --version", engine + ["--version"], work),
            ("engine check", engine + ["check", "workflow.yaml"], work / "e"),
            ("engine run --no-record", run + ["--no-record"], work / "e"),
            ("engine run", run, work / "e"),
            ("record_floor", [args.record_floor, record], work),
        ]
        null = os.open(os.devnull, os.O_RDWR)
        actions = [(os.POSIX_SPAWN_DUP2, null, fd) for fd in (0, 1, 2)]
        wall = {name: [] for name, _, _ in parts}
        cpu = {name: [] for name, _, _ in parts}
        for index in range(args.rounds + 3):
            for name, argv, cwd in parts[index % len(parts):] + parts[:index % len(parts)]:
                os.chdir(cwd)
                started = time.perf_counter()
                pid = os.posix_spawn(argv[0], argv, os.environ, file_actions=actions)
                _, status, usage = os.wait4(pid, 0)
                took = time.perf_counter() - started
                if status != 0:
                    raise SystemExit(f"{name} exited with wait status {status}")
                if index >= 3:  # the first rounds warm the caches
                    wall[name].append(took)
                    cpu[name].append(usage.ru_utime + usage.ru_stime)
        print("| command | wall | CPU |")
        print("|---|---|---|")
        for name, _, _ in parts:
            print(f"| `{name}` | {statistics.median(wall[name]) * 1e3:.2f} ms "
                  f"| {statistics.median(cpu[name]) * 1e3:.2f} ms |")


if __name__ == "__main__":
    main()
