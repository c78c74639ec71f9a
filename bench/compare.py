#!/usr/bin/env python3
"""Side-by-side benchmark of engine, its peers (make, ninja, go-task, just) and a floor program
on the same generated workflows (issue 4). Writes the tables into BENCHMARKS.md.

What it does, in order:
  1. installs the peers that are missing: ninja-build, hyperfine and time from Debian
     (apt-get), go-task-bin and rust-just from PyPI (pip, into this Python's scripts directory);
     make must be there already (--no-install fails instead of installing);
  2. builds engine (`cargo build --release --locked`, honouring CARGO_TARGET_DIR; --engine PATH
     uses a given binary) and the floor (`cc -O2 bench/floor.c`), and copies both into the work
     directory so that a rebuild during the run cannot change the binary being measured;
  3. generates each case's files with bench/gen_workflow.py (--seed 1): a workflow.yaml,
     Makefile, build.ninja, Taskfile.yml or justfile, each tool in its own directory;
  4. runs the tools of a case alternately: first a check run of each tool, whose verbose
     output shows that it really ran every task; then the warm-up rounds, which measure the
     peak RSS; then the measured rounds, which measure wall time. Each round runs every tool
     once, in an order rotated every round;
  5. writes the tables between `<!-- compare:begin -->` and `<!-- compare:end -->` in
     BENCHMARKS.md (the section `## Side by side (issue 4)` is added at the end if missing;
     nothing else in the file changes) and every sample as JSON.

Cases (default sizes; --quick uses small ones and 2 rounds):
  layered, layered-big, wide, chain
              layered 1,000 and 5,000, wide 2,000, chain 1,000 process tasks (`true`), -j 2:
              floor, floor (capture), engine, make, ninja, go-task. The chain's floors
              run 1 process at a time, since a chain cannot run two at once. The capture
              floor reads each process's stdout and stderr from pipes and sees its exit
              through a pidfd, as a tool that keeps every task's output must.
  startup     one task (`true`): floor (1 process), engine, go-task, just, make, ninja.
  bars        layered 5,000 process tasks, -j 2: engine with `--progress none` against
              `--progress bars` drawing on a pseudo-terminal (120x30) that a thread drains.
  thread, thread-big
              layered 10,000 and 100,000 thread tasks (`script: "()"`): engine only.

How it measures: every tool is started with posix_spawn from this script, with stdin and
stdout on /dev/null and stderr into a file (a pseudo-terminal for the bars); wall time is
time.perf_counter() from the spawn to os.wait4(). Peak RSS is the ru_maxrss that wait4
reports, read in the warm-up runs, which run under GNU time (`/usr/bin/time -f %M`): the
kernel counts in ru_maxrss the memory a child held before its exec, which for a child of
this script is the script's own (about 20 MB), and for a child of GNU time under 1 MB.
ru_maxrss is the largest of the process and each descendant it waited for, so for make and
ninja it is their own or a task's, whichever is larger. Any run that does not exit 0 stops
the script. Peers run their usual way: `make -s -j 2`, `ninja --quiet -j 2` (its
.ninja_log is removed before each run, so every run starts like a clean checkout; the outputs
are never created, so every edge runs every time), `task --silent --concurrency 2` (its tasks
run `/bin/true`: go-task's shell interpreter has `true` built in and would start no process),
`just --quiet`, `engine run workflow.yaml -j 2 --progress none`.

The tables show per tool: runs, median, min and max wall time, median CPU time (user +
system of the tool and every child it waited for: steadier than wall time on a shared
machine), overhead per task ((median - floor median) / tasks), peak RSS (the largest of the
warm-up runs), and the median wall time as a
multiple of the floor's and of the best peer's (the fastest of make, ninja, go-task and
just in that case). The goals table is computed from those numbers. Memory per task is
(peak RSS of a thread-task workflow - peak RSS of the one-task workflow) / tasks.

Examples:
  bench/compare.py                       # everything (11-13 minutes on 2 idle cores)
  bench/compare.py --quick               # smoke test: small cases, 2 rounds, writes nothing
                                         # in the repository (see --output, --json)
  bench/compare.py --only startup --only bars --engine /tmp/engine
  bench/compare.py --only layered --baseline /tmp/engine-main --output /tmp/ab.md
                                         # this checkout against an earlier build, side by
                                         # side in the same rounds
"""

import argparse
import contextlib
import dataclasses
import datetime
import fcntl
import json
import os
import platform
import re
import shlex
import shutil
import statistics
import struct
import subprocess
import sys
import sysconfig
import termios
import threading
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
sys.path.insert(0, str(BENCH))
import gen_workflow  # noqa: E402  (the generator next to this script)

