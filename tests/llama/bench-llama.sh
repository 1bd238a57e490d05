#!/usr/bin/env bash
# tests/llama/bench-llama.sh - llama.cpp figures on sampan devices
# (`make bench-llama`). Benchmarks: printed and kept, never asserted.
#
#   bench-llama.sh [MODEL...]   default: tiny tri
#     tiny   the random-weight test model (LLAMA_MODEL)
#     tri    the committed trilingual model (LLAMA_TRI_MODEL)
#
# For each model: llama-bench, prompt processing (pp, BENCH_PP tokens in
# one batch) and generation (tg, BENCH_TG tokens one at a time), tokens/s
# on llama.cpp's CPU backend and on the sampan devices `cpu` (the
# functional model) and `sim` (the RTL under Verilator: its tokens/s are
# the simulator's), with the device's cycles per token and utilization
# from SAMPAN_GGML_LOG (pp: cycles of the M = BENCH_PP graph / BENCH_PP;
# tg: mean over the M = 1 graphs); llama-completion's own tokens/s on the
# CPU backend; and for the trilingual model `sampan generate --json` on
# sim (device cycles per token, utilization, tokens/s at the core's clock).
#
# Environment (the make target sets them): LLAMA_BIN, GGML_SAMPAN_LIB,
# SAMPAN_CLI, LLAMA_MODEL, LLAMA_TRI_MODEL, LLAMA_RESULTS; BENCH_DEVICES
# (default "cpu sim"), BENCH_PP (32), BENCH_TG (16), BENCH_REPS (3, the
# CPU backend; the devices run once).

set -uo pipefail

: "${LLAMA_BIN:?}" "${GGML_SAMPAN_LIB:?}" "${SAMPAN_CLI:?}" "${LLAMA_MODEL:?}" "${LLAMA_RESULTS:?}"
DEVICES=${BENCH_DEVICES:-cpu sim}
PP=${BENCH_PP:-32}
TG=${BENCH_TG:-16}
REPS=${BENCH_REPS:-3}
THREADS=2
mkdir -p "$LLAMA_RESULTS"
SUMMARY=$LLAMA_RESULTS/summary.txt
: > "$SUMMARY"

say() {
	echo "$*" | tee -a "$SUMMARY"
}

# ts JSONL N_PROMPT N_GEN: avg_ts and stddev_ts of that llama-bench test.
ts() {
	grep "\"n_prompt\": $2, \"n_gen\": $3" "$1" | head -1 |
		grep -oE '"(avg|stddev)_ts": [0-9.e+-]+' | awk '{printf "%s%.2f", (NR > 1) ? " +/- " : "", $2}'
}

# cycles LOG TOKENS: device cycles per token (all the graphs of LOG over
# TOKENS tokens) and utilization (weighted by cycles); the `cpu` device
# counts no cycles.
cycles() {
	grep -E "graph [0-9]+: [1-9][0-9]* matmuls, M " "$1" |
		sed -E 's/.*, ([0-9]+) cycles, .* utilization ([0-9.]+)%.*/\1 \2/' |
		awk -v t="$2" '{c += $1; u += $1 * $2; n++} END {
			if (c > 0) printf "%.0f cycles/token, utilization %.1f%% (%d graphs)", c / t, u / c, n
			else printf "no cycles counted (%d graphs)", n }'
}

# bench_dev TAG MODEL DEV: llama-bench on sampan device DEV, pp and tg in
# two runs (each run's device log then holds only its own tokens).
bench_dev() {
	local out=$LLAMA_RESULTS/$1-$3 pp tg
	for t in pp tg; do
		local args=(-p "$PP" -n 0)
		[ $t = tg ] && args=(-p 0 -n "$TG")
		GGML_BACKEND_PATH=$GGML_SAMPAN_LIB SAMPAN_GGML_DEVICES=$3 SAMPAN_GGML_LOG=1 \
			timeout 3600 "$LLAMA_BIN/llama-bench" -m "$2" -dev SAMPAN0 "${args[@]}" -t $THREADS -r 1 \
			--no-warmup -o jsonl > "$out-$t.jsonl" 2> "$out-$t.err"
	done
	say "llama-bench sampan $3 (1 run): pp$PP $(ts "$out-pp.jsonl" "$PP" 0) t/s, tg$TG $(ts "$out-tg.jsonl" 0 "$TG") t/s;" \
		"device: pp $(cycles "$out-pp.err" "$PP"); tg $(cycles "$out-tg.err" "$TG")"
}

bench_model() {
	local tag=$1 model=$2 out dev cpu_json
	if [ ! -f "$model" ]; then
		say "$tag: no $model, skipped"
		return
	fi
	say "== $tag: $model"
	cpu_json=$LLAMA_RESULTS/$tag-cpu-backend.jsonl
	timeout 1800 "$LLAMA_BIN/llama-bench" -m "$model" -dev none -p "$PP" -n "$TG" -t $THREADS -r "$REPS" \
		-o jsonl > "$cpu_json" 2> "$cpu_json.err"
	say "llama-bench CPU backend ($THREADS threads, $REPS runs): pp$PP $(ts "$cpu_json" "$PP" 0) t/s, tg$TG $(ts "$cpu_json" 0 "$TG") t/s"
	for dev in $DEVICES; do
		bench_dev "$tag" "$model" "$dev"
	done
	# llama-completion's own figure on the CPU backend
	out=$LLAMA_RESULTS/$tag-completion-cpu.txt
	timeout 1800 "$LLAMA_BIN/llama-completion" -m "$model" -p "the river and the sea" -n 64 --temp 0 \
		--ignore-eos -no-cnv -c 128 -t $THREADS -fit off > "$out" 2> "$out.err" < /dev/null
	say "llama-completion CPU backend, 64 tokens: prompt $(rate 'prompt eval time' "$out.err") t/s," \
		"generation $(rate '[^t] eval time' "$out.err") t/s"
}

# rate PATTERN LOG: the tokens per second of llama.cpp's perf line.
rate() {
	grep -E "$1" "$2" | head -1 | grep -oE '[0-9.]+ tokens per second' | awk '{print $1}'
}

# sampan generate --json on sim: the device's own per-token figures.
generate_figures() {
	local model=$1 out=$LLAMA_RESULTS/tri-sampan-generate-sim.json
	[ -f "$model" ] || return
	timeout 1800 "$SAMPAN_CLI" generate "$model" -d sim -p "香港" -n "$TG" --temp 0 --json > "$out" 2> "$out.err"
	say "sampan generate -d sim -n $TG --temp 0 --json: $(tr -d '\n' < "$out" | grep -oE '"(prompt_tokens_per_s|tokens_per_s|device_cycles_per_token|device_cycles_per_prompt_token|utilization_prefill|utilization_decode|bandwidth_fraction_decode|tokens_per_s_at_clock)": *[^,}]+' | tr -d ' "' | paste -sd' ' -)"
}

models=("$@")
[ ${#models[@]} -eq 0 ] && models=(tiny tri)
for m in "${models[@]}"; do
	case $m in
	tiny) bench_model tiny "$LLAMA_MODEL" ;;
	tri)
		bench_model tri "${LLAMA_TRI_MODEL:-}"
		generate_figures "${LLAMA_TRI_MODEL:-}"
		;;
	*)
		echo "bench-llama: unknown model '$m' (tiny, tri)" >&2
		exit 2
		;;
	esac
done
echo "figures in $SUMMARY"
