## arty_a7.xdc - pins and timing of sampan_arty (rtl/boards/arty/) on the
## Digilent Arty A7-35T (xc7a35ticsg324-1L) and A7-100T (xc7a100tcsg324-1):
## both boards share the CSG324 pinout used here.
##
## Package pins from Digilent's Arty A7 master XDC (Rev. D/E boards):
##   E3   CLK100MHZ  100 MHz oscillator (IO_L12P_T1_MRCC_35)
##   C2   ck_rst     red RESET button, low when pressed (IO_L16P_T2_35)
##   A9   uart_txd_in   FT2232H channel B TXD -> FPGA (IO_L14N_T2_SRCC_16)
##   D10  uart_rxd_out  FPGA -> FT2232H channel B RXD (IO_L19N_T3_VREF_16)
##   H5 J5 T9 T10  LD4..LD7 green LEDs, high = on
## Only TXD and RXD of the UART reach the FPGA (no RTS/CTS pins), so the
## host must not use hardware flow control on this port.

## ---------------------------------------------------------------- clock

set_property -dict { PACKAGE_PIN E3  IOSTANDARD LVCMOS33 } [get_ports clk100]
create_clock -name clk100 -period 10.000 -waveform {0.000 5.000} [get_ports clk100]
## With SAMPAN_ARTY_MMCM the MMCM output clock is derived by Vivado from
## clk100 (no create_generated_clock needed).

## ----------------------------------------------------------------- pins

set_property -dict { PACKAGE_PIN C2  IOSTANDARD LVCMOS33 } [get_ports ck_rst_n]
set_property -dict { PACKAGE_PIN A9  IOSTANDARD LVCMOS33 } [get_ports uart_txd_in]
set_property -dict { PACKAGE_PIN D10 IOSTANDARD LVCMOS33 } [get_ports uart_rxd_out]
set_property -dict { PACKAGE_PIN H5  IOSTANDARD LVCMOS33 } [get_ports {led[0]}]
set_property -dict { PACKAGE_PIN J5  IOSTANDARD LVCMOS33 } [get_ports {led[1]}]
set_property -dict { PACKAGE_PIN T9  IOSTANDARD LVCMOS33 } [get_ports {led[2]}]
set_property -dict { PACKAGE_PIN T10 IOSTANDARD LVCMOS33 } [get_ports {led[3]}]

## --------------------------------------------------------------- timing

## The button and the UART line are asynchronous to clk: each goes through
## a two-flop synchroniser (sampan_arty rst_n_q1/q2, sampan_uart_rx
## rxd_q1/q2), and one UART bit lasts 33 clock cycles at 3 Mbaud, so no
## input delay is meaningful. The UART output and the LEDs are registered
## and only need to settle within a bit time or a human glance.
set_false_path -from [get_ports {ck_rst_n uart_txd_in}]
set_false_path -to [get_ports {uart_rxd_out led[*]}]

## Keep each synchroniser's flops together and unretimed.
set_property ASYNC_REG TRUE [get_cells -hierarchical -filter {NAME =~ *rst_n_q?_reg}]
set_property ASYNC_REG TRUE [get_cells -hierarchical -filter {NAME =~ *u_uart_rx/rxd_q?_reg}]

## -------------------------------------------------------- configuration

## Bank 0 is powered at 3.3 V on the Arty; the board boots from a 4-bit
## SPI flash (for `write_cfgmem` images).
set_property CFGBVS VCCO [current_design]
set_property CONFIG_VOLTAGE 3.3 [current_design]
set_property BITSTREAM.GENERAL.COMPRESS TRUE [current_design]
set_property BITSTREAM.CONFIG.SPI_BUSWIDTH 4 [current_design]
set_property BITSTREAM.CONFIG.CONFIGRATE 33 [current_design]
