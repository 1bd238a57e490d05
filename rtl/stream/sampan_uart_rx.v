`default_nettype none
// sampan_uart_rx: UART receiver, 8 data bits, no parity, one stop bit, to
// an 8-bit valid/ready stream. The input is synchronised (two flops), the
// start bit is checked at its middle and each bit sampled at its middle.
//
// Latency: a byte is offered about 10.5 bit times after its start edge
// (plus 2 cycles of synchronisation). A byte with a bad stop bit is dropped
// (frame_error pulses); a byte arriving while the previous one has not been
// taken is dropped (overrun pulses). The engine's stop-and-wait protocol
// keeps the host from sending faster than the shell takes bytes.
// Parameters:
//   DIVISOR  clock cycles per bit (>= 4), e.g. 4 for 3 Mbaud at 12 MHz
module sampan_uart_rx #(
    parameter DIVISOR = 16  // clock cycles per bit
) (
    input  wire       clk,
    input  wire       rst,
    input  wire       rxd,
    output wire [7:0] m_axis_tdata,
    output wire       m_axis_tvalid,
    input  wire       m_axis_tready,
    output wire       frame_error,
    output wire       overrun
);

  localparam CW = $clog2(DIVISOR);
  localparam [31:0] LAST32 = DIVISOR - 1;
  localparam [CW-1:0] LAST = LAST32[CW-1:0];
  localparam [31:0] HALF32 = DIVISOR / 2 - 1;
  localparam [CW-1:0] HALF = HALF32[CW-1:0];

  initial begin
    if (DIVISOR < 4) $error("%m: DIVISOR %0d must be at least 4", DIVISOR);
  end

  reg rxd_q1, rxd_q2;
  reg busy_reg, busy_next;
  reg [CW-1:0] cnt_reg, cnt_next;
  reg [3:0] bit_reg, bit_next;  // 0 start, 1..8 data, 9 stop
  reg [7:0] shift_reg, shift_next, data_reg, data_next;
  reg valid_reg, valid_next, ferr_reg, ferr_next, ovr_reg, ovr_next;

  assign m_axis_tdata = data_reg;
  assign m_axis_tvalid = valid_reg;
  assign frame_error = ferr_reg;
  assign overrun = ovr_reg;

  always @* begin
    busy_next = busy_reg;
    cnt_next = cnt_reg;
    bit_next = bit_reg;
    shift_next = shift_reg;
    data_next = data_reg;
    valid_next = valid_reg && !m_axis_tready;
    ferr_next = 1'b0;
    ovr_next = 1'b0;
    if (!busy_reg) begin
      if (!rxd_q2) begin
        busy_next = 1'b1;
        cnt_next = HALF;
        bit_next = 4'd0;
      end
    end else if (cnt_reg != 0) begin
      cnt_next = cnt_reg - 1'b1;
    end else begin
      cnt_next = LAST;
      bit_next = bit_reg + 4'd1;
      if (bit_reg == 4'd0) begin
        if (rxd_q2) busy_next = 1'b0;  // glitch, not a start bit
      end else if (bit_reg <= 4'd8) begin
        shift_next = {rxd_q2, shift_reg[7:1]};
      end else begin
        busy_next = 1'b0;
        if (!rxd_q2) begin
          ferr_next = 1'b1;
        end else if (valid_next) begin
          ovr_next = 1'b1;
        end else begin
          data_next = shift_reg;
          valid_next = 1'b1;
        end
      end
    end
  end

  always @(posedge clk) begin
    rxd_q1 <= rxd;
    rxd_q2 <= rxd_q1;
    cnt_reg <= cnt_next;
    bit_reg <= bit_next;
    shift_reg <= shift_next;
    data_reg <= data_next;
    if (rst) begin
      rxd_q1 <= 1'b1;
      rxd_q2 <= 1'b1;
      busy_reg <= 1'b0;
      valid_reg <= 1'b0;
      ferr_reg <= 1'b0;
      ovr_reg <= 1'b0;
    end else begin
      busy_reg <= busy_next;
      valid_reg <= valid_next;
      ferr_reg <= ferr_next;
      ovr_reg <= ovr_next;
    end
  end

endmodule
`resetall
