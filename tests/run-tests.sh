#!/usr/bin/env bash
# run-tests.sh RESULTS_DIR JOBS BINARY...
#
# Runs each Criterion test binary with --jobs JOBS (at most
# $SAMPAN_TEST_LIMIT seconds each, default 1800), writes its TAP and JUnit
# XML to RESULTS_DIR/<name>.tap and .xml, passes Criterion's own output
# through, and ends with one plain line "N passed, N failed" summed over
# all binaries (", N skipped" when some were). Exits 1 if any test failed
# or any binary ended abnormally (a binary that dies without its summary
# line counts as one failure).
set -u

results=$1
jobs=$2
limit=${SAMPAN_TEST_LIMIT:-1800} # seconds per binary
shift 2
mkdir -p "$results"

passed=0 failed=0 skipped=0 bad_exit=0
for bin in "$@"; do
	name=$(basename "$bin")
	log="$results/$name.log"
	rm -f "$results/$name.tap" "$results/$name.xml"
	start=$SECONDS
	# Each test has its own Criterion timeout; this bounds the binary.
	timeout --kill-after=10 "$limit" \
		"$bin" --jobs "$jobs" --tap="$results/$name.tap" --xml="$results/$name.xml" \
		</dev/null 2>&1 | tee "$log"
	rc=${PIPESTATUS[0]}
	line=$(grep -a 'Synthesis: Tested:' "$log" | tail -n 1)
	if [[ $line =~ Tested:\ ([0-9]+)\ \|\ Passing:\ ([0-9]+)\ \|\ Failing:\ ([0-9]+) ]]; then
		passed=$((passed + BASH_REMATCH[2]))
		failed=$((failed + BASH_REMATCH[3]))
	else
		echo "$name: no Criterion summary (exit $rc)"
		failed=$((failed + 1))
	fi
	if [[ -f $results/$name.tap ]]; then
		skipped=$((skipped + $(grep -c '# SKIP' "$results/$name.tap")))
	fi
	[[ $rc -ne 0 ]] && bad_exit=1
	echo "$name: exit $rc in $((SECONDS - start)) s"
done

summary="$passed passed, $failed failed"
[[ $skipped -gt 0 ]] && summary="$summary, $skipped skipped"
echo "$summary"
[[ $failed -eq 0 && $bad_exit -eq 0 ]]
