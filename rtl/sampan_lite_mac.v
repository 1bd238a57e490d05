`default_nettype none
// sampan_lite_mac: one multiply-accumulator of sampan_lite_core:
// acc <= clear ? 0 : acc + a * w (int32, two's-complement wrap). Written
// for Yosys to put all of it (multiplier, adder and accumulator register)
// into one iCE40 SB_MAC16; keep_hierarchy keeps that match local (in the
// flattened board design Yosys left the adder and register in logic).
//
// Latency: acc is registered, one cycle after its inputs.
// Parameters: none.
(* keep_hierarchy *)
module sampan_lite_mac (
    input  wire               clk,
    input  wire               clear,  // acc <= 0 (synchronous)
    input  wire signed [ 8:0] a,      // A[r] - za, or 0 between steps
    input  wire signed [ 7:0] w,      // W[c]
    output reg  signed [31:0] acc
);

  wire signed [31:0] prod = a * w;

  always @(posedge clk) begin
    if (clear) acc <= 32'sd0;
    else acc <= acc + prod;
  end

endmodule
`resetall
