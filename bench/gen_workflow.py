#!/usr/bin/env python3
"""Writes a large synthetic DAG of no-op tasks as an engine workflow, a GNU Makefile, a
build.ninja, a go-task Taskfile.yml or a justfile, for benchmarking engine and its peers on the
same graph.

Shapes (every task runs `true`, or the --command given):
  chain     each task depends on the one before it
  wide      N-1 independent tasks, then one join that depends on all of them
  layered   layers of --width tasks; each task depends on 2 tasks of the previous
            layer, picked at random with --seed
  diamond   repeated diamonds: a fork into two tasks that join again, chained

The output is the same for the same arguments. Engine tasks are written one per line in
flow style, which keeps the file compact. --format picks the tool: engine (default), make,
ninja, task or just; --thread makes engine tasks no-op scripts (`script: "()"`) on threads.

just runs a recipe's dependencies one at a time (it has no parallel dependencies by default),
so its justfile is only fair for the one-task start-up benchmark of bench/compare.py.
go-task runs commands in its own shell interpreter, where `true` is a builtin that starts no
process; `--command /bin/true` makes each of its tasks start one, like the other tools do.

Example:  python3 bench/gen_workflow.py layered 100000 --seed 1 -o /tmp/layered.yaml
          python3 bench/gen_workflow.py wide 2000 --format ninja -o /tmp/build.ninja
"""

import argparse
import json
import os
import random
import sys


def names(count):
    digits = len(str(max(count - 1, 0)))
    return [f"t{i:0{digits}d}" for i in range(count)]


def chain(count, _rng, _width):
    tasks = names(count)
    return [(name, [tasks[i - 1]] if i else []) for i, name in enumerate(tasks)]


def wide(count, _rng, _width):
    tasks = names(count)
    return [(name, []) for name in tasks[:-1]] + [(tasks[-1], tasks[:-1])]


def layered(count, rng, width):
    tasks = names(count)
    result = []
    for i, name in enumerate(tasks):
        layer_start = i - i % width
        if layer_start == 0:
            result.append((name, []))
            continue
        previous = tasks[layer_start - width : layer_start]
        result.append((name, sorted(rng.sample(previous, min(2, len(previous))))))
    return result


def diamond(count, _rng, _width):
    # Groups of three after the first task: two branches of the last join, then a join.
    tasks = names(count)
    result = [(tasks[0], [])]
    join = tasks[0]
    i = 1
    while i < count:
        left = tasks[i]
        result.append((left, [join]))
        if i + 1 < count:
            right = tasks[i + 1]
            result.append((right, [join]))
            if i + 2 < count:
                join = tasks[i + 2]
                result.append((join, [left, right]))
        i += 3
    return result


SHAPES = {"chain": chain, "wide": wide, "layered": layered, "diamond": diamond}


def render_make(graph, command):
    # Every task is a phony target whose recipe is the command; `all` asks for every task.
    names = [name for name, _ in graph]
    lines = [".PHONY: all " + " ".join(names), "all: " + " ".join(names)]
    for name, deps in graph:
        lines.append(f"{name}: {' '.join(deps)}".rstrip())
        lines.append(f"\t{command}")
    return "\n".join(lines) + "\n"


def render_ninja(graph, command):
    # Outputs are never created, so every edge runs on every build, like a phony task.
    lines = ["rule true", f"  command = {command}", ""]
    for name, deps in graph:
        lines.append(f"build {name}: true {' '.join(deps)}".rstrip())
    lines.append("build all: phony " + " ".join(name for name, _ in graph))
    lines.append("default all")
    return "\n".join(lines) + "\n"


def render_task(graph, command):
    # `run: once` makes a task that several others depend on run a single time, as in make.
    quoted = "'" + command.replace("'", "''") + "'"
    lines = ["version: '3'", "run: once", "tasks:"]
    for name, deps in graph:
        lines.append(f"  {name}:")
        if deps:
            lines.append(f"    deps: [{', '.join(deps)}]")
        lines.append(f"    cmds: [{quoted}]")
    lines.append("  default:")
    lines.append(f"    deps: [{', '.join(name for name, _ in graph)}]")
    return "\n".join(lines) + "\n"


