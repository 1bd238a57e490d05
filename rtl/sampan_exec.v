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
// Block-scaled (q) COMPUTE (BLOCK = 1; rtl/ARCHITECTURE.md, ISA 1.1): the
// array gets a last flag every 32 steps, so each block's integer sums land
// in the shadow registers on their own; the drain of a q block reads the
// block's fp16 scales from the scale banks (block a_off/32 + j of A, w_off/32
// + j of W) and sends each row through COLS float lanes:
// s = fscale(sw[c], sa[r]) (exact), p = fmul(isum, s), and
// acc = fadd(first block of a first COMPUTE ? +0.0 : acc, p), read-modify-
// written in the accumulator memory as fp32 bits. A block's drain reads the
// memory Q_RD cycles and writes it Q_WR cycles after the integer drain
// would (Q_WR = 14 < 32, so a block's writes land before the next block
// reads the same rows). Tiles of the other kind (q after integer and back)
// start only once every drain in flight has finished, so the two write
// schedules never meet.
//
// Wide COMPUTE (MV_ROWS > 0; the matrix-vector engine): instead of the
// array, MV_ROWS x COLS multiply-accumulators take a whole W bank word a
// cycle, KW = BUS_BYTES/COLS k-steps of every column, with the same KW steps
// of the first MV_ROWS rows of A (one A word holds them, ROWS <= COLS): two
// stages (products and their KW-sum, then accumulate) with the sums
// restarting at every tile end (q: every 32 steps) into a shadow that the
// drain then moves, rows 0..MV_ROWS-1 only, through the same integer or
// float read-modify-write as the array's rows. Rows MV_ROWS and above of the
// slot are left as they were. A wide tile of k_len steps streams in
// k_len/KW cycles; tiles of another kind (array or wide, integer or q) wait
// for every drain in flight.
//
// Latency: step k of a tile enters the array 2 cycles after it is issued;
// drained pulses COLS + ROWS + 2 cycles after the last step is issued
// (q: COLS + ROWS + 2 + Q_WR).
// Parameters: ROWS, COLS, K_DEPTH, ACC_SLOTS as in sampan_core; BUS_BYTES bus
// width in bytes; BLOCK 1 builds the q path (scale banks and float lanes).
module sampan_exec #(
    parameter ROWS      = 16,    // array rows
    parameter COLS      = 16,    // array columns
    parameter K_DEPTH   = 1024,  // k-steps per bank
    parameter ACC_SLOTS = 4,     // accumulator tiles
    parameter BUS_BYTES = 64,    // bus width in bytes
    parameter BLOCK     = 1,     // 1: block-scaled (q) COMPUTE built in
    parameter MV_ROWS   = 0,     // rows of the matrix-vector engine (0: none)
    // derived, do not override
    parameter A_WORDS   = K_DEPTH * ROWS / BUS_BYTES,  // bus words per A bank
    parameter W_WORDS   = K_DEPTH * COLS / BUS_BYTES,  // bus words per W bank
    parameter ACC_ROWS  = ACC_SLOTS * ROWS,            // accumulator memory rows
    parameter SBLOCKS   = K_DEPTH / 32 > 1 ? K_DEPTH / 32 : 2,  // scale blocks per bank
    parameter SA_WORDS  = (SBLOCKS * 2 * ROWS + BUS_BYTES - 1) / BUS_BYTES > 1 ?
                          (SBLOCKS * 2 * ROWS + BUS_BYTES - 1) / BUS_BYTES : 2,  // A scale bank words
    parameter SW_WORDS  = (SBLOCKS * 2 * COLS + BUS_BYTES - 1) / BUS_BYTES > 1 ?
                          (SBLOCKS * 2 * COLS + BUS_BYTES - 1) / BUS_BYTES : 2   // W scale bank words
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
    input  wire                          cmd_q,       // block-scaled (needs BLOCK)
    input  wire                          cmd_wide,    // matrix-vector engine (needs MV_ROWS)
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
    // scale bank reads (registered-read RAMs, both banks of a pair)
    output wire                          s_rd_en,
    output wire [  $clog2(SA_WORDS)-1:0] sa_rd_addr,
    output wire [  $clog2(SW_WORDS)-1:0] sw_rd_addr,
    input  wire [     BUS_BYTES*8-1:0]   sa0_rd_data,
    input  wire [     BUS_BYTES*8-1:0]   sa1_rd_data,
    input  wire [     BUS_BYTES*8-1:0]   sw0_rd_data,
    input  wire [     BUS_BYTES*8-1:0]   sw1_rd_data,
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
    output wire [                   3:0] drained_slot,
    output wire                          drained_q,     // that tile was a q COMPUTE,
    output wire                          drained_a_bank, // its scale banks
    output wire                          drained_w_bank
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
  localparam BLW = $clog2(SBLOCKS);  // scale block index width
  localparam BPW_A = BUS_BYTES / (2 * ROWS) > 0 ? BUS_BYTES / (2 * ROWS) : 1;  // A scale blocks per word
  localparam BPW_W = BUS_BYTES / (2 * COLS);  // W scale blocks per word
  localparam LOG_BPW_A = $clog2(BPW_A);
  localparam LOG_BPW_W = $clog2(BPW_W);
  localparam Q_RD = 8;   // q drain: acc read, cycles after the integer drain's
  localparam Q_WR = 13;  // q drain: acc write, cycles after the integer drain's
  localparam MVR = MV_ROWS > 0 ? MV_ROWS : 1;  // engine rows (1 when there is none)
  localparam [31:0] MV_LAST32 = MVR - 1;
  localparam [6:0] MV_LAST_ROW = MV_LAST32[6:0];

  initial begin
    if (A_STEPS * ROWS != BUS_BYTES || (1 << LOG_AS) != A_STEPS)
      $error("%m: ROWS %0d must be a power of two dividing BUS_BYTES %0d", ROWS, BUS_BYTES);
    if (W_STEPS * COLS != BUS_BYTES || (1 << LOG_WS) != W_STEPS)
      $error("%m: COLS %0d must be a power of two dividing BUS_BYTES %0d", COLS, BUS_BYTES);
    if (ACC_SLOTS < 1 || ACC_SLOTS > 16) $error("%m: ACC_SLOTS %0d out of 1..16", ACC_SLOTS);
    if (ACC_ROWS < 2) $error("%m: ACC_SLOTS * ROWS must be at least 2");
    if (MV_ROWS != 0 && (ROWS > COLS || W_STEPS > 4 || MV_ROWS > ROWS || MV_ROWS * W_STEPS > 32))
      $error("%m: MV_ROWS needs ROWS <= COLS, BUS_BYTES/COLS <= 4, MV_ROWS <= ROWS and <= 32*COLS/BUS_BYTES");
    if (BLOCK != 0 && (2 * ROWS > BUS_BYTES || ROWS > 32 || COLS > 32 || K_DEPTH % 32 != 0))
      $error("%m: BLOCK needs 2*ROWS <= BUS_BYTES, ROWS and COLS <= 32 and K_DEPTH a multiple of 32");
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
  reg          run_q_reg, run_q_next;
  reg          run_wide_reg, run_wide_next;

  reg          pend_valid_reg, pend_valid_next;
  reg [KW-1:0] pend_len_reg, pend_len_next;
  reg          pend_a_bank_reg, pend_a_bank_next;
  reg          pend_w_bank_reg, pend_w_bank_next;
  reg          pend_first_reg, pend_first_next;
  reg [3:0]    pend_slot_reg, pend_slot_next;
  reg [7:0]    pend_za_reg, pend_za_next;
  reg [KW-1:0] pend_a_off_reg, pend_a_off_next;
  reg [KW-1:0] pend_w_off_reg, pend_w_off_next;
  reg          pend_q_reg, pend_q_next;
  reg          pend_wide_reg, pend_wide_next;
  reg          last_q_reg, last_q_next;  // kind of the last tile started
  reg          last_wide_reg, last_wide_next;

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
  // k-steps a cycle: KW on the matrix-vector engine, 1 on the array.
  wire [KW-1:0] run_inc = run_wide_reg ? W_STEPS[KW-1:0] : {{(KW - 1) {1'b0}}, 1'b1};
  wire run_last = issue && run_k_reg + run_inc == run_len_reg;
  wire [7:0] since_step = run_last ? 8'd1 :
                          (since_reg < SPACING[7:0]) ? since_reg + 8'd1 : since_reg;
  // The pending tile may issue its first step next cycle.
  wire [KW-1:0] pend_cycles = pend_wide_reg ? pend_len_reg >> LOG_WS : pend_len_reg;
  wire pend_fits = {{(32 - 8) {1'b0}}, since_step} + {{(32 - KW) {1'b0}}, pend_cycles} > SPACING;
  // A tile of the other kind waits until every drain has finished (then the
  // pending tile is the only one counted).
  wire kind_ok = (pend_q_reg == last_q_reg && pend_wide_reg == last_wide_reg) ||
                 (!run_valid_reg && tiles_reg == 3'd1);
  wire start = pend_valid_reg && (!run_valid_reg || run_last) && pend_fits && kind_ok;
  // The last step of a 32-step block (q), where the array restarts.
  wire blk_end = issue && (run_q_reg ? run_k_reg[4:0] == 5'd0 - run_inc[4:0] : run_last);
  wire run_first_eff = run_first_reg && (!run_q_reg || run_k_reg < 32);

  assign cmd_ready = !pend_valid_reg || start;
  assign step = issue;
  assign load_wait = run_valid_reg && !issue;
  assign spacing_wait = pend_valid_reg && !run_valid_reg && (!pend_fits || !kind_ok);
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
    run_q_next = run_q_reg;
    last_q_next = last_q_reg;
    pend_q_next = pend_q_reg;
    run_wide_next = run_wide_reg;
    last_wide_next = last_wide_reg;
    pend_wide_next = pend_wide_reg;
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
      run_q_next = pend_q_reg;
      last_q_next = pend_q_reg;
      run_wide_next = pend_wide_reg;
      last_wide_next = pend_wide_reg;
      pend_valid_next = 1'b0;
    end else if (run_last) begin
      run_valid_next = 1'b0;
    end else if (issue) begin
      run_k_next = run_k_reg + run_inc;
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
      pend_q_next = cmd_q && BLOCK != 0;
      pend_wide_next = cmd_wide && MV_ROWS != 0;
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
    run_q_reg <= run_q_next;
    pend_q_reg <= pend_q_next;
    run_wide_reg <= run_wide_next;
    pend_wide_reg <= pend_wide_next;
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
      last_q_reg <= 1'b0;
      last_wide_reg <= 1'b0;
    end else begin
      run_valid_reg <= run_valid_next;
      pend_valid_reg <= pend_valid_next;
      since_reg <= since_next;
      tiles_reg <= tiles_next;
      last_q_reg <= last_q_next;
      last_wide_reg <= last_wide_next;
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
  reg                            s1_end, s1_q;  // tile end (last step), q tile
  reg                            s1_wide;
  reg [BLW-1:0]                  s1_a_blk, s1_w_blk;  // scale blocks of a q block

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
  reg              s2_end, s2_q, s2_a_bank, s2_w_bank;
  reg [BLW-1:0]    s2_a_blk, s2_w_blk;
  reg [3:0]        s2_slot;
  reg [ROWS*9-1:0] s2_a;
  reg [COLS*8-1:0] s2_w;

  always @(posedge clk) begin
    s1_last <= blk_end;
    s1_end <= run_last;
    s1_q <= run_q_reg;
    s1_wide <= run_wide_reg;
    s1_a_blk <= a_idx[5 +: BLW];
    s1_w_blk <= w_idx[5 +: BLW];
    s1_a_bank <= run_a_bank_reg;
    s1_w_bank <= run_w_bank_reg;
    s1_first <= run_first_eff;
    s1_slot <= run_slot_reg;
    s1_za <= run_za_reg;
    s2_last <= s1_last;
    s2_end <= s1_end;
    s2_q <= s1_q;
    s2_a_blk <= s1_a_blk;
    s2_w_blk <= s1_w_blk;
    s2_a_bank <= s1_a_bank;
    s2_w_bank <= s1_w_bank;
    s2_first <= s1_first;
    s2_slot <= s1_slot;
    s2_a <= a_minus_za;
    s2_w <= w_step;
    if (rst) begin
      s1_valid <= 1'b0;
      s2_valid <= 1'b0;
    end else begin
      s1_valid <= issue;
      s2_valid <= s1_valid && !s1_wide;
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

  // ------------------------------------------------ matrix-vector engine

  // mv_start pulses the cycle after a wide tile's (q: block's) sums reached
  // the shadow, with the tile's control, as dl_valid does for the array.
  wire                   mv_start;
  wire                   mv_first, mv_end, mv_q, mv_a_bank, mv_w_bank;
  wire [3:0]             mv_slot;
  wire [BLW-1:0]         mv_a_blk, mv_w_blk;
  wire [MVR*COLS*32-1:0] mv_shadow;

  generate
    if (MV_ROWS != 0) begin : gen_mv
      localparam KS = W_STEPS;  // k-steps a cycle
      localparam CTW = 9 + 2 * BLW;
      // stage 2: the engine's operands: KS steps of rows 0..MV_ROWS-1 (A,
      // minus za) and of every column (the whole W word)
      localparam LAW = LOG_AS > 0 ? LOG_AS : 1;
      wire [31:0]          a_chunk_idx = {{(32 - LAW) {1'b0}}, s1_a_lane} >> LOG_WS;
      wire [KS*ROWS*8-1:0] a_chunk = a_word[a_chunk_idx*KS*ROWS*8 +: KS*ROWS*8];
      reg  [KS*MVR*9-1:0]  m2_a;
      reg  [BUS_BYTES*8-1:0] m2_w;
      reg                  m2_valid, m2_last;
      reg  [CTW-1:0]       m2_ctl;
      integer j, m;
      always @(posedge clk) begin
        for (j = 0; j < KS; j = j + 1)
          for (m = 0; m < MVR; m = m + 1)
            m2_a[(j*MVR+m)*9 +: 9] <= {a_chunk[(j*ROWS+m)*8+7], a_chunk[(j*ROWS+m)*8 +: 8]} -
                                      {s1_za[7], s1_za};
        m2_w <= w_word;
        m2_last <= s1_last;
        m2_ctl <= {s1_first, s1_end, s1_q, s1_a_bank, s1_w_bank, s1_slot, s1_a_blk, s1_w_blk};
        if (rst) m2_valid <= 1'b0;
        else m2_valid <= s1_valid && s1_wide;
      end

      // stage 3: products, summed over the KS steps (|sum| < 2^17 * 4)
      reg [MVR*COLS*20-1:0] m3_psum;
      reg                   m3_valid, m3_last;
      reg [CTW-1:0]         m3_ctl;
      genvar gm, gc;
      for (gm = 0; gm < MVR; gm = gm + 1) begin : gen_mv_row
        for (gc = 0; gc < COLS; gc = gc + 1) begin : gen_mv_col
          reg signed [19:0] psum;
          integer k;
          always @(*) begin
            psum = 20'sd0;
            for (k = 0; k < KS; k = k + 1)
              psum = psum + $signed(m2_a[(k*MVR+gm)*9 +: 9]) * $signed(m2_w[(k*COLS+gc)*8 +: 8]);
          end
          always @(posedge clk) m3_psum[(gm*COLS+gc)*20 +: 20] <= psum;
        end
      end
      always @(posedge clk) begin
        m3_last <= m2_last;
        m3_ctl <= m2_ctl;
        if (rst) m3_valid <= 1'b0;
        else m3_valid <= m2_valid;
      end

      // stage 4: accumulate (int32 wrap); the last step moves the sums to
      // the shadow and restarts from zero
      reg [MVR*COLS*32-1:0] m4_acc, m4_shadow;
      reg                   m4_start;
      reg [CTW-1:0]         m4_ctl;
      for (gm = 0; gm < MVR * COLS; gm = gm + 1) begin : gen_mv_acc
        wire [31:0] sum = m4_acc[gm*32 +: 32] + {{12{m3_psum[gm*20+19]}}, m3_psum[gm*20 +: 20]};
        always @(posedge clk) begin
          if (m3_valid) begin
            m4_acc[gm*32 +: 32] <= m3_last ? 32'd0 : sum;
            if (m3_last) m4_shadow[gm*32 +: 32] <= sum;
          end
          if (rst) m4_acc[gm*32 +: 32] <= 32'd0;
        end
      end
      always @(posedge clk) begin
        if (m3_valid && m3_last) m4_ctl <= m3_ctl;
        if (rst) m4_start <= 1'b0;
        else m4_start <= m3_valid && m3_last;
      end
      assign mv_start = m4_start;
      assign {mv_first, mv_end, mv_q, mv_a_bank, mv_w_bank, mv_slot, mv_a_blk, mv_w_blk} = m4_ctl;
      assign mv_shadow = m4_shadow;
    end else begin : gen_no_mv
      assign mv_start = 1'b0;
      assign {mv_first, mv_end, mv_q, mv_a_bank, mv_w_bank} = 5'd0;
      assign mv_slot = 4'd0;
      assign mv_a_blk = {BLW{1'b0}};
      assign mv_w_blk = {BLW{1'b0}};
      assign mv_shadow = {(MVR * COLS * 32) {1'b0}};
      wire unused_no_mv = &{1'b0, s1_wide};
    end
  endgenerate

  // ---------------------------------------------------------------- drain

  // Delay line: the last step entered the array at t; it leaves the line
  // at t + COLS, when row 0 is final.
  localparam DLW = 10 + 2 * BLW;
  wire           dl_valid, dl_first, dl_end, dl_q, dl_a_bank, dl_w_bank;
  wire [3:0]     dl_slot;
  wire [BLW-1:0] dl_a_blk, dl_w_blk;
  sampan_delay #(
      .WIDTH(DLW),
      .DEPTH(COLS)
  ) u_drain_delay (
      .clk(clk),
      .rst(rst),
      .in ({s2_valid && s2_last, s2_first, s2_slot, s2_end, s2_q, s2_a_bank, s2_w_bank,
            s2_a_blk, s2_w_blk}),
      .out({dl_valid, dl_first, dl_slot, dl_end, dl_q, dl_a_bank, dl_w_bank, dl_a_blk, dl_w_blk})
  );

  // A drain starts from the array (dl_*) or from the engine (mv_*); never
  // both in one cycle (kind_ok).
  wire           ds_valid = dl_valid || mv_start;
  wire           ds_first = mv_start ? mv_first : dl_first;
  wire           ds_end = mv_start ? mv_end : dl_end;
  wire           ds_q = mv_start ? mv_q : dl_q;
  wire           ds_a_bank = mv_start ? mv_a_bank : dl_a_bank;
  wire           ds_w_bank = mv_start ? mv_w_bank : dl_w_bank;
  wire [3:0]     ds_slot = mv_start ? mv_slot : dl_slot;
  wire [BLW-1:0] ds_a_blk = mv_start ? mv_a_blk : dl_a_blk;
  wire [BLW-1:0] ds_w_blk = mv_start ? mv_w_blk : dl_w_blk;

  reg        drain_act_reg;  // rows 1..ROWS-1 of a drain
  reg [6:0]  drain_row_reg;
  reg        drain_first_reg, drain_end_reg, drain_q_reg, drain_wide_reg;
  reg [3:0]  drain_slot_reg;

  wire       drain_on = ds_valid || drain_act_reg;
  wire [6:0] drain_row = ds_valid ? 7'd0 : drain_row_reg;
  wire       drain_first = ds_valid ? ds_first : drain_first_reg;
  wire       drain_end = ds_valid ? ds_end : drain_end_reg;
  wire       drain_q = ds_valid ? ds_q : drain_q_reg;
  wire       drain_wide = ds_valid ? mv_start : drain_wide_reg;
  wire [6:0] drain_last = drain_wide ? MV_LAST_ROW : LAST_ROW;
  wire [3:0] drain_slot = ds_valid ? ds_slot : drain_slot_reg;
  wire [31:0] drain_addr = {28'd0, drain_slot} * ROWS + {25'd0, drain_row};

  always @(posedge clk) begin
    drain_row_reg <= drain_row + 7'd1;
    drain_first_reg <= drain_first;
    drain_end_reg <= drain_end;
    drain_q_reg <= drain_q;
    drain_wide_reg <= drain_wide;
    drain_slot_reg <= drain_slot;
    if (rst) drain_act_reg <= 1'b0;
    else drain_act_reg <= drain_on && drain_row != drain_last;
  end

  // Write stage: add the shadow row to what the memory held.
  reg               dr_valid, dr_last, dr_first, dr_end, dr_q;
  reg [6:0]         dr_row;
  reg [3:0]         dr_slot;
  reg [AAW-1:0]     dr_addr;
  reg [COLS*32-1:0] dr_data;

  always @(posedge clk) begin
    dr_last <= drain_row == drain_last;
    dr_first <= drain_first;
    dr_end <= drain_end;
    dr_q <= drain_q;
    dr_row <= drain_row;
    dr_slot <= drain_slot;
    dr_addr <= drain_addr[AAW-1:0];
    dr_data <= drain_wide ? mv_shadow[drain_row*COLS*32 +: COLS*32] : res[drain_row*COLS*32 +: COLS*32];
    if (rst) dr_valid <= 1'b0;
    else dr_valid <= drain_on;
  end

  wire [COLS*32-1:0] int_wr_data;
  genvar c;
  generate
    for (c = 0; c < COLS; c = c + 1) begin : gen_rmw
      assign int_wr_data[c*32 +: 32] = dr_first ? dr_data[c*32 +: 32] :
                                        acc_rd_data[c*32 +: 32] + dr_data[c*32 +: 32];
    end
  endgenerate

  // ------------------------------------------------------- q drain lanes

  wire               q_rd_en, q_wr_en, q_wr_last;
  wire [AAW-1:0]     q_rd_addr, q_wr_addr;
  wire [COLS*32-1:0] q_wr_data;
  wire [3:0]         q_wr_slot;
  wire               q_wr_a_bank, q_wr_w_bank;

  generate
    if (BLOCK != 0) begin : gen_q
      // Scale words: read with the first row of the drain; they stay on the
      // RAM outputs until the next q drain (at least 32 cycles on).
      reg                 sa_bank_q, sw_bank_q;
      reg [(LOG_BPW_A > 0 ? LOG_BPW_A : 1)-1:0] sa_lane_q;
      reg [(LOG_BPW_W > 0 ? LOG_BPW_W : 1)-1:0] sw_lane_q;
      wire                s_rd = ds_valid && ds_q;
      wire [31:0]         a_blk32 = {{(32 - BLW) {1'b0}}, ds_a_blk};
      wire [31:0]         w_blk32 = {{(32 - BLW) {1'b0}}, ds_w_blk};
      wire [31:0]         sa_word_idx = a_blk32 >> LOG_BPW_A;
      wire [31:0]         sw_word_idx = w_blk32 >> LOG_BPW_W;
      wire [31:0]         sa_lane_idx = a_blk32 & (BPW_A - 1);
      wire [31:0]         sw_lane_idx = w_blk32 & (BPW_W - 1);
      assign s_rd_en = s_rd;
      assign sa_rd_addr = sa_word_idx[$clog2(SA_WORDS)-1:0];
      assign sw_rd_addr = sw_word_idx[$clog2(SW_WORDS)-1:0];
      always @(posedge clk) begin
        if (s_rd) begin
          sa_bank_q <= ds_a_bank;
          sw_bank_q <= ds_w_bank;
          sa_lane_q <= sa_lane_idx[(LOG_BPW_A > 0 ? LOG_BPW_A : 1)-1:0];
          sw_lane_q <= sw_lane_idx[(LOG_BPW_W > 0 ? LOG_BPW_W : 1)-1:0];
        end
      end
      wire [BUS_BYTES*8-1:0] sa_word = sa_bank_q ? sa1_rd_data : sa0_rd_data;
      wire [BUS_BYTES*8-1:0] sw_word = sw_bank_q ? sw1_rd_data : sw0_rd_data;
      wire [ROWS*16-1:0]     sa_blk = sa_word[sa_lane_q*ROWS*16 +: ROWS*16];
      wire [COLS*16-1:0]     sw_blk = sw_word[sw_lane_q*COLS*16 +: COLS*16];
      wire [15:0]            sa_r = sa_blk[dr_row*16 +: 16];

      // Control from the dr stage (t+1) to the acc read (Q_RD - 1 later),
      // to the fadd inputs (Q_RD) and to the write (Q_WR).
      localparam CW = 10 + AAW;  // valid, first, last row, tile end, slot, address, scale banks
      wire [CW-1:0] c0 = {dr_valid && dr_q, dr_first, dr_last, dr_end, dr_slot, dr_addr,
                          sa_bank_q, sw_bank_q};
      wire [CW-1:0] c_rd, c_add, c_wr;
      sampan_delay #(.WIDTH(CW), .DEPTH(Q_RD - 1)) u_c_rd (.clk(clk), .rst(rst), .in(c0), .out(c_rd));
      sampan_delay #(.WIDTH(CW), .DEPTH(1)) u_c_add (.clk(clk), .rst(rst), .in(c_rd), .out(c_add));
      sampan_delay #(.WIDTH(CW), .DEPTH(Q_WR - Q_RD)) u_c_wr (.clk(clk), .rst(rst), .in(c_add), .out(c_wr));

      assign q_rd_en = c_rd[CW-1];
      assign q_rd_addr = c_rd[2 +: AAW];
      wire add_first = c_add[CW-2];
      assign q_wr_en = c_wr[CW-1];
      assign q_wr_last = c_wr[CW-3] && c_wr[CW-4];
      assign q_wr_slot = c_wr[2 + AAW +: 4];
      assign q_wr_addr = c_wr[2 +: AAW];
      assign q_wr_a_bank = c_wr[1];
      assign q_wr_w_bank = c_wr[0];

      for (c = 0; c < COLS; c = c + 1) begin : gen_lane
        wire [31:0] s_f, p_f;
        wire [20:0] isum_d;
        sampan_fscale u_fscale (
            .clk  (clk),
            .in_a (sw_blk[c*16 +: 16]),
            .in_b (sa_r),
            .out_f(s_f)
        );
        // The sum waits for its scale (fscale latency 3).
        sampan_delay #(.WIDTH(21), .DEPTH(3)) u_isum (
            .clk(clk), .rst(1'b0), .in(dr_data[c*32 +: 21]), .out(isum_d));
        sampan_fmul u_fmul (
            .clk  (clk),
            .in_i (isum_d),
            .in_f (s_f),
            .out_f(p_f)
        );
        // fmul (5) ends at Q_RD after the dr stage, with the acc read data.
        sampan_fadd u_fadd (
            .clk  (clk),
            .in_a (add_first ? 32'd0 : acc_rd_data[c*32 +: 32]),
            .in_b (p_f),
            .out_f(q_wr_data[c*32 +: 32])
        );
      end
      wire unused_q = &{1'b0, c_add, c_wr[CW-2], dr_data, sa_word_idx, sw_word_idx, sa_lane_idx,
                        sw_lane_idx};
    end else begin : gen_no_q
      assign s_rd_en = 1'b0;
      assign sa_rd_addr = {$clog2(SA_WORDS){1'b0}};
      assign sw_rd_addr = {$clog2(SW_WORDS){1'b0}};
      assign q_rd_en = 1'b0;
      assign q_rd_addr = {AAW{1'b0}};
      assign q_wr_en = 1'b0;
      assign q_wr_last = 1'b0;
      assign q_wr_slot = 4'd0;
      assign q_wr_addr = {AAW{1'b0}};
      assign q_wr_data = {(COLS * 32) {1'b0}};
      assign q_wr_a_bank = 1'b0;
      assign q_wr_w_bank = 1'b0;
      wire unused_no_q = &{1'b0, sa0_rd_data, sa1_rd_data, sw0_rd_data, sw1_rd_data, ds_a_blk,
                           ds_w_blk, ds_a_bank, ds_w_bank, dr_row};
    end
  endgenerate

  // The integer drain and the q drain never run at the same time (kind_ok).
  wire int_rd = drain_on && !drain_q;
  wire int_wr = dr_valid && !dr_q;
  assign acc_rd_en = int_rd || q_rd_en;
  assign acc_rd_addr = q_rd_en ? q_rd_addr : drain_addr[AAW-1:0];
  assign acc_wr_en = int_wr || q_wr_en;
  assign acc_wr_addr = q_wr_en ? q_wr_addr : dr_addr;
  assign acc_wr_data = q_wr_en ? q_wr_data : int_wr_data;
  assign drained_valid = (int_wr && dr_last && dr_end) || (q_wr_en && q_wr_last);
  assign drained_slot = q_wr_en ? q_wr_slot : dr_slot;
  assign drained_q = q_wr_en;
  assign drained_a_bank = q_wr_a_bank;
  assign drained_w_bank = q_wr_w_bank;

  wire unused_exec = &{1'b0, drain_addr, cmd_k_len, cmd_a_off, cmd_w_off, run_k_reg, a_idx, w_idx};

endmodule
`resetall
