#!/usr/bin/env bash
# check_tcl.sh - checks build.tcl and program.tcl without Vivado: each runs
# under plain tclsh with every Vivado command stubbed (logged, returning a
# handle), and the log must show the flow this board needs:
#   1. default: synth_design -top sampan_arty -part xc7a35ticsg324-1L, then
#      opt/place/phys_opt/route, utilization and timing reports, bitstream;
#   2. -board 100t -clock 75: the 100T part, SAMPAN_ARTY_MMCM with an MMCM
#      setting that gives 75 MHz;
#   3. negative slack after routing: the script fails and writes no bitstream;
#   4. bad options fail with a message;
#   5. program.tcl: program_device with the bitstream; a missing file fails;
#   6. constraints/arty_a7.xdc parses, pins every port of sampan_arty.v once
#      (LVCMOS33, the Digilent pins) and clocks clk100 at 10 ns.
# What it cannot check: that Vivado accepts the commands and options.
#
# usage: check_tcl.sh [DIR]   (DIR: rtl/boards/arty/vivado, the default)
set -euo pipefail

dir=${1:-rtl/boards/arty/vivado}
command -v tclsh >/dev/null || { echo "check_tcl: tclsh missing (apt install tcl)" >&2; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail=0
bad() {
	echo "check_tcl: $*" >&2
	fail=1
}

# run SCRIPT SLACK ARGS...: sources SCRIPT with ARGS as -tclargs and the
# Vivado commands stubbed (get_property SLACK returns SLACK for the first,
# setup, query and 0.05 for the hold one after it); prints the
# command log, one command per line, then "EXIT <0|1> <error message>".
run() {
	local script=$1 slack=$2
	shift 2
	tclsh <<EOF
set ::argv [list $*]
set ::sampan_run_stubbed 1
set ::slacks [list $slack 0.05]
proc unknown {cmd args} {
    puts [concat \$cmd \$args]
    if {\$cmd eq "get_property" && [lindex \$args 0] eq "SLACK"} {
        set s [lindex \$::slacks 0]
        set ::slacks [lrange \$::slacks 1 end]
        return \$s
    }
    if {\$cmd eq "get_hw_devices"} { return xc7a35t_0 }
    if {\$cmd eq "get_hw_targets"} { return localhost/xilinx_tcf/Digilent/0 }
    return "handle:\$cmd"
}
if {[catch {source {$script}} msg]} {
    puts "EXIT 1 [string map {\n { }} \$msg]"
} else {
    puts "EXIT 0"
}
EOF
}

# in_order LOG PATTERN...: each PATTERN (grep -E) matches a line after the
# line the previous one matched.
in_order() {
	local log=$1 line=0 n
	shift
	for pat in "$@"; do
		n=$(tail -n +$((line + 1)) <<<"$log" | grep -n -m1 -E -- "$pat" | cut -d: -f1) || true
		[[ -n $n ]] || { echo "$pat"; return 1; }
		line=$((line + n))
	done
}

out=$tmp/out

# 1. default flow
log=$(run "$dir/build.tcl" 1.234 -out "$out")
grep -q '^EXIT 0' <<<"$log" || bad "default run failed: $(grep '^EXIT' <<<"$log")"
missing=$(in_order "$log" '^read_verilog -sv .*sampan_arty\.v' '^read_xdc .*constraints/arty_a7\.xdc' \
	'^synth_design .*-top sampan_arty .*-part xc7a35ticsg324-1L' '^opt_design' '^place_design' \
	'^phys_opt_design' '^route_design' '^report_utilization' '^report_timing_summary' \
	'^get_property SLACK' '^write_bitstream .*sampan_arty\.bit' '^write_cfgmem') ||
	bad "default run: no '$missing' in order"
grep -q 'SAMPAN_ARTY_MMCM' <<<"$log" && bad "default run (100 MHz) must not use the MMCM"
for f in sampan_stream_top sampan_stream_mem sampan_stream_engine sampan_uart_rx sampan_uart_tx sampan_core; do
	grep -q "^read_verilog .*/$f\.v" <<<"$log" || bad "default sources lack $f.v"
done
[[ -d $out/reports ]] || bad "default run made no $out/reports"

# 2. 100T, 75 MHz through the MMCM
log=$(run "$dir/build.tcl" 0.5 -board 100t -clock 75 -generic ROWS=8 -out "$out")
grep -q '^EXIT 0' <<<"$log" || bad "100t/75 MHz run failed: $(grep '^EXIT' <<<"$log")"
syn=$(grep '^synth_design' <<<"$log" || true)
[[ $syn == *"-part xc7a100tcsg324-1"* ]] || bad "-board 100t: synth_design has no -part xc7a100tcsg324-1: $syn"
[[ $syn == *"-verilog_define SAMPAN_ARTY_MMCM"* ]] || bad "-clock 75: no SAMPAN_ARTY_MMCM define: $syn"
[[ $syn == *"-generic ROWS=8"* ]] || bad "-generic ROWS=8 not passed: $syn"
mult=$(sed -n 's/.*-generic MMCM_MULT=\([0-9]*\).*/\1/p' <<<"$syn")
div=$(sed -n 's/.*-generic MMCM_DIV=\([0-9]*\).*/\1/p' <<<"$syn")
if [[ -z $mult || -z $div ]] || ((100 * mult != 75 * div || 100 * mult < 600 || 100 * mult > 1200)); then
	bad "-clock 75: MMCM_MULT '$mult' / MMCM_DIV '$div' do not give 75 MHz with a 600..1200 MHz VCO"
fi

# 3. timing not met
log=$(run "$dir/build.tcl" -0.125 -out "$out")
grep -q '^EXIT 1 .*timing not met' <<<"$log" || bad "negative slack did not fail the run: $(grep '^EXIT' <<<"$log")"
grep -q '^write_bitstream' <<<"$log" && bad "negative slack still wrote a bitstream"

# 4. bad options
for args in "-clock fast" "-board 50t" "-generic rows=8" "-frobnicate 1" "-out"; do
	log=$(run "$dir/build.tcl" 1 $args)
	grep -q '^EXIT 1 build.tcl: ' <<<"$log" || bad "'$args' was accepted: $(grep '^EXIT' <<<"$log")"
	grep -q '^synth_design' <<<"$log" && bad "'$args' still ran synthesis"
done

# 5. program.tcl
touch "$tmp/x.bit"
log=$(run "$dir/program.tcl" 0 "$tmp/x.bit")
grep -q '^EXIT 0' <<<"$log" || bad "program.tcl failed: $(grep '^EXIT' <<<"$log")"
missing=$(in_order "$log" '^open_hw_manager' '^open_hw_target' "^set_property PROGRAM.FILE $tmp/x.bit" \
	'^program_device') || bad "program.tcl: no '$missing' in order"
log=$(run "$dir/program.tcl" 0 "$tmp/none.bit")
grep -q '^EXIT 1 program.tcl: cannot read' <<<"$log" || bad "program.tcl accepted a missing bitstream"
touch "$tmp/x.mcs"
log=$(run "$dir/program.tcl" 0 -flash "$tmp/x.mcs")
missing=$(in_order "$log" '^create_hw_cfgmem' '^program_hw_cfgmem') || bad "program.tcl -flash: no '$missing'"

# 6. the constraints against the top's ports
root=$(cd "$dir/../../../.." && pwd)
xdc=$root/constraints/arty_a7.xdc
top=$root/rtl/boards/arty/sampan_arty.v
pins=$(tclsh <<EOF
proc get_ports {p} { return [list ports \$p] }
proc get_cells {args} { return cells }
proc current_design {} { return design }
proc create_clock {args} { puts "clock \$args" }
proc set_false_path {args} {}
proc set_property {args} {
    if {[lindex \$args 0] ne "-dict"} { return }
    lassign \$args - d obj
    if {[lindex \$obj 0] ne "ports"} { return }
    foreach p [lindex \$obj 1] { puts "pin \$p [dict get \$d PACKAGE_PIN] [dict get \$d IOSTANDARD]" }
}
source {$xdc}
EOF
) || bad "$xdc does not parse under tclsh"
ports=$(sed -n 's/^ *\(input\|output\) *wire *\(\[\([0-9]*\):0\]\)\? *\([a-z0-9_]*\).*/\4 \3/p' "$top" |
	while read -r name msb; do
		if [[ -n $msb ]]; then for ((b = 0; b <= msb; b++)); do echo "$name[$b]"; done; else echo "$name"; fi
	done)
[[ -n $ports ]] || bad "no ports found in $top"
for p in $ports; do
	n=$(grep -cF "pin $p " <<<"$pins" || true)
	[[ $n -eq 1 ]] || bad "port $p is pinned $n times in $xdc"
done
declare -A want=([clk100]=E3 [ck_rst_n]=C2 [uart_txd_in]=A9 [uart_rxd_out]=D10
	[led[0]]=H5 [led[1]]=J5 [led[2]]=T9 [led[3]]=T10)
for p in "${!want[@]}"; do
	grep -qxF "pin $p ${want[$p]} LVCMOS33" <<<"$pins" || bad "$xdc: $p is not on ${want[$p]} (LVCMOS33)"
done
[[ $(grep -c "^pin " <<<"$pins") -eq ${#want[@]} ]] || bad "$xdc pins $(grep -c "^pin " <<<"$pins") ports, want the ${#want[@]} of the top"
[[ -z $(awk '$1 == "pin" { print $3 }' <<<"$pins" | sort | uniq -d) ]] || bad "$xdc uses a pin twice"
grep -q '^clock .*-period 10.000 .*clk100' <<<"$pins" || bad "$xdc: no 10 ns clock on clk100"

if ((fail == 0)); then
	echo "check_tcl: build.tcl and program.tcl run under tclsh with Vivado stubbed (flow order, parts, MMCM, timing gate, options, programming); arty_a7.xdc pins every port (Vivado itself not run)"
fi
exit $fail