BEGIN = "<!-- compare:begin -->"
END = "<!-- compare:end -->"
SECTION = "## Side by side (issue 4)"
PEERS = ("make", "ninja", "go-task", "just")
PTY_ROWS, PTY_COLS = 30, 120
# The most `--progress bars` may add to the wall time of `--progress none` (issue 17, goal 5).
BARS_LIMIT = 0.03
SEED = 1


@dataclasses.dataclass
class Case:
    """One workflow shape and size, and the tools that run it."""

    key: str
    shape: str
    count: int
    tools: list
    rounds: int
    warmup: int = 1
    thread: bool = False
    jobs: int = 2
    floor_jobs: int = 2
    width: int = 1000
    caps: dict = dataclasses.field(default_factory=dict)  # tool -> most measured runs

    def label(self):
        """What runs: `layered 1,000 process tasks, -j 2`."""
        kind = "thread" if self.thread else "process"
        jobs = "" if self.thread else f", `-j {self.jobs}`"
        if self.count == 1:
            return f"one {kind} task{jobs}"
        return f"{self.shape} {self.count:,} {kind} tasks{jobs}"

    def title(self):
        return f"{self.key}: {self.label()}"


# The floor of a tool that keeps each task's output: `floor N J capture` (bench/floor.c).
CAPTURE_FLOOR = "floor (capture)"
PROCESS_TOOLS = ["floor", CAPTURE_FLOOR, "engine", "make", "ninja", "go-task"]
# The row of the binary given with --baseline: another engine, measured in the same rounds.
BASELINE = "engine (baseline)"
STARTUP_TOOLS = ["floor", "engine", "go-task", "just", "make", "ninja"]


def default_cases():
    """The cases of a full run, with rounds that keep it to about 12 minutes on 2 cores."""
    return [
        Case("layered", "layered", 1000, PROCESS_TOOLS, rounds=8),
        Case("layered-big", "layered", 5000, PROCESS_TOOLS, rounds=4, caps={"go-task": 2}),
        Case("wide", "wide", 2000, PROCESS_TOOLS, rounds=4),
        Case("chain", "chain", 1000, PROCESS_TOOLS, rounds=5, floor_jobs=1),
        Case("startup", "chain", 1, STARTUP_TOOLS, rounds=100, warmup=5),
        Case("bars", "layered", 5000, ["engine", "engine (bars)"], rounds=5),
        Case("thread", "layered", 10000, ["engine"], rounds=10, thread=True),
        Case("thread-big", "layered", 100000, ["engine"], rounds=5, thread=True),
    ]


def quick_cases():
    """Small versions of every case, 2 rounds each: exercises every code path in a minute."""
    sizes = {"layered": 200, "layered-big": 500, "wide": 200, "chain": 100, "startup": 1,
             "bars": 500, "thread": 1000, "thread-big": 10000}
    cases = []
    for case in default_cases():
        caps = {tool: 1 for tool in case.caps}
        cases.append(dataclasses.replace(
            case, count=sizes[case.key], rounds=2, warmup=1, width=50, caps=caps))
    return cases


# ---------------------------------------------------------------- tools and their commands


@dataclasses.dataclass
class Tool:
    """How to run one tool on one case: the timed command and the checking command."""

    name: str
    argv: list
    cwd: Path
    verify_argv: list = None  # prints a line per task that ran (None: nothing to check)
    verify_pattern: str = None  # counts those lines in its stdout + stderr
    pty: bool = False  # stderr is a pseudo-terminal
    reset: list = dataclasses.field(default_factory=list)  # files removed before each run
    max_runs: int = None


def tool_files(name, case):
    """The file a tool reads, with its generated text, or None (the floor reads none)."""
    def text(fmt, command="true"):
        return gen_workflow.render(case.shape, case.count, SEED, case.width, fmt,
                                   case.thread, command)
    if name.startswith("engine"):
        return "workflow.yaml", text("engine")
    return {
        "make": ("Makefile", text("make")),
        "ninja": ("build.ninja", text("ninja")),
        "go-task": ("Taskfile.yml", text("task", "/bin/true")),
        "just": ("justfile", text("just")),
    }.get(name)