def render_just(graph, command):
    # The first recipe is the default: `all` depends on every task. just runs each
    # dependency once per invocation, one at a time.
    lines = ["all: " + " ".join(name for name, _ in graph)]
    for name, deps in graph:
        lines.append(f"{name}: {' '.join(deps)}".rstrip())
        lines.append(f"    {command}")
    return "\n".join(lines) + "\n"


RENDERERS = {"make": render_make, "ninja": render_ninja, "task": render_task, "just": render_just}


def render(shape, count, seed, width, fmt="engine", thread=False, command="true", files=False):
    rng = random.Random(seed)
    graph = SHAPES[shape](count, rng, width)
    if fmt != "engine":
        return RENDERERS[fmt](graph, command)
    command = 'script: "()"' if thread else f"run: {json.dumps(command)}"
    if files:
        return render_files(shape, count, graph)
    lines = [
        "# yaml-language-server: $schema=../schemas/workflow.schema.json",
        f"name: {shape}-{count}",
        f"description: generated by bench/gen_workflow.py {shape} {count} --seed {seed}"
        + (f" --width {width}" if shape == "layered" else ""),
        "tasks:",
    ]
    for name, deps in graph:
        if deps:
            lines.append(f"  {name}: {{depends_on: [{', '.join(deps)}], {command}}}")
        else:
            lines.append(f"  {name}: {{{command}}}")
    return "\n".join(lines) + "\n"


def render_files(shape, count, graph):
    """Each task copies its own input file `in/NAME` to its output `out/NAME`, declaring both:
    for the run record's up-to-date checks (bench/incremental.sh)."""
    lines = [f"name: {shape}-{count}-files", "tasks:"]
    for name, deps in graph:
        fields = [
            f"inputs: [in/{name}]",
            f"outputs: [out/{name}]",
            f"run: \"cp in/{name} out/{name}\"",
        ]
        if deps:
            fields.insert(0, f"depends_on: [{', '.join(deps)}]")
        lines.append(f"  {name}: {{{', '.join(fields)}}}")
    return "\n".join(lines) + "\n"


def write_inputs(graph_text, directory):
    """Writes `in/NAME` (a line of text) for each task of a --files workflow, and `out/`."""
    os.makedirs(os.path.join(directory, "in"), exist_ok=True)
    os.makedirs(os.path.join(directory, "out"), exist_ok=True)
    for line in graph_text.splitlines():
        if line.startswith("  ") and ":" in line:
            name = line.strip().split(":", 1)[0]
            with open(os.path.join(directory, "in", name), "w", encoding="utf-8") as out:
                out.write(f"input of {name}\n")


def main():
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("shape", choices=sorted(SHAPES))
    parser.add_argument("count", type=int, help="number of tasks (at least 1)")
    parser.add_argument("--seed", type=int, default=1, help="random seed (layered only)")
    parser.add_argument(
        "--width", type=int, default=1000, help="tasks per layer (layered only)"
    )
    parser.add_argument(
        "--format", choices=["engine", *RENDERERS], default="engine",
        help="which tool's file to write",
    )
    parser.add_argument(
        "--command", default="true",
        help="the shell command every task runs (default: true); ignored with --thread",
    )
    parser.add_argument(
        "--thread", action="store_true", help="engine tasks are no-op scripts on threads"
    )
    parser.add_argument(
        "--files", action="store_true",
        help="engine tasks copy in/NAME to out/NAME with inputs and outputs declared; with -o, "
        "the input files are written next to the workflow",
    )
    parser.add_argument("-o", "--output", help="file to write (default: stdout)")
    args = parser.parse_args()
    if args.count < 1 or args.width < 1:
        parser.error("count and width must be at least 1")
    text = render(
        args.shape, args.count, args.seed, args.width, args.format, args.thread, args.command,
        args.files,
    )
    if args.output:
        with open(args.output, "w", encoding="utf-8") as out:
            out.write(text)
        if args.files:
            write_inputs(text, os.path.dirname(os.path.abspath(args.output)))
    else:
        sys.stdout.write(text)


if __name__ == "__main__":
    main()
