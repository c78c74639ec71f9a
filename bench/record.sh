#!/bin/sh
# The run record's cost (issue 6): the 5,000-task layered process benchmark with the record
# on and off (`--no-record`), a no-op run of 10,000 tasks with one input and one output
# each, every one up to date, and a no-op run over 8 inputs of BIG_MB MiB each (default 256:
# 2 GiB under /tmp) with the digests the record keeps and with them deleted before each run.
# Needs hyperfine and sqlite3 (apt-get install hyperfine sqlite3).
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

echo "== 8 inputs of ${BIG_MB:-256} MiB, all up to date: digests kept, then deleted before each run"
mkdir "$work/big" "$work/big/in" "$work/big/out"
cd "$work/big"
{
    echo "name: big-inputs"
    echo "tasks:"
    for i in 1 2 3 4 5 6 7 8; do
        head -c "${BIG_MB:-256}M" /dev/urandom > "in/$i"
        echo "  t$i: {inputs: [in/$i], outputs: [out/$i], run: 'wc -c in/$i > out/$i'}"
    done
} > wf.yaml
# Digests are kept for files that had not changed for 3 s when read.
sleep 4
"$ENGINE" run wf.yaml --progress none --output quiet
sleep 4
hyperfine -N --warmup 1 --runs "${RUNS:-10}" \
    "$ENGINE run wf.yaml --progress none --output quiet"
hyperfine --warmup 1 --runs "${RUNS:-10}" \
    --prepare "sqlite3 .engine/record.sqlite 'DELETE FROM file_digests'" \
    "$ENGINE run wf.yaml --progress none --output quiet"
