#!/bin/sh
# timing.sh FAMILY TOP 'NAME=VALUE ...' OUTDIR SRC... - static timing
# estimate of a Yosys-mapped, flattened netlist.
#
#   FAMILY  xcup   synth_xilinx -family xcup (UltraScale+), timing_xcup.tab
#           xc7    synth_xilinx -family xc7 (Artix-7), timing_xc7.tab
#           ice40  timing_ice40.tab (the iCEBreaker build: SRC is its JSON)
#   SRC     the Verilog sources, or one already-mapped netlist (.json from
#           write_json, .il from write_rtlil) of that family, timed as it is
#   TOP     the top module; NAME=VALUE its parameters (chparam)
#
# Steps, all under OUTDIR: (1) synthesis (or the given JSON), each DSP and
# block RAM renamed by its register configuration, the netlist written as
# JSON with the library's port lists; (2) timing_models.awk turns the
# family's delay table into Verilog blackboxes with specify blocks;
# (3) Yosys `sta` on the netlist against those models. Prints the critical
# path (sta's report: arrival in ps at each cell output, the net after it)
# and the Fmax it implies, limited by the slowest internal DSP/BRAM stage.
# A model of logic delays plus a constant routing charge per net: no
# placement, no clock skew, no hold. See rtl/README.md, "Timing".
set -eu

if [ $# -lt 5 ]; then
	echo "usage: $0 xcup|xc7|ice40 TOP 'NAME=VALUE ...' OUTDIR SRC..." >&2
	exit 2
fi
family=$1
top=$2
params=$3
out=$4
shift 4
dir=$(dirname "$0")
yosys=${YOSYS:-yosys}
tab=$dir/timing_$family.tab

chparam=
for p in $params; do
	case $p in
	[A-Z_]*=[0-9]*) chparam="$chparam -chparam ${p%%=*} ${p#*=}" ;;
	*)
		echo "$0: bad parameter '$p' (want NAME=INTEGER)" >&2
		exit 2
		;;
	esac
done

# Renames a primitive by its register configuration so that the delay
# table can time each configuration: BASE__IR_M1_P1 and so on for DSPs,
# BASE__R1/__R0 for block RAMs with/without both output registers.
classify_dsp() {
	for i in R C; do
		sel="t:$1"
		[ $i = R ] && sel="$sel r:AREG!=0 %i r:BREG!=0 %i"
		for m in 0 1; do
			for p in 0 1; do
				# != 0 (set) and %d (not set): JSON netlists hold 1-bit and
				# 32-bit register counts, which = would compare unequal.
				ms=$([ $m = 1 ] && echo %i || echo %d); ps=$([ $p = 1 ] && echo %i || echo %d)
				echo "chtype -set $1__I${i}_M${m}_P$p $sel r:MREG!=0 $ms r:PREG!=0 $ps;"
			done
		done
	done
}
classify_bram() {
	echo "chtype -set $1__R1 t:$1 r:DOA_REG!=0 %i r:DOB_REG!=0 %i; chtype -set $1__R0 t:$1;"
}

case $family in
xcup)
	read="read_verilog -defer -sv $*; hierarchy -check -top $top $chparam"
	synth="synth_xilinx -family xcup -top $top -flatten -noiopad -noclkbuf"
	classify="$(classify_dsp DSP48E2) $(classify_bram RAMB36E2) $(classify_bram RAMB18E2)"
	;;
xc7)
	read="read_verilog -defer -sv $*; hierarchy -check -top $top $chparam"
	synth="synth_xilinx -family xc7 -top $top -flatten -noiopad -noclkbuf"
	classify="$(classify_dsp DSP48E1) $(classify_bram RAMB36E1) $(classify_bram RAMB18E1)"
	;;
ice40)
	read="read_json $1"
	synth="hierarchy -top $top; setattr -mod -unset keep_hierarchy; flatten"
	classify=$(cat "$dir/timing_ice40.ys")
	;;
*)
	echo "$0: unknown family '$family' (xcup, xc7, ice40)" >&2
	exit 2
	;;
esac
[ -f "$tab" ] || { echo "$0: no delay table $tab" >&2; exit 2; }
# A netlist already mapped by the same synthesis (a .json or .il file as the
# only SRC) is timed as it is, without synthesizing again.
case $1 in
*.json) read="read_json $1"; synth="hierarchy -top $top; setattr -mod -unset keep_hierarchy; flatten" ;;
*.il) read="read_rtlil $1"; synth="hierarchy -top $top; setattr -mod -unset keep_hierarchy; flatten" ;;
esac

mkdir -p "$out"
# (1) The mapped netlist, primitives renamed by configuration; the full
# JSON keeps the library's blackboxes (port lists), the top one is timed.
$yosys -qq -l "$out/synth.log" -p "
$read
$synth
$classify
tee -q -o $out/synth.stat stat
write_json $out/netlist.json
delete =A:blackbox
write_json $out/top.json
"
# (2) The models.
awk -f "$dir/timing_models.awk" -v top="$top" -v models="$out/models.v" -v script="$out/unset.ys" \
	-v intern="$out/internal.txt" "$tab" "$out/netlist.json"
# (3) Static timing.
$yosys -q -l "$out/sta.log" -p "
read_verilog -specify -lib $out/models.v
read_json $out/top.json
hierarchy -top $top
script $out/unset.ys
sta
" >/dev/null

# The report: sta's critical path, then Fmax = 1 / max(path, internal).
awk -v top="$top" -v family="$family" -v intern="$out/internal.txt" '
/^Latest arrival time in/ { ps = $NF; sub(/:/, "", ps); on = 1; next }
on && /^$/ { on = 0 }
on && /^Arrival histogram/ { on = 0 }
on { path[++n] = $0 }
END {
	if (ps == "") { print "timing.sh: sta found no timing path" > "/dev/stderr"; exit 1 }
	printf "%s (%s): critical path %d ps, %d lines (arrival ps, cell type.from->to, net):\n", top, family, ps, n
	for (i = 1; i <= n; i++) print "  " path[i]
	worst = ps + 0; wname = "the path above"
	while ((getline line < intern) > 0) {
		split(line, f, " ")
		printf "  internal stage of %s (%d cells): %d ps\n", f[1], f[2], f[3]
		if (f[3] + 0 > worst) { worst = f[3] + 0; wname = f[1] " internal stage" }
	}
	printf "  Fmax %.0f MHz (limited by %s, %d ps)\n", 1e6 / worst, wname, worst
}' "$out/sta.log" | tee "$out/report.txt"