def make_tool(name, case, directory, bins):
    """The Tool for `name` on `case`, running in `directory` (files already written)."""
    jobs = str(case.jobs)
    if name in ("floor", CAPTURE_FLOOR):
        argv = [bins["floor"], str(case.count), str(case.floor_jobs)]
        return Tool(name, argv + (["capture"] if name == CAPTURE_FLOOR else []), directory)
    if name.startswith("engine"):
        binary = bins["baseline"] if name == BASELINE else bins["engine"]
        base = [binary, "run", "workflow.yaml"]
        if not case.thread:
            base += ["-j", jobs]
        progress = "bars" if name == "engine (bars)" else "none"
        return Tool(name, base + ["--progress", progress], directory,
                    base + ["--progress", "plain"], r"^\[\s*[\d.]+s\] ok\s",
                    pty=progress == "bars")
    if name == "make":
        return Tool(name, [bins["make"], "-s", "-j", jobs], directory,
                    [bins["make"], "-j", jobs], r"^true$")
    if name == "ninja":
        return Tool(name, [bins["ninja"], "--quiet", "-j", jobs], directory,
                    [bins["ninja"], "-v", "-j", jobs], r"^\[\d+/\d+\] true$",
                    reset=[directory / ".ninja_log"])
    if name == "go-task":
        return Tool(name, [bins["task"], "--silent", "--concurrency", jobs], directory,
                    [bins["task"], "--concurrency", jobs], r"^task: \[\w+\] /bin/true$",
                    max_runs=case.caps.get(name))
    if name == "just":
        return Tool(name, [bins["just"], "--quiet"], directory, [bins["just"]], r"^true$")
    raise ValueError(f"unknown tool {name}")


def prepare_case(case, workdir, bins):
    """Writes each tool's files into its own directory under workdir/case; returns the tools."""
    tools = []
    for name in case.tools:
        directory = workdir / case.key / re.sub(r"\W+", "-", name).strip("-")
        directory.mkdir(parents=True, exist_ok=True)
        files = tool_files(name, case)
        if files:
            (directory / files[0]).write_text(files[1], encoding="utf-8")
        tools.append(make_tool(name, case, directory, bins))
    return tools


# ---------------------------------------------------------------- installing and building


def pip_scripts_dir():
    """Where `python -m pip install` of this interpreter puts executables."""
    return Path(sysconfig.get_paths()["scripts"])


def find_tool(program):
    """Absolute path of an executable, preferring this Python's scripts directory (a pyenv
    shim elsewhere on PATH is a bash script that would add its own start-up to every run)."""
    candidate = pip_scripts_dir() / program
    if candidate.is_file() and os.access(candidate, os.X_OK):
        return str(candidate)
    found = shutil.which(program)
    return str(Path(found).resolve()) if found else None


def install_missing(allowed):
    """Installs the peers that are missing (apt-get and pip); idempotent."""
    apt = [package for program, package in
           (("ninja", "ninja-build"), ("hyperfine", "hyperfine"), ("/usr/bin/time", "time"))
           if not shutil.which(program)]
    pip = [package for program, package in (("task", "go-task-bin"), ("just", "rust-just"))
           if not find_tool(program)]
    if not apt and not pip:
        return
    if not allowed:
        sys.exit(f"error: missing {' '.join(apt + pip)}; run without --no-install "
                 "to install them")
    if apt:
        sudo = [] if os.geteuid() == 0 else ["sudo"]
        env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
        print(f"installing from Debian: {' '.join(apt)}", flush=True)
        subprocess.run(sudo + ["apt-get", "update", "-qq"], check=True, env=env)
        subprocess.run(sudo + ["apt-get", "install", "-y", "-qq", *apt], check=True, env=env)
    if pip:
        print(f"installing from PyPI: {' '.join(pip)}", flush=True)
        subprocess.run([sys.executable, "-m", "pip", "install", "-q", *pip], check=True)


def build_engine(engine_arg, workdir):
    """Copies the engine binary to measure into workdir: --engine, or a fresh release build."""
    if engine_arg:
        source = Path(engine_arg).resolve()
    else:
        print("building engine: cargo build --release --locked", flush=True)
        subprocess.run(["cargo", "build", "--release", "--locked"], cwd=REPO, check=True)
        target = Path(os.environ.get("CARGO_TARGET_DIR", "target"))
        source = (REPO / target / "release" / "engine").resolve()
    destination = workdir / "engine"
    shutil.copy2(source, destination)
    return str(destination), str(source)


def build_floor(workdir):
    """Compiles bench/floor.c into workdir."""
    destination = workdir / "floor"
    subprocess.run(["cc", "-O2", "-Wall", "-o", str(destination), str(BENCH / "floor.c")],
                   check=True)
    return str(destination)


def peer_binaries(needed):
    """Absolute paths of the peers that the chosen cases use; exits if one is missing."""
    programs = {"make": "make", "ninja": "ninja", "go-task": "task", "just": "just"}
    bins = {}
    for name in needed & set(programs):
        path = find_tool(programs[name])
        if not path:
            sys.exit(f"error: {programs[name]} not found (run without --no-install)")
        bins[programs[name]] = path
    return bins


# ---------------------------------------------------------------- running


