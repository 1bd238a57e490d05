`default_nettype none
// sampan_fscale: the block scale s = fmul(h2f(a), h2f(b)) of two fp16 scales
// (rtl/ARCHITECTURE.md, "Float rules").
//
// The product of two binary16 significands has at most 11 x 11 = 22 bits
// and its exponent lies in [2^-48, 2^32), so it is always exact and normal
// in binary32: no rounding, no flush, no overflow. Specials: a NaN operand
// or Inf * 0 gives 0x7FC00000; Inf * nonzero gives Inf; a zero operand
// gives zero; the sign of a zero or Inf result is the xor of the signs.
//
// Latency: 3 cycles, one input per cycle (stages: 1 convert, 2 multiply,
// 3 normalize and pack). No reset: the caller tracks valid.
// Parameters: none.
module sampan_fscale (
    input  wire        clk,
    input  wire [15:0] in_a,  // binary16
    input  wire [15:0] in_b,  // binary16
    output reg  [31:0] out_f  // binary32, exact product
);

  // ---- stage 1: convert
  wire [31:0] fa, fb;
  sampan_fh2f u_h2f_a (
      .in_h (in_a),
      .out_f(fa)
  );
  sampan_fh2f u_h2f_b (
      .in_h (in_b),
      .out_f(fb)
  );
  reg [31:0] fa_q1, fb_q1;

  // ---- stage 2: multiply the 11-bit significands, classify
  wire a_zero = fa_q1[30:23] == 8'd0;
  wire b_zero = fb_q1[30:23] == 8'd0;
  wire a_inf = fa_q1[30:23] == 8'hFF && fa_q1[22:0] == 23'd0;
  wire b_inf = fb_q1[30:23] == 8'hFF && fb_q1[22:0] == 23'd0;
  wire a_nan = fa_q1[30:23] == 8'hFF && fa_q1[22:0] != 23'd0;
  wire b_nan = fb_q1[30:23] == 8'hFF && fb_q1[22:0] != 23'd0;
  reg [21:0] p_q2;
  reg [8:0]  e_q2;    // ea + eb (biased twice)
  reg        s_q2, nan_q2, inf_q2, zero_q2;

  // ---- stage 3: normalize (the product of two values in [1, 2) is in
  // [1, 4): at most one right shift) and pack
  wire [8:0]  e_out = e_q2 - 9'd127 + {8'd0, p_q2[21]};
  wire [22:0] frac = p_q2[21] ? {p_q2[20:0], 2'b00} : {p_q2[19:0], 3'b000};

  always @(posedge clk) begin
    fa_q1 <= fa;
    fb_q1 <= fb;
    p_q2 <= {1'b1, fa_q1[22:13]} * {1'b1, fb_q1[22:13]};
    e_q2 <= {1'b0, fa_q1[30:23]} + {1'b0, fb_q1[30:23]};
    s_q2 <= fa_q1[31] ^ fb_q1[31];
    nan_q2 <= a_nan || b_nan || (a_inf && b_zero) || (b_inf && a_zero);
    inf_q2 <= a_inf || b_inf;
    zero_q2 <= a_zero || b_zero;
    if (nan_q2) out_f <= 32'h7FC0_0000;
    else if (inf_q2) out_f <= {s_q2, 8'hFF, 23'd0};
    else if (zero_q2) out_f <= {s_q2, 31'd0};
    else out_f <= {s_q2, e_out[7:0], frac};
  end

  // The low 13 fraction bits of a converted fp16 are zero; e_out[8] is zero
  // for every finite nonzero product.
  wire unused_fscale = &{1'b0, fa_q1[12:0], fb_q1[12:0], e_out[8]};

endmodule
`resetall
