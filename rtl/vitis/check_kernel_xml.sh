#!/usr/bin/env bash
# check_kernel_xml.sh - checks the Vitis kernel description without Vitis:
#   1. kernel.xml is well-formed XML (xmllint);
#   2. its argument offsets and sizes are the registers of
#      rtl/ARCHITECTURE.md (CMD_ADDR_LO/HI, CMD_COUNT), its control range
#      and gmem data width those of sampan_kernel.v, its ports exist there;
#   3. its vlnv is the one package_xo.tcl packages;
#   4. package_xo.tcl parses and runs under tclsh with every Vivado command
#      stubbed out, and the registers it declares match kernel.xml.
# What it cannot check: that Vivado accepts the ipx:: calls and v++ links.
#
# usage: check_kernel_xml.sh [DIR]   (DIR: rtl/vitis, the default)
set -euo pipefail

dir=${1:-rtl/vitis}
xml=$dir/kernel.xml
top=$dir/sampan_kernel.v
tcl=$dir/package_xo.tcl
arch=$(dirname "$dir")/ARCHITECTURE.md
fail=0

bad() {
	echo "check_kernel_xml: $*" >&2
	fail=1
}

command -v xmllint >/dev/null || { echo "check_kernel_xml: xmllint missing (apt install libxml2-utils)" >&2; exit 1; }
command -v tclsh >/dev/null || { echo "check_kernel_xml: tclsh missing (apt install tcl)" >&2; exit 1; }

# 1. well-formed
xmllint --noout "$xml" || exit 1

xp() { xmllint --xpath "string($1)" "$xml"; }
hex() { printf '%d' "$1"; }

# 2. offsets against the register map: "| 0x10   | CMD_ADDR_LO |"
reg() { awk -F'|' -v n="$1" '{ gsub(/ /, "", $2); gsub(/ /, "", $3) } $3 == n { print $2; exit }' "$arch"; }
lo=$(reg CMD_ADDR_LO) hi=$(reg CMD_ADDR_HI) count=$(reg CMD_COUNT)
[[ -n $lo && -n $hi && -n $count ]] || bad "registers CMD_ADDR_LO/HI, CMD_COUNT not found in $arch"
[[ $(hex "$(xp '//arg[@name="cmd_addr"]/@offset')") -eq $(hex "$lo") ]] ||
	bad "cmd_addr offset $(xp '//arg[@name="cmd_addr"]/@offset'), ARCHITECTURE.md has CMD_ADDR_LO at $lo"
[[ $(hex "$hi") -eq $(($(hex "$lo") + 4)) && $(hex "$(xp '//arg[@name="cmd_addr"]/@size')") -eq 8 ]] ||
	bad "cmd_addr must be 8 bytes covering CMD_ADDR_LO ($lo) and CMD_ADDR_HI ($hi)"
[[ $(hex "$(xp '//arg[@name="cmd_count"]/@offset')") -eq $(hex "$count") ]] ||
	bad "cmd_count offset $(xp '//arg[@name="cmd_count"]/@offset'), ARCHITECTURE.md has CMD_COUNT at $count"
[[ $(xp '//arg[@name="cmd_addr"]/@port') == m_axi_gmem && $(xp '//arg[@name="cmd_addr"]/@addressQualifier') == 1 ]] ||
	bad "cmd_addr must be a pointer (addressQualifier 1) on m_axi_gmem"
[[ $(xp '//arg[@name="cmd_addr"]/@id') == 0 && $(xp '//arg[@name="cmd_count"]/@id') == 1 ]] ||
	bad "argument ids must be cmd_addr 0, cmd_count 1 (the xrt backend sets them so)"
[[ $(xp '//kernel/@hwControlProtocol') == ap_ctrl_hs ]] || bad "hwControlProtocol must be ap_ctrl_hs"

# ... and against the kernel top
param() { sed -n "s/^ *parameter $1 *= *\([0-9]*\).*/\1/p" "$top" | head -n 1; }
for port in $(xmllint --xpath '//port/@name' "$xml" | sed 's/ *name="\([^"]*\)"/\1 /g'); do
	grep -q "\b${port}_awvalid\b" "$top" || bad "port $port of kernel.xml is not in $top"
done
[[ $(xp '//port[@name="m_axi_gmem"]/@dataWidth') -eq $(param C_M_AXI_GMEM_DATA_WIDTH) ]] ||
	bad "m_axi_gmem dataWidth differs from C_M_AXI_GMEM_DATA_WIDTH of $top"
