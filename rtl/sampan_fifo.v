`default_nettype none
// sampan_fifo: synchronous first-word-fall-through FIFO (distributed RAM).
//
// out_data shows the head whenever out_valid is high; out_ready pops it.
// in_ready is low when full. clear empties the FIFO (reset-like, one cycle).
// count is the number of words held.
// Latency: a word pushed at cycle t is visible at the output at t + 1.
// Parameters:
//   WIDTH  word width in bits
//   DEPTH  capacity in words, a power of two >= 2
module sampan_fifo #(
    parameter WIDTH = 512,  // word width in bits
    parameter DEPTH = 16    // capacity, power of two
) (
    input  wire                     clk,
    input  wire                     rst,
    input  wire                     clear,
    input  wire                     in_valid,
    output wire                     in_ready,
    input  wire [        WIDTH-1:0] in_data,
    output wire                     out_valid,
    input  wire                     out_ready,
    output wire [        WIDTH-1:0] out_data,
    output wire [  $clog2(DEPTH):0] count
);

  localparam AW = $clog2(DEPTH);

  initial begin
    if (DEPTH < 2 || (1 << AW) != DEPTH) $error("%m: DEPTH %0d must be a power of two >= 2", DEPTH);
  end

  reg [WIDTH-1:0] mem[0:DEPTH-1];
  reg [AW:0] wr_ptr_reg, rd_ptr_reg;

  wire full = (wr_ptr_reg[AW] != rd_ptr_reg[AW]) && (wr_ptr_reg[AW-1:0] == rd_ptr_reg[AW-1:0]);
  wire empty = wr_ptr_reg == rd_ptr_reg;

  assign in_ready = !full;
  assign out_valid = !empty;
  assign out_data = mem[rd_ptr_reg[AW-1:0]];
  assign count = wr_ptr_reg - rd_ptr_reg;

  always @(posedge clk) begin
    if (in_valid && !full) mem[wr_ptr_reg[AW-1:0]] <= in_data;
  end

  always @(posedge clk) begin
    if (rst || clear) begin
      wr_ptr_reg <= {(AW + 1) {1'b0}};
      rd_ptr_reg <= {(AW + 1) {1'b0}};
    end else begin
      if (in_valid && !full) wr_ptr_reg <= wr_ptr_reg + 1'b1;
      if (out_ready && !empty) rd_ptr_reg <= rd_ptr_reg + 1'b1;
    end
  end

endmodule
`resetall
