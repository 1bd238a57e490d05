`default_nettype none
// timing_tb: the timing model's known-answer design (timing_selftest.sh):
// two flip-flops into one 2-input LUT into a flip-flop, so the critical
// path is clock-to-Q + route, LUT2 + route, setup.
module timing_tb (
    input  wire clk,
    input  wire a,
    input  wire b,
    output reg  q
);
  reg a_q, b_q;
  always @(posedge clk) begin
    a_q <= a;
    b_q <= b;
    q   <= a_q ^ b_q;
  end
endmodule
`resetall
