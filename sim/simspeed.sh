#!/usr/bin/env bash
# simspeed.sh - simulated cycles per second of sampan_axi_top under
# Verilator (the simulation library, driven by ssim_gemm) and under Icarus
# (sim/tb/sampan_tb.v) on the same command list: a ROWS x KT x 4*COLS
# requantized GEMM. Prints both figures and their ratio, and writes them as
# one JSON object. Called by `make simspeed`.
#
# usage: simspeed.sh GEMM LIB VVP ROWS COLS KT VERILATOR_RUNS ICARUS_SECONDS OUT.json
#
# The Verilator side runs the GEMM VERILATOR_RUNS times. The Icarus side
# runs it once, stopped after ICARUS_SECONDS if it has not finished (a large
# array is slow under Icarus): its speed is then the cycles it reached in
# that time, from the testbench's per-cycle progress lines.
set -euo pipefail

if [ $# -ne 9 ]; then
	echo "usage: $0 GEMM LIB VVP ROWS COLS KT VERILATOR_RUNS ICARUS_SECONDS OUT.json" >&2
	exit 2
fi
gemm=$1 lib=$2 vvp=$3 rows=$4 cols=$5 kt=$6 vl_runs=$7 iv_limit=$8 out=$9
n=$((4 * cols))

field() { sed -n "s/.*\"$1\": \([0-9.]*\).*/\1/p"; }

vl=$("$gemm" --lib "$lib" -m "$rows" -k "$kt" -n "$n" --seed 1 --repeat "$vl_runs" --json)
vl_cycles=$(field sim_cycles <<<"$vl")
vl_seconds=$(field wall_seconds <<<"$vl")
vl_device=$(field cycles <<<"$vl")

log=$(mktemp)
trap 'rm -f "$log"' EXIT
t0=$(date +%s.%N)
rc=0
timeout "$iv_limit" vvp -n "$vvp" +progress >"$log" || rc=$?
t1=$(date +%s.%N)
if [ "$rc" -ne 0 ] && [ "$rc" -ne 124 ]; then
	echo "simspeed: vvp failed (status $rc):" >&2
	grep -v '^SIMSPEED_PROGRESS' "$log" >&2 || true
	exit 1
fi
iv_done=$(sed -n 's/^SIMSPEED cycles=\([0-9]*\) device_cycles=\([0-9]*\).*/\1 \2/p' "$log")
if [ -n "$iv_done" ]; then
	read -r iv_cycles iv_device <<<"$iv_done"
	iv_complete=true
else
	iv_cycles=$(sed -n 's/^SIMSPEED_PROGRESS cycles=\([0-9]*\)$/\1/p' "$log" | tail -n 1)
	iv_device=0
	iv_complete=false
	if [ -z "$iv_cycles" ]; then
		echo "simspeed: the Icarus testbench printed nothing in ${iv_limit}s" >&2
		exit 1
	fi
fi

awk -v vc="$vl_cycles" -v vs="$vl_seconds" -v vd="$vl_device" -v vr="$vl_runs" \
    -v ic="$iv_cycles" -v t0="$t0" -v t1="$t1" -v id="$iv_device" -v done="$iv_complete" \
    -v rows="$rows" -v cols="$cols" -v k="$kt" -v n="$n" -v out="$out" 'BEGIN {
	is = t1 - t0; vcps = vc / vs; icps = ic / is; ratio = vcps / icps
	printf "simspeed: %dx%d array, GEMM %dx%dx%d: %d device cycles under Verilator", rows, cols, rows, k, n, vd
	if (done == "true") printf ", %d under Icarus\n", id; else printf " (Icarus stopped after %.0f s)\n", is
	printf "simspeed: Verilator %10.0f cycles/s (%d cycles in %.2f s, %d runs)\n", vcps, vc, vs, vr
	printf "simspeed: Icarus    %10.1f cycles/s (%d cycles in %.2f s)\n", icps, ic, is
	printf "simspeed: Verilator / Icarus = %.0f\n", ratio
	printf "{\"array\": \"%dx%d\", \"workload\": {\"m\": %d, \"k\": %d, \"n\": %d}, ", rows, cols, rows, k, n > out
	printf "\"verilator\": {\"runs\": %d, \"cycles\": %d, \"seconds\": %.3f, \"cycles_per_second\": %.0f, \"device_cycles_per_run\": %d}, ", vr, vc, vs, vcps, vd > out
	printf "\"icarus\": {\"complete\": %s, \"cycles\": %d, \"seconds\": %.3f, \"cycles_per_second\": %.1f, \"device_cycles_per_run\": %d}, ", done, ic, is, icps, id > out
	printf "\"ratio\": %.1f}\n", ratio > out
}'
echo "simspeed: figures in $out"
