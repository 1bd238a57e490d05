#!/bin/sh
# estimate.sh LOG GENERICS SRC... - Yosys synth_xilinx (-family xc7) of the
# whole Arty board top, sampan_arty, as a resource estimate where Vivado is
# not installed. GENERICS is a space-separated list of NAME=VALUE parameters
# of sampan_arty (may be empty). The full log goes to LOG, the final `stat`
# report to LOG with .stat for .log; estimate_table.sh prints it against the
# parts. YOSYS names the binary (default yosys).
#
# No MMCM (the 100 MHz oscillator clocks the design directly) and no timing:
# Yosys does not place or route. Vivado maps more tightly, so expect it to
# report fewer LUTs than this.
set -eu

if [ $# -lt 3 ]; then
	echo "usage: $0 LOG 'NAME=VALUE ...' SRC..." >&2
	exit 2
fi
log=$1
generics=$2
shift 2

chparams=
for g in $generics; do
	case $g in
	[A-Z_]*=[0-9]*) chparams="$chparams -chparam ${g%%=*} ${g#*=}" ;;
	*)
		echo "$0: bad parameter '$g' (want NAME=INTEGER)" >&2
		exit 2
		;;
	esac
done

stat=${log%.log}.stat
# -qq: errors only on the console; the warnings (block-RAM port resizing
# chatter) stay in the log.
if ! ${YOSYS:-yosys} -qq -l "$log" -p "
read_verilog -defer -sv $*
hierarchy -check -top sampan_arty $chparams
synth_xilinx -family xc7 -top sampan_arty -flatten
tee -q -o $stat stat
"; then
	# Yosys 0.23 reports a failed parameter check only as an unresolved
	# $error task; Icarus prints the check's own message.
	if grep -q "resolve task name .\$error" "$log" && command -v iverilog >/dev/null; then
		vvp=${log%.log}.vvp
		pflags=
		for g in $generics; do pflags="$pflags -Psampan_arty.$g"; done
		if iverilog -g2012 -Wno-timescale -s sampan_arty $pflags -o "$vvp" "$@" 2>/dev/null; then
			vvp -n "$vvp" 2>&1 | grep -i error >&2 || true
		fi
		rm -f "$vvp"
		echo "$0: illegal parameters: $generics" >&2
	fi
	exit 1
fi
echo "  estimate: $(grep -c '^Warning' "$log") warnings (see $log)"
