# build.tcl - sampan_arty bitstream for the Arty A7, Vivado non-project
# batch flow: synthesis, opt/place/phys_opt/route, utilization and timing
# reports, bitstream (and an SPI flash image).
#
#   vivado -mode batch -nojournal -notrace -source rtl/boards/arty/vivado/build.tcl \
#     -tclargs [OPTION VALUE]... [SRC.v...]
#
# Options (all optional):
#   -part PART     xc7a35ticsg324-1L (Arty A7-35T, the default) or
#                  xc7a100tcsg324-1 (A7-100T); -board 35t|100t picks one
#   -clock MHZ     design clock: 100 (the oscillator, the default) or any
#                  whole MHz an MMCM makes from it (75, 50, ...: defines
#                  SAMPAN_ARTY_MMCM and picks MMCM_MULT/MMCM_DIV)
#   -out DIR       outputs (build/arty by default): sampan_arty.bit, .bin,
#                  .mcs, checkpoints, reports/
#   -xdc FILE      constraints (constraints/arty_a7.xdc by default)
#   -generic N=V   a parameter of sampan_arty (ROWS=16, MEM_BYTES=131072...),
#                  repeatable
# Sources default to rtl/*.v, the stream shell and the UART bridge and
# rtl/boards/arty/sampan_arty.v (`make bitstream BOARD=arty` passes the
# list it lints). The run fails (non-zero exit) if timing is not met:
# WNS or WHS below zero after routing.
#
# The procedures only call Vivado when run; `make arty-tcl-check` sources
# this file under plain tclsh with the Vivado commands stubbed out.

set sampan_arty_dir [file dirname [file normalize [info script]]]
set sampan_root [file normalize [file join $sampan_arty_dir .. .. .. ..]]

# Parts by board name.
proc sampan_arty_part {board} {
    switch -- [string tolower $board] {
        35t - a7-35t { return xc7a35ticsg324-1L }
        100t - a7-100t { return xc7a100tcsg324-1 }
        default { error "build.tcl: unknown -board '$board' (35t, 100t)" }
    }
}

# MMCM multiplier and divider for @mhz out of the 100 MHz oscillator: VCO
# 100 * MULT in 600..1200 MHz (tried from the middle of the range out),
# output VCO / DIV exactly @mhz.
proc sampan_arty_mmcm {mhz} {
    foreach mult {9 10 8 11 7 12 6} {
        set vco [expr {100 * $mult}]
        if {$vco % $mhz == 0 && $vco / $mhz <= 128} {
            return [list $mult [expr {$vco / $mhz}]]
        }
    }
    error "build.tcl: no MMCM setting gives exactly $mhz MHz from 100 MHz"
}

# Parses the -tclargs into a dict.
proc sampan_arty_args {argv root} {
    set usage "usage: build.tcl \[-board 35t|100t\] \[-part PART\] \[-clock MHZ\] \[-out DIR\] \[-xdc FILE\] \[-generic NAME=VALUE\]... \[SRC.v...\]"
    set opt [dict create part xc7a35ticsg324-1L clock 100 out [file join $root build arty] \
                 xdc [file join $root constraints arty_a7.xdc] generics {} srcs {}]
    for {set i 0} {$i < [llength $argv]} {incr i} {
        set a [lindex $argv $i]
        if {[string match -* $a]} {
            if {$i + 1 >= [llength $argv]} { error "build.tcl: $a needs a value\n$usage" }
            set v [lindex $argv [incr i]]
            switch -- $a {
                -board { dict set opt part [sampan_arty_part $v] }
                -part { dict set opt part $v }
                -clock {
                    if {![string is integer -strict $v] || $v < 5 || $v > 200} {
                        error "build.tcl: -clock must be a whole MHz in 5..200, not '$v'\n$usage"
                    }
                    dict set opt clock $v
                }
                -out { dict set opt out [file normalize $v] }
                -xdc { dict set opt xdc [file normalize $v] }
                -generic {
                    if {![regexp {^[A-Z_][A-Z0-9_]*=[0-9]+$} $v]} {
                        error "build.tcl: -generic wants NAME=INTEGER, not '$v'\n$usage"
                    }
                    dict lappend opt generics $v
                }
                default { error "build.tcl: unknown option $a\n$usage" }
            }
        } else {
            dict lappend opt srcs [file normalize $a]
        }
    }
    if {[llength [dict get $opt srcs]] == 0} {
        set srcs [lsort [glob -directory [file join $root rtl] *.v]]
        foreach f {sampan_stream_top sampan_stream_engine sampan_stream_mem
                   sampan_uart_rx sampan_uart_tx} {
            lappend srcs [file join $root rtl stream $f.v]
        }
        lappend srcs [file join $root rtl boards arty sampan_arty.v]
        dict set opt srcs $srcs
    }
    foreach f [concat [dict get $opt srcs] [list [dict get $opt xdc]]] {
        if {![file readable $f]} { error "build.tcl: cannot read $f" }
    }
    return $opt
}

