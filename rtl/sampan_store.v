`default_nettype none
// sampan_store: the store unit (STORE).
//
// Reads the slot's ROWS accumulator rows (one per cycle when acc_rd_grant
// allows; sampan_core gives the store its own copy), adds bias and requantizes them in COLS
// sampan_requant lanes, and collects the rows in a FIFO. A row is only read
// when the FIFO will have room for it (credit = FIFO_DEPTH - rows read and
// not yet packed), so WREADY backpressure stalls reading and never loses
// data. Rows are packed into beats (raw: int32 at byte 4*(r*COLS+c);
// requantized: int8 at byte r*COLS+c; the tail of a last partial beat is
// zero) and written as AXI INCR bursts of up to MAX_BURST beats that never
// cross 4 KiB. A W beat is only sent once its burst's AW has been accepted.
// The command completes once its last W beat is sent; its B responses may
// still be due while the next STORE runs (they arrive in order, so a count
// tells whose they are). The one after that waits for them, and idle waits
// for all of them.
//
// A float STORE (cmd_float, with cmd_raw also set: the same 32-bit layout;
// FLOAT = 1) sends each row through COLS sampan_fadd lanes beside the
// requantizer lanes instead: fp32 acc + fp32 bias (the bias word read as
// fp32 bits), delayed to the requantizer's latency.
//
// The STORE is accepted before the COMPUTEs into its slot have drained; rows
// are read only once slot_drained says so. slot_busy is high while rows of
// busy_slot remain to be read (a COMPUTE into that slot must wait); idle is
// high when no STORE is in progress.
// Latency: the first row enters the FIFO LATENCY + 2 cycles after the first
// row read, which is the cycle after acceptance at the earliest.
// Parameters: ROWS, COLS, ACC_SLOTS, P_ENTRIES as in sampan_core; BUS_BYTES
// bus width in bytes; ADDR_WIDTH AXI address width; MAX_BURST longest burst.
module sampan_store #(
    parameter ROWS       = 16,    // array rows
    parameter COLS       = 16,    // array columns
    parameter ACC_SLOTS  = 4,     // accumulator tiles
    parameter P_ENTRIES  = 64,    // parameter entries
    parameter BUS_BYTES  = 64,    // bus width in bytes
    parameter ADDR_WIDTH = 64,    // AXI address width
    parameter MAX_BURST  = 64,    // longest write burst in beats
    parameter FIFO_DEPTH = 16,    // rows buffered between requantizer and packer (2..16)
    parameter REQUANT_SERIAL = 0, // 1: one sequential lane over the columns (no multiplier)
    parameter FLOAT      = 1,     // 1: float STORE lanes built in (needs REQUANT_SERIAL = 0)
    // derived, do not override
    parameter ACC_ROWS   = ACC_SLOTS * ROWS  // accumulator memory rows
) (
    input  wire                         clk,
    input  wire                         rst,
    // command from the sequencer
    input  wire                         cmd_valid,
    output wire                         cmd_ready,
    input  wire                         cmd_raw,    // 32-bit output (raw or float)
    input  wire                         cmd_float,  // fp32 acc + fp32 bias
    input  wire [                  3:0] cmd_slot,
    input  wire [$clog2(P_ENTRIES)-1:0] cmd_entry,
    input  wire [       ADDR_WIDTH-1:0] cmd_addr,
    input  wire [                  7:0] cmd_zo,
    input  wire [                  7:0] cmd_lo,
    input  wire [                  7:0] cmd_hi,
    input  wire [                 31:0] cmd_index,
    output wire                         idle,
    output wire                         slot_busy,
    output wire [                  3:0] busy_slot,
    input  wire                         slot_drained,
    // parameter memory (registered read)
    output wire                         p_rd_en,
    output wire [$clog2(P_ENTRIES)-1:0] p_rd_addr,
    input  wire [          COLS*32-1:0] p_bias,
    input  wire [          COLS*32-1:0] p_mult,
    input  wire [          COLS*32-1:0] p_shift,
    // accumulator memory read port, shared with the drain
    output wire                         acc_rd_req,
    input  wire                         acc_rd_grant,
    output wire [ $clog2(ACC_ROWS)-1:0] acc_rd_addr,
    input  wire [          COLS*32-1:0] acc_rd_data,
    // AXI write channels
    output wire                         aw_valid,
    input  wire                         aw_ready,
    output wire [       ADDR_WIDTH-1:0] aw_addr,
    output wire [                  7:0] aw_len,
    output wire                         w_valid,
    input  wire                         w_ready,
    output wire [      BUS_BYTES*8-1:0] w_data,
    output wire                         w_last,
    input  wire                         b_valid,
    input  wire                         b_error,   // BRESP is not OKAY
    output reg                          err_valid,
    output reg  [                 31:0] err_index
);

  localparam LOG_B = $clog2(BUS_BYTES);
  localparam RPB_RAW = BUS_BYTES / (4 * COLS);  // raw rows per beat
  localparam RPB_Q = BUS_BYTES / COLS;  // requantized rows per beat
  localparam [31:0] BEATS_RAW = (ROWS * COLS * 4 + BUS_BYTES - 1) / BUS_BYTES;
  localparam [31:0] BEATS_Q = (ROWS * COLS + BUS_BYTES - 1) / BUS_BYTES;
  localparam AAW = $clog2(ACC_ROWS);
  localparam [31:0] LAST_ROW = ROWS - 1;
  localparam [31:0] FIFO_DEPTH32 = FIFO_DEPTH;
  localparam [4:0] FIFO_ROWS = FIFO_DEPTH32[4:0];
  // Width of the beat and burst counts of one STORE (at most BEATS_RAW).
  localparam BW = $clog2(BEATS_RAW + 1);

  initial begin
    if (RPB_RAW < 1 || RPB_RAW * 4 * COLS != BUS_BYTES)
      $error("%m: BUS_BYTES %0d must be a multiple of 4*COLS (%0d)", BUS_BYTES, 4 * COLS);
    if (FIFO_DEPTH < 2 || FIFO_DEPTH > 16) $error("%m: FIFO_DEPTH %0d out of 2..16", FIFO_DEPTH);
  end

  // ------------------------------------------------------------ command

  reg                  act_reg;  // a STORE is in progress
  reg                  raw_reg;
  reg                  float_reg;
  reg [3:0]            slot_reg;
  reg [7:0]            zo_reg, lo_reg, hi_reg;
  reg [31:0]           index_reg;
  wire                 accept = cmd_valid && cmd_ready;
  wire                 finish;

  reg  [BW-1:0]        old_b_reg;      // B responses still due for the previous STORE
  reg  [31:0]          old_index_reg;  // its command index

  assign cmd_ready = !act_reg;
  assign idle = !act_reg && old_b_reg == {BW{1'b0}};
  // Parameters are read once, on accept, and stay on the RAM output.
  assign p_rd_en = accept;
  assign p_rd_addr = cmd_entry;

  always @(posedge clk) begin
    if (accept) begin
      raw_reg <= cmd_raw;
      float_reg <= cmd_float && FLOAT != 0;
      slot_reg <= cmd_slot;
      zo_reg <= cmd_zo;
      lo_reg <= cmd_lo;
      hi_reg <= cmd_hi;
      index_reg <= cmd_index;
    end
    if (rst) act_reg <= 1'b0;
    else if (accept) act_reg <= 1'b1;
    else if (finish) act_reg <= 1'b0;
  end

  // ------------------------------------------------- row reads, requantize

  reg  [6:0] rd_row_reg;  // rows read so far
  reg  [4:0] used_reg;    // rows read and not yet packed (FIFO credit)
  wire       fifo_pop;
  wire       rows_left = act_reg && {25'd0, rd_row_reg} <= LAST_ROW;
  wire       rd_fire;
  wire [31:0] rd_addr = {28'd0, slot_reg} * ROWS + {25'd0, rd_row_reg};

  wire       lane_free;  // the requantizer can take a row read now
  assign acc_rd_req = rows_left && slot_drained && used_reg < FIFO_ROWS && lane_free;
  assign rd_fire = acc_rd_req && acc_rd_grant;
  assign acc_rd_addr = rd_addr[AAW-1:0];
  assign slot_busy = rows_left;
  assign busy_slot = slot_reg;

  reg rd_valid_q;
  always @(posedge clk) begin
    if (rst || accept) begin
      rd_row_reg <= 7'd0;
    end else if (rd_fire) begin
      rd_row_reg <= rd_row_reg + 7'd1;
    end
    if (rst) begin
      used_reg <= 5'd0;
      rd_valid_q <= 1'b0;
    end else begin
      used_reg <= used_reg + {4'd0, rd_fire} - {4'd0, fifo_pop};
      rd_valid_q <= rd_fire;
    end
  end

  wire [COLS-1:0]    rq_valid;
  wire [COLS*32-1:0] rq_data;
  wire [COLS*32-1:0] row_raw = rq_data;
  wire [COLS*32-1:0] row_q;
  wire               row_valid;  // a requantized (or raw) row is complete

  genvar c;
  generate
    if (REQUANT_SERIAL == 0) begin : gen_lanes
      // COLS pipelined lanes: one row per cycle.
      assign lane_free = 1'b1;
      assign row_valid = rq_valid[0];
      for (c = 0; c < COLS; c = c + 1) begin : gen_lane
        wire [31:0] rq_int;
        if (FLOAT != 0) begin : gen_float
          // fadd (5 cycles) plus one register: the requantizer's 6.
          wire [31:0] f_sum;
          reg  [31:0] f_sum_q;
          sampan_fadd u_fadd (
              .clk  (clk),
              .in_a (acc_rd_data[c*32 +: 32]),
              .in_b (p_bias[c*32 +: 32]),
              .out_f(f_sum)
          );
          always @(posedge clk) f_sum_q <= f_sum;
          assign rq_data[c*32 +: 32] = float_reg ? f_sum_q : rq_int;
        end else begin : gen_int
          assign rq_data[c*32 +: 32] = rq_int;
        end
        sampan_requant u_requant (
            .clk      (clk),
            .rst      (rst),
            .in_valid (rd_valid_q),
            .in_raw   (raw_reg),
            .in_acc   (acc_rd_data[c*32 +: 32]),
            .in_bias  (p_bias[c*32 +: 32]),
            .in_mult  (p_mult[c*32 +: 32]),
            .in_shift (p_shift[c*32 +: 32]),
            .in_zo    (zo_reg),
            .in_lo    (lo_reg),
            .in_hi    (hi_reg),
            .out_valid(rq_valid[c]),
            .out_data (rq_int)
        );
      end
    end else begin : gen_serial
      // One sequential lane: the row read is held in ser_row_reg and its
      // columns go through the lane one after the other; the next row is
      // read once the last column is out.
      localparam CW = COLS > 1 ? $clog2(COLS) : 1;
      reg               ser_busy_reg;   // a row is read or in the lane
      reg               ser_feed_reg;   // columns remain to be fed
      reg [CW-1:0]      ser_in_col_reg, ser_out_col_reg;
      reg [COLS*32-1:0] ser_row_reg, ser_out_reg;
      reg               ser_done_reg;
      wire              lane_ready, lane_valid;
      wire [31:0]       lane_data;
      wire              lane_take = ser_feed_reg && lane_ready;
      wire [COLS*32-1:0] out_next;

      for (c = 0; c < COLS; c = c + 1) begin : gen_col
        assign out_next[c*32 +: 32] = (lane_valid && ser_out_col_reg == c[CW-1:0]) ?
                                      lane_data : ser_out_reg[c*32 +: 32];
      end

      assign lane_free = !ser_busy_reg && !rd_valid_q;
      assign row_valid = ser_done_reg;
      assign rq_data = ser_out_reg;
      assign rq_valid = {COLS{ser_done_reg}};

      sampan_requant_seq u_requant (
          .clk      (clk),
          .rst      (rst),
          .in_valid (ser_feed_reg),
          .in_ready (lane_ready),
          .in_raw   (raw_reg),
          .in_acc   (ser_row_reg[ser_in_col_reg*32 +: 32]),
          .in_bias  (p_bias[ser_in_col_reg*32 +: 32]),
          .in_mult  (p_mult[ser_in_col_reg*32 +: 32]),
          .in_shift (p_shift[ser_in_col_reg*32 +: 32]),
          .in_zo    (zo_reg),
          .in_lo    (lo_reg),
          .in_hi    (hi_reg),
          .out_valid(lane_valid),
          .out_data (lane_data)
      );

      always @(posedge clk) begin
        ser_done_reg <= 1'b0;
        ser_out_reg <= out_next;
        if (rd_valid_q) begin
          ser_row_reg <= acc_rd_data;
          ser_feed_reg <= 1'b1;
          ser_in_col_reg <= {CW{1'b0}};
          ser_out_col_reg <= {CW{1'b0}};
        end else begin
          if (lane_take) begin
            ser_in_col_reg <= ser_in_col_reg + 1'b1;
            if ({{(32 - CW) {1'b0}}, ser_in_col_reg} == COLS - 1) ser_feed_reg <= 1'b0;
          end
          if (lane_valid) begin
            ser_out_col_reg <= ser_out_col_reg + 1'b1;
            if ({{(32 - CW) {1'b0}}, ser_out_col_reg} == COLS - 1) begin
              ser_done_reg <= 1'b1;
              ser_busy_reg <= 1'b0;
            end
          end
        end
        if (rd_fire) ser_busy_reg <= 1'b1;
        if (rst) begin
          ser_busy_reg <= 1'b0;
          ser_feed_reg <= 1'b0;
          ser_done_reg <= 1'b0;
        end
      end
    end
    for (c = 0; c < COLS; c = c + 1) begin : gen_q
      assign row_q[c*8 +: 8] = rq_data[c*32 +: 8];
    end
  endgenerate
  assign row_q[COLS*32-1:COLS*8] = {(COLS * 24) {1'b0}};

  // --------------------------------------------------------- row FIFO, pack

  wire               fifo_valid;
  wire [COLS*32-1:0] fifo_row;
  wire               fifo_in_ready;  // always high thanks to the credit
  wire [$clog2(FIFO_DEPTH):0] fifo_count;
  sampan_fifo #(
      .WIDTH(COLS * 32),
      .DEPTH(FIFO_DEPTH)
  ) u_rows (
      .clk      (clk),
      .rst      (rst),
      .clear    (1'b0),
      .in_valid (row_valid),
      .in_ready (fifo_in_ready),
      .in_data  (raw_reg ? row_raw : row_q),
      .out_valid(fifo_valid),
      .out_ready(fifo_pop),
      .out_data (fifo_row),
      .count    (fifo_count)
  );

  reg                   beat_valid_reg;  // beat complete, offered on W
  reg [BUS_BYTES*8-1:0] beat_reg, beat_next;
  reg [6:0]             pos_reg;         // rows in the beat being filled
  reg [6:0]             pk_row_reg;      // rows packed so far
  wire                  w_fire = w_valid && w_ready;
  wire [6:0]            rpb = raw_reg ? RPB_RAW[6:0] : RPB_Q[6:0];
  wire                  beat_full = (pos_reg == rpb - 7'd1) || ({25'd0, pk_row_reg} == LAST_ROW);

  assign fifo_pop = fifo_valid && (!beat_valid_reg || w_fire);

  // The row goes to slot pos_reg of the beat; a new beat starts from zeros.
  genvar p;
  generate
    for (p = 0; p < RPB_Q; p = p + 1) begin : gen_pack
      wire [COLS*8-1:0] old_q = (pos_reg == 7'd0) ? {(COLS * 8) {1'b0}} : beat_reg[p*COLS*8 +: COLS*8];
      wire [COLS*8-1:0] raw_part = fifo_row[(p % 4)*COLS*8 +: COLS*8];
      wire is_raw_slot = pos_reg == p / 4;
      wire is_q_slot = pos_reg == p;
      always @(*) begin
        if (raw_reg) beat_next[p*COLS*8 +: COLS*8] = is_raw_slot ? raw_part : old_q;
        else beat_next[p*COLS*8 +: COLS*8] = is_q_slot ? fifo_row[COLS*8-1:0] : old_q;
      end
    end
  endgenerate

  always @(posedge clk) begin
    if (fifo_pop) beat_reg <= beat_next;
    if (rst || accept) begin
      beat_valid_reg <= 1'b0;
      pos_reg <= 7'd0;
      pk_row_reg <= 7'd0;
    end else begin
      if (w_fire) beat_valid_reg <= 1'b0;
      if (fifo_pop) begin
        pk_row_reg <= pk_row_reg + 7'd1;
        if (beat_full) begin
          beat_valid_reg <= 1'b1;
          pos_reg <= 7'd0;
        end else begin
          pos_reg <= pos_reg + 7'd1;
        end
      end
    end
  end

  // -------------------------------------------------------------- AXI write

  reg [ADDR_WIDTH-1:0] aw_addr_reg;
  reg [BW-1:0]         aw_left_reg;    // beats not yet covered by an AW
  reg [BW-1:0]         aw_beats_reg;   // beats covered by accepted AWs
  reg [BW-1:0]         bursts_reg;     // AWs accepted
  reg [BW-1:0]         b_count_reg;    // B responses received
  reg [ADDR_WIDTH-1:0] w_addr_reg;     // start of the next W burst
  reg [BW-1:0]         w_left_reg;     // beats not yet in a started W burst
  reg [BW-1:0]         w_sent_reg;     // W beats sent
  reg [8:0]            w_rem_reg;      // beats left in the current W burst (0: none)
  wire [8:0]           aw_burst, w_burst;

  sampan_burst #(
      .BUS_BYTES(BUS_BYTES),
      .MAX_BURST(MAX_BURST)
  ) u_aw_burst (
      .addr (aw_addr_reg[11:0]),
      .left ({{(32 - BW) {1'b0}}, aw_left_reg}),
      .beats(aw_burst)
  );
  sampan_burst #(
      .BUS_BYTES(BUS_BYTES),
      .MAX_BURST(MAX_BURST)
  ) u_w_burst (
      .addr (w_addr_reg[11:0]),
      .left ({{(32 - BW) {1'b0}}, w_left_reg}),
      .beats(w_burst)
  );

  wire [8:0] w_cur = (w_rem_reg != 9'd0) ? w_rem_reg : w_burst;
  // A burst never exceeds the beats left, so its low BW bits are exact.
  wire [BW-1:0]        aw_burst_n = aw_burst[BW-1:0];
  wire [BW-1:0]        w_burst_n = w_burst[BW-1:0];
  assign aw_valid = act_reg && aw_left_reg != {BW{1'b0}};
  assign aw_addr = aw_addr_reg;
  assign aw_len = aw_burst[7:0] - 8'd1;
  assign w_valid = beat_valid_reg && w_sent_reg != aw_beats_reg;
  assign w_data = beat_reg;
  assign w_last = w_cur == 9'd1;
  // B responses of the previous STORE come first (in order, one ID).
  wire b_old = b_valid && old_b_reg != {BW{1'b0}};
  wire b_cur = b_valid && old_b_reg == {BW{1'b0}};
  assign finish = act_reg && aw_left_reg == {BW{1'b0}} && w_sent_reg == aw_beats_reg &&
                  !beat_valid_reg && rd_row_reg == ROWS[6:0] && old_b_reg == {BW{1'b0}};

  always @(posedge clk) begin
    if (accept) begin
      aw_addr_reg <= cmd_addr;
      aw_left_reg <= cmd_raw ? BEATS_RAW[BW-1:0] : BEATS_Q[BW-1:0];
      aw_beats_reg <= {BW{1'b0}};
      bursts_reg <= {BW{1'b0}};
      b_count_reg <= {BW{1'b0}};
      w_addr_reg <= cmd_addr;
      w_left_reg <= cmd_raw ? BEATS_RAW[BW-1:0] : BEATS_Q[BW-1:0];
      w_sent_reg <= {BW{1'b0}};
      w_rem_reg <= 9'd0;
    end else begin
      if (aw_valid && aw_ready) begin
        aw_addr_reg <= aw_addr_reg + ({{(ADDR_WIDTH - 9) {1'b0}}, aw_burst} << LOG_B);
        aw_left_reg <= aw_left_reg - aw_burst_n;
        aw_beats_reg <= aw_beats_reg + aw_burst_n;
        bursts_reg <= bursts_reg + 1'b1;
      end
      if (w_fire) begin
        w_sent_reg <= w_sent_reg + 1'b1;
        w_rem_reg <= w_cur - 9'd1;
        if (w_rem_reg == 9'd0) begin
          w_addr_reg <= w_addr_reg + ({{(ADDR_WIDTH - 9) {1'b0}}, w_burst} << LOG_B);
          w_left_reg <= w_left_reg - w_burst_n;
        end
      end
      if (b_cur) b_count_reg <= b_count_reg + 1'b1;
    end
    // A finished STORE hands its outstanding B responses over.
    if (finish) begin
      old_b_reg <= bursts_reg - b_count_reg - {{(BW - 1) {1'b0}}, b_cur};
      old_index_reg <= index_reg;
    end else if (b_old) begin
      old_b_reg <= old_b_reg - 1'b1;
    end
    if (rst) begin
      aw_left_reg <= {BW{1'b0}};
      old_b_reg <= {BW{1'b0}};
    end
  end

  always @(posedge clk) begin
    err_valid <= b_valid && b_error;
    err_index <= b_old ? old_index_reg : index_reg;
    if (rst) err_valid <= 1'b0;
  end

  wire unused_store = &{1'b0, rq_valid, rq_data, fifo_in_ready, fifo_count, rd_addr, float_reg};

endmodule
`resetall
