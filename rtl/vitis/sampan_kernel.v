`default_nettype none
// sampan_kernel: the Vitis RTL kernel top of sampan (kernel.xml names it).
// It adapts the Vitis kernel interface to sampan_axi_top:
//   - ap_clk; ap_rst_n (active low, synchronous to ap_clk) is registered
//     twice into the core's active-high rst, which also relieves its fanout;
//   - s_axi_control_*: AXI4-Lite control, the ap_ctrl_hs register map of
//     rtl/ARCHITECTURE.md (12-bit port as Vitis sizes it; the map decodes
//     address bits 7:0, so it repeats every 256 bytes of the 4 KiB range);
//   - m_axi_gmem_*: AXI4 master to card memory; the signals sampan_axi_top
//     does not drive get the values Xilinx recommends for a kernel master:
//     AxLOCK 0 (normal access), AxCACHE 4'b0011 (modifiable, bufferable),
//     AxPROT 0, AxQOS 0, AxREGION 0;
//   - interrupt: ap_done, when GIE and IER enable it.
//
// Latency: sampan_axi_top's plus two cycles of reset (ap_rst_n to rst).
// Parameters: as sampan_axi_top (rtl/ARCHITECTURE.md); the AXI widths and
// CLOCK_MHZ must agree with kernel.xml and the v++ clock.
module sampan_kernel #(
    parameter ROWS                         = 16,    // array rows
    parameter COLS                         = 16,    // array columns
    parameter K_DEPTH                      = 1024,  // k-steps per A/W bank
    parameter ACC_SLOTS                    = 4,     // accumulator tiles
    parameter P_ENTRIES                    = 64,    // requantizer parameter entries
    parameter CLOCK_MHZ                    = 300,   // kernel clock reported in CLOCK_MHZ
    parameter C_S_AXI_CONTROL_ADDR_WIDTH   = 12,    // control port address width (Vitis)
    parameter C_M_AXI_GMEM_ADDR_WIDTH      = 64,    // gmem address width
    parameter C_M_AXI_GMEM_DATA_WIDTH      = 512,   // gmem data width
    parameter C_M_AXI_GMEM_ID_WIDTH        = 1      // gmem ID width
) (
    input  wire                                   ap_clk,
    input  wire                                   ap_rst_n,
    // AXI4-Lite control
    input  wire [  C_S_AXI_CONTROL_ADDR_WIDTH-1:0] s_axi_control_awaddr,
    input  wire                                   s_axi_control_awvalid,
    output wire                                   s_axi_control_awready,
    input  wire [                           31:0] s_axi_control_wdata,
    input  wire [                            3:0] s_axi_control_wstrb,
    input  wire                                   s_axi_control_wvalid,
    output wire                                   s_axi_control_wready,
    output wire [                            1:0] s_axi_control_bresp,
    output wire                                   s_axi_control_bvalid,
    input  wire                                   s_axi_control_bready,
    input  wire [  C_S_AXI_CONTROL_ADDR_WIDTH-1:0] s_axi_control_araddr,
    input  wire                                   s_axi_control_arvalid,
    output wire                                   s_axi_control_arready,
    output wire [                           31:0] s_axi_control_rdata,
    output wire [                            1:0] s_axi_control_rresp,
    output wire                                   s_axi_control_rvalid,
    input  wire                                   s_axi_control_rready,
    // AXI4 master to card memory
    output wire [     C_M_AXI_GMEM_ID_WIDTH-1:0] m_axi_gmem_awid,
    output wire [   C_M_AXI_GMEM_ADDR_WIDTH-1:0] m_axi_gmem_awaddr,
    output wire [                            7:0] m_axi_gmem_awlen,
    output wire [                            2:0] m_axi_gmem_awsize,
    output wire [                            1:0] m_axi_gmem_awburst,
    output wire                                   m_axi_gmem_awlock,
    output wire [                            3:0] m_axi_gmem_awcache,
    output wire [                            2:0] m_axi_gmem_awprot,
    output wire [                            3:0] m_axi_gmem_awqos,
    output wire [                            3:0] m_axi_gmem_awregion,
    output wire                                   m_axi_gmem_awvalid,
    input  wire                                   m_axi_gmem_awready,
    output wire [   C_M_AXI_GMEM_DATA_WIDTH-1:0] m_axi_gmem_wdata,
    output wire [ C_M_AXI_GMEM_DATA_WIDTH/8-1:0] m_axi_gmem_wstrb,
    output wire                                   m_axi_gmem_wlast,
    output wire                                   m_axi_gmem_wvalid,
    input  wire                                   m_axi_gmem_wready,
    input  wire [     C_M_AXI_GMEM_ID_WIDTH-1:0] m_axi_gmem_bid,
    input  wire [                            1:0] m_axi_gmem_bresp,
    input  wire                                   m_axi_gmem_bvalid,
    output wire                                   m_axi_gmem_bready,
    output wire [     C_M_AXI_GMEM_ID_WIDTH-1:0] m_axi_gmem_arid,
    output wire [   C_M_AXI_GMEM_ADDR_WIDTH-1:0] m_axi_gmem_araddr,
    output wire [                            7:0] m_axi_gmem_arlen,
    output wire [                            2:0] m_axi_gmem_arsize,
    output wire [                            1:0] m_axi_gmem_arburst,
    output wire                                   m_axi_gmem_arlock,
    output wire [                            3:0] m_axi_gmem_arcache,
    output wire [                            2:0] m_axi_gmem_arprot,
    output wire [                            3:0] m_axi_gmem_arqos,
    output wire [                            3:0] m_axi_gmem_arregion,
    output wire                                   m_axi_gmem_arvalid,
    input  wire                                   m_axi_gmem_arready,
    input  wire [     C_M_AXI_GMEM_ID_WIDTH-1:0] m_axi_gmem_rid,
    input  wire [   C_M_AXI_GMEM_DATA_WIDTH-1:0] m_axi_gmem_rdata,
    input  wire [                            1:0] m_axi_gmem_rresp,
    input  wire                                   m_axi_gmem_rlast,
    input  wire                                   m_axi_gmem_rvalid,
    output wire                                   m_axi_gmem_rready,
    // The name is fixed by the Vitis kernel interface; Verilator's
    // SYMRSVDWORD only notes that it is also a common C++ word.
    /* verilator lint_off SYMRSVDWORD */
    output wire                                   interrupt
    /* verilator lint_on SYMRSVDWORD */
);

  initial begin
    if (C_S_AXI_CONTROL_ADDR_WIDTH < 8) begin
      $error("%m: C_S_AXI_CONTROL_ADDR_WIDTH %0d cannot hold the 256-byte register map",
             C_S_AXI_CONTROL_ADDR_WIDTH);
    end
  end

  // ------------------------------------------------------------ reset
  // Two registers from ap_rst_n; the core sees rst one to two cycles late.

  reg rst_q1 = 1'b1;
  reg rst_q2 = 1'b1;

  always @(posedge ap_clk) begin
    rst_q1 <= ~ap_rst_n;
    rst_q2 <= rst_q1;
  end

  // ------------------------------------------------------------ tie-offs

  assign m_axi_gmem_awlock   = 1'b0;
  assign m_axi_gmem_awcache  = 4'b0011;
  assign m_axi_gmem_awprot   = 3'b000;
  assign m_axi_gmem_awqos    = 4'b0000;
  assign m_axi_gmem_awregion = 4'b0000;
  assign m_axi_gmem_arlock   = 1'b0;
  assign m_axi_gmem_arcache  = 4'b0011;
  assign m_axi_gmem_arprot   = 3'b000;
  assign m_axi_gmem_arqos    = 4'b0000;
  assign m_axi_gmem_arregion = 4'b0000;

  // The register map decodes 8 address bits; the rest of the Vitis range
  // aliases it.
  wire [C_S_AXI_CONTROL_ADDR_WIDTH-9:0] unused_awaddr_hi =
      s_axi_control_awaddr[C_S_AXI_CONTROL_ADDR_WIDTH-1:8];
  wire [C_S_AXI_CONTROL_ADDR_WIDTH-9:0] unused_araddr_hi =
      s_axi_control_araddr[C_S_AXI_CONTROL_ADDR_WIDTH-1:8];
  wire unused_ok = &{1'b0, unused_awaddr_hi, unused_araddr_hi};

  // ------------------------------------------------------------ the shell

  sampan_axi_top #(
      .ROWS          (ROWS),
      .COLS          (COLS),
      .K_DEPTH       (K_DEPTH),
      .ACC_SLOTS     (ACC_SLOTS),
      .P_ENTRIES     (P_ENTRIES),
      .AXI_DATA_WIDTH(C_M_AXI_GMEM_DATA_WIDTH),
      .AXI_ADDR_WIDTH(C_M_AXI_GMEM_ADDR_WIDTH),
      .AXI_ID_WIDTH  (C_M_AXI_GMEM_ID_WIDTH),
      .CLOCK_MHZ     (CLOCK_MHZ)
  ) u_top (
      .clk           (ap_clk),
      .rst           (rst_q2),
      .s_axil_awaddr (s_axi_control_awaddr[7:0]),
      .s_axil_awvalid(s_axi_control_awvalid),
      .s_axil_awready(s_axi_control_awready),
      .s_axil_wdata  (s_axi_control_wdata),
      .s_axil_wstrb  (s_axi_control_wstrb),
      .s_axil_wvalid (s_axi_control_wvalid),
      .s_axil_wready (s_axi_control_wready),
      .s_axil_bresp  (s_axi_control_bresp),
      .s_axil_bvalid (s_axi_control_bvalid),
      .s_axil_bready (s_axi_control_bready),
      .s_axil_araddr (s_axi_control_araddr[7:0]),
      .s_axil_arvalid(s_axi_control_arvalid),
      .s_axil_arready(s_axi_control_arready),
      .s_axil_rdata  (s_axi_control_rdata),
      .s_axil_rresp  (s_axi_control_rresp),
      .s_axil_rvalid (s_axi_control_rvalid),
      .s_axil_rready (s_axi_control_rready),
      .m_axi_awid    (m_axi_gmem_awid),
      .m_axi_awaddr  (m_axi_gmem_awaddr),
      .m_axi_awlen   (m_axi_gmem_awlen),
      .m_axi_awsize  (m_axi_gmem_awsize),
      .m_axi_awburst (m_axi_gmem_awburst),
      .m_axi_awvalid (m_axi_gmem_awvalid),
      .m_axi_awready (m_axi_gmem_awready),
      .m_axi_wdata   (m_axi_gmem_wdata),
      .m_axi_wstrb   (m_axi_gmem_wstrb),
      .m_axi_wlast   (m_axi_gmem_wlast),
      .m_axi_wvalid  (m_axi_gmem_wvalid),
      .m_axi_wready  (m_axi_gmem_wready),
      .m_axi_bid     (m_axi_gmem_bid),
      .m_axi_bresp   (m_axi_gmem_bresp),
      .m_axi_bvalid  (m_axi_gmem_bvalid),
      .m_axi_bready  (m_axi_gmem_bready),
      .m_axi_arid    (m_axi_gmem_arid),
      .m_axi_araddr  (m_axi_gmem_araddr),
      .m_axi_arlen   (m_axi_gmem_arlen),
      .m_axi_arsize  (m_axi_gmem_arsize),
      .m_axi_arburst (m_axi_gmem_arburst),
      .m_axi_arvalid (m_axi_gmem_arvalid),
      .m_axi_arready (m_axi_gmem_arready),
      .m_axi_rid     (m_axi_gmem_rid),
      .m_axi_rdata   (m_axi_gmem_rdata),
      .m_axi_rresp   (m_axi_gmem_rresp),
      .m_axi_rlast   (m_axi_gmem_rlast),
      .m_axi_rvalid  (m_axi_gmem_rvalid),
      .m_axi_rready  (m_axi_gmem_rready),
      .interrupt     (interrupt)
  );

endmodule

`resetall
