`default_nettype none
// sampan_ft245_sync: bridge from an FTDI FT232H (or FT2232H channel A) in
// 245 synchronous FIFO mode to 8-bit valid/ready streams. Runs on the
// chip's 60 MHz CLKOUT (clk); the bidirectional data bus is split into
// ft_data_in / ft_data_out / ft_data_oe for the board top's tristate.
//
// Handshake (FTDI AN_130): RXF# low = the chip has a byte for us; we turn
// the bus around (OE# low for one cycle), then hold RD# low and take one
// byte at every clock edge where RXF# and RD# are both low. TXE# low = the
// chip has room; we drive the data with WR# low and a byte counts at every
// edge where TXE# and WR# are both low. Reads win over writes: the host
// sends a request only after the previous response (stop-and-wait). When
// the bytes to the host stop (a response is complete), SIWU# is pulsed so
// that the chip sends its partial packet at once instead of waiting for
// its latency timer.
// Latency: 3 cycles from RXF# low to the first byte in the receive FIFO,
// which stops RD# early enough never to overflow.
// Parameters:
//   RX_DEPTH  receive FIFO depth (power of two, >= 8)
module sampan_ft245_sync #(
    parameter RX_DEPTH = 16  // receive FIFO depth
) (
    input  wire       clk,            // the FTDI CLKOUT (60 MHz)
    input  wire       rst,
    // FTDI pins (active-low strobes)
    input  wire [7:0] ft_data_in,
    output wire [7:0] ft_data_out,
    output wire       ft_data_oe,     // 1: drive ft_data_out onto the bus
    input  wire       ft_rxf_n,
    input  wire       ft_txe_n,
    output wire       ft_rd_n,
    output wire       ft_wr_n,
    output wire       ft_oe_n,
    output wire       ft_siwu_n,      // send immediate: pulsed after a burst of writes
    // bytes from the host
    output wire [7:0] m_axis_tdata,
    output wire       m_axis_tvalid,
    input  wire       m_axis_tready,
    // bytes to the host
    input  wire [7:0] s_axis_tdata,
    input  wire       s_axis_tvalid,
    output wire       s_axis_tready
);

  localparam [1:0] IDLE = 2'd0, TURN = 2'd1, READ = 2'd2, WRITE = 2'd3;
  localparam CW = $clog2(RX_DEPTH) + 1;
  // Room that must be left when RD# is (still) low: bytes already in flight.
  localparam [31:0] RX_STOP32 = RX_DEPTH - 4;
  localparam [CW-1:0] RX_STOP = RX_STOP32[CW-1:0];

  initial begin
    if (RX_DEPTH < 8) $error("%m: RX_DEPTH %0d must be at least 8", RX_DEPTH);
  end

  reg [1:0] state_reg, state_next;
  reg rd_n_reg, rd_n_next, wr_n_reg, wr_n_next, oe_n_reg, oe_n_next;
  reg [7:0] hold_reg, hold_next;
  reg hold_valid_reg, hold_valid_next;
  reg sent_reg, sent_next;  // bytes written since the last SIWU# pulse
  reg siwu_n_reg, siwu_n_next;

  wire [CW-1:0] rx_count;
  wire rx_in_ready;
  wire rx_take = !rd_n_reg && !ft_rxf_n;
  wire tx_done = !wr_n_reg && !ft_txe_n;
  wire rx_room = rx_count < RX_STOP;

  sampan_fifo #(
      .WIDTH(8),
      .DEPTH(RX_DEPTH)
  ) u_rx_fifo (
      .clk      (clk),
      .rst      (rst),
      .clear    (1'b0),
      .in_valid (rx_take),
      .in_ready (rx_in_ready),
      .in_data  (ft_data_in),
      .out_valid(m_axis_tvalid),
      .out_ready(m_axis_tready),
      .out_data (m_axis_tdata),
      .count    (rx_count)
  );

  // A full FIFO cannot happen (RX_STOP); its ready is not needed.
  wire unused_ok = &{1'b0, rx_in_ready};

  assign ft_data_out = hold_reg;
  assign ft_data_oe = state_reg == WRITE;
  assign ft_rd_n = rd_n_reg;
  assign ft_wr_n = wr_n_reg;
  assign ft_oe_n = oe_n_reg;
  assign ft_siwu_n = siwu_n_reg;
  assign s_axis_tready = !hold_valid_reg || tx_done;

  always @* begin
    state_next = state_reg;
    hold_next = hold_reg;
    hold_valid_next = hold_valid_reg && !tx_done;
    if (s_axis_tvalid && s_axis_tready) begin
      hold_next = s_axis_tdata;
      hold_valid_next = 1'b1;
    end
    case (state_reg)
      IDLE:
      if (!ft_rxf_n && rx_room) state_next = TURN;
      else if (!ft_txe_n && hold_valid_reg) state_next = WRITE;
      TURN: state_next = READ;
      READ: if (ft_rxf_n || !rx_room) state_next = IDLE;
      default:  // WRITE
      if (!hold_valid_next || ft_txe_n || !ft_rxf_n) state_next = IDLE;
    endcase
    // Flush once nothing is left to write after at least one byte.
    sent_next = sent_reg || tx_done;
    siwu_n_next = 1'b1;
    if (sent_reg && !hold_valid_reg && !s_axis_tvalid) begin
      sent_next = 1'b0;
      siwu_n_next = 1'b0;
    end
    oe_n_next = !(state_next == TURN || state_next == READ);
    rd_n_next = !(state_next == READ);
    wr_n_next = !(state_next == WRITE && hold_valid_next);
  end

  always @(posedge clk) begin
    hold_reg <= hold_next;
    if (rst) begin
      state_reg <= IDLE;
      rd_n_reg <= 1'b1;
      wr_n_reg <= 1'b1;
      oe_n_reg <= 1'b1;
      hold_valid_reg <= 1'b0;
      sent_reg <= 1'b0;
      siwu_n_reg <= 1'b1;
    end else begin
      state_reg <= state_next;
      rd_n_reg <= rd_n_next;
      wr_n_reg <= wr_n_next;
      oe_n_reg <= oe_n_next;
      hold_valid_reg <= hold_valid_next;
      sent_reg <= sent_next;
      siwu_n_reg <= siwu_n_next;
    end
  end

endmodule
`resetall
