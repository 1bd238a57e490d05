`default_nettype none
// sampan_fmul: p = fmul((float)isum, s), a block's integer dot product times
// its fp32 scale, rounded once (rtl/ARCHITECTURE.md, "Float rules").
//
// isum is a signed integer with |isum| < 2^20 (so (float)isum is exact and
// 0 converts to +0.0; a block of 32 steps of (A - za) * W stays below
// 32 * 255 * 128 < 2^20). The 20-bit magnitude times the 24-bit significand is
// formed exactly (44 bits), then rounded to nearest, ties to even, with the
// exponent unbounded; a result below 2^-126 becomes a zero of its sign,
// one at or above 2^128 becomes Inf. A subnormal s reads as zero. Specials:
// s NaN or Inf * 0 give 0x7FC00000, Inf * nonzero gives Inf; the sign of
// a zero or Inf result is the xor of the signs (+0.0 for isum = 0).
//
// Latency: 5 cycles, one input per cycle (stages: 1 decode, 2 multiply,
// 3 leading one, 4 normalize and round bits, 5 round and pack). No reset:
// the caller tracks valid.
// Parameters: none.
module sampan_fmul (
    input  wire               clk,
    input  wire signed [20:0] in_i,  // isum, |isum| < 2^20
    input  wire        [31:0] in_f,  // binary32 scale
    output reg         [31:0] out_f  // binary32 product
);

  // ---- stage 1: decode
  wire [20:0] mag = in_i[20] ? 21'd0 - in_i : in_i;
  reg [19:0]  mag_q1;
  reg [23:0]  sig_q1;
  reg [7:0]   e_q1;
  reg         s_q1, nan_q1, inf_q1, zero_q1;
  wire        f_max = in_f[30:23] == 8'hFF;
  wire        f_zero = in_f[30:23] == 8'd0;  // zero or subnormal: zero
  wire        i_zero = in_i == 21'd0;

  // ---- stage 2: exact product
  reg [43:0]  p_q2;
  reg [7:0]   e_q2;
  reg         s_q2, nan_q2, inf_q2, zero_q2;

  // ---- stage 3: leading one of the product (nonzero unless a special)
  reg [5:0]   lead;
  integer j;
  always @(*) begin
    lead = 6'd0;
    for (j = 0; j < 44; j = j + 1)
      if (p_q2[j]) lead = j[5:0];
  end
  reg [43:0]  p_q3;
  reg [5:0]   lead_q3;
  reg [7:0]   e_q3;
  reg         s_q3, nan_q3, inf_q3, zero_q3;

  // ---- stage 4: normalize to bit 43, round bits; biased exponent of the
  // result is lead + e - 23 (value = P * 2^(e - 150))
  wire [43:0] pn = p_q3 << (6'd43 - lead_q3);
  wire        lsb = pn[20];
  wire        guard = pn[19];
  wire        sticky = |pn[18:0];
  reg [23:0]  sig_q4;
  reg         inc_q4;
  reg signed [9:0] e_q4;
  reg         s_q4, nan_q4, inf_q4, zero_q4;

  // ---- stage 5: round, flush or overflow, pack
  wire [24:0] sig_r = {1'b0, sig_q4} + {24'd0, inc_q4};
  wire signed [9:0] e_r = e_q4 + {9'd0, sig_r[24]};
  wire [22:0] frac_r = sig_r[24] ? sig_r[23:1] : sig_r[22:0];

  always @(posedge clk) begin
    mag_q1 <= mag[19:0];
    sig_q1 <= {1'b1, in_f[22:0]};
    e_q1 <= in_f[30:23];
    s_q1 <= in_i[20] ^ in_f[31];
    nan_q1 <= (f_max && in_f[22:0] != 23'd0) || (f_max && i_zero);
    inf_q1 <= f_max;
    zero_q1 <= f_zero || i_zero;

    p_q2 <= mag_q1 * sig_q1;
    e_q2 <= e_q1;
    s_q2 <= s_q1;
    nan_q2 <= nan_q1;
    inf_q2 <= inf_q1;
    zero_q2 <= zero_q1;

    p_q3 <= p_q2;
    lead_q3 <= lead;
    e_q3 <= e_q2;
    s_q3 <= s_q2;
    nan_q3 <= nan_q2;
    inf_q3 <= inf_q2;
    zero_q3 <= zero_q2;

    sig_q4 <= pn[43:20];
    inc_q4 <= guard && (sticky || lsb);
    e_q4 <= {4'd0, lead_q3} + {2'd0, e_q3} - 10'sd23;
    s_q4 <= s_q3;
    nan_q4 <= nan_q3;
    inf_q4 <= inf_q3;
    zero_q4 <= zero_q3;

    if (nan_q4) out_f <= 32'h7FC0_0000;
    else if (inf_q4) out_f <= {s_q4, 8'hFF, 23'd0};
    else if (zero_q4 || e_r <= 10'sd0) out_f <= {s_q4, 31'd0};
    else if (e_r >= 10'sd255) out_f <= {s_q4, 8'hFF, 23'd0};
    else out_f <= {s_q4, e_r[7:0], frac_r};
  end

  // |isum| < 2^20 fits 20 bits: mag[20] is zero for every legal input.
  wire unused_fmul = &{1'b0, mag[20]};

endmodule
`resetall
