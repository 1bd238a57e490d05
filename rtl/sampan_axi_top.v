`default_nettype none
// sampan_axi_top: the AXI shell of sampan: a core behind the AXI4-Lite
// control registers (Vitis ap_ctrl_hs map, sampan_axil_regs) with its AXI4
// master to card memory. LITE selects the core: 0 sampan_core (the full,
// concurrent one), 1 sampan_lite_core (the compact sequential core for small
// parts: same registers and results, FEATURES 0, single-beat AXI
// transactions only). This is the top the simulator, the Vitis kernel
// wrapper and the stream shell instantiate.
//
// Latency: a run starts two cycles after the AXI4-Lite write of ap_start and
// raises interrupt (when enabled) the cycle after the core is done.
// Parameters: see rtl/ARCHITECTURE.md ("Parameters", "The lite core"); the
// size options and the ISA 1.1 ones apply to the full core only.
module sampan_axi_top #(
    parameter ROWS           = 16,    // array rows
    parameter COLS           = 16,    // array columns
    parameter K_DEPTH        = 1024,  // k-steps per A/W bank
    parameter ACC_SLOTS      = 4,     // accumulator tiles
    parameter P_ENTRIES      = 64,    // requantizer parameter entries
    parameter AXI_DATA_WIDTH = 512,   // AXI data width in bits
    parameter AXI_ADDR_WIDTH = 64,    // AXI address width
    parameter AXI_ID_WIDTH   = 1,     // AXI ID width
    parameter CLOCK_MHZ      = 300,   // nominal clock, reported in CLOCK_MHZ
    // Size options of sampan_core for small parts (ARCHITECTURE.md)
    parameter FIFO_DEPTH     = 16,    // command-fetch and store row FIFOs
    parameter BANK_SHARED    = 0,     // 1: both banks of an operand in one RAM
    parameter ACC_COPIES     = 2,     // accumulator memory copies (2 or 1)
    parameter REQUANT_SERIAL = 0,     // 1: one sequential requantizer lane
    parameter PARAM_LOGIC    = 0,     // parameter memories in flip-flops (bit 0 bias, 1 mult, 2 shift)
    parameter COUNTER_WIDTH  = 64,    // bits kept of the 64-bit counters (32..64)
    // ISA 1.1 (ARCHITECTURE.md, "Block-scaled numerics ...")
    parameter BLOCK          = 1,     // 1: block-scaled commands (LOAD_S, q COMPUTE, float STORE)
    parameter MV_ROWS        = 4,     // rows of the matrix-vector engine (0: none)
    parameter LITE           = 0      // 1: sampan_lite_core instead of sampan_core
) (
    input  wire                        clk,
    input  wire                        rst,   // synchronous, active high
    // AXI4-Lite slave (8-bit address)
    input  wire [                 7:0] s_axil_awaddr,
    input  wire                        s_axil_awvalid,
    output wire                        s_axil_awready,
    input  wire [                31:0] s_axil_wdata,
    input  wire [                 3:0] s_axil_wstrb,
    input  wire                        s_axil_wvalid,
    output wire                        s_axil_wready,
    output wire [                 1:0] s_axil_bresp,
    output wire                        s_axil_bvalid,
    input  wire                        s_axil_bready,
    input  wire [                 7:0] s_axil_araddr,
    input  wire                        s_axil_arvalid,
    output wire                        s_axil_arready,
    output wire [                31:0] s_axil_rdata,
    output wire [                 1:0] s_axil_rresp,
    output wire                        s_axil_rvalid,
    input  wire                        s_axil_rready,
    // AXI4 master to card memory
    output wire [    AXI_ID_WIDTH-1:0] m_axi_awid,
    output wire [  AXI_ADDR_WIDTH-1:0] m_axi_awaddr,
    output wire [                 7:0] m_axi_awlen,
    output wire [                 2:0] m_axi_awsize,
    output wire [                 1:0] m_axi_awburst,
    output wire                        m_axi_awvalid,
    input  wire                        m_axi_awready,
    output wire [  AXI_DATA_WIDTH-1:0] m_axi_wdata,
    output wire [AXI_DATA_WIDTH/8-1:0] m_axi_wstrb,
    output wire                        m_axi_wlast,
    output wire                        m_axi_wvalid,
    input  wire                        m_axi_wready,
    input  wire [    AXI_ID_WIDTH-1:0] m_axi_bid,
    input  wire [                 1:0] m_axi_bresp,
    input  wire                        m_axi_bvalid,
    output wire                        m_axi_bready,
    output wire [    AXI_ID_WIDTH-1:0] m_axi_arid,
    output wire [  AXI_ADDR_WIDTH-1:0] m_axi_araddr,
    output wire [                 7:0] m_axi_arlen,
    output wire [                 2:0] m_axi_arsize,
    output wire [                 1:0] m_axi_arburst,
    output wire                        m_axi_arvalid,
    input  wire                        m_axi_arready,
    input  wire [    AXI_ID_WIDTH-1:0] m_axi_rid,
    input  wire [  AXI_DATA_WIDTH-1:0] m_axi_rdata,
    input  wire [                 1:0] m_axi_rresp,
    input  wire                        m_axi_rlast,
    input  wire                        m_axi_rvalid,
    output wire                        m_axi_rready,
    // The name is fixed by the kernel interface; Verilator's SYMRSVDWORD
    // only notes that it is also a common C++ word.
    /* verilator lint_off SYMRSVDWORD */
    output wire                        interrupt
    /* verilator lint_on SYMRSVDWORD */
);

  wire        start, done;
  wire [63:0] cmd_addr;
  wire [31:0] cmd_count;
  wire [7:0]  status;
  wire [31:0] err_index;
  wire [31:0] features;
  wire [63:0] cnt_cycles, cnt_busy, cnt_macs, cnt_stall_mem, cnt_stall_dep, cnt_bytes_rd, cnt_bytes_wr;
  wire [31:0] cnt_cmds;

  sampan_axil_regs #(
      .ROWS     (ROWS),
      .COLS     (COLS),
      .K_DEPTH  (K_DEPTH),
      .ACC_SLOTS(ACC_SLOTS),
      .P_ENTRIES(P_ENTRIES),
      .BUS_BYTES(AXI_DATA_WIDTH / 8),
      .CLOCK_MHZ(CLOCK_MHZ)
  ) u_regs (
      .clk           (clk),
      .rst           (rst),
      .s_axil_awaddr (s_axil_awaddr),
      .s_axil_awvalid(s_axil_awvalid),
      .s_axil_awready(s_axil_awready),
      .s_axil_wdata  (s_axil_wdata),
      .s_axil_wstrb  (s_axil_wstrb),
      .s_axil_wvalid (s_axil_wvalid),
      .s_axil_wready (s_axil_wready),
      .s_axil_bresp  (s_axil_bresp),
      .s_axil_bvalid (s_axil_bvalid),
      .s_axil_bready (s_axil_bready),
      .s_axil_araddr (s_axil_araddr),
      .s_axil_arvalid(s_axil_arvalid),
      .s_axil_arready(s_axil_arready),
      .s_axil_rdata  (s_axil_rdata),
      .s_axil_rresp  (s_axil_rresp),
      .s_axil_rvalid (s_axil_rvalid),
      .s_axil_rready (s_axil_rready),
      .start         (start),
      .cmd_addr      (cmd_addr),
      .cmd_count     (cmd_count),
      .done          (done),
      .status        (status),
      .err_index     (err_index),
      .features      (features),
      .cnt_cycles    (cnt_cycles),
      .cnt_busy      (cnt_busy),
      .cnt_macs      (cnt_macs),
      .cnt_stall_mem (cnt_stall_mem),
      .cnt_stall_dep (cnt_stall_dep),
      .cnt_bytes_rd  (cnt_bytes_rd),
      .cnt_bytes_wr  (cnt_bytes_wr),
      .cnt_cmds      (cnt_cmds),
      .interrupt     (interrupt)
  );

  // Both cores have these ports (the full core has features too): the one
  // port map, written once for the two instances below.
  `define SAMPAN_AXI_TOP_CORE_PORTS \
      .clk          (clk), \
      .rst          (rst), \
      .start        (start), \
      .cmd_addr     (cmd_addr), \
      .cmd_count    (cmd_count), \
      .done         (done), \
      .status       (status), \
      .err_index    (err_index), \
      .cnt_cycles   (cnt_cycles), \
      .cnt_busy     (cnt_busy), \
      .cnt_macs     (cnt_macs), \
      .cnt_stall_mem(cnt_stall_mem), \
      .cnt_stall_dep(cnt_stall_dep), \
      .cnt_bytes_rd (cnt_bytes_rd), \
      .cnt_bytes_wr (cnt_bytes_wr), \
      .cnt_cmds     (cnt_cmds), \
      .m_axi_awid   (m_axi_awid), \
      .m_axi_awaddr (m_axi_awaddr), \
      .m_axi_awlen  (m_axi_awlen), \
      .m_axi_awsize (m_axi_awsize), \
      .m_axi_awburst(m_axi_awburst), \
      .m_axi_awvalid(m_axi_awvalid), \
      .m_axi_awready(m_axi_awready), \
      .m_axi_wdata  (m_axi_wdata), \
      .m_axi_wstrb  (m_axi_wstrb), \
      .m_axi_wlast  (m_axi_wlast), \
      .m_axi_wvalid (m_axi_wvalid), \
      .m_axi_wready (m_axi_wready), \
      .m_axi_bid    (m_axi_bid), \
      .m_axi_bresp  (m_axi_bresp), \
      .m_axi_bvalid (m_axi_bvalid), \
      .m_axi_bready (m_axi_bready), \
      .m_axi_arid   (m_axi_arid), \
      .m_axi_araddr (m_axi_araddr), \
      .m_axi_arlen  (m_axi_arlen), \
      .m_axi_arsize (m_axi_arsize), \
      .m_axi_arburst(m_axi_arburst), \
      .m_axi_arvalid(m_axi_arvalid), \
      .m_axi_arready(m_axi_arready), \
      .m_axi_rid    (m_axi_rid), \
      .m_axi_rdata  (m_axi_rdata), \
      .m_axi_rresp  (m_axi_rresp), \
      .m_axi_rlast  (m_axi_rlast), \
      .m_axi_rvalid (m_axi_rvalid), \
      .m_axi_rready (m_axi_rready)

  generate
    if (LITE != 0) begin : gen_lite
      sampan_lite_core #(
          .ROWS          (ROWS),
          .COLS          (COLS),
          .K_DEPTH       (K_DEPTH),
          .ACC_SLOTS     (ACC_SLOTS),
          .P_ENTRIES     (P_ENTRIES),
          .AXI_DATA_WIDTH(AXI_DATA_WIDTH),
          .AXI_ADDR_WIDTH(AXI_ADDR_WIDTH),
          .AXI_ID_WIDTH  (AXI_ID_WIDTH),
          .COUNTER_WIDTH (COUNTER_WIDTH)
      ) u_core (
          `SAMPAN_AXI_TOP_CORE_PORTS
      );
      assign features = 32'd0;  // no ISA 1.1 features: the new commands answer status 6
      // The full core's size and ISA 1.1 options do not apply.
      wire unused_opts = &{1'b0, FIFO_DEPTH[0], BANK_SHARED[0], ACC_COPIES[0], REQUANT_SERIAL[0],
                           PARAM_LOGIC[0], BLOCK[0], MV_ROWS[0]};
    end else begin : gen_full
      sampan_core #(
          .ROWS          (ROWS),
          .COLS          (COLS),
          .K_DEPTH       (K_DEPTH),
          .ACC_SLOTS     (ACC_SLOTS),
          .P_ENTRIES     (P_ENTRIES),
          .AXI_DATA_WIDTH(AXI_DATA_WIDTH),
          .AXI_ADDR_WIDTH(AXI_ADDR_WIDTH),
          .AXI_ID_WIDTH  (AXI_ID_WIDTH),
          .FIFO_DEPTH    (FIFO_DEPTH),
          .BANK_SHARED   (BANK_SHARED),
          .ACC_COPIES    (ACC_COPIES),
          .REQUANT_SERIAL(REQUANT_SERIAL),
          .PARAM_LOGIC   (PARAM_LOGIC),
          .COUNTER_WIDTH (COUNTER_WIDTH),
          .BLOCK         (BLOCK),
          .MV_ROWS       (MV_ROWS)
      ) u_core (
          `SAMPAN_AXI_TOP_CORE_PORTS,
          .features(features)
      );
    end
  endgenerate

  `undef SAMPAN_AXI_TOP_CORE_PORTS

endmodule
`resetall