class PtyDrain:
    """A pseudo-terminal of PTY_COLS x PTY_ROWS whose output a thread reads and discards,
    like a fast terminal would; `slave` is the fd to give a child as its stderr."""

    def __enter__(self):
        self.master, self.slave = os.openpty()
        size = struct.pack("HHHH", PTY_ROWS, PTY_COLS, 0, 0)
        fcntl.ioctl(self.slave, termios.TIOCSWINSZ, size)
        self.bytes = 0
        self.thread = threading.Thread(target=self._drain, daemon=True)
        self.thread.start()
        return self

    def _drain(self):
        try:
            while chunk := os.read(self.master, 65536):
                self.bytes += len(chunk)
        except OSError:  # EIO once the slave side is closed
            pass

    def __exit__(self, *_):
        os.close(self.slave)
        self.thread.join(timeout=5)
        os.close(self.master)


def spawn_and_wait(tool, argv, stdout, stderr_fd=None):
    """Runs argv in tool.cwd, stdout to the file `stdout`, stderr to stderr_fd if given
    (else to the same file); returns (wall seconds, CPU seconds, exit code). The CPU time
    is user + system of the process and of every child it waited for."""
    for path in tool.reset:
        path.unlink(missing_ok=True)
    actions = [
        (os.POSIX_SPAWN_OPEN, 0, "/dev/null", os.O_RDONLY, 0),
        (os.POSIX_SPAWN_OPEN, 1, str(stdout), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644),
        (os.POSIX_SPAWN_DUP2, stderr_fd, 2) if stderr_fd is not None
        else (os.POSIX_SPAWN_DUP2, 1, 2),
    ]
    env = dict(os.environ, TERM="xterm-256color") if tool.pty else os.environ
    os.chdir(tool.cwd)
    start = time.perf_counter()
    pid = os.posix_spawn(argv[0], argv, env, file_actions=actions)
    _, status, usage = os.wait4(pid, 0)
    seconds = time.perf_counter() - start
    return seconds, usage.ru_utime + usage.ru_stime, os.waitstatus_to_exitcode(status)


def fail(case, tool, code, log):
    """Stops the script after a failed run, showing the end of what the tool printed."""
    tail = Path(log).read_text(errors="replace").splitlines()[-15:] if Path(log).exists() else []
    sys.exit(f"\nerror: {tool.name} exited with {code} in case {case.key} "
             f"({shlex.join(tool.argv)} in {tool.cwd}); its output ends with:\n  "
             + "\n  ".join(tail))


def verify(case, tool):
    """Runs the tool's verbose command once and checks that it ran every task."""
    if tool.verify_argv is None:
        return None
    log = tool.cwd / "verify.log"
    _, _, code = spawn_and_wait(tool, tool.verify_argv, log)
    if code != 0:
        fail(case, tool, code, log)
    ran = len(re.findall(tool.verify_pattern, log.read_text(errors="replace"), re.M))
    if ran != case.count:
        sys.exit(f"\nerror: {tool.name} ran {ran} of the {case.count} tasks of case {case.key} "
                 f"(counted in {log}); every run must run every task")
    return ran


def timed_run(case, tool, drain, measure_rss):
    """One run of the tool's command, stdout to /dev/null, stderr to a file or the pty.
    Returns (wall seconds, CPU seconds, peak RSS in KB or None). With measure_rss it runs under GNU
    time, whose ru_maxrss is the tool's own: this script's would include its own memory,
    since the kernel counts what a child held before its exec (see --help)."""
    log = tool.cwd / "stderr.log"
    rss_file = tool.cwd / "rss.txt"
    argv = (["/usr/bin/time", "-f", "%M", "-o", str(rss_file)] if measure_rss else []) \
        + tool.argv
    if tool.pty:
        before = drain.bytes
        seconds, cpu, code = spawn_and_wait(tool, argv, "/dev/null", drain.slave)
        if code == 0 and drain.bytes == before:
            time.sleep(0.1)  # let the drain thread catch up before concluding anything
            if drain.bytes == before:
                sys.exit(f"\nerror: {tool.name} drew nothing on the pseudo-terminal")
    else:
        fd = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        try:
            seconds, cpu, code = spawn_and_wait(tool, argv, "/dev/null", fd)
        finally:
            os.close(fd)
    if code != 0:
        fail(case, tool, code, log)
    return seconds, cpu, int(rss_file.read_text().split()[-1]) if measure_rss else None


def spread(round_index, rounds, cap):
    """Whether a tool capped at `cap` measured runs takes part in this round (evenly spread)."""
    if cap is None or cap >= rounds:
        return True
    return (round_index + 1) * cap // rounds > round_index * cap // rounds


