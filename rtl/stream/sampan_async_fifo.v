`default_nettype none
// sampan_async_fifo: dual-clock first-word-fall-through FIFO for crossing
// between two unrelated clocks (the FT600/FT601 bridge's bus clock and the
// stream shell's clock).
//
// The write and read pointers are binary counters with one extra wrap bit;
// each side publishes its pointer in Gray code from a register, and the
// other side samples it through two flip-flops. Full (write side) and empty
// (read side) are therefore pessimistic by the synchronizer delay, never
// optimistic. wr_count is the fill level seen from the write side (an
// upper bound of the true level).
// Latency: a word written at a wr_clk edge is visible at rd_data about
// three rd_clk edges later.
// Reset: wr_rst and rd_rst are synchronous to their own clocks; assert both
// together and hold them for a few cycles of the slower clock, so that each
// side's synchronizers see the other side's cleared pointer.
// Parameters:
//   WIDTH  word width in bits
//   DEPTH  capacity in words, a power of two >= 4
module sampan_async_fifo #(
    parameter WIDTH = 8,  // word width in bits
    parameter DEPTH = 16  // capacity in words, power of two
) (
    input  wire                 wr_clk,
    input  wire                 wr_rst,
    input  wire                 wr_valid,
    output wire                 wr_ready,
    input  wire [    WIDTH-1:0] wr_data,
    output wire [$clog2(DEPTH):0] wr_count,  // words held, as the write side sees it
    input  wire                 rd_clk,
    input  wire                 rd_rst,
    output wire                 rd_valid,
    input  wire                 rd_ready,
    output wire [    WIDTH-1:0] rd_data
);

  localparam AW = $clog2(DEPTH);

  initial begin
    if (DEPTH < 4 || (1 << AW) != DEPTH) $error("%m: DEPTH %0d must be a power of two >= 4", DEPTH);
  end

  function [AW:0] bin2gray(input [AW:0] b);
    bin2gray = b ^ (b >> 1);
  endfunction

  function [AW:0] gray2bin(input [AW:0] g);
    integer i;
    begin
      gray2bin[AW] = g[AW];
      for (i = AW - 1; i >= 0; i = i - 1) gray2bin[i] = gray2bin[i+1] ^ g[i];
    end
  endfunction

  reg [WIDTH-1:0] mem[0:DEPTH-1];

  // ---------------------------------------------------------- write side
  reg [AW:0] wr_bin_reg, wr_gray_reg;
  reg [AW:0] rd_gray_w1_reg, rd_gray_w2_reg;  // read pointer, synchronized
  wire [AW:0] rd_bin_w = gray2bin(rd_gray_w2_reg);
  wire wr_full = (wr_bin_reg[AW] != rd_bin_w[AW]) && (wr_bin_reg[AW-1:0] == rd_bin_w[AW-1:0]);
  wire wr_take = wr_valid && !wr_full;
  wire [AW:0] wr_bin_next = wr_bin_reg + {{AW{1'b0}}, wr_take};

  assign wr_ready = !wr_full;
  assign wr_count = wr_bin_reg - rd_bin_w;

  always @(posedge wr_clk) begin
    if (wr_take) mem[wr_bin_reg[AW-1:0]] <= wr_data;
  end

  always @(posedge wr_clk) begin
    if (wr_rst) begin
      wr_bin_reg <= {(AW + 1) {1'b0}};
      wr_gray_reg <= {(AW + 1) {1'b0}};
      rd_gray_w1_reg <= {(AW + 1) {1'b0}};
      rd_gray_w2_reg <= {(AW + 1) {1'b0}};
    end else begin
      wr_bin_reg <= wr_bin_next;
      wr_gray_reg <= bin2gray(wr_bin_next);
      rd_gray_w1_reg <= rd_gray_reg;
      rd_gray_w2_reg <= rd_gray_w1_reg;
    end
  end

  // ----------------------------------------------------------- read side
  reg [AW:0] rd_bin_reg, rd_gray_reg;
  reg [AW:0] wr_gray_r1_reg, wr_gray_r2_reg;  // write pointer, synchronized
  wire rd_empty = wr_gray_r2_reg == rd_gray_reg;
  wire rd_take = rd_ready && !rd_empty;
  wire [AW:0] rd_bin_next = rd_bin_reg + {{AW{1'b0}}, rd_take};

  assign rd_valid = !rd_empty;
  assign rd_data = mem[rd_bin_reg[AW-1:0]];

  always @(posedge rd_clk) begin
    if (rd_rst) begin
      rd_bin_reg <= {(AW + 1) {1'b0}};
      rd_gray_reg <= {(AW + 1) {1'b0}};
      wr_gray_r1_reg <= {(AW + 1) {1'b0}};
      wr_gray_r2_reg <= {(AW + 1) {1'b0}};
    end else begin
      rd_bin_reg <= rd_bin_next;
      rd_gray_reg <= bin2gray(rd_bin_next);
      wr_gray_r1_reg <= wr_gray_reg;
      wr_gray_r2_reg <= wr_gray_r1_reg;
    end
  end

endmodule
`resetall
