`default_nettype none
// sampan_arty: board top for the Digilent Arty A7 (xc7a35t or xc7a100t).
// The stream shell (sampan_stream_top: frame engine, unchanged core, card
// memory in block RAM) behind the FT2232H's channel B UART (the board's
// USB-UART bridge; channel A is the JTAG programmer). Pins and clock:
// constraints/arty_a7.xdc; build and run: rtl/boards/arty/README.md.
//
// Clock: the 100 MHz oscillator (E3) drives the design directly, or, with
// `define SAMPAN_ARTY_MMCM (Vivado only; the Vivado script sets it for
// clocks other than 100 MHz), an MMCME2_BASE at 100 * MMCM_MULT / MMCM_DIV
// MHz. Reset: the red RESET button (ck_rst, active low), synchronised and
// held 2^RST_HOLD_LOG2 cycles after release (and until the MMCM locks).
// UART: 8N1 at BAUD, DIVISOR = clock / BAUD rounded; elaboration fails if
// the rounding is off by more than 2% (the receiver samples mid-bit, so a
// few percent over a 10-bit character is safe).
// LEDs (LD4..LD7 = led[0..3]): heartbeat; a request byte arrived; a
// response byte left (both stretched to ~20 ms); a UART framing error or
// overrun since reset (a baud mismatch shows here).
//
// Latency: that of the shell (one frame at a time) plus 2 cycles of input
// synchronisation in the UART receiver.
// Parameters: the core's (rtl/ARCHITECTURE.md) and the shell's
// (rtl/stream/README.md), plus
//   MMCM_MULT, MMCM_DIV  MMCM clock = 100 MHz * MMCM_MULT / MMCM_DIV
//                        (with SAMPAN_ARTY_MMCM only)
//   BAUD                 UART rate (the usb backend uses 3 Mbaud for 0403:6010)
//   RST_HOLD_LOG2        reset is held 2^RST_HOLD_LOG2 cycles after release
//   LED_STRETCH_LOG2     activity LEDs stay on 2^LED_STRETCH_LOG2 cycles
module sampan_arty #(
    parameter ROWS             = 8,        // array rows
    parameter COLS             = 4,        // array columns
    parameter K_DEPTH          = 1024,     // k-steps per A/W bank
    parameter ACC_SLOTS        = 4,        // accumulator tiles
    parameter P_ENTRIES        = 64,       // requantizer parameter entries
    parameter AXI_DATA_WIDTH   = 128,      // card-memory bus width in bits
    parameter MEM_BYTES        = 1 << 16,  // on-chip card memory in bytes
    parameter MAX_DATA         = 4096,     // largest memory-frame data in bytes
    parameter FRAME_TIMEOUT    = 1 << 20,  // idle cycles that abort a partial frame
    parameter MMCM_MULT        = 9,        // MMCM feedback multiplier (VCO = 100 * MULT MHz)
    parameter MMCM_DIV         = 12,       // MMCM output divider
    parameter BAUD             = 3000000,  // UART bits per second
    parameter RST_HOLD_LOG2    = 4,        // reset held 2^N cycles after release
    parameter LED_STRETCH_LOG2 = 21        // activity LED on-time, 2^N cycles
) (
    input  wire       clk100,        // 100 MHz oscillator (E3)
    input  wire       ck_rst_n,      // RESET button, low when pressed (C2)
    input  wire       uart_txd_in,   // from the FT2232H (its TXD) (A9)
    output wire       uart_rxd_out,  // to the FT2232H (its RXD) (D10)
    output wire [3:0] led            // LD4..LD7, high = on
);

`ifdef SAMPAN_ARTY_MMCM
  localparam CLOCK_MHZ = 100 * MMCM_MULT / MMCM_DIV;
`else
  localparam CLOCK_MHZ = 100;
