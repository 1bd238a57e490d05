`default_nettype none
// sampan_exec: the execute unit (COMPUTE).
//
// Holds one running and one pending COMPUTE. The running one reads word k of
// its A and W banks every cycle (registered-read RAMs), picks the k-step out
// of the bus word, subtracts za and feeds one unskewed step to sampan_array;
// the pending one starts on the cycle after the running one's last step, so
// tiles stream back to back with no bubble. A tile may start while its banks
// are still being loaded: step k is issued only once the bank words holding
// it have landed (otherwise the array gets a bubble, which the PEs ignore).
//
// Drain: the array holds a tile's results in its shadow registers; row r is
// final COLS + r cycles after the tile's last step entered the array (see
// sampan_array), so a COLS-long delay line of the last flag starts the drain,
// which moves one row per cycle into the accumulator memory by
// read-modify-write (first: overwrite; otherwise add, int32 wrap). The drain
// owns the accumulator read port while it runs (the store unit uses it
// otherwise).
//
// Spacing: the last steps of two consecutive tiles must be at least SPACING =
// max(ROWS, COLS, 2) cycles apart: COLS so that a shadow row is not
// overwritten before it drains, ROWS so that two drains never overlap, 2 so
// that a read-modify-write sees the previous write. Tiles with k_len >=
// SPACING meet this by themselves; shorter ones wait (spacing_wait).
//
// Latency: step k of a tile enters the array 2 cycles after it is issued;
// drained pulses COLS + ROWS + 2 cycles after the last step is issued.
// Parameters: ROWS, COLS, K_DEPTH, ACC_SLOTS as in sampan_core; BUS_BYTES bus
// width in bytes.
module sampan_exec #(
    parameter ROWS      = 16,    // array rows
    parameter COLS      = 16,    // array columns
    parameter K_DEPTH   = 1024,  // k-steps per bank
    parameter ACC_SLOTS = 4,     // accumulator tiles
    parameter BUS_BYTES = 64,    // bus width in bytes
    // derived, do not override
    parameter A_WORDS   = K_DEPTH * ROWS / BUS_BYTES,  // bus words per A bank
    parameter W_WORDS   = K_DEPTH * COLS / BUS_BYTES,  // bus words per W bank
    parameter ACC_ROWS  = ACC_SLOTS * ROWS             // accumulator memory rows
) (
    input  wire                          clk,
    input  wire                          rst,
    // command from the sequencer
    input  wire                          cmd_valid,
    output wire                          cmd_ready,
    input  wire                          cmd_a_bank,
    input  wire                          cmd_w_bank,
    input  wire                          cmd_first,
    input  wire [                   3:0] cmd_slot,
    input  wire [                  15:0] cmd_k_len,   // 1..K_DEPTH
    input  wire [                  15:0] cmd_a_off,   // first A bank step; a_off + k_len <= K_DEPTH
    input  wire [                  15:0] cmd_w_off,   // first W bank step; w_off + k_len <= K_DEPTH
    input  wire [                   7:0] cmd_za,
    // operand bank reads (the same address to both banks of a pair)
    output wire                          bank_rd_en,
    output wire [   $clog2(A_WORDS)-1:0] a_rd_addr,
    output wire [   $clog2(W_WORDS)-1:0] w_rd_addr,
    output wire                          a_rd_bank,   // bank of a_rd_addr (for one RAM holding both)
    output wire                          w_rd_bank,
    input  wire [     BUS_BYTES*8-1:0]   a0_rd_data,
    input  wire [     BUS_BYTES*8-1:0]   a1_rd_data,
    input  wire [     BUS_BYTES*8-1:0]   w0_rd_data,
    input  wire [     BUS_BYTES*8-1:0]   w1_rd_data,
    // loads in flight per bank and their landed words (from sampan_load)
    input  wire [                   1:0] a_loading,
    input  wire [                   1:0] w_loading,
    input  wire [                  31:0] a_landed,    // bank b at [16b +: 16]
    input  wire [                  31:0] w_landed,
    // accumulator memory
    output wire                          acc_rd_en,
    output wire [  $clog2(ACC_ROWS)-1:0] acc_rd_addr,
    input  wire [         COLS*32-1:0]   acc_rd_data,
    output wire                          acc_wr_en,
    output wire [  $clog2(ACC_ROWS)-1:0] acc_wr_addr,
    output wire [         COLS*32-1:0]   acc_wr_data,
    // status
    output wire                          idle,          // no COMPUTE held, streaming or draining
    output wire                          step,          // a k-step was issued this cycle
    output wire                          spacing_wait,  // pending tile held back by SPACING
    output wire                          load_wait,     // running tile waits for landing data
    output wire                          release_valid, // last bank read of a tile issued
    output wire                          release_a_bank,
    output wire                          release_w_bank,
    output wire                          drained_valid, // last row of a tile written
    output wire [                   3:0] drained_slot
);

  localparam A_STEPS = BUS_BYTES / ROWS;  // A k-steps per bus word
  localparam W_STEPS = BUS_BYTES / COLS;  // W k-steps per bus word
  localparam LOG_AS = $clog2(A_STEPS);
  localparam LOG_WS = $clog2(W_STEPS);
  localparam KW = $clog2(K_DEPTH + 1);  // width of k and k_len
  localparam SPACING = (ROWS > COLS ? (ROWS > 2 ? ROWS : 2) : (COLS > 2 ? COLS : 2));
  localparam AAW = $clog2(ACC_ROWS);
  localparam [31:0] LAST_ROW32 = ROWS - 1;
  localparam [6:0] LAST_ROW = LAST_ROW32[6:0];

  initial begin
    if (A_STEPS * ROWS != BUS_BYTES || (1 << LOG_AS) != A_STEPS)
      $error("%m: ROWS %0d must be a power of two dividing BUS_BYTES %0d", ROWS, BUS_BYTES);
    if (W_STEPS * COLS != BUS_BYTES || (1 << LOG_WS) != W_STEPS)
      $error("%m: COLS %0d must be a power of two dividing BUS_BYTES %0d", COLS, BUS_BYTES);
    if (ACC_SLOTS < 1 || ACC_SLOTS > 16) $error("%m: ACC_SLOTS %0d out of 1..16", ACC_SLOTS);
    if (ACC_ROWS < 2) $error("%m: ACC_SLOTS * ROWS must be at least 2");
  end

  // ------------------------------------------------------ running / pending

  reg          run_valid_reg, run_valid_next;
  reg [KW-1:0] run_k_reg, run_k_next;
  reg [KW-1:0] run_len_reg, run_len_next;
  reg          run_a_bank_reg, run_a_bank_next;
  reg          run_w_bank_reg, run_w_bank_next;
  reg          run_first_reg, run_first_next;
  reg [3:0]    run_slot_reg, run_slot_next;
  reg [7:0]    run_za_reg, run_za_next;
  reg [KW-1:0] run_a_off_reg, run_a_off_next;
  reg [KW-1:0] run_w_off_reg, run_w_off_next;

  reg          pend_valid_reg, pend_valid_next;
  reg [KW-1:0] pend_len_reg, pend_len_next;
  reg          pend_a_bank_reg, pend_a_bank_next;
  reg          pend_w_bank_reg, pend_w_bank_next;
  reg          pend_first_reg, pend_first_next;
  reg [3:0]    pend_slot_reg, pend_slot_next;
  reg [7:0]    pend_za_reg, pend_za_next;
  reg [KW-1:0] pend_a_off_reg, pend_a_off_next;
  reg [KW-1:0] pend_w_off_reg, pend_w_off_next;

  reg [7:0]    since_reg, since_next;  // cycles since the last step issued, <= SPACING
  reg [2:0]    tiles_reg, tiles_next;  // accepted and not yet drained

  // Words of the running tile's banks needed by step k, and whether they
  // have landed.
  wire [KW-1:0] a_idx = run_k_reg + run_a_off_reg;  // bank step read now
  wire [KW-1:0] w_idx = run_k_reg + run_w_off_reg;
  wire [KW-1:0] a_need = a_idx >> LOG_AS;
  wire [KW-1:0] w_need = w_idx >> LOG_WS;
  wire [15:0] a_have = a_landed[16*run_a_bank_reg +: 16];
  wire [15:0] w_have = w_landed[16*run_w_bank_reg +: 16];
  wire a_ok = !a_loading[run_a_bank_reg] || {{(32 - KW) {1'b0}}, a_need} < {16'd0, a_have};
  wire w_ok = !w_loading[run_w_bank_reg] || {{(32 - KW) {1'b0}}, w_need} < {16'd0, w_have};
  wire issue = run_valid_reg && a_ok && w_ok;
  wire run_last = issue && run_k_reg == run_len_reg - 1'b1;
  wire [7:0] since_step = run_last ? 8'd1 :
                          (since_reg < SPACING[7:0]) ? since_reg + 8'd1 : since_reg;
  // The pending tile may issue its first step next cycle.
  wire pend_fits = {{(32 - 8) {1'b0}}, since_step} + {{(32 - KW) {1'b0}}, pend_len_reg} > SPACING;
  wire start = pend_valid_reg && (!run_valid_reg || run_last) && pend_fits;

  assign cmd_ready = !pend_valid_reg || start;
  assign step = issue;
  assign load_wait = run_valid_reg && !issue;
  assign spacing_wait = pend_valid_reg && !run_valid_reg && !pend_fits;
  assign release_valid = run_last;
  assign release_a_bank = run_a_bank_reg;
  assign release_w_bank = run_w_bank_reg;
  assign idle = tiles_reg == 3'd0;

  always @(*) begin
    run_valid_next = run_valid_reg;
    run_k_next = run_k_reg;
    run_len_next = run_len_reg;
    run_a_bank_next = run_a_bank_reg;
    run_w_bank_next = run_w_bank_reg;
    run_first_next = run_first_reg;
    run_slot_next = run_slot_reg;
    run_za_next = run_za_reg;
    run_a_off_next = run_a_off_reg;
    run_w_off_next = run_w_off_reg;
    pend_valid_next = pend_valid_reg;
    pend_len_next = pend_len_reg;
    pend_a_bank_next = pend_a_bank_reg;
    pend_w_bank_next = pend_w_bank_reg;
    pend_first_next = pend_first_reg;
    pend_slot_next = pend_slot_reg;
    pend_za_next = pend_za_reg;
    pend_a_off_next = pend_a_off_reg;
    pend_w_off_next = pend_w_off_reg;
    since_next = since_step;
    tiles_next = tiles_reg;

    if (start) begin
      run_valid_next = 1'b1;
      run_k_next = {KW{1'b0}};
      run_len_next = pend_len_reg;
      run_a_bank_next = pend_a_bank_reg;
      run_w_bank_next = pend_w_bank_reg;
      run_first_next = pend_first_reg;
      run_slot_next = pend_slot_reg;
      run_za_next = pend_za_reg;
      run_a_off_next = pend_a_off_reg;
      run_w_off_next = pend_w_off_reg;
      pend_valid_next = 1'b0;
    end else if (run_last) begin
      run_valid_next = 1'b0;
    end else if (issue) begin
      run_k_next = run_k_reg + 1'b1;
    end

    if (cmd_valid && cmd_ready) begin
      pend_valid_next = 1'b1;
      pend_len_next = cmd_k_len[KW-1:0];
      pend_a_bank_next = cmd_a_bank;
      pend_w_bank_next = cmd_w_bank;
      pend_first_next = cmd_first;
      pend_slot_next = cmd_slot;
      pend_za_next = cmd_za;
      pend_a_off_next = cmd_a_off[KW-1:0];
      pend_w_off_next = cmd_w_off[KW-1:0];
    end

    tiles_next = tiles_reg + {2'd0, cmd_valid && cmd_ready} - {2'd0, drained_valid};
  end

  always @(posedge clk) begin
    run_k_reg <= run_k_next;
    run_len_reg <= run_len_next;
    run_a_bank_reg <= run_a_bank_next;
    run_w_bank_reg <= run_w_bank_next;
    run_first_reg <= run_first_next;
    run_slot_reg <= run_slot_next;
    run_za_reg <= run_za_next;
    run_a_off_reg <= run_a_off_next;
    run_w_off_reg <= run_w_off_next;
    pend_len_reg <= pend_len_next;
    pend_a_bank_reg <= pend_a_bank_next;
    pend_w_bank_reg <= pend_w_bank_next;
    pend_first_reg <= pend_first_next;
    pend_slot_reg <= pend_slot_next;
    pend_za_reg <= pend_za_next;
    pend_a_off_reg <= pend_a_off_next;
    pend_w_off_reg <= pend_w_off_next;
    if (rst) begin
      run_valid_reg <= 1'b0;
      pend_valid_reg <= 1'b0;
      since_reg <= SPACING[7:0];
      tiles_reg <= 3'd0;
    end else begin
      run_valid_reg <= run_valid_next;
      pend_valid_reg <= pend_valid_next;
      since_reg <= since_next;
      tiles_reg <= tiles_next;
    end
  end

  // ------------------------------------------------ operand read pipeline

  assign bank_rd_en = issue;
  assign a_rd_addr = a_idx[LOG_AS +: $clog2(A_WORDS)];
  assign w_rd_addr = w_idx[LOG_WS +: $clog2(W_WORDS)];
  assign a_rd_bank = run_a_bank_reg;
  assign w_rd_bank = run_w_bank_reg;

  // stage 1: bank words arrive
  reg                            s1_valid, s1_last, s1_a_bank, s1_w_bank, s1_first;
  reg [(LOG_AS > 0 ? LOG_AS : 1)-1:0] s1_a_lane;
  reg [(LOG_WS > 0 ? LOG_WS : 1)-1:0] s1_w_lane;
  reg [3:0]                      s1_slot;
  reg [7:0]                      s1_za;

  wire [BUS_BYTES*8-1:0] a_word = s1_a_bank ? a1_rd_data : a0_rd_data;
  wire [BUS_BYTES*8-1:0] w_word = s1_w_bank ? w1_rd_data : w0_rd_data;
  wire [ROWS*8-1:0] a_step = a_word[s1_a_lane*ROWS*8 +: ROWS*8];
  wire [COLS*8-1:0] w_step = w_word[s1_w_lane*COLS*8 +: COLS*8];
  wire [ROWS*9-1:0] a_minus_za;

  genvar r;
  generate
    for (r = 0; r < ROWS; r = r + 1) begin : gen_za
      assign a_minus_za[r*9 +: 9] = {a_step[r*8+7], a_step[r*8 +: 8]} - {s1_za[7], s1_za};
    end
  endgenerate

  // stage 2: array inputs
  reg              s2_valid, s2_last, s2_first;
  reg [3:0]        s2_slot;
  reg [ROWS*9-1:0] s2_a;
  reg [COLS*8-1:0] s2_w;

  always @(posedge clk) begin
    s1_last <= run_last;
    s1_a_bank <= run_a_bank_reg;
    s1_w_bank <= run_w_bank_reg;
    s1_first <= run_first_reg;
    s1_slot <= run_slot_reg;
    s1_za <= run_za_reg;
    s2_last <= s1_last;
    s2_first <= s1_first;
    s2_slot <= s1_slot;
    s2_a <= a_minus_za;
    s2_w <= w_step;
    if (rst) begin
      s1_valid <= 1'b0;
      s2_valid <= 1'b0;
    end else begin
      s1_valid <= issue;
      s2_valid <= s1_valid;
    end
  end

  generate
    if (LOG_AS > 0) begin : gen_a_lane
      always @(posedge clk) s1_a_lane <= a_idx[LOG_AS-1:0];
    end else begin : gen_a_lane_none
      always @(posedge clk) s1_a_lane <= 1'b0;
    end
    if (LOG_WS > 0) begin : gen_w_lane
      always @(posedge clk) s1_w_lane <= w_idx[LOG_WS-1:0];
    end else begin : gen_w_lane_none
      always @(posedge clk) s1_w_lane <= 1'b0;
    end
  endgenerate

  wire [ROWS*COLS*32-1:0] res;
  sampan_array #(
      .ROWS(ROWS),
      .COLS(COLS)
  ) u_array (
      .clk     (clk),
      .rst     (rst),
      .in_valid(s2_valid),
      .in_last (s2_last),
      .in_a    (s2_a),
      .in_w    (s2_w),
      .res     (res)
  );

  // ---------------------------------------------------------------- drain

  // Delay line: the last step entered the array at t; it leaves the line
  // at t + COLS, when row 0 is final.
  wire       dl_valid, dl_first;
  wire [3:0] dl_slot;
  sampan_delay #(
      .WIDTH(6),
      .DEPTH(COLS)
  ) u_drain_delay (
      .clk(clk),
      .rst(rst),
      .in ({s2_valid && s2_last, s2_first, s2_slot}),
      .out({dl_valid, dl_first, dl_slot})
  );

  reg        drain_act_reg;  // rows 1..ROWS-1 of a drain
  reg [6:0]  drain_row_reg;
  reg        drain_first_reg;
  reg [3:0]  drain_slot_reg;

  wire       drain_on = dl_valid || drain_act_reg;
  wire [6:0] drain_row = dl_valid ? 7'd0 : drain_row_reg;
  wire       drain_first = dl_valid ? dl_first : drain_first_reg;
  wire [3:0] drain_slot = dl_valid ? dl_slot : drain_slot_reg;
  wire [31:0] drain_addr = {28'd0, drain_slot} * ROWS + {25'd0, drain_row};

  always @(posedge clk) begin
    drain_row_reg <= drain_row + 7'd1;
    drain_first_reg <= drain_first;
    drain_slot_reg <= drain_slot;
    if (rst) drain_act_reg <= 1'b0;
    else drain_act_reg <= drain_on && drain_row != LAST_ROW;
  end

  assign acc_rd_en = drain_on;
  assign acc_rd_addr = drain_addr[AAW-1:0];

  // Write stage: add the shadow row to what the memory held.
  reg               dr_valid, dr_last, dr_first;
  reg [3:0]         dr_slot;
  reg [AAW-1:0]     dr_addr;
  reg [COLS*32-1:0] dr_data;

  always @(posedge clk) begin
    dr_last <= drain_row == LAST_ROW;
    dr_first <= drain_first;
    dr_slot <= drain_slot;
    dr_addr <= drain_addr[AAW-1:0];
    dr_data <= res[drain_row*COLS*32 +: COLS*32];
    if (rst) dr_valid <= 1'b0;
    else dr_valid <= drain_on;
  end

  genvar c;
  generate
    for (c = 0; c < COLS; c = c + 1) begin : gen_rmw
      assign acc_wr_data[c*32 +: 32] = dr_first ? dr_data[c*32 +: 32] :
                                       acc_rd_data[c*32 +: 32] + dr_data[c*32 +: 32];
    end
  endgenerate

  assign acc_wr_en = dr_valid;
  assign acc_wr_addr = dr_addr;
  assign drained_valid = dr_valid && dr_last;
  assign drained_slot = dr_slot;

  wire unused_exec = &{1'b0, drain_addr, cmd_k_len, cmd_a_off, cmd_w_off, run_k_reg, a_idx, w_idx};

endmodule
`resetall
