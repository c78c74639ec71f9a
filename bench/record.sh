#!/bin/sh
# The run record's cost (issue 6): the 5,000-task layered process benchmark with the record
# on and off (`--no-record`), and a no-op run of 10,000 tasks with one input and one output
# each, every one up to date. Needs hyperfine (apt-get install hyperfine).
#
#   bench/record.sh            # builds release, writes the workflows under /tmp, times them
#   ENGINE=path/to/engine bench/record.sh
set -eu
here=$(cd "$(dirname "$0")" && pwd)
if [ -z "${ENGINE:-}" ]; then
    (cd "$here/.." && cargo build --release --locked)
    ENGINE="$here/../target/release/engine"
    [ -n "${CARGO_TARGET_DIR:-}" ] && ENGINE="$CARGO_TARGET_DIR/release/engine"
fi
work=$(mktemp -d /tmp/engine-record-bench.XXXXXX)
trap 'rm -rf "$work"' EXIT
mkdir "$work/layered" "$work/files"
python3 "$here/gen_workflow.py" layered 5000 --seed 1 --width 1000 -o "$work/layered/wf.yaml"
python3 "$here/gen_workflow.py" layered 10000 --seed 1 --width 1000 --files -o "$work/files/wf.yaml"

echo "== layered 5,000 process tasks, -j 2: record off, then on"
cd "$work/layered"
hyperfine -N --warmup 1 --runs "${RUNS:-10}" \
    "$ENGINE run wf.yaml -j 2 --progress none --output quiet --no-record" \
    "$ENGINE run wf.yaml -j 2 --progress none --output quiet"

echo "== 10,000 tasks with one input and one output each, all up to date"
cd "$work/files"
"$ENGINE" run wf.yaml -j 2 --progress none --output quiet
hyperfine -N --warmup 2 --runs "${RUNS:-10}" \
    "$ENGINE run wf.yaml -j 2 --progress none --output quiet"
"$ENGINE" runs wf.yaml -n 1
