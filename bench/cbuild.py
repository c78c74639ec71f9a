#!/usr/bin/env python3
"""A generated C-like build with discovered header dependencies: engine (`depfile`) beside
make (`-MMD` and `-include *.d`) and ninja (`deps = gcc`), all at -j2.

2,000 sources each `#include` 20 of 200 headers (chosen pseudo-randomly, seeded), compiled
with `cc -c -MMD`, then linked. Each tool builds its own copy of the tree. Measured: the
full build, the no-op build (median of RUNS), and the build after one header's content
changes (median of EDITS rounds, a different content each round). The script fails unless
the three rebuild exactly the same objects after each header edit.

    python3 bench/cbuild.py                     # builds engine (release) first
    ENGINE=target/release/engine python3 bench/cbuild.py --sources 2000 --headers 200

Needs cc, make and ninja (`apt-get install -y ninja-build`).
"""

import argparse
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def generate(root: Path, sources: int, headers: int, per: int, seed: int) -> list[str]:
    """The tree: src/, include/, an empty obj/; returns the sources' stems."""
    rng = random.Random(seed)
    (root / "src").mkdir(parents=True)
    (root / "include").mkdir()
    (root / "obj").mkdir()
    for h in range(headers):
        (root / "include" / f"h{h:03}.h").write_text(
            f"#ifndef H{h:03}\n#define H{h:03} {h}\nint h{h:03}_value(int x);\n#endif\n"
        )
    stems = [f"s{s:04}" for s in range(sources)]
    for index, stem in enumerate(stems):
        chosen = sorted(rng.sample(range(headers), per))
        lines = [f'#include "h{h:03}.h"' for h in chosen]
        total = " + ".join(f"H{h:03}" for h in chosen)
        lines.append(f"int f_{stem}(void) {{ return {total}; }}")
        if index == 0:
            lines.append("int main(void) { return f_s0000() == 0; }")
        (root / "src" / f"{stem}.c").write_text("\n".join(lines) + "\n")
    return stems


CFLAGS = "-O0 -Iinclude"


def write_engine(root: Path, stems: list[str]) -> None:
    items = "\n".join(f"        - {stem}" for stem in stems)
    (root / "workflow.yaml").write_text(
        f"""name: cbuild
tasks:
  compile:
    matrix:
      src:
{items}
    inputs: ["src/${{{{ matrix.src }}}}.c"]
    outputs: ["obj/${{{{ matrix.src }}}}.o"]
    depfile: "obj/${{{{ matrix.src }}}}.d"
    run: cc -c -MMD -MF obj/${{{{ matrix.src }}}}.d {CFLAGS} src/${{{{ matrix.src }}}}.c -o obj/${{{{ matrix.src }}}}.o
  link:
    depends_on: [compile]
    inputs: ["obj/*.o"]
    outputs: [app]
    run: cc -o app obj/*.o
"""
    )


def write_make(root: Path) -> None:
    (root / "Makefile").write_text(
        f"""SRCS := $(wildcard src/*.c)
OBJS := $(SRCS:src/%.c=obj/%.o)
app: $(OBJS)
\tcc -o $@ $^
obj/%.o: src/%.c
\tcc -c -MMD {CFLAGS} $< -o $@
-include $(OBJS:.o=.d)
"""
    )


def write_ninja(root: Path, stems: list[str]) -> None:
    lines = [
        "rule cc",
        f"  command = cc -c -MMD -MF $out.d {CFLAGS} $in -o $out",
        "  depfile = $out.d",
        "  deps = gcc",
        "rule link",
        "  command = cc -o $out $in",
    ]
    lines += [f"build obj/{stem}.o: cc src/{stem}.c" for stem in stems]
    lines.append("build app: link " + " ".join(f"obj/{stem}.o" for stem in stems))
    (root / "build.ninja").write_text("\n".join(lines) + "\n")


def commands(engine: str) -> dict[str, list[str]]:
    return {
        "engine": [engine, "run", "workflow.yaml", "-j", "2", "--progress", "none",
                   "--output", "quiet"],
        "make": ["make", "-j2", "-s"],
        "ninja": ["ninja", "-j2"],
    }


def stamps(root: Path) -> dict[str, int]:
    """Each object's modification time, to tell which were rebuilt."""
    return {entry.name: entry.stat().st_mtime_ns for entry in os.scandir(root / "obj")
            if entry.name.endswith(".o")}


