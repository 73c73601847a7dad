#!/bin/sh
# The whole compatibility table, timed: matrices/void-compat.toml as it is
# against a baseline, with the default matrix as the yardstick, measured in
# the same session so that the machine's load hits all three alike.
#
#   harness/benches/whole-table.sh [ROUNDS]
#
# The baseline is one of:
# - BASELINE_REV=<git revision>: void-compat.toml as it was at that
#   revision, run by the same binary without any previous run's durations
#   (its output directory is emptied before each run), so that it starts
#   its work as a first run would: the table's settings before a change,
#   against the table's settings after it;
# - otherwise the same matrix with Debian's guest kernels: the `[kernels.*]`
#   images switched back (kernel-guest-* -> debian-kernel-*).
# Either is written beside the original (matrices/.void-compat-baseline.toml)
# so that it reads the same image descriptions; cell names are the same, so
# `bootmatrix diff` compares the two cell by cell, and this script does.
#
# Each round runs the default matrix, then the two tables, in alternating
# order from round to round (the table first in odd rounds, the baseline
# first in even ones). Each configuration keeps its output directory under
# $OUT (default target/whole-table: default/, table/, baseline/), so that
# the table's cells and sessions start longest-first by its previous run's
# durations, as in everyday use; every run's results.json is kept as
# round-N-NAME.json.
#
# Environment: BOOTMATRIX (default target/release/bootmatrix), JOBS
# (default 2), EXTRA (more `bootmatrix run` arguments for both tables, e.g.
# `--known-failures skip` or `--filter`), BASELINE_REV. Needs jq. Prints,
# per run, the wall time and the breakdown that results.json allows (see
# breakdown below); at the end the medians and the ratios.
set -eu

rounds=${1:-1}
bm=${BOOTMATRIX:-target/release/bootmatrix}
jobs=${JOBS:-2}
out=${OUT:-target/whole-table}
extra=${EXTRA:-}

mkdir -p "$out"
baseline=matrices/.void-compat-baseline.toml
trap 'rm -f "$baseline"' EXIT
if [ -n "${BASELINE_REV:-}" ]; then
    git show "$BASELINE_REV:matrices/void-compat.toml" >"$baseline"
else
    sed 's/^image = "kernel-guest-\(4k\|64k\)"/image = "debian-kernel-\1"/' \
        matrices/void-compat.toml >"$baseline"
fi
if cmp -s matrices/void-compat.toml "$baseline"; then
    echo "whole-table: the baseline is the table itself" >&2
    exit 2
fi

now() { date +%s.%N; }

# One run: NAME MATRIX. Wall time of the whole process, exit status kept.
run() {
    name=$1 matrix=$2 dir=$out/$1
    # A revision's baseline starts as a first run would: no durations.
    if [ "$name" = baseline ] && [ -n "${BASELINE_REV:-}" ]; then rm -rf "$dir"; fi
    t0=$(now)
    rc=0
    # shellcheck disable=SC2086
    "$bm" run "$matrix" -j "$jobs" --quiet --out "$dir" $extra >"$out/round-$i-$name.log" 2>&1 || rc=$?
    t1=$(now)
    wall=$(echo "$t1 - $t0" | bc)
    echo "$name $wall" >>"$out/walls.txt"
    cp "$dir/results.json" "$out/round-$i-$name.json"
    printf '%-8s wall %7.1f s  exit %d  %s\n' "$name" "$wall" "$rc" "$(counts "$dir")"
    [ "$name" = default ] || breakdown "$dir"
}

counts() {
    jq -r '.counts | to_entries | map("\(.key) \(.value)") | join(", ")' "$1/results.json"
}

# What results.json tells of where the time went:
# - host boots: per emulated-host session, from the session's start to the
#   start of its first cell (the L0 qemu starting, the host kernel booting,
#   its init loading KVM);
# - cells by kind: guests that booted (by accelerator and MMU), documented
#   errors, skipped; their seconds summed over the lanes;
# - idle: worker-seconds (jobs x wall) that neither a session nor a native
#   cell used.
breakdown() {
    jq -r --argjson jobs "$jobs" '
      def r1: (. * 10 | round) / 10;
      . as $r
      | [.sessions[] | . as $s
         | ([$r.cells[] | select(.lane.kind == "session" and .lane.key == $s.key and .run == $s.run) | .start] | min) as $first
         | {boot: (($first // $s.end) - $s.start), span: ($s.end - $s.start)}] as $sessions
      | ($sessions | map(.boot) | add // 0) as $boots
      | ($sessions | map(.span) | add // 0) as $spans
      | ([.cells[] | select(.lane.kind != "session") | .seconds // 0] | add // 0) as $native
      | [.cells[] | select(.status != "skipped")
         | {kind: (if .guest_mmu != null then "boot \(.guest.accel) \(.guest_mmu)"
                   elif (.errors_seen | length) > 0 then "documented error"
                   else "other \(.status)" end),
            s: (.seconds // 0)}]
      | group_by(.kind)
      | map("    \(.[0].kind): \(length) cells, \(map(.s) | add | r1) s (median \(map(.s) | sort | .[length / 2 | floor] | r1) s)")
      | ["    host boots: \($sessions | length) sessions, \($boots | r1) s",
         .[],
         "    idle worker-seconds: \(($jobs * $r.seconds - $spans - $native) | r1) of \(($jobs * $r.seconds) | r1)"]
      | .[]' "$1/results.json"
}

: >"$out/walls.txt"
i=1
while [ "$i" -le "$rounds" ]; do
    echo "== round $i (load average $(cut -d' ' -f1-3 /proc/loadavg))"
    run default matrices/default.toml
    if [ $((i % 2)) -eq 1 ]; then
        run table matrices/void-compat.toml
        run baseline "$baseline"
    else
        run baseline "$baseline"
        run table matrices/void-compat.toml
    fi
    echo "   verdicts, baseline -> table:"
    "$bm" diff "$out/round-$i-baseline.json" "$out/round-$i-table.json" | sed 's/^/    /' || true
    i=$((i + 1))
done

median() {
    grep "^$1 " "$out/walls.txt" | cut -d' ' -f2 | sort -n |
        awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}
def=$(median default)
tab=$(median table)
base=$(median baseline)
echo "== medians over $rounds round(s), -j $jobs"
printf 'default matrix %7.1f s\ntable          %7.1f s  (%.1f x default)\nbaseline       %7.1f s  (%.1f x default)\ntable / baseline: %.3f\n' \
    "$def" "$tab" "$(echo "$tab / $def" | bc -l)" "$base" "$(echo "$base / $def" | bc -l)" \
    "$(echo "$tab / $base" | bc -l)"
