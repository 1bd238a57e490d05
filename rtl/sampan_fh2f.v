`default_nettype none
// sampan_fh2f: IEEE binary16 to binary32 conversion (rtl/ARCHITECTURE.md,
// "Float rules": h2f).
//
// Exact for every finite input, subnormals included (an fp16 subnormal
// m * 2^-24 is normalized: it is a normal fp32 number); +-0 keeps its sign,
// +-Inf stays +-Inf, every NaN becomes the canonical NaN 0x7FC00000.
//
// Latency: 0 (combinational); the users register around it.
// Parameters: none.
module sampan_fh2f (
    input  wire [15:0] in_h,  // binary16 bits
    output reg  [31:0] out_f  // binary32 bits
);

  wire       s = in_h[15];
  wire [4:0] e = in_h[14:10];
  wire [9:0] m = in_h[9:0];

  // Leading one of a subnormal's fraction: m = 1.f * 2^lead, lead in 0..9.
  reg [3:0] lead;
  integer i;
  always @(*) begin
    lead = 4'd0;
    for (i = 0; i < 10; i = i + 1)
      if (m[i]) lead = i[3:0];
  end

  // m << (10 - lead) puts the leading one at bit 10; bits 9:0 are the
  // fraction.
  wire [19:0] m_norm = {10'd0, m} << (4'd10 - lead);
  // value = 2^(lead - 24) * 1.f: biased exponent lead - 24 + 127.
  wire [7:0]  e_sub = {4'd0, lead} + 8'd103;
  wire [7:0]  e_norm = {3'd0, e} + 8'd112;  // e - 15 + 127

  always @(*) begin
    if (e == 5'd31) out_f = (m == 10'd0) ? {s, 8'hFF, 23'd0} : 32'h7FC0_0000;
    else if (e == 5'd0 && m == 10'd0) out_f = {s, 31'd0};
    else if (e == 5'd0) out_f = {s, e_sub, m_norm[9:0], 13'd0};
    else out_f = {s, e_norm, m, 13'd0};
  end

  wire unused_h2f = &{1'b0, m_norm[19:10]};

endmodule
`resetall
