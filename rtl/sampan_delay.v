`default_nettype none
// sampan_delay: a DEPTH-stage shift register of WIDTH-bit words (DEPTH = 0
// is a wire). rst clears every stage; tie it low for pure datapaths.
//
// Latency: DEPTH cycles.
// Parameters:
//   WIDTH  word width in bits
//   DEPTH  stages (0 = combinational pass-through)
module sampan_delay #(
    parameter WIDTH = 1,  // word width in bits
    parameter DEPTH = 1   // stages, >= 0
) (
    input  wire             clk,
    input  wire             rst,
    input  wire [WIDTH-1:0] in,
    output wire [WIDTH-1:0] out
);

  initial begin
    if (WIDTH < 1 || DEPTH < 0) $error("%m: WIDTH %0d must be >= 1 and DEPTH %0d >= 0", WIDTH, DEPTH);
  end

  generate
    if (DEPTH == 0) begin : gen_wire
      assign out = in;
      wire unused_delay = &{1'b0, clk, rst};
    end else if (DEPTH == 1) begin : gen_one
      reg [WIDTH-1:0] q;
      always @(posedge clk) begin
        if (rst) q <= {WIDTH{1'b0}};
        else q <= in;
      end
      assign out = q;
    end else begin : gen_chain
      reg [WIDTH*DEPTH-1:0] q;
      always @(posedge clk) begin
        if (rst) q <= {(WIDTH * DEPTH) {1'b0}};
        else q <= {q[WIDTH*(DEPTH-1)-1:0], in};
      end
      assign out = q[WIDTH*DEPTH-1 -: WIDTH];
    end
  endgenerate

endmodule
`resetall
