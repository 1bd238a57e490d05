`default_nettype none
// sampan_stream_top: the stream shell of sampan, for USB bridges. A framed
// byte stream in and out (s_axis_* / m_axis_*, 8 bits, valid/ready) drives
// the frame engine (sampan_stream_engine), which programs the unchanged AXI
// top (sampan_axi_top: core + AXI4-Lite registers) and reads and writes the
// on-chip card memory (sampan_stream_mem) that the core's AXI4 master uses.
// A board top puts a bridge (sampan_uart_rx/tx, sampan_ft245_sync) in front
// of the byte stream. Protocol: rtl/stream/README.md.
//
// Latency: see sampan_stream_engine (one frame at a time) and sampan_axi_top.
// Parameters: the core's (rtl/ARCHITECTURE.md) plus
//   MEM_BYTES      on-chip card memory in bytes (a power of two)
//   MAX_DATA       largest memory-frame payload data in bytes
//   FRAME_TIMEOUT  idle cycles that abort a partial request frame
//   MEM_SPRAM      1: card memory on single-port 64-bit RAM (iCE40 SPRAM)
//   AXI_ADDR_WIDTH the core's card-memory address width (32 is plenty here)
// and the core's size options (FIFO_DEPTH, BANK_SHARED, ACC_COPIES,
// REQUANT_SERIAL, PARAM_LOGIC, COUNTER_WIDTH; rtl/ARCHITECTURE.md), and
//   LITE           1: the compact sequential core (sampan_axi_top's LITE:
//                  sampan_lite_core) in place of sampan_core, same registers
//                  and results; the full core's size options are then unused

module sampan_stream_top #(
    parameter ROWS           = 16,       // array rows
    parameter COLS           = 16,       // array columns
    parameter K_DEPTH        = 1024,     // k-steps per A/W bank
    parameter ACC_SLOTS      = 4,        // accumulator tiles
    parameter P_ENTRIES      = 64,       // requantizer parameter entries
    parameter AXI_DATA_WIDTH = 512,      // card-memory bus width in bits
    parameter CLOCK_MHZ      = 100,      // nominal clock, reported in CLOCK_MHZ
    parameter MEM_BYTES      = 1 << 20,  // on-chip card memory in bytes
    parameter MAX_DATA       = 4096,     // largest memory-frame data in bytes
    parameter FRAME_TIMEOUT  = 1 << 20,  // idle cycles that abort a partial frame
    parameter MEM_SPRAM      = 0,        // 1: card memory on single-port 64-bit RAM
    parameter AXI_ADDR_WIDTH = 64,       // core address width
    parameter FIFO_DEPTH     = 16,       // core command-fetch and store row FIFOs
    parameter BANK_SHARED    = 0,        // 1: both banks of an operand in one RAM
    parameter ACC_COPIES     = 2,        // accumulator memory copies (2 or 1)
    parameter REQUANT_SERIAL = 0,        // 1: one sequential requantizer lane
    parameter PARAM_LOGIC    = 0,        // parameter memories in flip-flops (bit 0 bias, 1 mult, 2 shift)
    parameter COUNTER_WIDTH  = 64,       // bits kept of the 64-bit counters (32..64)
    parameter LITE           = 0         // 1: the lite core (sampan_axi_top LITE)
) (
    input  wire       clk,
    input  wire       rst,            // synchronous, active high
    input  wire [7:0] s_axis_tdata,   // request bytes
    input  wire       s_axis_tvalid,
    output wire       s_axis_tready,
    output wire [7:0] m_axis_tdata,   // response bytes
    output wire       m_axis_tvalid,
    input  wire       m_axis_tready,
    output wire       irq             // the core's interrupt (ap_done when enabled)
);

  localparam AW = AXI_ADDR_WIDTH;
  localparam ENG_WIDTH = MEM_SPRAM != 0 ? 64 : AXI_DATA_WIDTH;  // engine word (see the memory)
  localparam WORD_AW = $clog2(MEM_BYTES / (ENG_WIDTH / 8));

  wire [7:0] axil_awaddr, axil_araddr;
  wire axil_awvalid, axil_awready, axil_wvalid, axil_wready, axil_bvalid, axil_bready;
  wire axil_arvalid, axil_arready, axil_rvalid, axil_rready;
  wire [31:0] axil_wdata, axil_rdata;
  wire [3:0] axil_wstrb;
  wire [1:0] axil_bresp, axil_rresp;

  wire [0:0] awid, bid, arid, rid;
  wire [AW-1:0] awaddr, araddr;
  wire [7:0] awlen, arlen;
  wire [2:0] awsize, arsize;
  wire [1:0] awburst, arburst, bresp, rresp;
  wire awvalid, awready, wlast, wvalid, wready, bvalid, bready;
  wire arvalid, arready, rlast, rvalid, rready;
  wire [AXI_DATA_WIDTH-1:0] wdata, rdata;
  wire [AXI_DATA_WIDTH/8-1:0] wstrb;

  wire eng_rd_en, eng_rd_gnt, eng_wr_en, eng_wr_gnt;
  wire [WORD_AW-1:0] eng_rd_word, eng_wr_word;
  wire [ENG_WIDTH-1:0] eng_rd_data, eng_wr_data;
  wire [ENG_WIDTH/8-1:0] eng_wr_strb;

  // The memory serves every burst as INCR of full-width beats, which is
  // all the core issues (rtl/README.md); size and burst type are not needed.
  wire unused_ok = &{1'b0, awsize, arsize, awburst, arburst};

  sampan_stream_engine #(
      .DATA_WIDTH   (ENG_WIDTH),
      .MEM_BYTES    (MEM_BYTES),
      .MAX_DATA     (MAX_DATA),
      .FRAME_TIMEOUT(FRAME_TIMEOUT)
  ) u_engine (
      .clk           (clk),
      .rst           (rst),
      .s_axis_tdata  (s_axis_tdata),
      .s_axis_tvalid (s_axis_tvalid),
      .s_axis_tready (s_axis_tready),
      .m_axis_tdata  (m_axis_tdata),
      .m_axis_tvalid (m_axis_tvalid),
      .m_axis_tready (m_axis_tready),
      .m_axil_awaddr (axil_awaddr),
      .m_axil_awvalid(axil_awvalid),
      .m_axil_awready(axil_awready),
      .m_axil_wdata  (axil_wdata),
      .m_axil_wstrb  (axil_wstrb),
      .m_axil_wvalid (axil_wvalid),
      .m_axil_wready (axil_wready),
      .m_axil_bresp  (axil_bresp),
      .m_axil_bvalid (axil_bvalid),
      .m_axil_bready (axil_bready),
      .m_axil_araddr (axil_araddr),
      .m_axil_arvalid(axil_arvalid),
      .m_axil_arready(axil_arready),
      .m_axil_rdata  (axil_rdata),
      .m_axil_rresp  (axil_rresp),
      .m_axil_rvalid (axil_rvalid),
      .m_axil_rready (axil_rready),
      .eng_rd_en     (eng_rd_en),
      .eng_rd_word   (eng_rd_word),
      .eng_rd_gnt    (eng_rd_gnt),
      .eng_rd_data   (eng_rd_data),
      .eng_wr_en     (eng_wr_en),
      .eng_wr_word   (eng_wr_word),
      .eng_wr_data   (eng_wr_data),
      .eng_wr_strb   (eng_wr_strb),
      .eng_wr_gnt    (eng_wr_gnt)
  );

  sampan_axi_top #(
      .ROWS          (ROWS),
      .COLS          (COLS),
      .K_DEPTH       (K_DEPTH),
      .ACC_SLOTS     (ACC_SLOTS),
      .P_ENTRIES     (P_ENTRIES),
      .AXI_DATA_WIDTH(AXI_DATA_WIDTH),
      .AXI_ADDR_WIDTH(AW),
      .AXI_ID_WIDTH  (1),
      .CLOCK_MHZ     (CLOCK_MHZ),
      .FIFO_DEPTH    (FIFO_DEPTH),
      .BANK_SHARED   (BANK_SHARED),
      .ACC_COPIES    (ACC_COPIES),
      .REQUANT_SERIAL(REQUANT_SERIAL),
      .PARAM_LOGIC   (PARAM_LOGIC),
      .COUNTER_WIDTH (COUNTER_WIDTH),
      .LITE          (LITE)
  ) u_top (
      .clk           (clk),
      .rst           (rst),
      .s_axil_awaddr (axil_awaddr),
      .s_axil_awvalid(axil_awvalid),
      .s_axil_awready(axil_awready),
      .s_axil_wdata  (axil_wdata),
      .s_axil_wstrb  (axil_wstrb),
      .s_axil_wvalid (axil_wvalid),
      .s_axil_wready (axil_wready),
      .s_axil_bresp  (axil_bresp),
      .s_axil_bvalid (axil_bvalid),
      .s_axil_bready (axil_bready),
      .s_axil_araddr (axil_araddr),
      .s_axil_arvalid(axil_arvalid),
      .s_axil_arready(axil_arready),
      .s_axil_rdata  (axil_rdata),
      .s_axil_rresp  (axil_rresp),
      .s_axil_rvalid (axil_rvalid),
      .s_axil_rready (axil_rready),
      .m_axi_awid    (awid),
      .m_axi_awaddr  (awaddr),
      .m_axi_awlen   (awlen),
      .m_axi_awsize  (awsize),
      .m_axi_awburst (awburst),
      .m_axi_awvalid (awvalid),
      .m_axi_awready (awready),
      .m_axi_wdata   (wdata),
      .m_axi_wstrb   (wstrb),
      .m_axi_wlast   (wlast),
      .m_axi_wvalid  (wvalid),
      .m_axi_wready  (wready),
      .m_axi_bid     (bid),
      .m_axi_bresp   (bresp),
      .m_axi_bvalid  (bvalid),
      .m_axi_bready  (bready),
      .m_axi_arid    (arid),
      .m_axi_araddr  (araddr),
      .m_axi_arlen   (arlen),
      .m_axi_arsize  (arsize),
      .m_axi_arburst (arburst),
      .m_axi_arvalid (arvalid),
      .m_axi_arready (arready),
      .m_axi_rid     (rid),
      .m_axi_rdata   (rdata),
      .m_axi_rresp   (rresp),
      .m_axi_rlast   (rlast),
      .m_axi_rvalid  (rvalid),
      .m_axi_rready  (rready),
      .interrupt     (irq)
  );

  sampan_stream_mem #(
      .DATA_WIDTH(AXI_DATA_WIDTH),
      .ADDR_WIDTH(AW),
      .ID_WIDTH  (1),
      .MEM_BYTES (MEM_BYTES),
      .SPRAM     (MEM_SPRAM)
  ) u_mem (
      .clk          (clk),
      .rst          (rst),
      .s_axi_awid   (awid),
      .s_axi_awaddr (awaddr),
      .s_axi_awlen  (awlen),
      .s_axi_awvalid(awvalid),
      .s_axi_awready(awready),
      .s_axi_wdata  (wdata),
      .s_axi_wstrb  (wstrb),
      .s_axi_wlast  (wlast),
      .s_axi_wvalid (wvalid),
      .s_axi_wready (wready),
      .s_axi_bid    (bid),
      .s_axi_bresp  (bresp),
      .s_axi_bvalid (bvalid),
      .s_axi_bready (bready),
      .s_axi_arid   (arid),
      .s_axi_araddr (araddr),
      .s_axi_arlen  (arlen),
      .s_axi_arvalid(arvalid),
      .s_axi_arready(arready),
      .s_axi_rid    (rid),
      .s_axi_rdata  (rdata),
      .s_axi_rresp  (rresp),
      .s_axi_rlast  (rlast),
      .s_axi_rvalid (rvalid),
      .s_axi_rready (rready),
      .eng_rd_en    (eng_rd_en),
      .eng_rd_word  (eng_rd_word),
      .eng_rd_gnt   (eng_rd_gnt),
      .eng_rd_data  (eng_rd_data),
      .eng_wr_en    (eng_wr_en),
      .eng_wr_word  (eng_wr_word),
      .eng_wr_data  (eng_wr_data),
      .eng_wr_strb  (eng_wr_strb),
      .eng_wr_gnt   (eng_wr_gnt)
  );

endmodule
`resetall
