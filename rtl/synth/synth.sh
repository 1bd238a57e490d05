#!/bin/sh
# synth.sh CONFIG LOG SRC... - synthesizes sampan_core with Yosys.
#
# CONFIG is FAMILY_ROWSxCOLS, FAMILY one of xilinx (synth_xilinx for
# UltraScale+, -family xcup) or ice40 (synth_ice40). The full Yosys log goes
# to LOG and the final `stat` report to LOG with .stat for .log. YOSYS names
# the binary (default yosys).
set -eu

if [ $# -lt 3 ]; then
	echo "usage: $0 FAMILY_ROWSxCOLS LOG SRC..." >&2
	exit 2
fi
cfg=$1
log=$2
shift 2

family=${cfg%%_*}
size=${cfg#*_}
rows=${size%x*}
cols=${size#*x}
case $family in
xilinx) synth="synth_xilinx -family xcup -top sampan_core -flatten -noiopad" ;;
ice40) synth="synth_ice40 -dsp -top sampan_core" ;;
*)
	echo "$0: unknown family '$family' (xilinx, ice40)" >&2
	exit 2
	;;
esac
case $rows$cols in
*[!0-9]* | '')
	echo "$0: bad size '$size' (want ROWSxCOLS)" >&2
	exit 2
	;;
esac

stat=${log%.log}.stat
# -qq: the console gets errors only; warnings (mostly block-RAM port
# resizing chatter) stay in the log, and their count is printed below.
${YOSYS:-yosys} -qq -l "$log" -p "
read_verilog -sv $*
chparam -set ROWS $rows -set COLS $cols sampan_core
$synth
tee -q -o $stat stat
"
echo "  $cfg: $(grep -c '^Warning' "$log") warnings (see $log)"
