#!/usr/bin/env bash
# Measures what the README's "Scale on paper" section cites, on the cluster Slurm's client
# commands reach (the one-node dev cluster of scripts/slurm-dev-cluster.sh):
#
#   1. sbatch calls per second, one submitter and four at once
#   2. the cost of one `squeue` for N listed jobs, and of `scontrol show job`
#   3. slurmctld's CPU time per such `squeue`
#   4. `scancel` of N jobs in one call
#   5. engine itself: N tasks submitted with `-j N`, its CPU while it follows N live jobs,
#      and how long Ctrl-C takes to leave the queue empty
#
# Every job is held (`--hold`) or starts in an hour (`--begin`), so none runs; all are
# cancelled at the end. Usage: scripts/slurm-measure.sh [N [engine]] (default 1000; `engine`
# measures step 5 only); needs `engine`
# built (ENGINE=path, default: the debug build under CARGO_TARGET_DIR or target/).
set -euo pipefail
cd "$(dirname "$0")/.."

N=${1:-1000}
ONLY=${2:-}   # `engine`: measure only engine itself (step 5)
ENGINE=${ENGINE:-${CARGO_TARGET_DIR:-target}/debug/engine}
work=$(mktemp -d)
ids=()
cleanup() {
    if ((${#ids[@]})); then printf '%s\n' "${ids[@]}" | xargs -r -n 1000 scancel 2>/dev/null || true; fi
    rm -rf "$work"
}
trap cleanup EXIT

now_ms() { date +%s%3N; }
ctld_ticks() { awk '{print $14 + $15}' "/proc/$(cat /run/slurmctld.pid)/stat"; }
# utime + stime of a process, and cutime + cstime of its waited-for children, in clock ticks
proc_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
child_ticks() { awk '{print $16 + $17}' "/proc/$1/stat"; }
hz=$(getconf CLK_TCK)

if [[ $ONLY != engine ]]; then
echo "== sbatch, one submitter, $N held jobs"
start=$(now_ms)
for ((i = 0; i < N; i++)); do
    ids+=("$(sbatch --parsable --hold --job-name=measure --output=/dev/null --wrap=true)")
done
took=$(($(now_ms) - start))
echo "   $took ms: $((N * 1000 / took)) submissions/s, $((took * 1000 / N)) us each"

echo "== sbatch, four submitters at once, $N held jobs"
start=$(now_ms)
for ((p = 0; p < 4; p++)); do
    (for ((i = 0; i < N / 4; i++)); do
        sbatch --parsable --hold --job-name=measure --output=/dev/null --wrap=true
    done >"$work/ids.$p") &
done
wait
took=$(($(now_ms) - start))
mapfile -t more < <(cat "$work"/ids.*)
ids+=("${more[@]}")
echo "   $took ms: $((${#more[@]} * 1000 / took)) submissions/s"

queued=$(squeue -h -o %i | wc -l)
for count in 1 100 1000 "$N"; do
    ((count <= ${#ids[@]})) || continue
    list=$(IFS=,; echo "${ids[*]:0:count}")
    before=$(ctld_ticks)
    start=$(now_ms)
    for ((r = 0; r < 10; r++)); do
        squeue -h -t all -j "$list" -o '%i|%T|%r|%N' >/dev/null
    done
    took=$(($(now_ms) - start))
    ctld=$(($(ctld_ticks) - before))
    echo "== squeue for $count listed jobs ($queued in the queue): $((took / 10)) ms each, slurmctld $((ctld * 1000 / hz / 10)) ms CPU each"
done
start=$(now_ms)
for ((r = 0; r < 20; r++)); do scontrol -o show job "${ids[0]}" >/dev/null; done
echo "== scontrol show job: $((($(now_ms) - start) / 20)) ms each"

echo "== scancel of ${#ids[@]} jobs in calls of 1000"
start=$(now_ms)
printf '%s\n' "${ids[@]}" | xargs -n 1000 scancel
echo "   $(($(now_ms) - start)) ms"
ids=()
fi

echo "== engine: $N tasks with -j $N (each job starts in an hour)"
{
    echo "name: measure"
    echo "defaults: { slurm: { extra: [--begin=now+1hour] } }"
    echo "tasks:"
    for ((i = 0; i < N; i++)); do echo "  t$i: { run: 'true' }"; done
} >"$work/measure.yaml"
"$ENGINE" run --executor slurm -j "$N" --progress none --output quiet \
    --state-dir "$work/state" --events "$work/events.jsonl" "$work/measure.yaml" 2>/dev/null &
engine=$!
start=$(now_ms)
# The events file is buffered until the run ends: count the run's jobs in the queue.
while (($(squeue -h -t pending -o %j | grep -c '^measure\.' || true) < N)); do
    sleep 0.1
done
took=$(($(now_ms) - start))
echo "   all $N submitted after $took ms: $((N * 1000 / took)) tasks/s"
sleep 2
before=$(proc_ticks "$engine")
children_before=$(child_ticks "$engine")
ctld_before=$(ctld_ticks)
sleep 20
engine_ms=$((($(proc_ticks "$engine") - before) * 1000 / hz))
children_ms=$((($(child_ticks "$engine") - children_before) * 1000 / hz))
ctld_ms=$((($(ctld_ticks) - ctld_before) * 1000 / hz))
echo "   following $N live jobs for 20 s: engine $engine_ms ms CPU, its squeue calls $children_ms ms CPU, slurmctld $ctld_ms ms CPU"
start=$(now_ms)
kill -INT "$engine"
wait "$engine" || true
echo "   Ctrl-C to exit: $(($(now_ms) - start)) ms; jobs of the run left in the queue: $(squeue -h -t pending,running,completing -o %j | grep -c '^measure\.' || true)"
