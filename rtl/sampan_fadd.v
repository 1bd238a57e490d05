`default_nettype none
// sampan_fadd: binary32 addition under the project's float rules
// (rtl/ARCHITECTURE.md, "Float rules").
//
// Round to nearest, ties to even, with the exponent unbounded while
// rounding; a result below 2^-126 becomes a zero of its sign (flush to
// zero), one at or above 2^128 becomes Inf. Subnormal operands read as zero
// of their sign. Any NaN operand, or Inf - Inf, gives 0x7FC00000; Inf plus
// a finite value is that Inf. Two zeros add to -0 only when both are -0;
// x + (-x) is +0.
//
// The larger operand X keeps three extra bits (guard, round, sticky) and the
// smaller one Y is shifted right into them with everything shifted out
// ORed into the lowest bit, which rounds exactly as the infinitely precise
// sum would.
//
// Latency: 5 cycles, one input per cycle (stages: 1 decode and order,
// 2 align and add, 3 leading one, 4 normalize and round bits, 5 round and
// pack). No reset: the caller tracks valid.
// Parameters: none.
module sampan_fadd (
    input  wire        clk,
    input  wire [31:0] in_a,  // binary32
    input  wire [31:0] in_b,  // binary32
    output reg  [31:0] out_f  // binary32 sum
);

  // ---- stage 1: decode and order by magnitude
  wire a_max = in_a[30:23] == 8'hFF;
  wire b_max = in_b[30:23] == 8'hFF;
  wire a_nan = a_max && in_a[22:0] != 23'd0;
  wire b_nan = b_max && in_b[22:0] != 23'd0;
  wire a_inf = a_max && in_a[22:0] == 23'd0;
  wire b_inf = b_max && in_b[22:0] == 23'd0;
  wire a_zero = in_a[30:23] == 8'd0;  // zero or subnormal
  wire b_zero = in_b[30:23] == 8'd0;
  // Magnitudes with subnormals cleared, so that they compare as zero.
  wire [30:0] a_mag = a_zero ? 31'd0 : in_a[30:0];
  wire [30:0] b_mag = b_zero ? 31'd0 : in_b[30:0];
  wire        swap = b_mag > a_mag;
  wire [30:0] x_mag = swap ? b_mag : a_mag;
  wire [30:0] y_mag = swap ? a_mag : b_mag;
  wire        x_s = swap ? in_b[31] : in_a[31];
  wire        y_s = swap ? in_a[31] : in_b[31];

  reg [7:0]  ex_q1;
  reg [7:0]  d_q1;      // ex - ey
  reg [23:0] mx_q1, my_q1;
  reg        s_q1, sub_q1;
  reg        nan_q1, inf_q1, zz_q1;
  reg        inf_s_q1, zz_s_q1;

  // ---- stage 2: align Y into X's guard bits and add
  wire [26:0] y_full = {my_q1, 3'b000};
  wire [26:0] y_sh = (d_q1 >= 8'd27) ? 27'd0 : y_full >> d_q1;
  wire [26:0] y_lost = (d_q1 >= 8'd27) ? y_full : y_full & ~(27'h7FF_FFFF << d_q1);
  wire [27:0] y_ext = {1'b0, y_sh[26:1], y_sh[0] | (y_lost != 27'd0)};
  wire [27:0] x_ext = {1'b0, mx_q1, 3'b000};
  wire [27:0] sum = sub_q1 ? x_ext - y_ext : x_ext + y_ext;

  reg [27:0] sum_q2;
  reg [7:0]  ex_q2;
  reg        s_q2, nan_q2, inf_q2, zz_q2;
  reg        inf_s_q2, zz_s_q2;

  // ---- stage 3: leading one of the sum
  reg [4:0] lead;
  integer j;
  always @(*) begin
    lead = 5'd0;
    for (j = 0; j < 28; j = j + 1)
      if (sum_q2[j]) lead = j[4:0];
  end
  reg [27:0] sum_q3;
  reg [4:0]  lead_q3;
  reg [7:0]  ex_q3;
  reg        s_q3, nan_q3, inf_q3, zz_q3, exact0_q3;
  reg        inf_s_q3, zz_s_q3;

  // ---- stage 4: normalize the leading one to bit 26 (a carry into bit 27
  // shifts right, keeping the lost bit sticky), round bits
  wire [27:0] n_right = {1'b0, sum_q3[27:2], sum_q3[1] | sum_q3[0]};
  wire [27:0] n_left = sum_q3 << (5'd26 - lead_q3);
  wire [27:0] norm = lead_q3 == 5'd27 ? n_right : n_left;
  reg [23:0]  sig_q4;
  reg         inc_q4;
  reg signed [9:0] e_q4;
  reg         s_q4, nan_q4, inf_q4, zz_q4, exact0_q4;
  reg         inf_s_q4, zz_s_q4;

  // ---- stage 5: round, flush or overflow, pack
  wire [24:0] sig_r = {1'b0, sig_q4} + {24'd0, inc_q4};
  wire signed [9:0] e_r = e_q4 + {9'd0, sig_r[24]};
  wire [22:0] frac_r = sig_r[24] ? sig_r[23:1] : sig_r[22:0];

  always @(posedge clk) begin
    ex_q1 <= x_mag[30:23];
    d_q1 <= x_mag[30:23] - y_mag[30:23];
    mx_q1 <= {x_mag[30:23] != 8'd0, x_mag[22:0]};
    my_q1 <= {y_mag[30:23] != 8'd0, y_mag[22:0]};
    s_q1 <= x_s;
    sub_q1 <= x_s ^ y_s;
    nan_q1 <= a_nan || b_nan || (a_inf && b_inf && in_a[31] != in_b[31]);
    inf_q1 <= a_inf || b_inf;
    inf_s_q1 <= a_inf ? in_a[31] : in_b[31];
    zz_q1 <= a_zero && b_zero;
    zz_s_q1 <= in_a[31] && in_b[31];

    sum_q2 <= sum;
    ex_q2 <= ex_q1;
    s_q2 <= s_q1;
    nan_q2 <= nan_q1;
    inf_q2 <= inf_q1;
    inf_s_q2 <= inf_s_q1;
    zz_q2 <= zz_q1;
    zz_s_q2 <= zz_s_q1;

    sum_q3 <= sum_q2;
    lead_q3 <= lead;
    ex_q3 <= ex_q2;
    s_q3 <= s_q2;
    nan_q3 <= nan_q2;
    inf_q3 <= inf_q2;
    inf_s_q3 <= inf_s_q2;
    zz_q3 <= zz_q2;
    zz_s_q3 <= zz_s_q2;
    exact0_q3 <= sum_q2 == 28'd0;

    sig_q4 <= norm[26:3];
    inc_q4 <= norm[2] && (norm[1] || norm[0] || norm[3]);
    e_q4 <= {2'd0, ex_q3} + {5'd0, lead_q3} - 10'sd26;
    s_q4 <= s_q3;
    nan_q4 <= nan_q3;
    inf_q4 <= inf_q3;
    inf_s_q4 <= inf_s_q3;
    zz_q4 <= zz_q3;
    zz_s_q4 <= zz_s_q3;
    exact0_q4 <= exact0_q3;

    if (nan_q4) out_f <= 32'h7FC0_0000;
    else if (inf_q4) out_f <= {inf_s_q4, 8'hFF, 23'd0};
    else if (zz_q4) out_f <= {zz_s_q4, 31'd0};
    else if (exact0_q4) out_f <= 32'd0;
    else if (e_r <= 10'sd0) out_f <= {s_q4, 31'd0};
    else if (e_r >= 10'sd255) out_f <= {s_q4, 8'hFF, 23'd0};
    else out_f <= {s_q4, e_r[7:0], frac_r};
  end

  // norm[27] is zero after normalization.
  wire unused_fadd = &{1'b0, norm[27]};

endmodule
`resetall