`endif
  localparam CLOCK_HZ = CLOCK_MHZ * 1000000;
  localparam DIVISOR = (CLOCK_HZ + BAUD / 2) / BAUD;
  localparam BAUD_ERR = DIVISOR * BAUD > CLOCK_HZ ? DIVISOR * BAUD - CLOCK_HZ : CLOCK_HZ - DIVISOR * BAUD;

  initial begin
    if (DIVISOR < 4) $error("%m: BAUD %0d too fast for a %0d MHz clock (DIVISOR %0d < 4)", BAUD, CLOCK_MHZ, DIVISOR);
    if (BAUD_ERR * 50 > CLOCK_HZ)
      $error("%m: %0d MHz / DIVISOR %0d is more than 2%% off BAUD %0d", CLOCK_MHZ, DIVISOR, BAUD);
    if (RST_HOLD_LOG2 < 1 || LED_STRETCH_LOG2 < 1) $error("%m: RST_HOLD_LOG2 and LED_STRETCH_LOG2 must be at least 1");
    // Checked with or without the MMCM, so a bad pair fails before Vivado.
    if (100 * MMCM_MULT < 600 || 100 * MMCM_MULT > 1200 || MMCM_DIV < 1 || MMCM_DIV > 128 || 100 * MMCM_MULT % MMCM_DIV != 0)
      $error("%m: MMCM_MULT %0d / MMCM_DIV %0d: VCO must be 600..1200 MHz and the output a whole MHz", MMCM_MULT, MMCM_DIV);
  end

  // ---------------------------------------------------------------- clock

  wire clk;
  wire clk_locked;

`ifdef SAMPAN_ARTY_MMCM
  wire clk_fb, clk_fb_bufg, clk_mmcm;

  MMCME2_BASE #(
      .CLKIN1_PERIOD   (10.0),
      .DIVCLK_DIVIDE   (1),
      .CLKFBOUT_MULT_F (MMCM_MULT),
      .CLKOUT0_DIVIDE_F(MMCM_DIV)
  ) u_mmcm (
      .CLKIN1  (clk100),
      .CLKFBIN (clk_fb_bufg),
      .CLKFBOUT(clk_fb),
      .CLKOUT0 (clk_mmcm),
      .LOCKED  (clk_locked),
      .PWRDWN  (1'b0),
      .RST     (1'b0)
  );

  BUFG u_bufg_fb (
      .I(clk_fb),
      .O(clk_fb_bufg)
  );

  BUFG u_bufg_clk (
      .I(clk_mmcm),
      .O(clk)
  );
`else
  assign clk = clk100;  // Vivado puts it on a BUFG
  assign clk_locked = 1'b1;
`endif

  // ---------------------------------------------------------------- reset

  // The button (and the MMCM lock) through two flops, then a counter that
  // holds rst high for 2^RST_HOLD_LOG2 cycles after both are good. The
  // initial values make the configured FPGA start in reset.
  reg rst_n_q1 = 1'b0, rst_n_q2 = 1'b0;
  reg [RST_HOLD_LOG2:0] rst_cnt_reg = 0;
  wire rst = !rst_cnt_reg[RST_HOLD_LOG2];

  always @(posedge clk) begin
    rst_n_q1 <= ck_rst_n && clk_locked;
    rst_n_q2 <= rst_n_q1;
    if (!rst_n_q2) rst_cnt_reg <= 0;
    else if (rst) rst_cnt_reg <= rst_cnt_reg + 1'b1;
  end

  // ----------------------------------------------------------------- UART

  wire [7:0] rx_data, tx_data;
  wire rx_valid, rx_ready, tx_valid, tx_ready;
  wire rx_frame_error, rx_overrun;
  wire irq;

  sampan_uart_rx #(
      .DIVISOR(DIVISOR)
  ) u_uart_rx (
      .clk          (clk),
      .rst          (rst),
      .rxd          (uart_txd_in),
      .m_axis_tdata (rx_data),
      .m_axis_tvalid(rx_valid),
      .m_axis_tready(rx_ready),
      .frame_error  (rx_frame_error),
      .overrun      (rx_overrun)
  );

  sampan_uart_tx #(
      .DIVISOR(DIVISOR)
  ) u_uart_tx (
      .clk          (clk),
      .rst          (rst),
      .s_axis_tdata (tx_data),
      .s_axis_tvalid(tx_valid),
      .s_axis_tready(tx_ready),
      .txd          (uart_rxd_out)
  );

  // ---------------------------------------------------------------- shell

  sampan_stream_top #(
      .ROWS          (ROWS),
      .COLS          (COLS),
      .K_DEPTH       (K_DEPTH),
      .ACC_SLOTS     (ACC_SLOTS),
      .P_ENTRIES     (P_ENTRIES),
      .AXI_DATA_WIDTH(AXI_DATA_WIDTH),
      .CLOCK_MHZ     (CLOCK_MHZ),
      .MEM_BYTES     (MEM_BYTES),
      .MAX_DATA      (MAX_DATA),
      .FRAME_TIMEOUT (FRAME_TIMEOUT)
  ) u_shell (
      .clk          (clk),
      .rst          (rst),
      .s_axis_tdata (rx_data),
      .s_axis_tvalid(rx_valid),
      .s_axis_tready(rx_ready),
      .m_axis_tdata (tx_data),
      .m_axis_tvalid(tx_valid),
      .m_axis_tready(tx_ready),
      .irq          (irq)
  );

  // ----------------------------------------------------------------- LEDs

  reg [26:0] beat_reg = 0;
  reg [LED_STRETCH_LOG2-1:0] rx_led_reg = 0, tx_led_reg = 0;
  reg err_led_reg = 1'b0;

  always @(posedge clk) begin
    beat_reg <= beat_reg + 1'b1;
    if (rx_valid && rx_ready) rx_led_reg <= {LED_STRETCH_LOG2{1'b1}};
    else if (rx_led_reg != 0) rx_led_reg <= rx_led_reg - 1'b1;
    if (tx_valid && tx_ready) tx_led_reg <= {LED_STRETCH_LOG2{1'b1}};
    else if (tx_led_reg != 0) tx_led_reg <= tx_led_reg - 1'b1;
    if (rst) err_led_reg <= 1'b0;
    else if (rx_frame_error || rx_overrun) err_led_reg <= 1'b1;
  end

  assign led = {err_led_reg, tx_led_reg != 0, rx_led_reg != 0, beat_reg[26]};

  // The interrupt has no pin: the host polls CTRL over the link.
  wire unused_ok = &{1'b0, irq};

endmodule
`resetall
