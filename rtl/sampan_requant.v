`default_nettype none
// sampan_requant: one requantizer lane, fully pipelined (one input per cycle,
// no stall).
//
//   x = acc + bias                                   (int32, wrapping)
//   raw:  out = x
//   else: s = clamp(shift, -31, 31); left = max(s, 0); right = max(-s, 0)
//         v = SaturatingRoundingDoublingHighMul(x << left, mult)
//         v = RoundingDivideByPOT(v, right)
//         out = clamp(v + zo, lo, hi)              (exact, sign-extended int8)
//
// This is TFLite's MultiplyByQuantizedMultiplier with double rounding; the
// left shift wraps modulo 2^32. The high multiply uses the identity
// trunc((p + nudge) / 2^31) == (p + 2^30) >>> 31 for every 64-bit product p
// (nudge = 2^30 if p >= 0, 1 - 2^30 otherwise).
//
// Latency: LATENCY (6) cycles from in_valid to out_valid.
// Stages: 1 add bias, clamp shift; 2 left shift; 3 multiply; 4 high half and
// saturation; 5 rounding right shift; 6 zero point and clamp.
module sampan_requant (
    input  wire               clk,
    input  wire               rst,
    input  wire               in_valid,
    input  wire               in_raw,     // 1: out = acc + bias
    input  wire signed [31:0] in_acc,
    input  wire signed [31:0] in_bias,
    input  wire signed [31:0] in_mult,    // Q31 multiplier
    input  wire signed [31:0] in_shift,   // power of two, clamped to [-31, 31]
    input  wire signed [ 7:0] in_zo,
    input  wire signed [ 7:0] in_lo,
    input  wire signed [ 7:0] in_hi,
    output reg                out_valid,
    output reg  signed [31:0] out_data
);

  localparam LATENCY = 6;  // cycles from in_valid to out_valid

  localparam signed [31:0] INT32_MIN = 32'sh8000_0000;
  localparam signed [31:0] INT32_MAX = 32'sh7fff_ffff;

  // Control and the operands that ride along the pipeline.
  reg [LATENCY-1:0] valid_q;
  reg               raw_q1, raw_q2, raw_q3, raw_q4, raw_q5;
  reg signed [7:0]  zo_q1, zo_q2, zo_q3, zo_q4, zo_q5;
  reg signed [7:0]  lo_q1, lo_q2, lo_q3, lo_q4, lo_q5;
  reg signed [7:0]  hi_q1, hi_q2, hi_q3, hi_q4, hi_q5;
  reg [4:0]         right_q1, right_q2, right_q3, right_q4;
  reg signed [31:0] x_q1, x_q2, x_q3, x_q4, x_q5;  // acc + bias (the raw result)

  // ---- stage 1: bias, shift clamp
  reg [4:0]         left_q1;
  reg signed [31:0] mult_q1;
  wire signed [31:0] x = in_acc + in_bias;
  wire signed [31:0] shift_c = (in_shift > 32'sd31) ? 32'sd31 :
                               (in_shift < -32'sd31) ? -32'sd31 : in_shift;
  wire [4:0] shift_neg = 5'd0 - shift_c[4:0];  // |shift| when shift < 0
  // Bits 30:5 of the clamped shift are pure sign extension.
  wire unused_shift = &{1'b0, shift_c[30:5]};

  // ---- stage 2: left shift (modulo 2^32)
  reg signed [31:0] x1_q2;
  reg signed [31:0] mult_q2;

  // ---- stage 3: 32x32 -> 64 multiply, saturation case
  reg signed [63:0] p_q3;
  reg               sat_q3;

  // ---- stage 4: rounding high half
  reg signed [31:0] v_q4;
  wire signed [63:0] p_round = p_q3 + 64'sd1073741824;  // + 2^30
  // Bits 62:31 are the result; p + 2^30 never reaches bit 63 (|p| <= 2^62).
  wire unused_round = &{1'b0, p_round[63], p_round[30:0]};

  // ---- stage 5: RoundingDivideByPOT
  reg signed [31:0] r_q5;
  wire [31:0] mask = ~(32'hffff_ffff << right_q4);
  wire [31:0] rem = v_q4 & mask;
  wire [31:0] thr = (mask >> 1) + {31'd0, v_q4[31]};
  wire signed [31:0] v_shifted = v_q4 >>> right_q4;
  wire signed [31:0] r = v_shifted + {31'd0, (rem > thr)};

  // ---- stage 6: zero point and clamp, exact in 33 bits
  wire signed [32:0] y = {r_q5[31], r_q5} + {{25{zo_q5[7]}}, zo_q5};
  wire signed [32:0] y_lo = {{25{lo_q5[7]}}, lo_q5};
  wire signed [32:0] y_hi = {{25{hi_q5[7]}}, hi_q5};
  wire signed [7:0] y_clamped = (y < y_lo) ? lo_q5 : (y > y_hi) ? hi_q5 : y[7:0];

  always @(posedge clk) begin
    // stage 1
    x_q1 <= x;
    raw_q1 <= in_raw;
    zo_q1 <= in_zo;
    lo_q1 <= in_lo;
    hi_q1 <= in_hi;
    mult_q1 <= in_mult;
    left_q1 <= shift_c[31] ? 5'd0 : shift_c[4:0];
    right_q1 <= shift_c[31] ? shift_neg : 5'd0;
    // stage 2
    x_q2 <= x_q1;
    raw_q2 <= raw_q1;
    zo_q2 <= zo_q1;
    lo_q2 <= lo_q1;
    hi_q2 <= hi_q1;
    right_q2 <= right_q1;
    x1_q2 <= x_q1 << left_q1;
    mult_q2 <= mult_q1;
    // stage 3
    x_q3 <= x_q2;
    raw_q3 <= raw_q2;
    zo_q3 <= zo_q2;
    lo_q3 <= lo_q2;
    hi_q3 <= hi_q2;
    right_q3 <= right_q2;
    p_q3 <= x1_q2 * mult_q2;
    sat_q3 <= (x1_q2 == INT32_MIN) && (mult_q2 == INT32_MIN);
    // stage 4
    x_q4 <= x_q3;
    raw_q4 <= raw_q3;
    zo_q4 <= zo_q3;
    lo_q4 <= lo_q3;
    hi_q4 <= hi_q3;
    right_q4 <= right_q3;
    v_q4 <= sat_q3 ? INT32_MAX : p_round[62:31];
    // stage 5
    x_q5 <= x_q4;
    raw_q5 <= raw_q4;
    zo_q5 <= zo_q4;
    lo_q5 <= lo_q4;
    hi_q5 <= hi_q4;
    r_q5 <= r;
    // stage 6
    out_data <= raw_q5 ? x_q5 : {{24{y_clamped[7]}}, y_clamped};

    if (rst) begin
      valid_q <= {LATENCY{1'b0}};
    end else begin
      valid_q <= {valid_q[LATENCY-2:0], in_valid};
    end
  end

  always @(*) out_valid = valid_q[LATENCY-1];

endmodule
`resetall
