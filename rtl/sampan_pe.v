`default_nettype none
// sampan_pe: one processing element of the output-stationary systolic array.
//
// Activations (with their valid/last flags) pass to the right, weights pass
// down, each through one register. A valid step adds in_a*in_w to the local
// accumulator (ACC_WIDTH bits, two's-complement wrap); the step flagged last
// moves the final sum to the shadow register `res`, pulses res_valid and
// restarts the accumulator from zero, so the next tile follows with no bubble.
//
// Latency: 1 cycle for every output (all outputs registered).
// Parameters:
//   ACC_WIDTH  accumulator and shadow register width in bits
module sampan_pe #(
    parameter ACC_WIDTH = 32  // accumulator width (>= 18)
) (
    input  wire                        clk,
    input  wire                        rst,
    input  wire                        in_valid,
    input  wire                        in_last,
    input  wire signed [8:0]           in_a,       // A[m][k] - za
    input  wire signed [7:0]           in_w,       // W[n][k]
    output reg                         out_valid,
    output reg                         out_last,
    output reg  signed [8:0]           out_a,
    output reg  signed [7:0]           out_w,
    output reg                         res_valid,
    output reg  signed [ACC_WIDTH-1:0] res
);

  initial begin
    if (ACC_WIDTH < 18) $error("%m: ACC_WIDTH %0d must be at least 18", ACC_WIDTH);
  end

  reg signed [ACC_WIDTH-1:0] acc_reg;

  // 9x8 signed product, sign-extended to the accumulator width.
  wire signed [16:0] prod = in_a * in_w;
  wire signed [ACC_WIDTH-1:0] sum = acc_reg + {{(ACC_WIDTH - 17) {prod[16]}}, prod};

  always @(posedge clk) begin
    out_a <= in_a;
    out_w <= in_w;
    out_last <= in_last;
    if (in_valid) begin
      if (in_last) begin
        res <= sum;
        acc_reg <= {ACC_WIDTH{1'b0}};
      end else begin
        acc_reg <= sum;
      end
    end
    if (rst) begin
      out_valid <= 1'b0;
      res_valid <= 1'b0;
      acc_reg <= {ACC_WIDTH{1'b0}};
    end else begin
      out_valid <= in_valid;
      res_valid <= in_valid & in_last;
    end
  end

endmodule
`resetall
