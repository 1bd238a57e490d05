`default_nettype none
// sampan_axil_regs: AXI4-Lite slave with the Vitis ap_ctrl_hs control
// registers, the command list registers and the read-only info, status and
// counter registers of rtl/ARCHITECTURE.md.
//
// CTRL: writing 1 to ap_start while idle starts the core (start pulses one
// cycle later); ap_start stays high until the core is done, then ap_done and
// ap_ready are set until CTRL is read; ap_idle = !ap_start. ISR bits are set
// on done when the matching IER bit is set, and toggled by writing 1s.
// interrupt = GIE & |(IER & ISR).
// Latency: a write completes (BVALID) one cycle after AW and W are both
// valid; a read returns one cycle after ARVALID.
// Parameters: the core parameters reported in the info registers.
module sampan_axil_regs #(
    parameter ROWS      = 16,    // array rows
    parameter COLS      = 16,    // array columns
    parameter K_DEPTH   = 1024,  // k-steps per bank
    parameter ACC_SLOTS = 4,     // accumulator tiles
    parameter P_ENTRIES = 64,    // parameter entries
    parameter BUS_BYTES = 64,    // bus width in bytes
    parameter CLOCK_MHZ = 300    // nominal clock
) (
    input  wire        clk,
    input  wire        rst,
    // AXI4-Lite slave
    input  wire [ 7:0] s_axil_awaddr,
    input  wire        s_axil_awvalid,
    output wire        s_axil_awready,
    input  wire [31:0] s_axil_wdata,
    input  wire [ 3:0] s_axil_wstrb,
    input  wire        s_axil_wvalid,
    output wire        s_axil_wready,
    output wire [ 1:0] s_axil_bresp,
    output wire        s_axil_bvalid,
    input  wire        s_axil_bready,
    input  wire [ 7:0] s_axil_araddr,
    input  wire        s_axil_arvalid,
    output wire        s_axil_arready,
    output wire [31:0] s_axil_rdata,
    output wire [ 1:0] s_axil_rresp,
    output wire        s_axil_rvalid,
    input  wire        s_axil_rready,
    // core control
    output reg         start,
    output reg  [63:0] cmd_addr,
    output reg  [31:0] cmd_count,
    input  wire        done,
    input  wire [ 7:0] status,
    input  wire [31:0] err_index,
    input  wire [31:0] features,   // FEATURES register (constant per build)
    // counters
    input  wire [63:0] cnt_cycles,
    input  wire [63:0] cnt_busy,
    input  wire [63:0] cnt_macs,
    input  wire [63:0] cnt_stall_mem,
    input  wire [63:0] cnt_stall_dep,
    input  wire [63:0] cnt_bytes_rd,
    input  wire [63:0] cnt_bytes_wr,
    input  wire [31:0] cnt_cmds,
    // The name is fixed by the kernel interface (it is also a C++ keyword-like
    // word, which Verilator's SYMRSVDWORD points out).
    /* verilator lint_off SYMRSVDWORD */
    output wire        interrupt
    /* verilator lint_on SYMRSVDWORD */
);

  localparam [31:0] ID_VALUE = 32'h4E50_4D53;  // "SMPN" in memory order
  localparam [31:0] VERSION_VALUE = 32'h0001_0100;  // ISA 1.1: FEATURES says what is built
  localparam [31:0] ROWS32 = ROWS;
  localparam [31:0] COLS32 = COLS;
  localparam [31:0] SLOTS32 = ACC_SLOTS;
  localparam [31:0] ENTRIES32 = P_ENTRIES;
  localparam [31:0] K_DEPTH32 = K_DEPTH;
  localparam [31:0] BUS_BYTES32 = BUS_BYTES;
  localparam [31:0] CLOCK_MHZ32 = CLOCK_MHZ;

  reg       ap_start_reg, ap_done_reg, ap_ready_reg, auto_restart_reg;
  reg       gie_reg;
  reg [1:0] ier_reg, isr_reg;
  reg       bvalid_reg, rvalid_reg;
  reg [31:0] rdata_reg;

  // ------------------------------------------------------------------ write

  wire wr = s_axil_awvalid && s_axil_wvalid && !bvalid_reg;
  wire [31:0] wmask = {{8{s_axil_wstrb[3]}}, {8{s_axil_wstrb[2]}}, {8{s_axil_wstrb[1]}}, {8{s_axil_wstrb[0]}}};
  wire [7:0] waddr = {s_axil_awaddr[7:2], 2'b00};

  assign s_axil_awready = wr;
  assign s_axil_wready = wr;
  assign s_axil_bresp = 2'b00;
  assign s_axil_bvalid = bvalid_reg;

  // ------------------------------------------------------------------- read

  wire rd = s_axil_arvalid && !rvalid_reg;
  wire [7:0] raddr = {s_axil_araddr[7:2], 2'b00};
  reg [31:0] rmux;

  assign s_axil_arready = rd;
  assign s_axil_rdata = rdata_reg;
  assign s_axil_rresp = 2'b00;
  assign s_axil_rvalid = rvalid_reg;

  always @(*) begin
    case (raddr)
      8'h00: rmux = {24'd0, auto_restart_reg, 3'd0, ap_ready_reg, !ap_start_reg, ap_done_reg, ap_start_reg};
      8'h04: rmux = {31'd0, gie_reg};
      8'h08: rmux = {30'd0, ier_reg};
      8'h0C: rmux = {30'd0, isr_reg};
      8'h10: rmux = cmd_addr[31:0];
      8'h14: rmux = cmd_addr[63:32];
      8'h18: rmux = cmd_count;
      8'h40: rmux = ID_VALUE;
      8'h44: rmux = VERSION_VALUE;
      8'h48: rmux = {COLS32[15:0], ROWS32[15:0]};
      8'h4C: rmux = K_DEPTH32;
      8'h50: rmux = {ENTRIES32[15:0], SLOTS32[15:0]};
      8'h54: rmux = BUS_BYTES32;
      8'h58: rmux = CLOCK_MHZ32;
      8'h5C: rmux = features;
      8'h60: rmux = {24'd0, status};
      8'h64: rmux = err_index;
      8'h80: rmux = cnt_cycles[31:0];
      8'h84: rmux = cnt_cycles[63:32];
      8'h88: rmux = cnt_busy[31:0];
      8'h8C: rmux = cnt_busy[63:32];
      8'h90: rmux = cnt_macs[31:0];
      8'h94: rmux = cnt_macs[63:32];
      8'h98: rmux = cnt_stall_mem[31:0];
      8'h9C: rmux = cnt_stall_mem[63:32];
      8'hA0: rmux = cnt_stall_dep[31:0];
      8'hA4: rmux = cnt_stall_dep[63:32];
      8'hA8: rmux = cnt_bytes_rd[31:0];
      8'hAC: rmux = cnt_bytes_rd[63:32];
      8'hB0: rmux = cnt_bytes_wr[31:0];
      8'hB4: rmux = cnt_bytes_wr[63:32];
      8'hB8: rmux = cnt_cmds;
      default: rmux = 32'd0;
    endcase
  end

  // ---------------------------------------------------------------- control

  wire ctrl_read = rd && raddr == 8'h00;
  wire [1:0] isr_toggle = (wr && waddr == 8'h0C && s_axil_wstrb[0]) ? s_axil_wdata[1:0] : 2'b00;
  wire launch = wr && waddr == 8'h00 && s_axil_wstrb[0] && s_axil_wdata[0] && !ap_start_reg;

  always @(posedge clk) begin
    start <= launch;
    if (rd) rdata_reg <= rmux;

    if (wr) begin
      case (waddr)
        8'h00: if (s_axil_wstrb[0]) auto_restart_reg <= s_axil_wdata[7];
        8'h04: if (s_axil_wstrb[0]) gie_reg <= s_axil_wdata[0];
        8'h08: if (s_axil_wstrb[0]) ier_reg <= s_axil_wdata[1:0];
        8'h10: cmd_addr[31:0] <= (cmd_addr[31:0] & ~wmask) | (s_axil_wdata & wmask);
        8'h14: cmd_addr[63:32] <= (cmd_addr[63:32] & ~wmask) | (s_axil_wdata & wmask);
        8'h18: cmd_count <= (cmd_count & ~wmask) | (s_axil_wdata & wmask);
        default: ;
      endcase
    end

    // ISR: set on done (both done and ready) where enabled, toggled by 1s.
    isr_reg <= (isr_reg ^ isr_toggle) | (done ? ier_reg : 2'b00);

    if (launch) ap_start_reg <= 1'b1;
    if (done) ap_start_reg <= 1'b0;
    if (ctrl_read) begin
      ap_done_reg <= 1'b0;
      ap_ready_reg <= 1'b0;
    end
    if (done) begin
      ap_done_reg <= 1'b1;
      ap_ready_reg <= 1'b1;
    end

    if (wr) bvalid_reg <= 1'b1;
    else if (s_axil_bready) bvalid_reg <= 1'b0;
    if (rd) rvalid_reg <= 1'b1;
    else if (s_axil_rready) rvalid_reg <= 1'b0;

    if (rst) begin
      start <= 1'b0;
      ap_start_reg <= 1'b0;
      ap_done_reg <= 1'b0;
      ap_ready_reg <= 1'b0;
      auto_restart_reg <= 1'b0;
      gie_reg <= 1'b0;
      ier_reg <= 2'b00;
      isr_reg <= 2'b00;
      bvalid_reg <= 1'b0;
      rvalid_reg <= 1'b0;
      cmd_addr <= 64'd0;
      cmd_count <= 32'd0;
    end
  end

  // Registers are word-aligned: address bits 1:0 are ignored.
  wire unused_addr = &{1'b0, s_axil_awaddr[1:0], s_axil_araddr[1:0]};

  assign interrupt = gie_reg && (ier_reg & isr_reg) != 2'b00;

endmodule
`resetall
