#!/bin/sh
# Benchmark of issue 2: `engine check` and `engine plan` on a generated layered workflow of
# 100,000 tasks, and `engine check` on a 10-task file. Times with hyperfine, peak memory with
# GNU time. Needs python3, hyperfine and time (Debian: apt-get install -y hyperfine time).
#
#   bench/check_plan.sh                    # results in $BENCH_DIR (default target/bench)
#   ENGINE=/tmp/engine bench/check_plan.sh # the same files, another build
#
# Goals (2-core machine): check + plan of 100,000 tasks under 1 s and 300 MB peak RSS;
# check of a 10-task file under 10 ms.
set -eu
cd "$(dirname "$0")/.."

for tool in python3 hyperfine /usr/bin/time; do
    command -v "$tool" > /dev/null || {
        echo "missing $tool (apt-get install -y hyperfine time)" >&2
        exit 2
    }
done

target=${CARGO_TARGET_DIR:-target}
work=${BENCH_DIR:-$target/bench}
mkdir -p "$work"
# ENGINE=path/to/engine compares another build (say, of another commit) on the same files.
if [ -n "${ENGINE:-}" ]; then
    engine=$ENGINE
else
    cargo build --release --quiet
    engine=$target/release/engine
fi

big=$work/layered_100000.yaml
small=$work/layered_10.yaml
python3 bench/gen_workflow.py layered 100000 --seed 1 --width 1000 -o "$big"
python3 bench/gen_workflow.py layered 10 --seed 1 --width 3 -o "$small"
"$engine" check "$big" "$small"

echo "== machine"
{
    echo "cpus: $(nproc)"
    echo "cpu: $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)"
    echo "kernel: $(uname -r)"
    echo "rustc: $(rustc --version)"
    echo "hyperfine: $(hyperfine --version)"
    echo "engine: $(git rev-parse --short HEAD 2>/dev/null || echo unknown)$(git diff --quiet HEAD -- src 2>/dev/null || echo ' + local changes')"
    echo "file: $big ($(wc -c < "$big") bytes)"
} | tee "$work/machine.txt"

echo "== time: 100,000 tasks"
hyperfine --warmup 2 --runs 10 --export-json "$work/big.json" \
    --command-name "check 100k" "$engine check $big" \
    --command-name "plan 100k" "$engine plan $big > /dev/null"

echo "== time: 10 tasks"
hyperfine --shell=none --warmup 20 --runs 200 --export-json "$work/small.json" \
    --command-name "check 10" "$engine check $small"

echo "== peak memory"
for command in check plan; do
    /usr/bin/time -v "$engine" "$command" "$big" > /dev/null 2> "$work/time-$command.txt"
    rss=$(sed -n 's/.*Maximum resident set size (kbytes): //p' "$work/time-$command.txt")
    echo "$command 100k: $((rss / 1024)) MB peak RSS"
    echo "$rss" > "$work/rss-$command.txt"
done

echo "== summary"
python3 - "$work" << 'EOF'
import json, sys
work = sys.argv[1]
rows = []
for name in ("big", "small"):
    for result in json.load(open(f"{work}/{name}.json"))["results"]:
        cpu = result["user"] + result["system"]
        rows.append((result["command"], result["median"], result["min"], result["max"], cpu))
rss = {c: int(open(f"{work}/rss-{c}.txt").read()) // 1024 for c in ("check", "plan")}
# CPU time (user + system, mean) is shown beside wall time: on a shared machine it varies
# far less than wall time does.
print("| command | median | min | max | CPU time | peak RSS |")
print("|---|---|---|---|---|---|")
for command, median, low, high, cpu in rows:
    ms = lambda s: f"{s * 1000:.1f} ms"
    kind = command.split()[0]
    memory = f"{rss[kind]} MB" if command.endswith("100k") else ""
    print(f"| `{command}` | {ms(median)} | {ms(low)} | {ms(high)} | {ms(cpu)} | {memory} |")
EOF
