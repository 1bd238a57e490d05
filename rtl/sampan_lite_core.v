`default_nettype none
// sampan_lite_core: a compact, strictly sequential implementation of the
// sampan instruction set (rtl/ARCHITECTURE.md) for small parts with on-chip
// card memory (iCE40UP5K, rtl/boards/icebreaker/). Same ports, register
// contract, memory layouts and numerics as sampan_core; none of its
// concurrency: one state machine runs one command at a time, so there is no
// scoreboard, no FIFO, no burst logic.
//
//   fetch    one AXI read of the beat holding command i (single-beat, ARLEN 0)
//   check    the checks and error codes of sampan_seq (sampan_cmd_check,
//            shared); the first error stops the run with STATUS and
//            ERR_INDEX, then done pulses
//   LOAD_A/W one single-beat read per bus word, written into the bank RAM
//            (both banks of an operand in one RAM, bank = upper half)
//   LOAD_P   three single-beat reads per entry (bias, mult, shift)
//   COMPUTE  ROWS x COLS multiply-accumulators (one multiplier each, mapped
//            to SB_MAC16 on iCE40) take one k-step a cycle from the banks,
//            then the sums are added one by one into the accumulator memory
//            (overwrite on first)
//   STORE    one sequential requantizer lane (sampan_requant_seq) over the
//            tile's values in r*COLS+c order, packed into bus beats, each
//            written with a single-beat AXI write; the tail of a last
//            partial beat is zero
//
// Counters (as sampan_counters, narrower): BUSY counts the cycles a k-step is
// accumulated; every other cycle after the first COMPUTE while commands
// remain is STALL_MEM; STALL_DEP is always zero (nothing runs concurrently).
//
// Latency: per command about 3 cycles of fetch and check, LOAD 2-3 cycles a
// beat, COMPUTE k_len + 2 + 2*ROWS*COLS cycles, STORE 40..100 cycles a
// requantized value (4 raw) plus 3 a beat.
// Parameters: as sampan_core (rtl/ARCHITECTURE.md); the size options of
// the full core do not apply.
module sampan_lite_core #(
    parameter ROWS           = 4,     // array rows
    parameter COLS           = 2,     // array columns
    parameter K_DEPTH        = 512,   // k-steps per A/W bank
    parameter ACC_SLOTS      = 2,     // accumulator tiles
    parameter P_ENTRIES      = 2,     // requantizer parameter entries
    parameter AXI_DATA_WIDTH = 128,   // AXI data width in bits
    parameter AXI_ADDR_WIDTH = 32,    // AXI address width
    parameter AXI_ID_WIDTH   = 1,     // AXI ID width (ID 0 fetch, 1 data)
    parameter COUNTER_WIDTH  = 32     // bits kept of the 64-bit counters (32..64)
) (
    input  wire                        clk,
    input  wire                        rst,
    // control
    input  wire                        start,
    input  wire [                63:0] cmd_addr,
    input  wire [                31:0] cmd_count,
    output wire                        done,
    output wire [                 7:0] status,
    output wire [                31:0] err_index,
    output wire [                63:0] cnt_cycles,
    output wire [                63:0] cnt_busy,
    output wire [                63:0] cnt_macs,
    output wire [                63:0] cnt_stall_mem,
    output wire [                63:0] cnt_stall_dep,
    output wire [                63:0] cnt_bytes_rd,
    output wire [                63:0] cnt_bytes_wr,
    output wire [                31:0] cnt_cmds,
    // AXI4 master (single-beat transactions only)
    output wire [    AXI_ID_WIDTH-1:0] m_axi_awid,
    output wire [  AXI_ADDR_WIDTH-1:0] m_axi_awaddr,
    output wire [                 7:0] m_axi_awlen,
    output wire [                 2:0] m_axi_awsize,
    output wire [                 1:0] m_axi_awburst,
    output wire                        m_axi_awvalid,
    input  wire                        m_axi_awready,
    output wire [  AXI_DATA_WIDTH-1:0] m_axi_wdata,
    output wire [AXI_DATA_WIDTH/8-1:0] m_axi_wstrb,
    output wire                        m_axi_wlast,
    output wire                        m_axi_wvalid,
    input  wire                        m_axi_wready,
    input  wire [    AXI_ID_WIDTH-1:0] m_axi_bid,
    input  wire [                 1:0] m_axi_bresp,
    input  wire                        m_axi_bvalid,
    output wire                        m_axi_bready,
    output wire [    AXI_ID_WIDTH-1:0] m_axi_arid,
    output wire [  AXI_ADDR_WIDTH-1:0] m_axi_araddr,
    output wire [                 7:0] m_axi_arlen,
    output wire [                 2:0] m_axi_arsize,
    output wire [                 1:0] m_axi_arburst,
    output wire                        m_axi_arvalid,
    input  wire                        m_axi_arready,
    input  wire [    AXI_ID_WIDTH-1:0] m_axi_rid,
    input  wire [  AXI_DATA_WIDTH-1:0] m_axi_rdata,
    input  wire [                 1:0] m_axi_rresp,
    input  wire                        m_axi_rlast,
    input  wire                        m_axi_rvalid,
    output wire                        m_axi_rready
);

  localparam AW = AXI_ADDR_WIDTH;
  localparam B = AXI_DATA_WIDTH / 8;  // bus bytes
  localparam LOG_B = $clog2(B);
  localparam CPB = B / 16;  // commands per beat
  localparam A_PER = B / ROWS;  // A bank steps per bus word
  localparam W_PER = B / COLS;  // W bank steps per bus word
  localparam LOG_A_PER = $clog2(A_PER);
  localparam LOG_W_PER = $clog2(W_PER);
  localparam A_WORDS = K_DEPTH / A_PER;  // bus words per A bank
  localparam W_WORDS = K_DEPTH / W_PER;  // bus words per W bank
  localparam AWA = $clog2(2 * A_WORDS);  // A RAM address width
  localparam WWA = $clog2(2 * W_WORDS);  // W RAM address width
  localparam NE = ROWS * COLS;  // values per tile
  localparam EW = $clog2(NE + 1);  // value index width
  localparam ACC_DEPTH = ACC_SLOTS * NE;
  localparam ACCA = $clog2(ACC_DEPTH);
  localparam PAW = $clog2(P_ENTRIES);  // P_ENTRIES >= 2
  localparam [31:0] A_MASK32 = A_PER - 1;  // step within an A bus word
  localparam [31:0] W_MASK32 = W_PER - 1;  // ... a W bus word
  localparam [16:0] A_MASK = A_MASK32[16:0];
  localparam [16:0] W_MASK = W_MASK32[16:0];
  localparam A_POW2 = (1 << (AWA - 1)) == A_WORDS;  // bank = top A RAM address bit
  localparam W_POW2 = (1 << (WWA - 1)) == W_WORDS;
  localparam [31:0] A_WORDS32 = A_WORDS;
  localparam [31:0] W_WORDS32 = W_WORDS;
  localparam [AWA-1:0] A_WORDS_A = A_WORDS32[AWA-1:0];
  localparam [WWA-1:0] W_WORDS_W = W_WORDS32[WWA-1:0];
  localparam [31:0] LOG_B32 = LOG_B;
  localparam [2:0] AXSIZE = LOG_B32[2:0];
  localparam [31:0] B32 = B;
  localparam [63:0] B64 = {32'd0, B32};
  localparam [AW-1:0] B_AW = B64[AW-1:0];  // bus bytes as an address step (AW up to 64)

  localparam [7:0] ERR_ALIGN = 8'd3;
  localparam [7:0] ERR_AXI_RD = 8'd4;
  localparam [7:0] ERR_AXI_WR = 8'd5;

  initial begin
    if (AXI_DATA_WIDTH < 128 || AXI_DATA_WIDTH > 1024 || (1 << LOG_B) != B)
      $error("%m: AXI_DATA_WIDTH %0d must be a power of two in 128..1024", AXI_DATA_WIDTH);
    if (ROWS < 1 || ROWS > 64 || B % ROWS != 0)
      $error("%m: ROWS %0d must be in 1..64 and divide the bus bytes %0d", ROWS, B);
    if (COLS < 1 || COLS > 64 || B % (4 * COLS) != 0)
      $error("%m: COLS %0d must be in 1..64 and 4*COLS divide the bus bytes %0d", COLS, B);
    if (K_DEPTH % A_PER != 0 || K_DEPTH % W_PER != 0 || A_WORDS < 2 || W_WORDS < 2)
      $error("%m: K_DEPTH %0d must be a multiple of B/ROWS and B/COLS, two bus words at least", K_DEPTH);
    if (ACC_SLOTS < 1 || ACC_SLOTS > 16 || ACC_DEPTH < 2) $error("%m: ACC_SLOTS %0d out of 1..16", ACC_SLOTS);
    if (P_ENTRIES < 2 || P_ENTRIES > 256) $error("%m: P_ENTRIES %0d out of 2..256", P_ENTRIES);
    if (AXI_ID_WIDTH < 1) $error("%m: AXI_ID_WIDTH must be at least 1");
    if (K_DEPTH > 65535) $error("%m: K_DEPTH %0d does not fit the 16-bit k_len field", K_DEPTH);
    if (AW < 13 || AW > 64) $error("%m: AXI_ADDR_WIDTH %0d out of 13..64", AW);
    if (COUNTER_WIDTH < 32 || COUNTER_WIDTH > 64) $error("%m: COUNTER_WIDTH %0d out of 32..64", COUNTER_WIDTH);
  end

  // ----------------------------------------------------------------- state

  localparam [4:0] S_IDLE = 5'd0;  // waiting for start
  localparam [4:0] S_FETCH = 5'd1;  // AR of the beat holding the command
  localparam [4:0] S_FETCH_R = 5'd2;  // its R beat
  localparam [4:0] S_DECODE = 5'd3;  // checks and dispatch
  localparam [4:0] S_LD_AR = 5'd4;  // LOAD_*: AR of the next beat
  localparam [4:0] S_LD_R = 5'd5;  // LOAD_*: its R beat into a bank / parameters
  localparam [4:0] S_COMP = 5'd6;  // COMPUTE: k-steps through the MACs
  localparam [4:0] S_DRAIN = 5'd7;  // COMPUTE: sums into the accumulator memory
  localparam [4:0] S_ST_RD = 5'd8;  // STORE: read the next accumulator
  localparam [4:0] S_ST_REQ = 5'd9;  // STORE: hand it to the requantizer
  localparam [4:0] S_ST_WAIT = 5'd10;  // STORE: wait for the result
  localparam [4:0] S_ST_AW = 5'd11;  // STORE: write the beat
  localparam [4:0] S_ST_B = 5'd12;  // STORE: its write response
  localparam [4:0] S_NEXT = 5'd13;  // command done: next one or finish
  localparam [4:0] S_DONE = 5'd14;  // done pulse
  localparam [4:0] S_ST_P1 = 5'd15;  // STORE: bias of the value, read mult
  localparam [4:0] S_ST_P2 = 5'd16;  // STORE: mult of the value, read shift
  localparam [4:0] S_ST_SHIFT = 5'd17;  // STORE: bytes of the value (then zeros) into the beat

  reg [4:0]    state_reg;
  reg [127:0]  cmd_reg;
  reg [31:0]   index_reg;    // index of the current command
  reg [31:0]   count_reg;
  reg [AW-1:0] fa_reg;       // byte address of the current command
  reg [7:0]    error_reg;
  reg [31:0]   err_index_reg;
  reg          started_reg;  // a COMPUTE has been dispatched
  reg [AW-1:0] addr_reg;     // card-memory address of the next beat
  reg [16:0]   beats_reg;    // LOAD: beats left
  reg [AWA-1:0] a_wr_reg;    // LOAD_A: next bank RAM word
  reg [WWA-1:0] w_wr_reg;    // LOAD_W: next bank RAM word
  reg [1:0]    psub_reg;     // LOAD_P: 0 bias, 1 mult, 2 shift
  reg [PAW-1:0] pent_reg;    // LOAD_P: entry being written
  reg [16:0]   ks_reg;       // COMPUTE: steps issued
  reg          step_q1;      // COMPUTE: a step's bank words are on the RAM outputs
  reg [EW-1:0] e_reg;        // DRAIN/STORE: value index r*COLS + c
  reg          drain_ph_reg; // DRAIN: 0 read, 1 write
  reg          aw_done_reg, w_done_reg;
  reg [B*8-1:0] obuf_reg;    // STORE: beat being packed, filled from the top
  reg [LOG_B:0] fill_reg;    // STORE: bytes in obuf_reg
  reg           pad_reg;     // STORE: values done, zeros fill the last beat

  // ----------------------------------------------------------- the command

  // Decode and the checks of sampan_seq (sampan_cmd_check). This core has
  // none of ISA 1.1 (FEATURES 0, BLOCK = 0, MV_ROWS = 0): LOAD_S, a q or
  // wide COMPUTE and a float STORE answer status 6; STORE mode 3 is out of
  // range (status 2).
  wire [7:0]  cmd_error;
  wire        is_load_a, is_load_w, is_load_p, is_load_s, is_compute, is_store;
  wire [15:0] f_len, f_a_off, f_w_off;
  wire [7:0]  f_first_entry, f_za, f_m_valid, f_n_valid, f_zo, f_lo, f_hi;
  wire [3:0]  f_slot;
  wire        f_bank, f_w_bank, f_first, f_q, f_wide;  // f_bank: LOAD bank, COMPUTE a_bank, STORE raw
  wire [1:0]  f_mode;
  wire [63:0] f_addr;
  sampan_cmd_check #(
      .ROWS     (ROWS),
      .COLS     (COLS),
      .K_DEPTH  (K_DEPTH),
      .ACC_SLOTS(ACC_SLOTS),
      .P_ENTRIES(P_ENTRIES),
      .BUS_BYTES(B),
      .BLOCK    (0),
      .MV_ROWS  (0)
  ) u_check (
      .cmd          (cmd_reg),
      .error        (cmd_error),
      .is_load_a    (is_load_a),
      .is_load_w    (is_load_w),
      .is_load_p    (is_load_p),
      .is_load_s    (is_load_s),
      .is_compute   (is_compute),
      .is_store     (is_store),
      .f_bank       (f_bank),
      .f_w_bank     (f_w_bank),
      .f_mode       (f_mode),
      .f_first      (f_first),
      .f_q          (f_q),
      .f_first_entry(f_first_entry),
      .f_slot       (f_slot),
      .f_len        (f_len),
      .f_za         (f_za),
      .f_m_valid    (f_m_valid),
      .f_n_valid    (f_n_valid),
      .f_addr       (f_addr),
      .f_a_off      (f_a_off),
      .f_w_off      (f_w_off),
      .f_wide       (f_wide),
      .f_zo         (f_zo),
      .f_lo         (f_lo),
      .f_hi         (f_hi)
  );
  wire is_load_ab = is_load_a || is_load_w;
  wire cmd_ok = state_reg == S_DECODE && cmd_error == 8'd0;

  // ------------------------------------------------------------- AXI master

  wire [AW-1:0] fetch_addr = {fa_reg[AW-1:LOG_B], {LOG_B{1'b0}}};

  assign m_axi_arid = (state_reg == S_FETCH) ? {AXI_ID_WIDTH{1'b0}} : {{(AXI_ID_WIDTH - 1) {1'b0}}, 1'b1};
  assign m_axi_araddr = (state_reg == S_FETCH) ? fetch_addr : addr_reg;
  assign m_axi_arlen = 8'd0;
  assign m_axi_arsize = AXSIZE;
  assign m_axi_arburst = 2'b01;
  assign m_axi_arvalid = state_reg == S_FETCH || state_reg == S_LD_AR;
  assign m_axi_rready = 1'b1;

  assign m_axi_awid = {{(AXI_ID_WIDTH - 1) {1'b0}}, 1'b1};
  assign m_axi_awaddr = addr_reg;
  assign m_axi_awlen = 8'd0;
  assign m_axi_awsize = AXSIZE;
  assign m_axi_awburst = 2'b01;
  assign m_axi_awvalid = state_reg == S_ST_AW && !aw_done_reg;
  assign m_axi_wdata = obuf_reg;
  assign m_axi_wstrb = {B{1'b1}};
  assign m_axi_wlast = 1'b1;
  assign m_axi_wvalid = state_reg == S_ST_AW && !w_done_reg;
  assign m_axi_bready = 1'b1;

  wire r_beat = m_axi_rvalid && (state_reg == S_FETCH_R || state_reg == S_LD_R);
  wire r_err = m_axi_rresp[1];
  wire aw_fire = m_axi_awvalid && m_axi_awready;
  wire w_fire = m_axi_wvalid && m_axi_wready;

  // The command within the fetched beat.
  wire [127:0] fetched;
  generate
    if (CPB > 1) begin : gen_cmd_sel
      wire [$clog2(CPB)-1:0] sel = fa_reg[LOG_B-1:4];
      assign fetched = m_axi_rdata[sel*128 +: 128];
    end else begin : gen_cmd_one
      assign fetched = m_axi_rdata[127:0];
      wire unused_fa = &{1'b0, fa_reg[LOG_B-1:0]};
    end
  endgenerate

  // ----------------------------------------------------- banks and MACs

  // Bank RAM addresses of COMPUTE step ks (bank b starts at word b*WORDS).
  wire [16:0] a_step = {1'b0, f_a_off} + ks_reg;
  wire [16:0] w_step = {1'b0, f_w_off} + ks_reg;
  // (With a power-of-two bank the bank bit is simply the top address bit.)
  wire [16:0] a_idx = a_step >> LOG_A_PER;
  wire [16:0] w_idx = w_step >> LOG_W_PER;
  wire [AWA-1:0] a_word = A_POW2 ? {f_bank, a_idx[AWA-2:0]} : (f_bank ? A_WORDS_A : {AWA{1'b0}}) + a_idx[AWA-1:0];
  wire [WWA-1:0] w_word = W_POW2 ? {f_w_bank, w_idx[WWA-2:0]} : (f_w_bank ? W_WORDS_W : {WWA{1'b0}}) + w_idx[WWA-1:0];
  wire        issue = state_reg == S_COMP && ks_reg != {1'b0, f_len};

  wire          ld_wr = r_beat && state_reg == S_LD_R && !r_err;

  // The bank RAMs (both banks of an operand in one RAM), registered read.
  // Loads and COMPUTE never overlap, so a read never meets a write to the
  // same word: no_rw_check spares Yosys the bypass logic it would add.
  (* no_rw_check *) reg [B*8-1:0] a_mem[0:2*A_WORDS-1];
  (* no_rw_check *) reg [B*8-1:0] w_mem[0:2*W_WORDS-1];
  reg [B*8-1:0] a_rd_data, w_rd_data;
  always @(posedge clk) begin
    if (ld_wr && is_load_a) a_mem[a_wr_reg] <= m_axi_rdata;
    if (ld_wr && is_load_w) w_mem[w_wr_reg] <= m_axi_rdata;
    if (issue) begin
      a_rd_data <= a_mem[a_word];
      w_rd_data <= w_mem[w_word];
    end
  end

  // Position of the step within the bus word, one cycle later with the data.
  reg [16:0] a_pos_q1, w_pos_q1;
  always @(posedge clk) begin
    a_pos_q1 <= a_step & A_MASK;
    w_pos_q1 <= w_step & W_MASK;
  end
  wire [ROWS*8-1:0] a_vec = a_rd_data[a_pos_q1*ROWS*8 +: ROWS*8];
  wire [COLS*8-1:0] w_vec = w_rd_data[w_pos_q1*COLS*8 +: COLS*8];
  wire clear_macs = state_reg == S_DECODE;

  // One multiply-accumulator per (r, c): acc += (A[r] - za) * W[c]
  // (sampan_lite_mac, one SB_MAC16 each on iCE40).
  wire [NE*32-1:0] macc;
  genvar gr, gc;
  generate
    for (gr = 0; gr < ROWS; gr = gr + 1) begin : gen_row
      // A[r] - za, forced to zero between steps so the accumulators need
      // no enable (an enable would keep them out of the SB_MAC16).
      wire signed [8:0] a_z = $signed({a_vec[gr*8+7], a_vec[gr*8 +: 8]}) - $signed({f_za[7], f_za});
      wire signed [8:0] a_g = step_q1 ? a_z : 9'sd0;
      for (gc = 0; gc < COLS; gc = gc + 1) begin : gen_col
        wire signed [31:0] acc_reg;
        sampan_lite_mac u_mac (
            .clk  (clk),
            .clear(clear_macs),
            .a    (a_g),
            .w    ($signed(w_vec[gc*8 +: 8])),
            .acc  (acc_reg)
        );
        assign macc[(gr*COLS+gc)*32 +: 32] = acc_reg;
      end
    end
  endgenerate

  // ------------------------------------------- accumulators and parameters

  wire [31:0]     e32 = {{(32 - EW) {1'b0}}, e_reg};
  wire [31:0]     acc_addr32 = {28'd0, f_slot} * NE + e32;
  wire [ACCA-1:0] acc_addr = acc_addr32[ACCA-1:0];
  wire            drain_wr = state_reg == S_DRAIN && drain_ph_reg;
  wire [31:0]     drain_sum = (f_first ? 32'd0 : acc_rd_data) + macc[e_reg*32 +: 32];

  // Accumulator memory: the drain reads a word and writes it the next
  // cycle, the store only reads; never a read and a write of one word in
  // the same cycle (no_rw_check, as the banks).
  (* no_rw_check *) reg [31:0] acc_mem[0:ACC_DEPTH-1];
  reg [31:0] acc_rd_data;
  always @(posedge clk) begin
    if (drain_wr) acc_mem[acc_addr] <= drain_sum;
    if ((state_reg == S_DRAIN && !drain_ph_reg) || state_reg == S_ST_RD) acc_rd_data <= acc_mem[acc_addr];
  end

  // Parameter memory: word {entry, 0} holds bias[c] at bits 32c, {entry, 1}
  // mult, {entry, 2} shift. STORE reads the three words of its entry one
  // after the other for every value (S_ST_RD, S_ST_P1, S_ST_P2).
  (* no_rw_check *) reg [COLS*32-1:0] p_mem[0:4*P_ENTRIES-1];
  reg [COLS*32-1:0] p_rd_data;
  reg [31:0]        bias_reg, mult_reg;
  wire [PAW-1:0]    st_entry = f_len[PAW-1:0];
  wire [1:0]        p_sub = state_reg == S_ST_RD ? 2'd0 : state_reg == S_ST_P1 ? 2'd1 : 2'd2;
  wire [31:0]       col = e32 % COLS;
  wire [31:0]       p_col = p_rd_data[col*32 +: 32];
  always @(posedge clk) begin
    if (ld_wr && is_load_p) p_mem[{pent_reg, psub_reg}] <= m_axi_rdata[COLS*32-1:0];
    if (state_reg == S_ST_RD || state_reg == S_ST_P1 || state_reg == S_ST_P2)
      p_rd_data <= p_mem[{st_entry, p_sub}];
    if (state_reg == S_ST_P1) bias_reg <= p_col;
    if (state_reg == S_ST_P2) mult_reg <= p_col;
  end

  wire        rq_ready, rq_valid;
  wire [31:0] rq_data;
  sampan_requant_seq u_requant (
      .clk      (clk),
      .rst      (rst),
      .in_valid (state_reg == S_ST_REQ),
      .in_ready (rq_ready),
      .in_raw   (f_bank),
      .in_acc   (acc_rd_data),
      .in_bias  (bias_reg),
      .in_mult  (mult_reg),
      .in_shift (p_col),
      .in_zo    (f_zo),
      .in_lo    (f_lo),
      .in_hi    (f_hi),
      .out_valid(rq_valid),
      .out_data (rq_data)
  );

  // Values enter the beat a byte a cycle at the top and shift down (a plain
  // shift register), so that value 0 ends at byte 0; a partial last beat is
  // shifted on with zero bytes (pad_reg). Raw values take 4 bytes, which
  // never straddle a beat (B is a multiple of 4).
  wire [EW-1:0]  e_last = NE[EW-1:0] - 1'b1;
  wire [LOG_B:0] fill_full = B32[LOG_B:0];
  wire [LOG_B:0] fill_inc = fill_reg + 1'b1;
  wire [7:0]     byte_in = pad_reg ? 8'd0 : rq_data[psub_reg*8 +: 8];
  wire           value_done = !f_bank || psub_reg == 2'd3;

  // -------------------------------------------------------- state machine

  wire unaligned_list = cmd_addr[LOG_B-1:0] != {LOG_B{1'b0}} && cmd_count != 32'd0;
  wire [16:0] ab_beats = is_load_a ? ({1'b0, f_len} + A_PER[16:0] - 17'd1) >> LOG_A_PER :
                                     ({1'b0, f_len} + W_PER[16:0] - 17'd1) >> LOG_W_PER;
  wire [17:0] p_beats = {2'd0, f_len} + {1'b0, f_len, 1'b0};
  wire [AWA-1:0] a_base = f_bank ? A_WORDS_A : {AWA{1'b0}};
  wire [WWA-1:0] w_base = f_bank ? W_WORDS_W : {WWA{1'b0}};

  always @(posedge clk) begin
    step_q1 <= issue;
    case (state_reg)
      S_IDLE:
      if (start) begin
        count_reg <= cmd_count;
        fa_reg <= cmd_addr[AW-1:0];
        index_reg <= 32'd0;
        started_reg <= 1'b0;
        error_reg <= unaligned_list ? ERR_ALIGN : 8'd0;
        err_index_reg <= 32'd0;
        state_reg <= (unaligned_list || cmd_count == 32'd0) ? S_DONE : S_FETCH;
      end
      S_FETCH: if (m_axi_arready) state_reg <= S_FETCH_R;
      S_FETCH_R:
      if (m_axi_rvalid) begin
        cmd_reg <= fetched;
        if (r_err) begin
          error_reg <= ERR_AXI_RD;
          err_index_reg <= index_reg;
          state_reg <= S_DONE;
        end else begin
          state_reg <= S_DECODE;
        end
      end
      S_DECODE: begin
        addr_reg <= f_addr[AW-1:0];
        a_wr_reg <= a_base;
        w_wr_reg <= w_base;
        psub_reg <= 2'd0;
        pent_reg <= f_first_entry[PAW-1:0];
        ks_reg <= 17'd0;
        e_reg <= {EW{1'b0}};
        drain_ph_reg <= 1'b0;
        fill_reg <= {(LOG_B + 1) {1'b0}};
        pad_reg <= 1'b0;
        if (cmd_error != 8'd0) begin
          error_reg <= cmd_error;
          err_index_reg <= index_reg;
          state_reg <= S_DONE;
        end else if (is_load_ab) begin
          beats_reg <= ab_beats;
          state_reg <= S_LD_AR;
        end else if (is_load_p) begin
          beats_reg <= p_beats[16:0];
          state_reg <= S_LD_AR;
        end else if (is_compute) begin
          started_reg <= 1'b1;
          state_reg <= S_COMP;
        end else begin
          state_reg <= S_ST_RD;
        end
      end
      S_LD_AR: if (m_axi_arready) state_reg <= S_LD_R;
      S_LD_R:
      if (m_axi_rvalid) begin
        addr_reg <= addr_reg + B_AW;
        a_wr_reg <= a_wr_reg + 1'b1;
        w_wr_reg <= w_wr_reg + 1'b1;
        psub_reg <= psub_reg == 2'd2 ? 2'd0 : psub_reg + 2'd1;
        if (psub_reg == 2'd2) pent_reg <= pent_reg + 1'b1;
        beats_reg <= beats_reg - 17'd1;
        if (r_err) begin
          error_reg <= ERR_AXI_RD;
          err_index_reg <= index_reg;
          state_reg <= S_DONE;
        end else begin
          state_reg <= beats_reg == 17'd1 ? S_NEXT : S_LD_AR;
        end
      end
      S_COMP: begin
        if (issue) ks_reg <= ks_reg + 17'd1;
        if (!issue && !step_q1) state_reg <= S_DRAIN;
      end
      S_DRAIN: begin
        drain_ph_reg <= !drain_ph_reg;
        if (drain_ph_reg) begin
          e_reg <= e_reg + 1'b1;
          if (e_reg == e_last) state_reg <= S_NEXT;
        end
      end
      S_ST_RD: state_reg <= S_ST_P1;
      S_ST_P1: state_reg <= S_ST_P2;
      S_ST_P2: state_reg <= S_ST_REQ;
      S_ST_REQ: if (rq_ready) state_reg <= S_ST_WAIT;
      S_ST_WAIT:
      if (rq_valid) begin
        psub_reg <= 2'd0;
        state_reg <= S_ST_SHIFT;
      end
      S_ST_SHIFT: begin
        obuf_reg <= {byte_in, obuf_reg[B*8-1:8]};
        fill_reg <= fill_inc;
        psub_reg <= psub_reg + 2'd1;
        aw_done_reg <= 1'b0;
        w_done_reg <= 1'b0;
        if (fill_inc == fill_full) begin
          state_reg <= S_ST_AW;
        end else if (value_done && !pad_reg) begin
          if (e_reg == e_last) begin
            pad_reg <= 1'b1;
          end else begin
            e_reg <= e_reg + 1'b1;
            state_reg <= S_ST_RD;
          end
        end
      end
      S_ST_AW: begin
        if (aw_fire) aw_done_reg <= 1'b1;
        if (w_fire) w_done_reg <= 1'b1;
        if ((aw_done_reg || aw_fire) && (w_done_reg || w_fire)) state_reg <= S_ST_B;
      end
      S_ST_B:
      if (m_axi_bvalid) begin
        addr_reg <= addr_reg + B_AW;
        fill_reg <= {(LOG_B + 1) {1'b0}};
        e_reg <= e_reg + 1'b1;
        if (m_axi_bresp[1]) begin
          error_reg <= ERR_AXI_WR;
          err_index_reg <= index_reg;
          state_reg <= S_DONE;
        end else begin
          state_reg <= e_reg == e_last ? S_NEXT : S_ST_RD;
        end
      end
      S_NEXT: begin
        index_reg <= index_reg + 32'd1;
        fa_reg <= fa_reg + 16;
        state_reg <= index_reg + 32'd1 == count_reg ? S_DONE : S_FETCH;
      end
      default: state_reg <= S_IDLE;  // S_DONE
    endcase
    if (rst) begin
      state_reg <= S_IDLE;
      error_reg <= 8'd0;
      err_index_reg <= 32'd0;
      started_reg <= 1'b0;
      step_q1 <= 1'b0;
      aw_done_reg <= 1'b0;
      w_done_reg <= 1'b0;
    end
  end

  assign done = state_reg == S_DONE;
  assign status = error_reg;
  assign err_index = err_index_reg;

  // -------------------------------------------------------------- counters

  wire running = state_reg != S_IDLE;  // counters run from start to the done pulse
  wire active = running && state_reg != S_DONE && error_reg == 8'd0;

  // Every running cycle is one of BUSY (a k-step accumulated), STALL_MEM
  // (after the first COMPUTE, while commands remain) or other; STALL_DEP
  // stays zero. MACS grows by m_valid * n_valid per k-step, which sums to
  // k_len * m_valid * n_valid per COMPUTE. Byte counters keep whole beats.
  localparam N = COUNTER_WIDTH;
  localparam MW = $clog2(ROWS + 1);
  localparam NW = $clog2(COLS + 1);
  wire [MW+NW-1:0] step_macs = {{NW{1'b0}}, f_m_valid[MW-1:0]} * {{MW{1'b0}}, f_n_valid[NW-1:0]};
  reg  [N-1:0]       cycles_reg, busy_reg, macs_reg, stall_mem_reg;
  reg  [N-LOG_B-1:0] beats_rd_reg, beats_wr_reg;
  reg  [31:0]        cmds_reg;
  always @(posedge clk) begin
    if (rst || (start && state_reg == S_IDLE)) begin
      cycles_reg <= {N{1'b0}};
      busy_reg <= {N{1'b0}};
      macs_reg <= {N{1'b0}};
      stall_mem_reg <= {N{1'b0}};
      beats_rd_reg <= {(N - LOG_B) {1'b0}};
      beats_wr_reg <= {(N - LOG_B) {1'b0}};
      cmds_reg <= 32'd0;
    end else if (running) begin
      cycles_reg <= cycles_reg + 1'b1;
      if (step_q1) busy_reg <= busy_reg + 1'b1;
      if (step_q1) macs_reg <= macs_reg + {{(N - MW - NW) {1'b0}}, step_macs};
      if (!step_q1 && started_reg && active) stall_mem_reg <= stall_mem_reg + 1'b1;
      if (r_beat) beats_rd_reg <= beats_rd_reg + 1'b1;
      if (w_fire) beats_wr_reg <= beats_wr_reg + 1'b1;
      if (cmd_ok) cmds_reg <= cmds_reg + 32'd1;
    end
  end
  generate
    if (N < 64) begin : gen_narrow
      assign cnt_cycles = {{(64 - N) {1'b0}}, cycles_reg};
      assign cnt_busy = {{(64 - N) {1'b0}}, busy_reg};
      assign cnt_macs = {{(64 - N) {1'b0}}, macs_reg};
      assign cnt_stall_mem = {{(64 - N) {1'b0}}, stall_mem_reg};
      assign cnt_bytes_rd = {{(64 - N) {1'b0}}, beats_rd_reg, {LOG_B{1'b0}}};
      assign cnt_bytes_wr = {{(64 - N) {1'b0}}, beats_wr_reg, {LOG_B{1'b0}}};
    end else begin : gen_full
      assign cnt_cycles = cycles_reg;
      assign cnt_busy = busy_reg;
      assign cnt_macs = macs_reg;
      assign cnt_stall_mem = stall_mem_reg;
      assign cnt_bytes_rd = {beats_rd_reg, {LOG_B{1'b0}}};
      assign cnt_bytes_wr = {beats_wr_reg, {LOG_B{1'b0}}};
    end
  endgenerate
  assign cnt_stall_dep = 64'd0;
  assign cnt_cmds = cmds_reg;

  wire unused_lite = &{1'b0, cmd_addr, f_addr, is_load_s, is_store, f_q, f_mode, f_wide, f_first_entry,
                       f_m_valid, f_n_valid, m_axi_bid, m_axi_bresp[0],
                       m_axi_rid, m_axi_rresp[0], m_axi_rlast, rq_data[31:8], acc_addr32, col, psub_reg == 2'd3,
                       a_step, w_step, a_idx, w_idx, p_beats[17]};

endmodule
`resetall