[[ $(hex "$(xp '//port[@name="s_axi_control"]/@range')") -eq $((1 << $(param C_S_AXI_CONTROL_ADDR_WIDTH))) ]] ||
	bad "s_axi_control range differs from 2^C_S_AXI_CONTROL_ADDR_WIDTH of $top"
[[ $(xp '//kernel/@name') == "$(sed -n 's/^module \([a-z_]*\).*/\1/p' "$top" | sed 's/_kernel$//')" ]] ||
	bad "kernel name $(xp '//kernel/@name') is not the module name of $top without _kernel"

# 3 and 4. package_xo.tcl under tclsh with Vivado stubbed: every unknown
# command is logged; `ipx::add_register NAME` and the set_property calls
# on it are collected into "NAME OFFSET SIZE" lines.
regs=$(tclsh <<EOF
set ::argv [list out.xo /nonexistent/sampan-check kernel.xml 16 16 300 a.v b.v]
set ::sampan_run_stubbed 1
set ::log {}
set ::last_reg {}
array set ::regs {}
proc unknown {cmd args} {
    lappend ::log [concat \$cmd \$args]
    if {\$cmd eq "ipx::add_register"} {
        set ::last_reg [lindex \$args end-1]
        return "reg:\$::last_reg"
    }
    if {\$cmd eq "set_property" && [string match reg:* [lindex \$args end]]} {
        set ::regs([string range [lindex \$args end] 4 end],[lindex \$args 0]) [lindex \$args 1]
    }
    if {\$cmd eq "ipx::get_user_parameters"} { return {} }
    return "handle:\$cmd"
}
# The script must not touch the file system outside its work dir.
rename file real_file
proc file {sub args} {
    if {\$sub in {delete mkdir}} { lappend ::log [concat file \$sub \$args]; return }
    return [real_file \$sub {*}\$args]
}
source {$tcl}
foreach cmd {ipx::package_project package_xo ipx::associate_bus_interfaces ipx::check_integrity} {
    if {[lsearch -glob \$::log "\$cmd *"] < 0} { puts stderr "not called: \$cmd"; exit 1 }
}
if {[lsearch -glob \$::log "package_xo * -kernel_name sampan *"] < 0} { puts stderr "package_xo not for kernel sampan"; exit 1 }
if {[lsearch -glob \$::log "set_property file_type SystemVerilog *"] < 0} { puts stderr "sources not typed SystemVerilog (\\\$error checks)"; exit 1 }
foreach {name offset size desc} [sampan_registers] {
    puts "\$name \$::regs(\$name,address_offset) \$::regs(\$name,size)"
}
EOF
) || { bad "package_xo.tcl does not run under tclsh with Vivado stubbed"; regs=""; }
want_addr="cmd_addr $(xp '//arg[@name="cmd_addr"]/@offset') $(($(hex "$(xp '//arg[@name="cmd_addr"]/@size')") * 8))"
want_count="cmd_count $(xp '//arg[@name="cmd_count"]/@offset') $(($(hex "$(xp '//arg[@name="cmd_count"]/@size')") * 8))"
norm() { while read -r n o b; do [[ -n $n ]] && printf '%s %d %d\n' "$n" "$o" "$b"; done; }
for want in "$want_addr" "$want_count"; do
	grep -qxF "$(echo "$want" | norm)" <(echo "$regs" | norm) ||
		bad "package_xo.tcl does not declare '$want' (it declares: $(echo "$regs" | tr '\n' ';'))"
done
vlnv=$(xp '//kernel/@vlnv')
IFS=: read -r vendor library name version <<<"$vlnv"
grep -q -- "-vendor $vendor -library $library" "$tcl" && grep -q "set_property name $name " "$tcl" &&
	grep -q "set_property version $version " "$tcl" ||
	bad "vlnv $(xp '//kernel/@vlnv') differs from what package_xo.tcl packages"

if [[ $fail -eq 0 ]]; then
	echo "check_kernel_xml: kernel.xml well-formed; cmd_addr $lo (64-bit, m_axi_gmem), cmd_count $count match ARCHITECTURE.md, sampan_kernel.v and package_xo.tcl (run under tclsh, Vivado stubbed)"
fi
exit $fail
