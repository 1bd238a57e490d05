# program.tcl - loads sampan_arty.bit into the Arty A7 over its USB-JTAG
# (FT2232H channel A) with the Vivado hardware manager.
#
#   vivado -mode batch -nojournal -notrace -source rtl/boards/arty/vivado/program.tcl \
#     -tclargs [BIT] [-flash MCS]
#
# BIT defaults to build/arty/sampan_arty.bit. With -flash MCS the image is
# written to the board's quad-SPI flash instead (it then loads at power-up);
# the flash part is the 16 MiB s25fl128sxxxxxx0 of Arty A7 Rev. D/E boards:
# set SAMPAN_ARTY_FLASH to another part name of `get_cfgmem_parts` if your
# board carries a different one. `make program BOARD=arty` runs the first
# form. Needs the hw_server that comes with Vivado (started here if none
# runs) and the Digilent cable drivers installed.

set sampan_root [file normalize [file join [file dirname [file normalize [info script]]] .. .. .. ..]]

proc sampan_program_args {argv root} {
    set opt [dict create bit [file join $root build arty sampan_arty.bit] flash {}]
    for {set i 0} {$i < [llength $argv]} {incr i} {
        set a [lindex $argv $i]
        if {$a eq "-flash"} {
            if {$i + 1 >= [llength $argv]} { error "program.tcl: -flash needs an .mcs file" }
            dict set opt flash [file normalize [lindex $argv [incr i]]]
        } elseif {[string match -* $a]} {
            error "program.tcl: unknown option $a (usage: program.tcl \[BIT\] \[-flash MCS\])"
        } else {
            dict set opt bit [file normalize $a]
        }
    }
    set f [expr {[dict get $opt flash] ne "" ? [dict get $opt flash] : [dict get $opt bit]}]
    if {![file readable $f]} {
        error "program.tcl: cannot read $f (build it first: make bitstream BOARD=arty)"
    }
    return $opt
}

proc sampan_program {opt} {
    dict with opt {}
    open_hw_manager
    connect_hw_server -allow_non_jtag
    set targets [get_hw_targets]
    if {[llength $targets] == 0} {
        error "program.tcl: no JTAG target: is the Arty plugged in (USB J10) and the cable driver installed?"
    }
    open_hw_target [lindex $targets 0]
    set dev [lindex [get_hw_devices xc7a*] 0]
    if {$dev eq ""} {
        error "program.tcl: no xc7a device on [lindex $targets 0]"
    }
    current_hw_device $dev
    refresh_hw_device -update_hw_probes false $dev
    if {$flash eq ""} {
        set_property PROGRAM.FILE $bit $dev
        program_device $dev
        puts "sampan: programmed $dev with $bit"
    } else {
        set part s25fl128sxxxxxx0-spi-x1_x2_x4
        if {[info exists ::env(SAMPAN_ARTY_FLASH)]} { set part $::env(SAMPAN_ARTY_FLASH) }
        create_hw_cfgmem -hw_device $dev [lindex [get_cfgmem_parts $part] 0]
        set mem [get_property PROGRAM.HW_CFGMEM $dev]
        set_property PROGRAM.FILES [list $flash] $mem
        set_property PROGRAM.ADDRESS_RANGE use_file $mem
        set_property PROGRAM.ERASE 1 $mem
        set_property PROGRAM.CFG_PROGRAM 1 $mem
        set_property PROGRAM.VERIFY 1 $mem
        create_hw_bitstream -hw_device $dev [get_property PROGRAM.HW_CFGMEM_BITFILE $dev]
        program_hw_devices $dev
        program_hw_cfgmem -hw_cfgmem $mem
        boot_hw_device $dev
        puts "sampan: wrote $flash to the flash of $dev and rebooted it"
    }
    close_hw_target
    disconnect_hw_server
    close_hw_manager
}

if {[llength [info commands ::open_hw_manager]] > 0 || [info exists ::sampan_run_stubbed]} {
    sampan_program [sampan_program_args $::argv $sampan_root]
}
