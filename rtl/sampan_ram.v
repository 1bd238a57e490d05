`default_nettype none
// sampan_ram: simple dual-port RAM, one write port and one read port on the
// same clock, registered read (inferred as block RAM by Yosys and vendors).
//
// Latency: read data appears one cycle after rd_en with rd_addr and holds
// until the next rd_en. A read of the address being written in the same
// cycle returns the old contents.
// Parameters:
//   WIDTH  word width in bits
//   DEPTH  number of words
//   LOGIC  0: the tool chooses (block RAM); 1: flip-flops (for small
//          memories on parts short of block RAM)
module sampan_ram #(
    parameter WIDTH = 512,  // word width in bits
    parameter DEPTH = 256,  // words
    parameter LOGIC = 0     // 1: flip-flops, never block RAM
) (
    input  wire                     clk,
    input  wire                     wr_en,
    input  wire [$clog2(DEPTH)-1:0] wr_addr,
    input  wire [        WIDTH-1:0] wr_data,
    input  wire                     rd_en,
    input  wire [$clog2(DEPTH)-1:0] rd_addr,
    output reg  [        WIDTH-1:0] rd_data
);

  initial begin
    if (DEPTH < 2) $error("%m: DEPTH %0d must be at least 2", DEPTH);
  end

  generate
    if (LOGIC != 0) begin : gen_logic
      (* ram_style = "logic" *) reg [WIDTH-1:0] mem[0:DEPTH-1];
      always @(posedge clk) begin
        if (wr_en) mem[wr_addr] <= wr_data;
        if (rd_en) rd_data <= mem[rd_addr];
      end
    end else begin : gen_auto
      reg [WIDTH-1:0] mem[0:DEPTH-1];
      always @(posedge clk) begin
        if (wr_en) mem[wr_addr] <= wr_data;
        if (rd_en) rd_data <= mem[rd_addr];
      end
    end
  endgenerate

endmodule
`resetall
