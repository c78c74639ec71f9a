#!/usr/bin/env bash
# Masking cost (issue 13): 200 MB of output without a newline from one task, with a secret
# declared and without. Prints wall time and peak RSS of each `engine run`, three runs each.
#   bench/secrets.sh            # builds release first
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --locked --quiet
engine=$PWD/target/release/engine
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
flood='head -c 200000000 /dev/zero | tr "\\0" x'
printf 'tasks:\n  flood:\n    run: %s\n' "'$flood'" >"$dir/plain.yaml"
printf 'secrets: [TOK]\ntasks:\n  flood:\n    run: %s\n' "'$flood'" >"$dir/secret.yaml"
for workflow in plain secret; do
    for _ in 1 2 3; do
        rm -rf "$dir/state"
        TOK=supersecretvalue123 /usr/bin/time -a -o "$dir/times" -f "$workflow: %e s wall, %U s user, %S s sys, %M KB peak RSS" \
            "$engine" run "$dir/$workflow.yaml" --state-dir "$dir/state" --progress plain >/dev/null 2>&1
    done
done
cat "$dir/times"
