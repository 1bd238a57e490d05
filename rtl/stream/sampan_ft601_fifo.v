`default_nettype none
// sampan_ft601_fifo: bridge from an FTDI FT600 (16-bit) or FT601 (32-bit)
// USB 3 chip in 245 synchronous FIFO mode (one channel) to the stream
// shell's 8-bit valid/ready byte streams.
//
// Two clock domains. The chip drives ft_clk (100 or 66 MHz); the bus
// handshake runs there. The byte streams run on the shell's clk. Words
// cross in both directions through dual-clock FIFOs with Gray-coded
// pointers (sampan_async_fifo), so the shell may run at any clock that
// suits the core (the iCE40 and Artix parts cannot close a 100 MHz core).
//
// Bus handshake (FT600/FT601 datasheet, 245 synchronous FIFO mode): RXF#
// low = the chip has words for us; we turn the bus around (OE# low for one
// cycle with RD# high), then hold OE# and RD# low and take a word, with its
// byte enables BE, at every edge where RXF# and RD# are both low. TXE# low =
// the chip has room; we drive DATA and BE with WR# low and a word counts at
// every edge where TXE# and WR# are both low. Reads win over writes (the
// host sends a request only after the previous response). We drive the
// bus only in the write state, which is entered at least one cycle after
// OE# went high.
//
// Byte order: the first byte of the stream is lane 0 (DATA[7:0], BE[0]),
// as the chip packs USB data little-endian. From the host, a word may
// carry fewer bytes (the last word of a transfer, BE = 0001, 0011, 0111;
// any BE pattern is accepted and its set lanes are taken in lane order).
// To the host, bytes are packed from lane 0 up; a partial word (BE marking
// the valid low lanes) goes out when the byte stream has been idle for
// FLUSH_IDLE clk cycles, so a response is never held back waiting for the
// rest of a word. SIWU# and WAKEUP# are tied high (not used in 245 mode).
//
// Latency: about 3 ft_clk + 3 clk cycles each way (synchronizers).
// Reset: rst (clk domain, synchronous) is also synchronized into ft_clk;
// hold it for at least 4 cycles of the slower clock.
// Parameters:
//   DATA_WIDTH  FIFO bus width: 16 (FT600) or 32 (FT601)
//   RX_DEPTH    words buffered from the chip (power of two, >= 16)
//   TX_DEPTH    words buffered toward the chip (power of two, >= 4)
//   FLUSH_IDLE  idle clk cycles before a partial word is sent (>= 1)
module sampan_ft601_fifo #(
    parameter DATA_WIDTH = 32,  // FIFO bus width: 16 (FT600) or 32 (FT601)
    parameter RX_DEPTH   = 16,  // words buffered from the chip
    parameter TX_DEPTH   = 8,   // words buffered toward the chip
    parameter FLUSH_IDLE = 4    // idle clk cycles before a partial word goes out
) (
    // chip side, on the chip's clock
    input  wire                    ft_clk,       // the chip's CLK (100 or 66 MHz)
    input  wire [  DATA_WIDTH-1:0] ft_data_in,
    output wire [  DATA_WIDTH-1:0] ft_data_out,
    input  wire [DATA_WIDTH/8-1:0] ft_be_in,
    output wire [DATA_WIDTH/8-1:0] ft_be_out,
    output wire                    ft_bus_oe,    // 1: drive DATA and BE from ft_*_out
    input  wire                    ft_rxf_n,
    input  wire                    ft_txe_n,
    output wire                    ft_rd_n,
    output wire                    ft_wr_n,
    output wire                    ft_oe_n,
    output wire                    ft_siwu_n,    // tied high
    output wire                    ft_wakeup_n,  // tied high
    // stream side, on the shell's clock
    input  wire                    clk,
    input  wire                    rst,          // synchronous to clk, active high
    output wire [             7:0] m_axis_tdata, // bytes from the host
    output wire                    m_axis_tvalid,
    input  wire                    m_axis_tready,
    input  wire [             7:0] s_axis_tdata, // bytes to the host
    input  wire                    s_axis_tvalid,
    output wire                    s_axis_tready
);

  localparam LANES = DATA_WIDTH / 8;
  localparam LW = $clog2(LANES) + 1;  // width of a byte count 0..LANES
  localparam WW = DATA_WIDTH + LANES;  // a FIFO word: {BE, DATA}
  localparam RCW = $clog2(RX_DEPTH) + 1;
  localparam TCW = $clog2(TX_DEPTH) + 1;
  // Room left when RD# is (still) low: words already on their way.
  localparam [31:0] RX_STOP32 = RX_DEPTH - 4;
  localparam [RCW-1:0] RX_STOP = RX_STOP32[RCW-1:0];
  localparam [31:0] FLUSH32 = FLUSH_IDLE;
  localparam IW = $clog2(FLUSH_IDLE + 1) + 1;
  localparam [IW-1:0] FLUSH_AT = FLUSH32[IW-1:0];
  localparam [31:0] LANES32 = LANES;
  localparam [LW-1:0] FULL_WORD = LANES32[LW-1:0];

  initial begin
    if (DATA_WIDTH != 16 && DATA_WIDTH != 32)
      $error("%m: DATA_WIDTH %0d must be 16 (FT600) or 32 (FT601)", DATA_WIDTH);
    if (RX_DEPTH < 16) $error("%m: RX_DEPTH %0d must be at least 16", RX_DEPTH);
    if (TX_DEPTH < 4) $error("%m: TX_DEPTH %0d must be at least 4", TX_DEPTH);
    if (FLUSH_IDLE < 1) $error("%m: FLUSH_IDLE %0d must be at least 1", FLUSH_IDLE);
  end

  // ================================================ reset into ft_clk
  reg ft_rst_q1, ft_rst_q2;
  always @(posedge ft_clk) begin
    ft_rst_q1 <= rst;
    ft_rst_q2 <= ft_rst_q1;
  end
  wire ft_rst = ft_rst_q2;

  // ================================================ chip side (ft_clk)
  localparam [1:0] IDLE = 2'd0, TURN = 2'd1, READ = 2'd2, WRITE = 2'd3;

  reg [1:0] state_reg, state_next;
  reg rd_n_reg, rd_n_next, wr_n_reg, wr_n_next, oe_n_reg, oe_n_next;
  reg [WW-1:0] hold_reg, hold_next;  // the word on the bus while writing
  reg hold_valid_reg, hold_valid_next;

  wire rx_take = !rd_n_reg && !ft_rxf_n;
  wire tx_done = !wr_n_reg && !ft_txe_n;
  wire [RCW-1:0] rx_count;
  wire rx_wr_ready;
  wire rx_room = rx_count < RX_STOP;
  wire tx_word_valid;
  wire [WW-1:0] tx_word;
  wire tx_word_pop = tx_word_valid && (!hold_valid_reg || tx_done);
  wire rx_word_valid;
  wire [WW-1:0] rx_word;
  wire rx_word_pop;

  sampan_async_fifo #(
      .WIDTH(WW),
      .DEPTH(RX_DEPTH)
  ) u_rx_fifo (
      .wr_clk  (ft_clk),
      .wr_rst  (ft_rst),
      .wr_valid(rx_take),
      .wr_ready(rx_wr_ready),
      .wr_data ({ft_be_in, ft_data_in}),
      .wr_count(rx_count),
      .rd_clk  (clk),
      .rd_rst  (rst),
      .rd_valid(rx_word_valid),
      .rd_ready(rx_word_pop),
      .rd_data (rx_word)
  );

  // RX_STOP keeps the receive FIFO from filling; its ready is not needed.
  wire unused_ok = &{1'b0, rx_wr_ready};

  assign ft_data_out = hold_reg[DATA_WIDTH-1:0];
  assign ft_be_out = hold_reg[WW-1:DATA_WIDTH];
  assign ft_bus_oe = state_reg == WRITE;
  assign ft_rd_n = rd_n_reg;
  assign ft_wr_n = wr_n_reg;
  assign ft_oe_n = oe_n_reg;
  assign ft_siwu_n = 1'b1;
  assign ft_wakeup_n = 1'b1;

  always @* begin
    state_next = state_reg;
    hold_next = hold_reg;
    hold_valid_next = hold_valid_reg && !tx_done;
    if (tx_word_pop) begin
      hold_next = tx_word;
      hold_valid_next = 1'b1;
    end
    case (state_reg)
      IDLE:
      if (!ft_rxf_n && rx_room) state_next = TURN;
      else if (!ft_txe_n && hold_valid_reg) state_next = WRITE;
      TURN: state_next = READ;
      READ: if (ft_rxf_n || !rx_room) state_next = IDLE;
      default:  // WRITE: leave for a read or when nothing is left
      if (!hold_valid_next || ft_txe_n || !ft_rxf_n) state_next = IDLE;
    endcase
    oe_n_next = !(state_next == TURN || state_next == READ);
    rd_n_next = state_next != READ;
    wr_n_next = !(state_next == WRITE && hold_valid_next);
  end

  always @(posedge ft_clk) begin
    hold_reg <= hold_next;
    if (ft_rst) begin
      state_reg <= IDLE;
      rd_n_reg <= 1'b1;
      wr_n_reg <= 1'b1;
      oe_n_reg <= 1'b1;
      hold_valid_reg <= 1'b0;
    end else begin
      state_reg <= state_next;
      rd_n_reg <= rd_n_next;
      wr_n_reg <= wr_n_next;
      oe_n_reg <= oe_n_next;
      hold_valid_reg <= hold_valid_next;
    end
  end

  // ================================================ stream side (clk)
  // Words to bytes: the set lanes of the head word, lowest first.
  reg [LANES-1:0] used_reg, used_next;  // lanes of the head word already sent
  wire [LANES-1:0] rx_left = rx_word[WW-1:DATA_WIDTH] & ~used_reg;
  reg [LANES-1:0] lane_bit;  // lowest set bit of rx_left
  reg [7:0] lane_byte;
  integer li;

  always @* begin
    lane_bit = {LANES{1'b0}};
    lane_byte = 8'h00;
    for (li = LANES - 1; li >= 0; li = li - 1) begin
      if (rx_left[li]) begin
        lane_bit = {LANES{1'b0}};
        lane_bit[li] = 1'b1;
        lane_byte = rx_word[8*li+:8];
      end
    end
  end

  wire byte_out = m_axis_tvalid && m_axis_tready;
  // Pop a word once its last set lane goes out; a word with no lanes set
  // is dropped at once.
  assign rx_word_pop = rx_word_valid && (rx_left == {LANES{1'b0}} ||
                                         (byte_out && (rx_left & ~lane_bit) == {LANES{1'b0}}));
  assign m_axis_tvalid = rx_word_valid && rx_left != {LANES{1'b0}};
  assign m_axis_tdata = lane_byte;

  always @* begin
    used_next = used_reg;
    if (rx_word_pop) used_next = {LANES{1'b0}};
    else if (byte_out) used_next = used_reg | lane_bit;
  end

  // Bytes to words: packed from lane 0; a full word goes out at once, a
  // partial one after FLUSH_IDLE cycles without a byte.
  reg [DATA_WIDTH-1:0] pack_reg, pack_next;
  reg [LW-1:0] fill_reg, fill_next;  // bytes in pack_reg
  reg [IW-1:0] idle_reg, idle_next;
  wire tx_wr_ready;
  wire [TCW-1:0] tx_count;
  wire pack_full = fill_reg == FULL_WORD;
  wire pack_flush = fill_reg != {LW{1'b0}} && !s_axis_tvalid && idle_reg >= FLUSH_AT;
  wire pack_push = tx_wr_ready && (pack_full || pack_flush);
  reg [LANES-1:0] pack_be;
  integer bi;

  assign s_axis_tready = !pack_full || tx_wr_ready;

  always @* begin
    for (bi = 0; bi < LANES; bi = bi + 1) pack_be[bi] = bi < fill_reg;
  end

  always @* begin
    pack_next = pack_reg;
    fill_next = pack_push ? {LW{1'b0}} : fill_reg;
    idle_next = idle_reg;
    if (s_axis_tvalid && s_axis_tready) begin
      pack_next[8*fill_next[LW-2:0]+:8] = s_axis_tdata;
      fill_next = fill_next + 1'b1;
      idle_next = {IW{1'b0}};
    end else if (fill_reg != {LW{1'b0}} && idle_reg < FLUSH_AT) begin
      idle_next = idle_reg + 1'b1;
    end
    if (pack_push && !(s_axis_tvalid && s_axis_tready)) idle_next = {IW{1'b0}};
  end

  sampan_async_fifo #(
      .WIDTH(WW),
      .DEPTH(TX_DEPTH)
  ) u_tx_fifo (
      .wr_clk  (clk),
      .wr_rst  (rst),
      .wr_valid(pack_push),
      .wr_ready(tx_wr_ready),
      .wr_data ({pack_be, pack_reg}),
      .wr_count(tx_count),
      .rd_clk  (ft_clk),
      .rd_rst  (ft_rst),
      .rd_valid(tx_word_valid),
      .rd_ready(tx_word_pop),
      .rd_data (tx_word)
  );

  // The write side needs only ready, not the fill level.
  wire unused_tx = &{1'b0, tx_count};

  always @(posedge clk) begin
    pack_reg <= pack_next;
    if (rst) begin
      used_reg <= {LANES{1'b0}};
      fill_reg <= {LW{1'b0}};
      idle_reg <= {IW{1'b0}};
    end else begin
      used_reg <= used_next;
      fill_reg <= fill_next;
      idle_reg <= idle_next;
    end
  end

endmodule
`resetall
