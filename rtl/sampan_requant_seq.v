`default_nettype none
// sampan_requant_seq: one requantizer lane that computes the same function
// as sampan_requant (TFLite MultiplyByQuantizedMultiplier, double rounding,
// zero point and clamp; raw mode returns acc + bias) but one value at a
// time, with the 32x32 multiply done by shift and add over 32 cycles and
// the shifts one bit per cycle. It needs no multiplier block: for parts whose DSPs all go to the array
// (iCE40UP5K), the store unit runs one of these over the columns of a row.
//
//   x = acc + bias                                   (int32, wrapping)
//   raw:  out = x
//   else: s = clamp(shift, -31, 31); left = max(s, 0); right = max(-s, 0)
//         v = SaturatingRoundingDoublingHighMul(x << left, mult)
//         v = RoundingDivideByPOT(v, right)
//         out = clamp(v + zo, lo, hi)              (sign-extended int8)
//
// Handshake: a value is taken when in_valid && in_ready; in_ready is high
// only while the lane is idle. out_valid pulses once per value.
// Latency: raw 2 cycles; requantized 38 + left + right cycles (at most 100)
// from acceptance to out_valid (shifts go one bit per cycle).
module sampan_requant_seq (
    input  wire               clk,
    input  wire               rst,
    input  wire               in_valid,
    output wire               in_ready,
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

  localparam signed [31:0] INT32_MIN = 32'sh8000_0000;
  localparam signed [31:0] INT32_MAX = 32'sh7fff_ffff;

  localparam [2:0] S_IDLE = 3'd0;  // waiting for a value
  localparam [2:0] S_SHL = 3'd1;  // left shift, one bit per cycle
  localparam [2:0] S_MUL = 3'd2;  // 32 shift-and-add steps
  localparam [2:0] S_HIGH = 3'd3;  // rounding high half, saturation
  localparam [2:0] S_SHR = 3'd4;  // rounding right shift, one bit per cycle
  localparam [2:0] S_OUT = 3'd5;  // zero point, clamp, out_valid

  reg [2:0]         state_reg;
  reg               raw_reg;
  reg signed [31:0] x_reg;       // acc + bias, shifted, the product's high half, the result
  reg signed [31:0] mult_reg;
  reg [4:0]         right_reg;
  reg [4:0]         cnt_reg;     // shift steps left / multiply step
  reg signed [7:0]  zo_reg, lo_reg, hi_reg;
  reg signed [32:0] p_hi_reg;    // running product, high part (sign-extended)
  reg [31:0]        p_lo_reg;    // low product bits in, multiplier bits out
  reg               sat_reg;     // INT32_MIN * INT32_MIN
  reg               last_reg;    // right shift: the last bit shifted out
  reg               sticky_reg;  // right shift: any bit shifted out before it

  assign in_ready = state_reg == S_IDLE;

  // Shift clamp of the incoming value, as in sampan_requant stage 1.
  wire signed [31:0] shift_c = (in_shift > 32'sd31) ? 32'sd31 :
                               (in_shift < -32'sd31) ? -32'sd31 : in_shift;
  wire [4:0] shift_neg = 5'd0 - shift_c[4:0];
  wire unused_shift = &{1'b0, shift_c[30:5]};

  // One multiply step: add the multiplicand (subtract it for the sign bit
  // of the multiplier) when the current multiplier bit is set, then shift
  // the 65-bit {p_hi, p_lo} right by one.
  wire signed [33:0] addend = !p_lo_reg[0] ? 34'sd0 :
                              (cnt_reg == 5'd31) ? -{{2{x_reg[31]}}, x_reg} : {{2{x_reg[31]}}, x_reg};
  wire signed [33:0] p_sum = {p_hi_reg[32], p_hi_reg} + addend;

  // The rounded high half of the 64-bit product {p_hi[31:0], p_lo}:
  // bits 62:31 of p + 2^30.
  wire [33:0] p_round = {p_hi_reg[31:0], p_lo_reg[31:30]} + 34'd1;  // bit k is bit k+30 of p + 2^30
  wire unused_round = &{1'b0, p_round[33], p_round[0], p_hi_reg[32], p_lo_reg[29:0]};

  // RoundingDivideByPOT by 2^right, one bit per cycle: once shifted, round
  // up when the last bit out was set and, for negative values, any bit
  // before it too (remainder > (2^right - 1) / 2 + (x < 0) in TFLite terms).
  wire round_up = last_reg && (!x_reg[31] || sticky_reg);

  // Zero point and clamp, exact in 33 bits.
  wire signed [32:0] y = {x_reg[31], x_reg} + {{25{zo_reg[7]}}, zo_reg};
  wire signed [32:0] y_lo = {{25{lo_reg[7]}}, lo_reg};
  wire signed [32:0] y_hi = {{25{hi_reg[7]}}, hi_reg};
  wire signed [7:0] y_clamped = (y < y_lo) ? lo_reg : (y > y_hi) ? hi_reg : y[7:0];

  always @(posedge clk) begin
    out_valid <= 1'b0;
    case (state_reg)
      S_IDLE: begin
        if (in_valid) begin
          x_reg <= in_acc + in_bias;
          raw_reg <= in_raw;
          mult_reg <= in_mult;
          zo_reg <= in_zo;
          lo_reg <= in_lo;
          hi_reg <= in_hi;
          right_reg <= shift_c[31] ? shift_neg : 5'd0;
          cnt_reg <= shift_c[31] ? 5'd0 : shift_c[4:0];
          state_reg <= in_raw ? S_OUT : S_SHL;
        end
      end
      S_SHL: begin
        // x << left, modulo 2^32; then set up the multiply.
        p_hi_reg <= 33'sd0;
        p_lo_reg <= mult_reg;
        if (cnt_reg != 5'd0) begin
          x_reg <= x_reg << 1;
          cnt_reg <= cnt_reg - 5'd1;
        end else begin
          state_reg <= S_MUL;
        end
      end
      S_MUL: begin
        p_hi_reg <= p_sum[33:1];
        p_lo_reg <= {p_sum[0], p_lo_reg[31:1]};
        cnt_reg <= cnt_reg + 5'd1;
        if (cnt_reg == 5'd31) state_reg <= S_HIGH;
        sat_reg <= (x_reg == INT32_MIN) && (mult_reg == INT32_MIN);
      end
      S_HIGH: begin
        x_reg <= sat_reg ? INT32_MAX : p_round[32:1];
        cnt_reg <= right_reg;
        last_reg <= 1'b0;
        sticky_reg <= 1'b0;
        state_reg <= S_SHR;
      end
      S_SHR: begin
        if (cnt_reg != 5'd0) begin
          x_reg <= x_reg >>> 1;
          last_reg <= x_reg[0];
          sticky_reg <= sticky_reg || last_reg;
          cnt_reg <= cnt_reg - 5'd1;
        end else begin
          x_reg <= x_reg + {31'd0, round_up};
          state_reg <= S_OUT;
        end
      end
      default: begin  // S_OUT
        out_valid <= 1'b1;
        out_data <= raw_reg ? x_reg : {{24{y_clamped[7]}}, y_clamped};
        state_reg <= S_IDLE;
      end
    endcase
    if (rst) begin
      state_reg <= S_IDLE;
      out_valid <= 1'b0;
    end
  end

endmodule
`resetall
