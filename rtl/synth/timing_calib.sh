#!/bin/sh
# timing_calib.sh REPORT NEXTPNR_LOG - puts the timing model's estimate for
# the iCEBreaker netlist (REPORT, from timing.sh ice40) next to the Fmax
# nextpnr-ice40 achieved after placing and routing the same netlist
# (NEXTPNR_LOG), with nextpnr's split of its critical path into cell and
# routing delay, and prints the model's error.
set -eu
if [ $# -ne 2 ]; then
	echo "usage: $0 REPORT NEXTPNR_LOG" >&2
	exit 2
fi
for f in "$1" "$2"; do
	[ -s "$f" ] || { echo "$0: $f missing or empty" >&2; exit 1; }
done
model=$(sed -n 's/^  Fmax \([0-9.]*\) MHz.*/\1/p' "$1")
# The last report is the routed one.
pnr=$(grep 'Max frequency for clock' "$2" | tail -1 | sed -n 's/.*: *\([0-9.]*\) MHz.*/\1/p')
[ -n "$model" ] && [ -n "$pnr" ] || { echo "$0: no Fmax in $1 or $2" >&2; exit 1; }
# "Info: 12.3 ns logic, 40.1 ns routing" after the critical path listing.
split=$(awk '/Critical path report for clock/ { on = 1 } on && /ns logic, .* ns routing/ { sub(/^Info: */, ""); s = $0; on = 0 } END { print s }' "$2")
echo "iCE40 calibration (iCEBreaker netlist):"
echo "  timing model     $model MHz"
echo "  nextpnr-ice40    $pnr MHz (routed${split:+; $split})"
awk -v m="$model" -v p="$pnr" 'BEGIN { printf "  model error      %+.0f%% in Fmax (model / nextpnr - 1)\n", 100 * (m / p - 1) }'
