#!/bin/sh
# table.sh LOG... - prints one resource line per Yosys synthesis run (the
# .stat report next to each LOG written by synth.sh): LUTs, flip-flops,
# DSP blocks, block RAMs and LUT RAM cells, by technology cell name.
set -eu

printf '%-16s %8s %8s %6s %8s %8s\n' config LUT FF DSP BRAM LUTRAM
for log in "$@"; do
	stat=${log%.log}.stat
	cfg=$(basename "${log%.log}")
	if [ ! -f "$stat" ]; then
		echo "$0: missing $stat" >&2
		exit 1
	fi
	# Cell lines look like "     LUT6        1234"; RAMB18 counts as half a
	# RAMB36 (Xilinx), SB_RAM40_4K as one block (iCE40).
	awk -v cfg="$cfg" '
		NF == 2 && $2 ~ /^[0-9]+$/ {
			n = $2; c = $1
			if (c ~ /^LUT[1-6]$/ || c == "SB_LUT4") lut += n
			else if (c ~ /^FD[RSCP]E$/ || c ~ /^SB_DFF/) ff += n
			else if (c ~ /^DSP48/ || c == "SB_MAC16") dsp += n
			else if (c ~ /^RAMB36/ || c == "SB_RAM40_4K" || c == "SB_SPRAM256KA") bram += n
			else if (c ~ /^RAMB18/) bram += n / 2
			else if (c ~ /^RAM(32|64|128|256)(M|X1[DS])/) lutram += n
		}
		END { printf "%-16s %8d %8d %6d %8g %8d\n", cfg, lut, ff, dsp, bram, lutram }
	' "$stat"
done
