`default_nettype none
// sampan_icebreaker: board top for the iCEBreaker (Lattice iCE40UP5K-SG48).
//
// The stream shell (sampan_stream_top: frame engine, core, card memory) in
// its small configuration behind the UART bridge on the FT2232H's channel B
// (3 Mbaud, 8N1, no flow control: only RX and TX reach the FPGA on a stock
// board, and the stop-and-wait protocol never sends faster than the shell
// takes bytes). Card memory: the four SPRAMs (128 KiB). Clock: the 12 MHz
// oscillator used directly (PLL=0, the default: UART DIVISOR 4 clocks per
// bit at 3 Mbaud), or through the PLL to 18 MHz (PLL=1: DIVISOR 6). Simulation
// and lint have no iCE40 primitives: there (no SYNTHESIS macro, which Yosys
// defines) the oscillator is used directly whatever PLL says.
//
// Reset: power-on (a counter that runs after configuration, the iCE40's
// flip-flops start at zero) and the user button (BTN_N, active low,
// synchronised); the reset also holds until the PLL locks. LEDs (active
// low): green changes every 0.7 s (12 MHz; 0.47 s at 18 MHz) while the
// logic runs and flickers with UART traffic; red lights on a UART framing
// error or overrun and stays on until the next reset.
//
// Latency: see sampan_stream_top and the UART bridge.
// Parameters: the shell's and the core's (rtl/ARCHITECTURE.md,
// rtl/stream/README.md); the defaults are the board build
// (rtl/boards/icebreaker/board.mk passes the same values explicitly).
module sampan_icebreaker #(
    parameter ROWS           = 4,          // array rows
    parameter COLS           = 2,          // array columns
    parameter K_DEPTH        = 512,        // k-steps per A/W bank
    parameter ACC_SLOTS      = 2,          // accumulator tiles
    parameter P_ENTRIES      = 2,          // requantizer parameter entries
    parameter AXI_DATA_WIDTH = 128,        // card-memory bus width in bits
    parameter AXI_ADDR_WIDTH = 32,         // core address width
    parameter FIFO_DEPTH     = 2,          // core command and row FIFOs
    parameter BANK_SHARED    = 1,          // both banks of an operand in one RAM
    parameter ACC_COPIES     = 1,          // one accumulator memory
    parameter REQUANT_SERIAL = 1,          // one sequential requantizer lane
    parameter PARAM_LOGIC    = 4,          // shift parameters in flip-flops (2-entry bias/mult too: Yosys)
    parameter COUNTER_WIDTH  = 32,         // 32-bit counters (wrap after 358 s at 12 MHz)
    parameter LITE           = 1,          // the compact sequential core (sampan_lite_core)
    parameter MEM_SPRAM      = 1,          // card memory in the SPRAMs
    parameter MEM_BYTES      = 131072,     // card memory bytes (four SPRAMs)
    parameter MAX_DATA       = 4096,       // largest memory-frame data in bytes
    parameter FRAME_TIMEOUT  = 1 << 20,    // idle cycles that drop a partial frame
    parameter PLL            = 0,          // 1: the PLL makes 18 MHz of the 12 MHz oscillator
    parameter CLOCK_MHZ      = 12,         // core clock (12, or 18 with the PLL), reported in CLOCK_MHZ
    parameter UART_DIVISOR   = CLOCK_MHZ / 3,  // clocks per UART bit at 3 Mbaud
    parameter POR_BITS       = 10          // power-on reset length: 2^POR_BITS cycles
) (
    input  wire CLK,     // 12 MHz oscillator (pin 35)
    input  wire BTN_N,   // user button, low when pressed (pin 10)
    input  wire RX,      // from the FT2232H channel B TXD (pin 6)
    output wire TX,      // to the FT2232H channel B RXD (pin 9)
    output wire LEDR_N,  // red LED, low to light (pin 11)
    output wire LEDG_N   // green LED, low to light (pin 37)
);

  initial begin
    if (PLL != 0 && CLOCK_MHZ != 18) $error("%m: CLOCK_MHZ %0d: the PLL makes 18 MHz", CLOCK_MHZ);
    if (PLL == 0 && CLOCK_MHZ != 12) $error("%m: CLOCK_MHZ %0d: without the PLL the clock is 12 MHz", CLOCK_MHZ);
    if (UART_DIVISOR * 3 != CLOCK_MHZ) $error("%m: UART_DIVISOR %0d does not give 3 Mbaud", UART_DIVISOR);
  end

  // ------------------------------------------------------------- clock
  wire clk, pll_lock;
`ifdef SYNTHESIS
  generate
    if (PLL != 0) begin : gen_pll
      // 12 MHz * (DIVF+1) / (DIVR+1) = 576 MHz VCO, / 2^DIVQ = 18 MHz (icepll).
      SB_PLL40_PAD #(
          .FEEDBACK_PATH("SIMPLE"),
          .DIVR         (4'b0000),
          .DIVF         (7'b0101111),
          .DIVQ         (3'b101),
          .FILTER_RANGE (3'b001)
      ) u_pll (
          .PACKAGEPIN  (CLK),
          .PLLOUTGLOBAL(clk),
          .LOCK        (pll_lock),
          .RESETB      (1'b1),
          .BYPASS      (1'b0)
      );
    end else begin : gen_osc
      assign clk = CLK;
      assign pll_lock = 1'b1;
    end
  endgenerate
`else
  assign clk = CLK;
  assign pll_lock = 1'b1;
`endif

  // ------------------------------------------------------------- reset
  reg [POR_BITS-1:0] por_reg = {POR_BITS{1'b0}};
  reg                btn_q1 = 1'b0, btn_q2 = 1'b0;  // button pressed, synchronised
  reg                rst = 1'b1;
  always @(posedge clk) begin
    btn_q1 <= !BTN_N;
    btn_q2 <= btn_q1;
    if (btn_q2 || !pll_lock) por_reg <= {POR_BITS{1'b0}};
    else if (!(&por_reg)) por_reg <= por_reg + 1'b1;
    rst <= !(&por_reg);
  end

  // -------------------------------------------------------------- UART
  wire [7:0] rx_data, tx_data;
  wire       rx_valid, rx_ready, tx_valid, tx_ready;
  wire       rx_frame_error, rx_overrun;

  sampan_uart_rx #(
      .DIVISOR(UART_DIVISOR)
  ) u_rx (
      .clk          (clk),
      .rst          (rst),
      .rxd          (RX),
      .m_axis_tdata (rx_data),
      .m_axis_tvalid(rx_valid),
      .m_axis_tready(rx_ready),
      .frame_error  (rx_frame_error),
      .overrun      (rx_overrun)
  );

  sampan_uart_tx #(
      .DIVISOR(UART_DIVISOR)
  ) u_tx (
      .clk          (clk),
      .rst          (rst),
      .s_axis_tdata (tx_data),
      .s_axis_tvalid(tx_valid),
      .s_axis_tready(tx_ready),
      .txd          (TX)
  );

  // ------------------------------------------------------------- shell
  wire irq;

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
      .FRAME_TIMEOUT (FRAME_TIMEOUT),
      .MEM_SPRAM     (MEM_SPRAM),
      .AXI_ADDR_WIDTH(AXI_ADDR_WIDTH),
      .FIFO_DEPTH    (FIFO_DEPTH),
      .BANK_SHARED   (BANK_SHARED),
      .ACC_COPIES    (ACC_COPIES),
      .REQUANT_SERIAL(REQUANT_SERIAL),
      .PARAM_LOGIC   (PARAM_LOGIC),
      .COUNTER_WIDTH (COUNTER_WIDTH),
      .LITE          (LITE)
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

  // -------------------------------------------------------------- LEDs
  reg [23:0] beat_reg;      // heartbeat: bit 23 toggles at 12 MHz / 2^24 (~0.7 Hz)
  reg [19:0] activity_reg;  // stretches a byte in either direction to ~87 ms
  reg        error_reg;
  always @(posedge clk) begin
    beat_reg <= beat_reg + 1'b1;
    if ((rx_valid && rx_ready) || (tx_valid && tx_ready)) activity_reg <= {20{1'b1}};
    else if (activity_reg != 20'd0) activity_reg <= activity_reg - 1'b1;
    if (rx_frame_error || rx_overrun) error_reg <= 1'b1;
    if (rst) begin
      activity_reg <= 20'd0;
      error_reg <= 1'b0;
    end
  end

  wire green = beat_reg[23] ^ (activity_reg[19] & beat_reg[20]);
  assign LEDG_N = !green;
  assign LEDR_N = !error_reg;

  // The interrupt line is not needed: the host polls CTRL over the link.
  wire unused_top = &{1'b0, irq};

endmodule
`resetall