def run_case(case, tools):
    """The task-count check, the warm-up rounds (which measure peak RSS) and the measured
    rounds (wall time), tools alternating."""
    samples = {tool.name: {"seconds": [], "cpu_seconds": [], "rss_kb": [],
                           "verified_tasks": None} for tool in tools}
    pty = any(tool.pty for tool in tools)
    with PtyDrain() if pty else contextlib.nullcontext() as drain:
        for tool in tools:
            samples[tool.name]["verified_tasks"] = verify(case, tool)
        print(f"{case.key}: every tool ran all {case.count:,} tasks", flush=True)
        for index in range(case.warmup):
            run_round(case, tools, index, f"warm-up {index + 1}/{case.warmup}", drain,
                      lambda tool: tool.max_runs is None or index == 0, samples, False)
        for index in range(case.rounds):
            run_round(case, tools, index, f"round {index + 1}/{case.rounds}", drain,
                      lambda tool: spread(index, case.rounds, tool.max_runs), samples, True)
        for tool in tools:
            if tool.pty:  # what all its runs drew, as a sign that the bars were live
                samples[tool.name]["pty_bytes"] = drain.bytes
    return samples


def run_round(case, tools, index, label, drain, takes_part, samples, measured):
    """Runs every tool that takes part once, in an order rotated by `index`, and appends
    each one's wall and CPU time (measured rounds) or peak RSS (warm-up) to its samples."""
    shift = index % len(tools)
    print(f"  {case.key} {label}:", end="", flush=True)
    for tool in tools[shift:] + tools[:shift]:
        if not takes_part(tool):
            continue
        seconds, cpu, rss = timed_run(case, tool, drain, measure_rss=not measured)
        if measured:
            samples[tool.name]["seconds"].append(seconds)
            samples[tool.name]["cpu_seconds"].append(cpu)
        else:
            samples[tool.name]["rss_kb"].append(rss)
        shown = fmt_time(seconds) + (f" {fmt_mb(rss)}" if rss is not None else "")
        print(f"  {tool.name} {shown}", end="", flush=True)
    print(flush=True)


# ---------------------------------------------------------------- machine and versions


def first_line(argv):
    """The first line a command prints, or 'unknown'."""
    try:
        result = subprocess.run(argv, capture_output=True, text=True, check=False)
        return (result.stdout or result.stderr).strip().splitlines()[0]
    except (OSError, IndexError):
        return "unknown"


def machine_info():
    """CPUs, CPU model, memory, kernel, Debian version, load average."""
    cpuinfo = Path("/proc/cpuinfo").read_text()
    model = re.search(r"^model name\s*:\s*(.*)$", cpuinfo, re.M)
    meminfo = Path("/proc/meminfo").read_text()
    mem_kb = int(re.search(r"^MemTotal:\s*(\d+)", meminfo, re.M).group(1))
    debian = Path("/etc/debian_version")
    return {
        "cpus": len(os.sched_getaffinity(0)),
        "cpu_model": model.group(1) if model else "unknown",
        "memory_gib": round(mem_kb / 1024 / 1024, 1),
        "kernel": platform.release(),
        "debian": debian.read_text().strip() if debian.exists() else "unknown",
        "load_before": os.getloadavg(),
    }


def engine_version(engine, source, given):
    """engine --version, the checkout's commit and whether engine's sources differ from it."""
    commit = first_line(["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"])
    dirty = subprocess.run(["git", "-C", str(REPO), "diff", "--quiet", "HEAD", "--",
                            "src", "Cargo.toml", "Cargo.lock"], check=False).returncode != 0
    state = f"{commit}" + (" with uncommitted changes in src/ or Cargo.*" if dirty else "")
    origin = (f"the binary given with --engine {source} (of unknown commit; the checkout is at "
              f"{state})" if given else f"built as {source} from {state}")
    return f"{first_line([engine, '--version'])}, {origin}"


def versions(bins, engine_source, engine_given):
    """Version line of every tool used."""
    found = {
        "engine": engine_version(bins["engine"], engine_source, engine_given),
        "cc": first_line(["cc", "--version"]),
        "rustc": first_line(["rustc", "--version"]),
        "python": platform.python_version(),
    }
    for name, program in (("make", "make"), ("ninja", "ninja"), ("go-task", "task"),
                          ("just", "just")):
        if program in bins:
            found[name] = first_line([bins[program], "--version"])
    return found


def warn_if_busy(machine):
    """Says so when other work is keeping the CPUs busy: wall times will be noisy."""
    load = machine["load_before"][0]
    if load > machine["cpus"] / 2:
        print(f"warning: load average {load:.2f} on {machine['cpus']} CPUs; other work will "
              "make the wall times noisy (CPU times suffer less)", flush=True)


# ---------------------------------------------------------------- summarising


def fmt_time(seconds):
    """1.234 s, 123 ms, 12.3 ms, 2.15 ms, 512 µs."""
    if seconds >= 1:
        return f"{seconds:.3f} s"
    ms = seconds * 1000
    if ms >= 1:
        return f"{ms:.{2 if ms < 10 else 1 if ms < 100 else 0}f} ms"
    return f"{seconds * 1e6:.0f} µs"


def fmt_mb(kb):
    return f"{kb / 1024:.1f} MB"