def timed(command: list[str], cwd: Path) -> float:
    start = time.perf_counter()
    done = subprocess.run(command, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    elapsed = time.perf_counter() - start
    if done.returncode != 0:
        sys.exit(f"{command[0]} failed in {cwd}:\n{done.stderr.decode()[-2000:]}")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sources", type=int, default=2000)
    parser.add_argument("--headers", type=int, default=200)
    parser.add_argument("--per", type=int, default=20, help="headers each source includes")
    parser.add_argument("--seed", type=int, default=15)
    parser.add_argument("--runs", type=int, default=int(os.environ.get("RUNS", "5")))
    parser.add_argument("--edits", type=int, default=3)
    parser.add_argument("--keep", action="store_true", help="keep the trees under /tmp")
    args = parser.parse_args()

    engine = os.environ.get("ENGINE")
    if not engine:
        subprocess.run(["cargo", "build", "--release", "--locked"], cwd=HERE.parent, check=True)
        engine = str(HERE.parent / "target" / "release" / "engine")
    tools = commands(engine)
    work = Path(tempfile.mkdtemp(prefix="engine-cbuild."))
    trees = {}
    for tool in tools:
        root = work / tool
        stems = generate(root, args.sources, args.headers, args.per, args.seed)
        trees[tool] = root
    write_engine(trees["engine"], stems)
    write_make(trees["make"])
    write_ninja(trees["ninja"], stems)
    print(f"{args.sources} sources, each including {args.per} of {args.headers} headers; "
          f"trees in {work}")

    results: dict[str, dict[str, float]] = {tool: {} for tool in tools}
    for tool, command in tools.items():
        results[tool]["full"] = timed(command, trees[tool])
        if len(stamps(trees[tool])) != args.sources:
            sys.exit(f"{tool}: the full build did not make every object")
        # engine trusts a file's stamp once it has not changed for 3 s (files::SETTLED): the
        # first no-op after that checks every task and leaves its list, and the no-ops after
        # it are answered from the list. The first is measured too.
        time.sleep(3.5)
        results[tool]["first"] = timed(command, trees[tool])
        results[tool]["noop"] = statistics.median(
            timed(command, trees[tool]) for _ in range(args.runs)
        )
        print(f"  {tool}: full {results[tool]['full']:.2f} s, "
              f"first no-op {results[tool]['first'] * 1000:.0f} ms, "
              f"no-op {results[tool]['noop'] * 1000:.0f} ms", flush=True)

    edits: dict[str, list[float]] = {tool: [] for tool in tools}
    rebuilt_counts = []
    for round_ in range(args.edits):
        header = f"h{(round_ * 37) % args.headers:03}.h"
        rebuilt: dict[str, set[str]] = {}
        for tool, command in tools.items():
            root = trees[tool]
            before = stamps(root)
            path = root / "include" / header
            path.write_text(path.read_text() + f"/* edit {round_} */\n")
            edits[tool].append(timed(command, root))
            after = stamps(root)
            rebuilt[tool] = {name for name in after if after[name] != before.get(name)}
        sets = list(rebuilt.values())
        if any(other != sets[0] for other in sets[1:]):
            for tool, names in rebuilt.items():
                print(f"  {tool} rebuilt {len(names)}: {sorted(names)[:5]} ...")
            sys.exit(f"the tools rebuilt different objects after editing {header}")
        # Exactly the sources that include it.
        expected = {f"{stem}.o" for stem in stems
                    if f'"{header}"' in (trees["make"] / "src" / f"{stem}.c").read_text()}
        if sets[0] != expected:
            sys.exit(f"{header}: rebuilt {len(sets[0])} objects, {len(expected)} include it")
        rebuilt_counts.append(len(expected))
    for tool in tools:
        results[tool]["edit"] = statistics.median(edits[tool])

    print(f"\none header edited ({args.edits} rounds, {rebuilt_counts} objects rebuilt, "
          "the same set by all three)")
    print(f"{'':8} {'full build':>12} {'first no-op':>12} {'no-op':>10} {'one header':>12}")
    for tool in tools:
        r = results[tool]
        print(f"{tool:8} {r['full']:>10.2f} s {r['first'] * 1000:>9.0f} ms "
              f"{r['noop'] * 1000:>7.0f} ms {r['edit']:>10.2f} s")
    e, m, n = results["engine"], results["make"], results["ninja"]
    print(f"\nengine no-op / ninja no-op: {e['noop'] / n['noop']:.2f}x (target <= 2)")
    print(f"engine one header / make one header: {e['edit'] / m['edit']:.2f}x (target <= 1.1)")
    if not args.keep:
        shutil.rmtree(work)


if __name__ == "__main__":
    main()
