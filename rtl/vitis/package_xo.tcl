# package_xo.tcl - packages sampan_kernel (rtl/vitis/sampan_kernel.v and
# the core under rtl/) as a Vitis RTL kernel object, sampan.xo.
#
#   vivado -mode batch -nojournal -nolog -source rtl/vitis/package_xo.tcl \
#     -tclargs XO_PATH WORK_DIR KERNEL_XML ROWS COLS CLOCK_MHZ SRC.v...
#
# (`make xo` runs it.) Steps: a throw-away project with the sources, an IP
# packaged from it (ipx::package_project), the kernel interfaces made
# explicit (clock association of s_axi_control and m_axi_gmem, the
# register map of rtl/ARCHITECTURE.md with cmd_addr bound to m_axi_gmem,
# the sources typed SystemVerilog for their $error elaboration checks,
# the Vitis kernel properties), then package_xo with kernel.xml.
#
# The procedures only call Vivado when run; check_kernel_xml.sh sources
# this file under plain tclsh with the Vivado commands stubbed out, to
# check that it parses and that the registers it declares match
# kernel.xml.

# The registers the IP declares: name, offset, size in bits, description.
# Offsets and sizes are those of rtl/ARCHITECTURE.md and kernel.xml.
proc sampan_registers {} {
    return {
        CTRL      0x000 32 {ap_start, ap_done, ap_idle, ap_ready, auto_restart}
        GIER      0x004 32 {global interrupt enable}
        IP_IER    0x008 32 {interrupt enable: done, ready}
        IP_ISR    0x00C 32 {interrupt status: done, ready (toggle on write)}
        cmd_addr  0x010 64 {card address of the command list}
        cmd_count 0x018 32 {number of 16-byte commands}
    }
}

# Parses the -tclargs of the script into a dict; errors name the usage.
proc sampan_parse_args {argv} {
    set usage "usage: package_xo.tcl XO_PATH WORK_DIR KERNEL_XML ROWS COLS CLOCK_MHZ SRC.v..."
    if {[llength $argv] < 7} {
        error $usage
    }
    lassign $argv xo work xml rows cols mhz
    foreach {what value} [list ROWS $rows COLS $cols CLOCK_MHZ $mhz] {
        if {![string is integer -strict $value] || $value < 1} {
            error "package_xo.tcl: $what must be a positive integer, not '$value'\n$usage"
        }
    }
    return [dict create xo $xo work $work xml $xml rows $rows cols $cols mhz $mhz \
                srcs [lrange $argv 6 end]]
}

# Declares the register map on the s_axi_control memory map of @core.
proc sampan_add_registers {core} {
    set map [ipx::add_memory_map -quiet s_axi_control $core]
    set_property slave_memory_map_ref s_axi_control \
        [ipx::get_bus_interfaces -of_objects $core s_axi_control]
    set block [ipx::add_address_block -quiet reg0 $map]
    set_property range 0x1000 $block
    foreach {name offset size description} [sampan_registers] {
        set reg [ipx::add_register -quiet $name $block]
        set_property address_offset $offset $reg
        set_property size $size $reg
        set_property description $description $reg
    }
    # The pointer argument: Vitis connects the buffer behind it to gmem.
    set ptr [ipx::get_registers -of_objects $block cmd_addr]
    ipx::add_register_parameter -quiet ASSOCIATED_BUSIF $ptr
    set_property value m_axi_gmem [ipx::get_register_parameters -of_objects $ptr ASSOCIATED_BUSIF]
}

# Packages the IP from the sources and writes the .xo.
proc sampan_package {args_dict} {
    dict with args_dict {}
    set ip_dir [file join $work ip]
    file delete -force $work
    file mkdir $work

    create_project -force sampan_pack [file join $work project]
    add_files -norecurse $srcs
    # The sources are Verilog-2005 plus the SystemVerilog that Verilator,
    # Yosys and Icarus share: elaboration checks call $error, which plain
    # Verilog mode rejects. Read them (and package them) as SystemVerilog.
    set_property file_type SystemVerilog [get_files $srcs]
    set_property top sampan_kernel [current_fileset]
    update_compile_order -fileset sources_1

    ipx::package_project -root_dir $ip_dir -vendor sampan.dev -library kernel \
        -taxonomy /KernelIP -import_files -set_current false
    ipx::unload_core [file join $ip_dir component.xml]
    ipx::edit_ip_in_project -upgrade true -name sampan_edit -directory $ip_dir \
        [file join $ip_dir component.xml]
    set core [ipx::current_core]
    set_property name sampan $core
    set_property version 1.0 $core
    set_property core_revision 1 $core

    # Array size and clock as the HDL defaults of the packaged kernel
    # (Vitis kernels take no user parameters).
    foreach {param value} [list ROWS $rows COLS $cols CLOCK_MHZ $mhz] {
        set_property value $value [ipx::get_hdl_parameters -of_objects $core $param]
    }
    foreach up [ipx::get_user_parameters -of_objects $core] {
        ipx::remove_user_parameter [get_property name $up] $core
    }

    ipx::associate_bus_interfaces -busif s_axi_control -clock ap_clk $core
    ipx::associate_bus_interfaces -busif m_axi_gmem -clock ap_clk $core
    sampan_add_registers $core

    set_property sdx_kernel true $core
    set_property sdx_kernel_type rtl $core
    set_property ipi_drc {ignore_freq_hz true} $core
    set_property vitis_drc {ctrl_protocol ap_ctrl_hs} $core

    ipx::create_xgui_files $core
    ipx::update_checksums $core
    ipx::check_integrity -kernel $core
    ipx::save_core $core
    close_project -delete

    package_xo -force -xo_path $xo -kernel_name sampan -ip_directory $ip_dir \
        -kernel_xml $xml
}

# Run by Vivado (which has ipx::); sourcing under tclsh only defines.
if {[llength [info commands ::ipx::package_project]] > 0 ||
    [info exists ::sampan_run_stubbed]} {
    sampan_package [sampan_parse_args $::argv]
}