def fmt_ratio(value):
    """2.15x, or nothing when there is nothing to compare with."""
    return f"{value:.2f}x" if value is not None else ""


def summarise(case, samples):
    """Per tool: runs, median, min, max, median CPU time, overhead per task, peak RSS,
    x floor, x best peer."""
    stats = {}
    for name in case.tools:
        seconds = samples[name]["seconds"]
        stats[name] = {"runs": len(seconds), "median": statistics.median(seconds),
                       "min": min(seconds), "max": max(seconds),
                       "cpu": statistics.median(samples[name]["cpu_seconds"]),
                       "rss_kb": max(samples[name]["rss_kb"])}
    floor = stats.get("floor", {}).get("median")
    peers = [stats[name]["median"] for name in PEERS if name in stats]
    best_peer = min(peers) if peers else None
    for row in stats.values():
        row["overhead_us"] = (row["median"] - floor) / case.count * 1e6 if floor else None
        row["x_floor"] = row["median"] / floor if floor else None
        row["x_best_peer"] = row["median"] / best_peer if best_peer else None
    for name in case.tools:
        if "pty_bytes" in samples[name]:
            runs = stats[name]["runs"] + len(samples[name]["rss_kb"])
            stats[name]["pty_kb_per_run"] = samples[name]["pty_bytes"] / 1024 / runs
    return stats


def case_table(case, stats):
    """The markdown table of one case."""
    lines = [f"### {case.title()}", "",
             "| tool | runs | median | min | max | CPU time | overhead per task | peak RSS "
             "| x floor | x best peer |", "|---|---|---|---|---|---|---|---|---|---|"]
    for name in case.tools:
        row = stats[name]
        overhead = f"{row['overhead_us']:.0f} µs" if row["overhead_us"] is not None else ""
        label = f"**{name}**" if name.startswith("engine") else name
        lines.append(f"| {label} | {row['runs']} | {fmt_time(row['median'])} | "
                     f"{fmt_time(row['min'])} | {fmt_time(row['max'])} | "
                     f"{fmt_time(row['cpu'])} | {overhead} | {fmt_mb(row['rss_kb'])} | "
                     f"{fmt_ratio(row['x_floor'])} | {fmt_ratio(row['x_best_peer'])} |")
    notes = case_notes(case, stats)
    return "\n".join(lines + ([""] + notes if notes else []))


def case_notes(case, stats):
    """Footnotes that the numbers alone do not say."""
    notes = []
    if "floor" in stats:
        notes.append(f"Floor: `floor {case.count} {case.floor_jobs}`"
                     + (" (one at a time: a chain cannot run two tasks at once)."
                        if case.floor_jobs != case.jobs else "."))
    if CAPTURE_FLOOR in stats:
        notes.append(f"{CAPTURE_FLOOR}: `floor {case.count} {case.floor_jobs} capture`, the "
                     "same processes, each with its stdout and stderr read from two pipes "
                     "and its exit seen through a pidfd in one epoll set: the least a tool "
                     "that keeps every task's output does (make does not).")
    for name in case.caps:
        if name in stats:
            notes.append(f"{name} is slow on this case, so it ran {stats[name]['runs']} "
                         f"measured times (the others {case.rounds}), spread over the rounds, "
                         "and one warm-up run.")
    for name, row in stats.items():
        if "pty_kb_per_run" in row:
            notes.append(f"{name} drew {row['pty_kb_per_run']:,.0f} KB per run on a "
                         f"{PTY_COLS}x{PTY_ROWS} pseudo-terminal.")
    return notes


def ratio_goal(text, value, limit):
    """A goals-table row for a ratio: met when value <= limit."""
    return (text, fmt_ratio(value), value <= limit)


def goals(cases, stats):
    """Every goal whose case was run, with the measured value and met/missed."""
    rows = []
    for case in cases:
        s = stats[case.key]
        engine = s.get("engine", {}).get("median")
        if case.key in ("layered", "layered-big", "wide", "chain"):
            best = min(s[name]["median"] for name in ("make", "ninja"))
            rows.append(ratio_goal(f"{case.label()}: engine ≤ 1.15x the floor",
                                   engine / s["floor"]["median"], 1.15))
            rows.append(ratio_goal(f"{case.label()}: engine ≤ 1.0x the faster of make and "
                                   "ninja", engine / best, 1.0))
        elif case.key == "startup":
            # Issue 17, goal 4: no slower than make, the record on.
            make = s["make"]["median"]
            rows.append((f"{case.label()}: engine no slower than make",
                         f"{fmt_time(engine)} vs make {fmt_time(make)} "
                         f"({fmt_ratio(engine / make)})", engine <= make))
        elif case.key == "bars":
            # Issue 17: the bars cost at most 3% over `--progress none` (faster is met too).
            apart = s["engine (bars)"]["median"] / engine - 1
            cpu = s["engine (bars)"]["cpu"] / s["engine"]["cpu"] - 1
            rows.append((f"{case.label()}: `--progress bars` within 3% of `none`",
                         f"{apart:+.1%} (CPU time {cpu:+.1%})", apart <= BARS_LIMIT))
        elif case.key == "thread-big":
            # Issue 17, goal 2: end to end with the record on.
            rows.append((f"{case.label()}: engine < 1.0 s", fmt_time(engine), engine < 1.0))
            rss = s["engine"]["rss_kb"]
            rows.append((f"{case.label()}: engine < 250 MB peak RSS", fmt_mb(rss),
                         rss < 250 * 1024))
    return rows


