`default_nettype none
// sampan_uart_tx: UART transmitter, 8 data bits, no parity, one stop bit,
// from an 8-bit valid/ready stream. txd idles high.
//
// Latency: the start bit begins the cycle after a byte is taken; a byte
// takes 10 bit times, and the next one is taken as the stop bit ends.
// Parameters:
//   DIVISOR  clock cycles per bit (>= 2), e.g. 4 for 3 Mbaud at 12 MHz
module sampan_uart_tx #(
    parameter DIVISOR = 16  // clock cycles per bit
) (
    input  wire       clk,
    input  wire       rst,
    input  wire [7:0] s_axis_tdata,
    input  wire       s_axis_tvalid,
    output wire       s_axis_tready,
    output wire       txd
);

  localparam CW = $clog2(DIVISOR);
  localparam [31:0] LAST32 = DIVISOR - 1;
  localparam [CW-1:0] LAST = LAST32[CW-1:0];

  initial begin
    if (DIVISOR < 2) $error("%m: DIVISOR %0d must be at least 2", DIVISOR);
  end

  reg [9:0] shift_reg, shift_next;  // stop, data[7:0], start; LSB goes out
  reg [3:0] bits_reg, bits_next;  // bits left to send
  reg [CW-1:0] cnt_reg, cnt_next;

  assign s_axis_tready = bits_reg == 4'd0;
  assign txd = bits_reg == 4'd0 ? 1'b1 : shift_reg[0];

  always @* begin
    shift_next = shift_reg;
    bits_next = bits_reg;
    cnt_next = cnt_reg;
    if (bits_reg == 4'd0) begin
      if (s_axis_tvalid) begin
        shift_next = {1'b1, s_axis_tdata, 1'b0};
        bits_next = 4'd10;
        cnt_next = LAST;
      end
    end else if (cnt_reg != 0) begin
      cnt_next = cnt_reg - 1'b1;
    end else begin
      shift_next = {1'b1, shift_reg[9:1]};
      bits_next = bits_reg - 4'd1;
      cnt_next = LAST;
    end
  end

  always @(posedge clk) begin
    shift_reg <= shift_next;
    cnt_reg <= cnt_next;
    if (rst) bits_reg <= 4'd0;
    else bits_reg <= bits_next;
  end

endmodule
`resetall