# The whole flow; errors abort with a message (Vivado exits non-zero).
proc sampan_arty_build {opt} {
    dict with opt {}
    set rpt [file join $out reports]
    file mkdir $rpt

    set synth_opts [list -top sampan_arty -part $part -flatten_hierarchy rebuilt]
    foreach g $generics { lappend synth_opts -generic $g }
    if {$clock != 100} {
        lassign [sampan_arty_mmcm $clock] mult div
        lappend synth_opts -verilog_define SAMPAN_ARTY_MMCM \
            -generic MMCM_MULT=$mult -generic MMCM_DIV=$div
        puts "sampan: $clock MHz from the MMCM (100 MHz x $mult / $div)"
    }

    read_verilog -sv $srcs
    read_xdc $xdc
    synth_design {*}$synth_opts
    write_checkpoint -force [file join $out post_synth.dcp]
    report_utilization -file [file join $rpt utilization_synth.rpt]

    opt_design
    place_design
    phys_opt_design
    route_design
    write_checkpoint -force [file join $out post_route.dcp]
    report_utilization -file [file join $rpt utilization.rpt]
    report_utilization -hierarchical -file [file join $rpt utilization_hier.rpt]
    report_timing_summary -max_paths 10 -file [file join $rpt timing_summary.rpt]
    report_clock_utilization -file [file join $rpt clock_utilization.rpt]
    report_drc -file [file join $rpt drc.rpt]

    set wns [get_property SLACK [get_timing_paths -max_paths 1 -nworst 1 -setup]]
    set whs [get_property SLACK [get_timing_paths -max_paths 1 -nworst 1 -hold]]
    puts "sampan: $part at $clock MHz: WNS $wns ns, WHS $whs ns"
    if {$wns eq "" || $whs eq "" || $wns < 0 || $whs < 0} {
        error "build.tcl: timing not met at $clock MHz (WNS '$wns' ns, WHS '$whs' ns);\
               see [file join $rpt timing_summary.rpt], or try a slower -clock (e.g. 75)"
    }

    set bit [file join $out sampan_arty.bit]
    write_bitstream -force -bin_file $bit
    # SPI flash image (16 MiB quad-SPI on the Arty A7) for a persistent load.
    write_cfgmem -force -format mcs -size 16 -interface SPIx4 \
        -loadbit "up 0x0 $bit" [file join $out sampan_arty.mcs]
    puts "sampan: wrote $bit (program: rtl/boards/arty/vivado/program.tcl)"
}

# Run by Vivado (which has synth_design); sourcing under tclsh only defines,
# unless the stub check asks for a run.
if {[llength [info commands ::synth_design]] > 0 || [info exists ::sampan_run_stubbed]} {
    sampan_arty_build [sampan_arty_args $::argv $sampan_root]
}
