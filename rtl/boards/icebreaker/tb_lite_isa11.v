`timescale 1ns / 1ps
`default_nettype none
// tb_lite_isa11: the lite core (the iCEBreaker's configuration) has none
// of the ISA 1.1 features: LOAD_S, a q or wide COMPUTE and a float STORE
// stop the run with status 6 at their index, STORE mode 3 with status 2,
// and an unknown opcode still with status 1. A one-word-a-beat memory
// answers its single-beat reads and writes. Prints PASS or the first
// mismatch. Icarus only.
module tb_lite_isa11;
  reg clk = 1'b0;
  reg rst = 1'b1;
  always #5 clk = !clk;

  reg         start = 1'b0;
  reg  [31:0] cmd_count = 32'd0;
  wire        done;
  wire [7:0]  status;
  wire [31:0] err_index;

  wire        arid, awid;
  wire [31:0] araddr, awaddr;
  wire [7:0]  arlen, awlen;
  wire [2:0]  arsize, awsize;
  wire [1:0]  arburst, awburst;
  wire        arvalid, awvalid, wvalid, wlast, bready, rready;
  wire [127:0] wdata;
  wire [15:0] wstrb;
  reg         rvalid = 1'b0, bvalid = 1'b0, rid = 1'b0;
  reg  [127:0] rdata = 128'd0;
  reg  [127:0] mem [0:255];

  sampan_lite_core #(
      .ROWS(4), .COLS(2), .K_DEPTH(512), .ACC_SLOTS(2), .P_ENTRIES(2),
      .AXI_DATA_WIDTH(128), .AXI_ADDR_WIDTH(32), .AXI_ID_WIDTH(1)
  ) u_core (
      .clk(clk), .rst(rst), .start(start), .cmd_addr(64'd0), .cmd_count(cmd_count),
      .done(done), .status(status), .err_index(err_index),
      .cnt_cycles(), .cnt_busy(), .cnt_macs(), .cnt_stall_mem(), .cnt_stall_dep(),
      .cnt_bytes_rd(), .cnt_bytes_wr(), .cnt_cmds(),
      .m_axi_awid(awid), .m_axi_awaddr(awaddr), .m_axi_awlen(awlen), .m_axi_awsize(awsize),
      .m_axi_awburst(awburst), .m_axi_awvalid(awvalid), .m_axi_awready(1'b1),
      .m_axi_wdata(wdata), .m_axi_wstrb(wstrb), .m_axi_wlast(wlast), .m_axi_wvalid(wvalid),
      .m_axi_wready(1'b1), .m_axi_bid(1'b1), .m_axi_bresp(2'b00), .m_axi_bvalid(bvalid),
      .m_axi_bready(bready), .m_axi_arid(arid), .m_axi_araddr(araddr), .m_axi_arlen(arlen),
      .m_axi_arsize(arsize), .m_axi_arburst(arburst), .m_axi_arvalid(arvalid),
      .m_axi_arready(1'b1), .m_axi_rid(rid), .m_axi_rdata(rdata), .m_axi_rresp(2'b00),
      .m_axi_rlast(1'b1), .m_axi_rvalid(rvalid), .m_axi_rready(rready));

  // Single-beat memory: a read answers the next cycle, a write beat gets its
  // response the next cycle.
  always @(posedge clk) begin
    rvalid <= arvalid;
    rid <= arid;
    rdata <= mem[araddr[11:4]];
    bvalid <= wvalid;
  end

  integer errors = 0;
  integer cycles;

  // Runs the first n commands of mem and checks STATUS and ERR_INDEX.
  task run(input integer n, input [7:0] want_status, input [31:0] want_index,
           input [8*24-1:0] what);
    begin
      cmd_count = n;
      @(posedge clk) start = 1'b1;
      @(posedge clk) start = 1'b0;
      cycles = 0;
      while (!done && cycles < 20000) begin
        @(posedge clk);
        cycles = cycles + 1;
      end
      if (!done) begin
        $display("FAIL %0s: no done", what);
        errors = errors + 1;
      end else if (status !== want_status || err_index !== want_index) begin
        $display("FAIL %0s: status %0d index %0d, want %0d at %0d", what, status, err_index,
                 want_status, want_index);
        errors = errors + 1;
      end
      @(posedge clk);
    end
  endtask

  // Commands (w3, w2, w1, w0): a legal LOAD_A (bank 0, 4 steps) first.
  localparam [127:0] LOAD_A = {32'd0, 32'd0, 32'h0000_1000, 32'h0004_0001};
  localparam [127:0] LOAD_S = {32'd0, 32'd0, 32'h0000_1000, 32'h0001_0006};
  localparam [127:0] COMPUTE = {32'd0, 32'd0, 32'h0001_0100, 32'h0004_0404};  // first, k 4, m 1, n 1
  localparam [127:0] STORE = {32'h007F_8000, 32'd0, 32'h0000_2000, 32'h0000_0005};

  initial begin
    repeat (4) @(posedge clk);
    rst = 1'b0;
    repeat (2) @(posedge clk);
    mem[0] = LOAD_A;
    mem[1] = LOAD_S;
    run(2, 8'd6, 32'd1, "LOAD_S");
    mem[1] = COMPUTE | (128'd1 << 11);
    run(2, 8'd6, 32'd1, "q COMPUTE");
    mem[1] = COMPUTE | (128'd1 << 96);
    run(2, 8'd6, 32'd1, "wide COMPUTE");
    mem[1] = STORE | (128'd2 << 8);
    run(2, 8'd6, 32'd1, "float STORE");
    mem[1] = STORE | (128'd3 << 8);
    run(2, 8'd2, 32'd1, "STORE mode 3");
    mem[1] = {96'd0, 32'h0000_0007};
    run(2, 8'd1, 32'd1, "opcode 7");
    mem[1] = COMPUTE;
    run(2, 8'd0, 32'd0, "legal COMPUTE");
    if (errors == 0) $display("PASS: lite core refuses the ISA 1.1 commands (status 6)");
    $finish;
  end

  wire unused_tb = &{1'b0, awid, awaddr, awlen, awsize, awburst, awvalid, wdata, wstrb, wlast,
                     bready, arlen, arsize, arburst, rready};

endmodule
`resetall