def goals_table(rows):
    lines = ["### Goals", "", "| goal | measured | result |", "|---|---|---|"]
    for text, value, met in rows:
        lines.append(f"| {text} | {value} | {'met' if met else '**missed**'} |")
    return "\n".join(lines)


def memory_table(cases, stats):
    """Bytes per task of thread-task workflows above the one-task workflow, if both ran."""
    base = stats.get("startup", {}).get("engine", {}).get("rss_kb")
    rows = [(case, stats[case.key]["engine"]["rss_kb"]) for case in cases
            if case.thread and base is not None]
    if not rows:
        return None
    lines = ["### Memory per task", "",
             "Peak RSS of `engine run --progress none` on the thread-task workflows, minus "
             f"that of the one-task workflow ({fmt_mb(base)}), divided by the tasks.", "",
             "| workflow | peak RSS | per task |", "|---|---|---|"]
    for case, rss in rows:
        per_task = (rss - base) * 1024 / case.count
        lines.append(f"| {case.title()} | {fmt_mb(rss)} | {per_task:,.0f} bytes |")
    return "\n".join(lines)


def render_markdown(run, cases, stats, json_path):
    """The text between the markers."""
    m, v = run["machine"], run["versions"]
    when = run["started"]
    load = ", ".join(f"{a:.2f} / {b:.2f}" for a, b in zip(m["load_before"], m["load_after"]))
    parts = [
        f"Generated by `{run['command']}` on {when}"
        + (" (**quick smoke run**: small cases, not the goals' sizes)" if run["quick"] else "")
        + f"; every sample is in `{json_path}`.",
        f"Machine: {m['cpus']} CPUs, {m['cpu_model']}, {m['memory_gib']} GiB, Linux "
        f"{m['kernel']}, Debian {m['debian']}; load average (1 / 5 / 15 min) before / after: "
        f"{load}."
        + (f" **The machine was busy** (load {m['load_before'][0]:.1f} at the start on "
           f"{m['cpus']} CPUs): wall times are noisy; the CPU time column suffers less."
           if m["load_before"][0] > m["cpus"] / 2 else ""),
        "Versions: " + "; ".join(f"{name}: {text}" for name, text in v.items()) + ".",
        "Method: each case's tools run alternately: a check run of each tool (its verbose "
        "output must show every task), warm-up rounds, then measured rounds; each round runs "
        "every tool once, in an order rotated each round. Wall time is from posix_spawn to "
        "wait4 in the measured rounds; CPU time is the median of their user + system time, "
        "the tool's and its children's. Peak RSS is the largest ru_maxrss of the warm-up "
        "runs, taken under GNU time (`/usr/bin/time -f %M`) so that it does not count the "
        "Python parent's memory; it is the largest of the tool and each child it waited for. "
        "Overhead per task is (median - floor median) / tasks; x floor and x best peer divide medians (best peer: "
        "the fastest of make, ninja, go-task and just in that case). go-task's tasks run "
        "`/bin/true`, since its shell interpreter has `true` built in; ninja's `.ninja_log` "
        "is removed before each run. `bench/compare.py --help` explains everything.",
    ]
    parts += [case_table(case, stats[case.key]) for case in cases]
    parts.append(goals_table(goals(cases, stats)))
    memory = memory_table(cases, stats)
    if memory:
        parts.append(memory)
    return "\n\n".join(parts)


def write_section(path, body):
    """Replaces the text between the markers in `path` (adding the section if missing)."""
    text = path.read_text(encoding="utf-8") if path.exists() else ""
    block = f"{BEGIN}\n{body}\n{END}"
    if BEGIN in text and END in text:
        head, rest = text.split(BEGIN, 1)
        text = head + block + rest.split(END, 1)[1]
    else:
        text = text.rstrip("\n") + ("\n\n" if text else "") + f"{SECTION}\n\n{block}\n"
    path.write_text(text, encoding="utf-8")


# ---------------------------------------------------------------- main


