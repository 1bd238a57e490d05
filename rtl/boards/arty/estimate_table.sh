#!/bin/sh
# estimate_table.sh STAT - prints the Yosys `stat` report of sampan_arty
# (estimate.sh) as used resources against the two Arty A7 parts:
#   xc7a35t:  20 800 LUTs, 41 600 FFs,  90 DSP48E1,  50 BRAM36, 400 Kb LUT RAM
#   xc7a100t: 63 400 LUTs, 126 800 FFs, 240 DSP48E1, 135 BRAM36, 1188 Kb LUT RAM
# (7 Series product table). LUTs used as memory (LUT RAM, shift registers)
# and Yosys's INV cells (a LUT1 each; Vivado folds most of them into their
# neighbours) count toward the LUT total; a RAMB18 counts as half a BRAM36.
set -eu

if [ $# -ne 1 ] || [ ! -f "$1" ]; then
	echo "usage: $0 STAT (the stat report of estimate.sh)" >&2
	exit 2
fi

awk '
	NF == 2 && $2 ~ /^[0-9]+$/ {
		n = $2; c = $1
		if (c ~ /^LUT[1-6]$/ || c == "INV") lut += n
		else if (c ~ /^FD[RSCP]E$/) ff += n
		else if (c ~ /^DSP48/) dsp += n
		else if (c ~ /^RAMB36/) bram += n
		else if (c ~ /^RAMB18/) bram += n / 2
		else if (c ~ /^RAM(32|64)M$/ || c ~ /^RAM(128X1D|256X1S)$/) lutram += 4 * n
		else if (c ~ /^RAM(32|64)X1D$/ || c == "RAM128X1S") lutram += 2 * n
		else if (c ~ /^RAM(32|64)X1S$/ || c ~ /^SRL/) lutram += n
		else if (c == "CARRY4") carry += n
		else if (c ~ /^[IO]BUF/) io += n
	}
	function row(name, used, a35, a100) {
		printf "%-22s %8g %8d %6.1f%% %8d %6.1f%%\n", name, used, a35, 100 * used / a35, a100, 100 * used / a100
	}
	END {
		if (lut + ff == 0) { print "estimate_table: no cells in the report" > "/dev/stderr"; exit 1 }
		printf "%-22s %8s %16s %16s\n", "sampan_arty (Yosys)", "used", "xc7a35t", "xc7a100t"
		row("LUT (logic + memory)", lut + lutram, 20800, 63400)
		row("  of which LUT memory", lutram, 6400, 19008)
		row("FF", ff, 41600, 126800)
		row("DSP48E1", dsp, 90, 240)
		row("BRAM36", bram, 50, 135)
		printf "%-22s %8d\n", "CARRY4", carry
		printf "%-22s %8d\n", "I/O buffers", io
	}
' "$1"
