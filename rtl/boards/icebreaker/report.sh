#!/bin/sh
# report.sh DIR FREQ_MHZ [failed] - prints the iCEBreaker build's
# utilization and achieved Fmax against the target from the nextpnr log in
# DIR, and fails (exit 1) when the clock is not met or the log is
# incomplete. With `failed` (nextpnr stopped), prints what Yosys mapped
# against the UP5K's resources and nextpnr's error instead.
set -eu
if [ $# -lt 2 ] || [ $# -gt 3 ]; then
	echo "usage: $0 DIR FREQ_MHZ [failed]" >&2
	exit 2
fi
dir=$1
target=$2
log=$dir/nextpnr.log
bin=$dir/sampan.bin

if [ "${3:-}" = failed ]; then
	stat=$dir/yosys.stat
	cells() { awk -v c="$1" '$1 == c { n = $2 } END { print n + 0 }' "$stat"; }
	luts=$(cells SB_LUT4)
	ffs=$(awk '$1 ~ /^SB_DFF/ { n += $2 } END { print n + 0 }' "$stat")
	echo "bitstream-icebreaker: nextpnr-ice40 failed (full log: $log):" >&2
	grep -E '^ERROR' "$log" | tail -3 | sed 's/^/  /' >&2 || true
	echo "  packed for the UP5K (used / available):" >&2
	grep -E '^Info:[[:space:]]+(ICESTORM_LC|ICESTORM_RAM|ICESTORM_DSP|ICESTORM_SPRAM|SB_IO):' "$log" |
		sed 's/^Info:[[:space:]]*/    /' >&2 || true
	echo "  Yosys mapped:" >&2
	printf '    %-10s %s\n' SB_LUT4 "$luts" "flip-flops" "$ffs" SB_CARRY "$(cells SB_CARRY)" \
		SB_MAC16 "$(cells SB_MAC16)" SB_RAM40_4K "$(cells SB_RAM40_4K)" \
		SB_SPRAM256KA "$(cells SB_SPRAM256KA)" >&2
	exit 1
fi
if [ ! -s "$log" ] || [ ! -s "$bin" ]; then
	echo "bitstream-icebreaker: $log or $bin missing" >&2
	exit 1
fi

# "Info:            ICESTORM_LC:  3765/ 5280    71%" (the last report: after routing)
util() {
	awk -v cell="$1" '$2 == cell":" { used = $3; sub("/", "", used); total = $4 } \
		END { if (used == "") print "?"; else printf "%s / %s (%d%%)", used, total, 100 * used / total }' "$log"
}
# "Info: Max frequency for clock 'CLK$SB_IO_IN_$glb_clk': 31.46 MHz (PASS at 12.00 MHz)"
fmax_line=$(grep "Max frequency for clock" "$log" | tail -1 || true)
fmax=$(printf '%s\n' "$fmax_line" | sed -n 's/.*: *\([0-9.]*\) MHz (\(PASS\|FAIL\).*/\1/p')
verdict=$(printf '%s\n' "$fmax_line" | sed -n 's/.*(\(PASS\|FAIL\) at.*/\1/p')

echo "iCEBreaker (iCE40UP5K-SG48): $bin ($(wc -c <"$bin") bytes)"
printf '  %-22s %s\n' "logic cells (LUT4+FF)" "$(util ICESTORM_LC)"
printf '  %-22s %s\n' "SB_MAC16 (DSP)" "$(util ICESTORM_DSP)"
printf '  %-22s %s\n' "EBR (4 kbit RAM)" "$(util ICESTORM_RAM)"
printf '  %-22s %s\n' "SPRAM (256 kbit)" "$(util ICESTORM_SPRAM)"
printf '  %-22s %s\n' "IO" "$(util SB_IO)"
printf '  %-22s %s\n' "global buffers" "$(util SB_GB)"
printf '  %-22s %s MHz achieved, target %s MHz: %s\n' "Fmax" "${fmax:-?}" "$target" "${verdict:-?}"
if [ "$verdict" != PASS ]; then
	echo "bitstream-icebreaker: timing not met (see $log)" >&2
	exit 1
fi