def parse_args():
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true",
                        help="small cases and 2 rounds, to check that everything works; "
                             "writes into the work directory unless --output/--json say "
                             "otherwise")
    parser.add_argument("--only", action="append", metavar="CASE",
                        choices=[case.key for case in default_cases()],
                        help="run only this case (repeatable): "
                             + ", ".join(case.key for case in default_cases()))
    parser.add_argument("--rounds", type=int,
                        help="measured rounds of every case (default: 100 for startup, "
                             "4 to 10 for the others)")
    parser.add_argument("--warmup", type=int,
                        help="warm-up rounds of every case, which measure the peak RSS "
                             "(at least 1)")
    parser.add_argument("--engine", metavar="PATH",
                        help="measure this engine binary instead of building one")
    parser.add_argument("--baseline", metavar="PATH",
                        help="also measure this engine binary (an earlier build), in the same "
                             "rounds as the engine measured, as the row `engine (baseline)`: "
                             "a regression check side by side")
    parser.add_argument("--workdir", metavar="DIR",
                        help="scratch directory (default: $CARGO_TARGET_DIR or target, "
                             "then compare/ or compare-quick/)")
    parser.add_argument("--output", metavar="PATH",
                        help="markdown file to write the section into (default: BENCHMARKS.md; "
                             "with --quick, WORKDIR/BENCHMARKS-quick.md)")
    parser.add_argument("--json", metavar="PATH",
                        help="raw samples (default: bench/results/compare-DATE.json; with "
                             "--quick, WORKDIR/compare-quick.json)")
    parser.add_argument("--no-install", action="store_true",
                        help="fail instead of installing missing peers")
    args = parser.parse_args()
    if args.warmup is not None and args.warmup < 1:
        parser.error("--warmup must be at least 1")
    if args.rounds is not None and args.rounds < 1:
        parser.error("--rounds must be at least 1")
    return args


def chosen_cases(args):
    """The cases to run, with --only, --rounds and --warmup applied."""
    cases = quick_cases() if args.quick else default_cases()
    if args.only:
        cases = [case for case in cases if case.key in args.only]
    overrides = {key: value for key, value in
                 (("rounds", args.rounds), ("warmup", args.warmup)) if value is not None}
    def tools_of(tools):
        return with_baseline(tools) if args.baseline else tools
    return [dataclasses.replace(case, tools=tools_of(case.tools), **overrides) for case in cases]


def with_baseline(tools):
    """The tools with the baseline engine right after the engine measured."""
    out = []
    for name in tools:
        out.append(name)
        if name == "engine":
            out.append(BASELINE)
    return out


def main():
    args = parse_args()
    started = datetime.datetime.now()
    cases = chosen_cases(args)
    target = REPO / os.environ.get("CARGO_TARGET_DIR", "target")
    workdir = Path(args.workdir or target / ("compare-quick" if args.quick else "compare"))
    workdir = workdir.resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    output = Path(args.output or (workdir / "BENCHMARKS-quick.md" if args.quick
                                  else REPO / "BENCHMARKS.md")).resolve()
    stamp = started.strftime("%Y%m%d-%H%M%S")
    json_path = Path(args.json or (workdir / "compare-quick.json" if args.quick
                                   else BENCH / "results" / f"compare-{stamp}.json")).resolve()

    needed = {name for case in cases for name in case.tools}
    install_missing(not args.no_install)
    bins = peer_binaries(needed)
    bins["engine"], engine_source = build_engine(args.engine, workdir)
    bins["floor"] = build_floor(workdir)
    if args.baseline:
        bins["baseline"] = str(workdir / "engine-baseline")
        shutil.copy2(Path(args.baseline).resolve(), bins["baseline"])

    run = {"started": started.strftime("%Y-%m-%d %H:%M"), "quick": args.quick,
           "command": shlex.join(["bench/compare.py", *sys.argv[1:]]),
           "machine": machine_info(),
           "versions": versions(bins, engine_source, bool(args.engine)),
           "binaries": bins, "cases": {}}
    print(f"work directory: {workdir}", flush=True)
    warn_if_busy(run["machine"])
    stats = {}
    for case in cases:
        tools = prepare_case(case, workdir, bins)
        samples = run_case(case, tools)
        stats[case.key] = summarise(case, samples)
        run["cases"][case.key] = {"title": case.title(), "case": dataclasses.asdict(case),
                                  "samples": samples, "summary": stats[case.key]}
    run["machine"]["load_after"] = os.getloadavg()
    os.chdir(REPO)

    json_path.parent.mkdir(parents=True, exist_ok=True)
    json_path.write_text(json.dumps(run, indent=1) + "\n", encoding="utf-8")
    shown_json = os.path.relpath(json_path, REPO) if json_path.is_relative_to(REPO) \
        else str(json_path)
    body = render_markdown(run, cases, stats, shown_json)
    write_section(output, body)
    print(f"\n{body}\n\nwrote {output} and {json_path}")


if __name__ == "__main__":
    main()
