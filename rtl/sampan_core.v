`default_nettype none
// sampan_core: the sampan int8 matrix engine behind an AXI4 master.
//
// Ties the units together (rtl/ARCHITECTURE.md): command fetch, sequencer
// and scoreboard, load unit, execute unit (systolic array and drain), store
// unit (requantizer), counters, and the on-chip memories: two A banks, two W
// banks, the accumulator memory and the parameter memory.
//
// AXI: one shared AR channel through a one-entry register slice, command
// fetch first (ARID 0), data loads otherwise (ARID 1); R beats are
// registered once and routed by RID; RREADY and BREADY are always high (every
// read is reserved space before it is requested). Writes use AWID 1, full
// strobes. Bursts are INCR, whole beats, never across 4 KiB.
//
// Latency: see the units; a run starts on start and ends with a done pulse.
// Parameters: see rtl/ARCHITECTURE.md ("Parameters").
module sampan_core #(
    parameter ROWS           = 16,    // array rows
    parameter COLS           = 16,    // array columns
    parameter K_DEPTH        = 1024,  // k-steps per A/W bank
    parameter ACC_SLOTS      = 4,     // accumulator tiles
    parameter P_ENTRIES      = 64,    // requantizer parameter entries
    parameter AXI_DATA_WIDTH = 512,   // AXI data width in bits
    parameter AXI_ADDR_WIDTH = 64,    // AXI address width
    parameter AXI_ID_WIDTH   = 1,     // AXI ID width (ID 0 fetch, 1 data)
    // Size options for small parts (defaults: the full-speed build)
    parameter FIFO_DEPTH     = 16,    // command-fetch and store row FIFOs (2..16)
    parameter BANK_SHARED    = 0,     // 1: both banks of an operand in one RAM
    parameter ACC_COPIES     = 2,     // accumulator memory copies: 2 (drain and store each
                                      // read their own) or 1 (they share its read port)
    parameter REQUANT_SERIAL = 0,     // 1: one sequential requantizer lane, no multipliers
    parameter PARAM_LOGIC    = 0,     // parameter memories in flip-flops, not block RAM:
                                      // bit 0 bias, bit 1 mult, bit 2 shift
    parameter COUNTER_WIDTH  = 64,    // bits kept of the 64-bit counters (32..64)
    // ISA 1.1
    parameter BLOCK          = 1,     // 1: block-scaled commands, where the shape allows them
    parameter MV_ROWS        = 4      // rows of the matrix-vector engine (0: none)
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
    output wire [                31:0] features,  // FEATURES register value
    output wire [                63:0] cnt_cycles,
    output wire [                63:0] cnt_busy,
    output wire [                63:0] cnt_macs,
    output wire [                63:0] cnt_stall_mem,
    output wire [                63:0] cnt_stall_dep,
    output wire [                63:0] cnt_bytes_rd,
    output wire [                63:0] cnt_bytes_wr,
    output wire [                31:0] cnt_cmds,
    // AXI4 master
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

  localparam B = AXI_DATA_WIDTH / 8;  // bus bytes
  localparam LOG_B = $clog2(B);
  localparam A_WORDS = K_DEPTH * ROWS / B;  // bus words per A bank
  localparam W_WORDS = K_DEPTH * COLS / B;  // bus words per W bank
  localparam ACC_ROWS = ACC_SLOTS * ROWS;
  localparam AAW = $clog2(ACC_ROWS);
  localparam PAW = $clog2(P_ENTRIES);
  localparam [31:0] LOG_B32 = LOG_B;
  localparam [2:0] AXSIZE = LOG_B32[2:0];
  // Block-scaled commands are built when asked for and the shape allows
  // them: a block's A scales fit a bus word, a block (32 steps) is at least
  // as long as the drain spacing, pipelined requantizer lanes (the float
  // STORE rides beside them).
  localparam BLOCK_ON = (BLOCK != 0 && 2 * ROWS <= B && ROWS <= 32 && COLS <= 32 &&
                         K_DEPTH % 32 == 0 && REQUANT_SERIAL == 0) ? 1 : 0;
  localparam SBLOCKS = K_DEPTH / 32 > 1 ? K_DEPTH / 32 : 2;  // scale blocks per bank
  localparam SA_WORDS = (SBLOCKS * 2 * ROWS + B - 1) / B > 1 ? (SBLOCKS * 2 * ROWS + B - 1) / B : 2;
  localparam SW_WORDS = (SBLOCKS * 2 * COLS + B - 1) / B > 1 ? (SBLOCKS * 2 * COLS + B - 1) / B : 2;
  // The matrix-vector engine: ROWS <= COLS (one A word holds a W word's
  // steps), at most 4 k-steps a cycle (a q block of 32 steps spans 8 cycles
  // or more, longer than the float read-modify-write), its rows drained
  // before the next block ends.
  localparam WIDE_ON = (MV_ROWS > 0 && ROWS <= COLS && B / COLS <= 4 && MV_ROWS <= ROWS &&
                        MV_ROWS * (B / COLS) <= 32) ? 1 : 0;
  localparam MV_EFF = WIDE_ON != 0 ? MV_ROWS : 0;
  localparam [31:0] MV_EFF32 = MV_EFF;
  localparam [31:0] FEATURES = {16'd0, MV_EFF32[7:0], 6'd0, WIDE_ON != 0, BLOCK_ON != 0};

  initial begin
    if (AXI_DATA_WIDTH < 128 || AXI_DATA_WIDTH > 1024 || (1 << LOG_B) != B)
      $error("%m: AXI_DATA_WIDTH %0d must be a power of two in 128..1024", AXI_DATA_WIDTH);
    if (ROWS < 1 || ROWS > 64 || B % ROWS != 0)
      $error("%m: ROWS %0d must be in 1..64 and divide the bus bytes %0d", ROWS, B);
    if (COLS < 1 || COLS > 64 || B % (4 * COLS) != 0)
      $error("%m: COLS %0d must be in 1..64 and 4*COLS divide the bus bytes %0d", COLS, B);
    if (K_DEPTH % (B / ROWS) != 0 || K_DEPTH % (B / COLS) != 0 || A_WORDS < 2 || W_WORDS < 2)
      $error("%m: K_DEPTH %0d must be a multiple of B/ROWS and B/COLS, two bus words at least", K_DEPTH);
    if (ACC_SLOTS < 1 || ACC_SLOTS > 16 || ACC_ROWS < 2) $error("%m: ACC_SLOTS %0d out of 1..16", ACC_SLOTS);
    if (P_ENTRIES < 2 || P_ENTRIES > 256) $error("%m: P_ENTRIES %0d out of 2..256", P_ENTRIES);
    if (AXI_ID_WIDTH < 1) $error("%m: AXI_ID_WIDTH must be at least 1");
    if (K_DEPTH > 65535) $error("%m: K_DEPTH %0d does not fit the 16-bit k_len field", K_DEPTH);
    if (FIFO_DEPTH < 2 || FIFO_DEPTH > 16 || (FIFO_DEPTH & (FIFO_DEPTH - 1)) != 0)
      $error("%m: FIFO_DEPTH %0d must be a power of two in 2..16", FIFO_DEPTH);
    if (BANK_SHARED != 0 && BANK_SHARED != 1) $error("%m: BANK_SHARED %0d must be 0 or 1", BANK_SHARED);
    if (ACC_COPIES != 1 && ACC_COPIES != 2) $error("%m: ACC_COPIES %0d must be 1 or 2", ACC_COPIES);
  end

  // ------------------------------------------------------------ AXI read

  // R beats, registered once.
  reg          r_valid_q;
  reg          r_data_id_q;  // 0: command fetch, 1: data load
  reg          r_err_q;
  reg [B*8-1:0] r_data_q;
  always @(posedge clk) begin
    r_data_id_q <= m_axi_rid != {AXI_ID_WIDTH{1'b0}};
    r_err_q <= m_axi_rresp[1];
    r_data_q <= m_axi_rdata;
    if (rst) r_valid_q <= 1'b0;
    else r_valid_q <= m_axi_rvalid;
  end
  assign m_axi_rready = 1'b1;

  // AR register slice and arbiter: fetch first.
  wire                      fetch_ar_valid, load_ar_valid;
  wire [AXI_ADDR_WIDTH-1:0] fetch_ar_addr, load_ar_addr;
  wire [7:0]                fetch_ar_len, load_ar_len;
  reg                       ar_valid_reg;
  reg                       ar_id_reg;
  reg [AXI_ADDR_WIDTH-1:0]  ar_addr_reg;
  reg [7:0]                 ar_len_reg;
  wire                      ar_free = !ar_valid_reg || m_axi_arready;
  wire                      fetch_ar_ready = ar_free;
  wire                      load_ar_ready = ar_free && !fetch_ar_valid;

  always @(posedge clk) begin
    if (ar_free) begin
      ar_id_reg <= !fetch_ar_valid;
      ar_addr_reg <= fetch_ar_valid ? fetch_ar_addr : load_ar_addr;
      ar_len_reg <= fetch_ar_valid ? fetch_ar_len : load_ar_len;
    end
    if (rst) ar_valid_reg <= 1'b0;
    else if (ar_free) ar_valid_reg <= fetch_ar_valid || load_ar_valid;
  end

  assign m_axi_arid = {{(AXI_ID_WIDTH - 1) {1'b0}}, ar_id_reg};
  assign m_axi_araddr = ar_addr_reg;
  assign m_axi_arlen = ar_len_reg;
  assign m_axi_arsize = AXSIZE;
  assign m_axi_arburst = 2'b01;
  assign m_axi_arvalid = ar_valid_reg;

  // ----------------------------------------------------------------- fetch

  wire                      fetch_start, fetch_stop, fetch_idle;
  wire [AXI_ADDR_WIDTH-1:0] fetch_addr;
  wire [31:0]               fetch_beats;
  wire                      beat_valid, beat_ready;
  wire [B*8-1:0]            beat_data;

  sampan_fetch #(
      .BUS_BYTES (B),
      .ADDR_WIDTH(AXI_ADDR_WIDTH),
      .FIFO_DEPTH(FIFO_DEPTH),
      .MAX_BURST (FIFO_DEPTH < 8 ? FIFO_DEPTH : 8)
  ) u_fetch (
      .clk       (clk),
      .rst       (rst),
      .start     (fetch_start),
      .base_addr (fetch_addr),
      .num_beats (fetch_beats),
      .stop      (fetch_stop),
      .idle      (fetch_idle),
      .ar_valid  (fetch_ar_valid),
      .ar_ready  (fetch_ar_ready),
      .ar_addr   (fetch_ar_addr),
      .ar_len    (fetch_ar_len),
      .r_valid   (r_valid_q && !r_data_id_q),
      .r_data    (r_data_q),
      .beat_valid(beat_valid),
      .beat_ready(beat_ready),
      .beat_data (beat_data)
  );

  // ------------------------------------------------------------- sequencer

  wire                      ld_valid, ld_ready, ld_bank, ld_sop, ld_idle, ld_done_sop;
  wire [1:0]                ld_kind;
  wire [15:0]               ld_len;
  wire [7:0]                ld_first;
  wire [AXI_ADDR_WIDTH-1:0] ld_addr;
  wire [31:0]               ld_index;
  wire                      ld_done_valid, ld_done_bank, ld_err_valid;
  wire [1:0]                ld_done_kind;
  wire [31:0]               ld_err_index;

  wire                      ex_valid, ex_ready, ex_a_bank, ex_w_bank, ex_first, ex_idle;
  wire [3:0]                ex_slot;
  wire [15:0]               ex_k_len;
  wire [15:0]               ex_a_off;
  wire [15:0]               ex_w_off;
  wire [7:0]                ex_za;
  wire                      ex_q, ex_wide, ex_drained_q, ex_drained_a_bank, ex_drained_w_bank;
  wire                      ex_step, ex_spacing_wait, ex_load_wait;
  wire                      ex_release_valid, ex_release_a_bank, ex_release_w_bank;
  wire                      ex_drained_valid;
  wire [3:0]                ex_drained_slot;

  wire                      st_valid, st_ready, st_raw, st_float, st_idle, st_slot_busy, st_err_valid;
  wire                      st_drained;
  wire [3:0]                st_slot, st_busy_slot;
  wire [PAW-1:0]            st_entry;
  wire [AXI_ADDR_WIDTH-1:0] st_addr;
  wire [7:0]                st_zo, st_lo, st_hi;
  wire [31:0]               st_index, st_err_index;

  wire                      running, started, active, head_dep, cmd_fire;
  wire [31:0]               cmd_macs;

  sampan_seq #(
      .ROWS      (ROWS),
      .COLS      (COLS),
      .K_DEPTH   (K_DEPTH),
      .ACC_SLOTS (ACC_SLOTS),
      .P_ENTRIES (P_ENTRIES),
      .BUS_BYTES (B),
      .ADDR_WIDTH(AXI_ADDR_WIDTH),
      .BLOCK     (BLOCK_ON),
      .MV_ROWS   (MV_EFF)
  ) u_seq (
      .clk              (clk),
      .rst              (rst),
      .start            (start),
      .cmd_addr         (cmd_addr),
      .cmd_count        (cmd_count),
      .running          (running),
      .done             (done),
      .error_code       (status),
      .error_index      (err_index),
      .fetch_start      (fetch_start),
      .fetch_addr       (fetch_addr),
      .fetch_beats      (fetch_beats),
      .fetch_stop       (fetch_stop),
      .fetch_idle       (fetch_idle),
      .fetch_err        (r_valid_q && !r_data_id_q && r_err_q),
      .beat_valid       (beat_valid),
      .beat_ready       (beat_ready),
      .beat_data        (beat_data),
      .ld_valid         (ld_valid),
      .ld_ready         (ld_ready),
      .ld_kind          (ld_kind),
      .ld_bank          (ld_bank),
      .ld_sop           (ld_sop),
      .ld_len           (ld_len),
      .ld_first         (ld_first),
      .ld_addr          (ld_addr),
      .ld_index         (ld_index),
      .ld_idle          (ld_idle),
      .ld_done_valid    (ld_done_valid),
      .ld_done_kind     (ld_done_kind),
      .ld_done_bank     (ld_done_bank),
      .ld_done_sop      (ld_done_sop),
      .ld_err_valid     (ld_err_valid),
      .ld_err_index     (ld_err_index),
      .ex_valid         (ex_valid),
      .ex_ready         (ex_ready),
      .ex_a_bank        (ex_a_bank),
      .ex_w_bank        (ex_w_bank),
      .ex_first         (ex_first),
      .ex_slot          (ex_slot),
      .ex_k_len         (ex_k_len),
      .ex_a_off         (ex_a_off),
      .ex_w_off         (ex_w_off),
      .ex_za            (ex_za),
      .ex_q             (ex_q),
      .ex_wide          (ex_wide),
      .ex_idle          (ex_idle),
      .ex_release_valid (ex_release_valid),
      .ex_release_a_bank(ex_release_a_bank),
      .ex_release_w_bank(ex_release_w_bank),
      .ex_drained_valid (ex_drained_valid),
      .ex_drained_slot  (ex_drained_slot),
      .ex_drained_q     (ex_drained_q),
      .ex_drained_a_bank(ex_drained_a_bank),
      .ex_drained_w_bank(ex_drained_w_bank),
      .st_valid         (st_valid),
      .st_ready         (st_ready),
      .st_raw           (st_raw),
      .st_float         (st_float),
      .st_slot          (st_slot),
      .st_entry         (st_entry),
      .st_addr          (st_addr),
      .st_zo            (st_zo),
      .st_lo            (st_lo),
      .st_hi            (st_hi),
      .st_index         (st_index),
      .st_idle          (st_idle),
      .st_slot_busy     (st_slot_busy),
      .st_drained       (st_drained),
      .st_busy_slot     (st_busy_slot),
      .st_err_valid     (st_err_valid),
      .st_err_index     (st_err_index),
      .started          (started),
      .active           (active),
      .head_dep         (head_dep),
      .cmd_fire         (cmd_fire),
      .cmd_macs         (cmd_macs)
  );

  // ------------------------------------------------------------------ load

  wire [1:0]               a_loading, w_loading;
  wire [31:0]              a_landed, w_landed;
  wire [1:0]               a_wr_en, w_wr_en;
  wire [2:0]               p_wr_en;
  wire [$clog2(A_WORDS)-1:0] a_wr_addr;
  wire [$clog2(W_WORDS)-1:0] w_wr_addr;
  wire [PAW-1:0]           p_wr_addr;
  wire [3:0]               s_wr_en;
  wire [15:0]              s_wr_addr;

  sampan_load #(
      .ROWS      (ROWS),
      .COLS      (COLS),
      .K_DEPTH   (K_DEPTH),
      .P_ENTRIES (P_ENTRIES),
      .BUS_BYTES (B),
      .ADDR_WIDTH(AXI_ADDR_WIDTH),
      .MAX_BURST (16)
  ) u_load (
      .clk       (clk),
      .rst       (rst),
      .cmd_valid (ld_valid),
      .cmd_ready (ld_ready),
      .cmd_kind  (ld_kind),
      .cmd_bank  (ld_bank),
      .cmd_sop   (ld_sop),
      .cmd_len   (ld_len),
      .cmd_first (ld_first),
      .cmd_addr  (ld_addr),
      .cmd_index (ld_index),
      .idle      (ld_idle),
      .ar_valid  (load_ar_valid),
      .ar_ready  (load_ar_ready),
      .ar_addr   (load_ar_addr),
      .ar_len    (load_ar_len),
      .r_valid   (r_valid_q && r_data_id_q),
      .r_error   (r_err_q),
      .done_valid(ld_done_valid),
      .done_kind (ld_done_kind),
      .done_bank (ld_done_bank),
      .done_sop  (ld_done_sop),
      .err_valid (ld_err_valid),
      .err_index (ld_err_index),
      .a_loading (a_loading),
      .w_loading (w_loading),
      .a_landed  (a_landed),
      .w_landed  (w_landed),
      .a_wr_en   (a_wr_en),
      .a_wr_addr (a_wr_addr),
      .w_wr_en   (w_wr_en),
      .w_wr_addr (w_wr_addr),
      .p_wr_en   (p_wr_en),
      .p_wr_addr (p_wr_addr),
      .s_wr_en   (s_wr_en),
      .s_wr_addr (s_wr_addr)
  );

  // -------------------------------------------------------------- memories

  wire                       bank_rd_en, a_rd_bank, w_rd_bank;
  wire [$clog2(A_WORDS)-1:0] a_rd_addr;
  wire [$clog2(W_WORDS)-1:0] w_rd_addr;
  wire [B*8-1:0]             a0_rd_data, a1_rd_data, w0_rd_data, w1_rd_data;

  generate
    if (BANK_SHARED == 0) begin : gen_banks
      // Four RAMs: a load may fill one bank while the array reads the other.
      sampan_ram #(
          .WIDTH(B * 8),
          .DEPTH(A_WORDS)
      ) u_a0 (
          .clk    (clk),
          .wr_en  (a_wr_en[0]),
          .wr_addr(a_wr_addr),
          .wr_data(r_data_q),
          .rd_en  (bank_rd_en),
          .rd_addr(a_rd_addr),
          .rd_data(a0_rd_data)
      );
      sampan_ram #(
          .WIDTH(B * 8),
          .DEPTH(A_WORDS)
      ) u_a1 (
          .clk    (clk),
          .wr_en  (a_wr_en[1]),
          .wr_addr(a_wr_addr),
          .wr_data(r_data_q),
          .rd_en  (bank_rd_en),
          .rd_addr(a_rd_addr),
          .rd_data(a1_rd_data)
      );
      sampan_ram #(
          .WIDTH(B * 8),
          .DEPTH(W_WORDS)
      ) u_w0 (
          .clk    (clk),
          .wr_en  (w_wr_en[0]),
          .wr_addr(w_wr_addr),
          .wr_data(r_data_q),
          .rd_en  (bank_rd_en),
          .rd_addr(w_rd_addr),
          .rd_data(w0_rd_data)
      );
      sampan_ram #(
          .WIDTH(B * 8),
          .DEPTH(W_WORDS)
      ) u_w1 (
          .clk    (clk),
          .wr_en  (w_wr_en[1]),
          .wr_addr(w_wr_addr),
          .wr_data(r_data_q),
          .rd_en  (bank_rd_en),
          .rd_addr(w_rd_addr),
          .rd_data(w1_rd_data)
      );
      wire unused_banks = &{1'b0, a_rd_bank, w_rd_bank};
    end else begin : gen_banks_shared
      // One RAM per operand, the bank as the top address bit: R beats land
      // one per cycle in whichever bank, and the array reads one bank of
      // each operand per cycle, so one write and one read port suffice.
      // Halves the block RAMs of the operands (their width sets the count).
      wire [B*8-1:0] a_rd_data, w_rd_data;
      sampan_ram #(
          .WIDTH(B * 8),
          .DEPTH(2 * A_WORDS)
      ) u_a (
          .clk    (clk),
          .wr_en  (a_wr_en[0] || a_wr_en[1]),
          .wr_addr({a_wr_en[1], a_wr_addr}),
          .wr_data(r_data_q),
          .rd_en  (bank_rd_en),
          .rd_addr({a_rd_bank, a_rd_addr}),
          .rd_data(a_rd_data)
      );
      sampan_ram #(
          .WIDTH(B * 8),
          .DEPTH(2 * W_WORDS)
      ) u_w (
          .clk    (clk),
          .wr_en  (w_wr_en[0] || w_wr_en[1]),
          .wr_addr({w_wr_en[1], w_wr_addr}),
          .wr_data(r_data_q),
          .rd_en  (bank_rd_en),
          .rd_addr({w_rd_bank, w_rd_addr}),
          .rd_data(w_rd_data)
      );
      assign a0_rd_data = a_rd_data;
      assign a1_rd_data = a_rd_data;
      assign w0_rd_data = w_rd_data;
      assign w1_rd_data = w_rd_data;
    end
  endgenerate

  // Scale banks (ISA 1.1): one per operand bank, fp16 block scales in the
  // LOAD_S layout, read by the q drain.
  wire                        s_rd_en;
  wire [$clog2(SA_WORDS)-1:0] sa_rd_addr;
  wire [$clog2(SW_WORDS)-1:0] sw_rd_addr;
  wire [B*8-1:0]              sa0_rd_data, sa1_rd_data, sw0_rd_data, sw1_rd_data;

  generate
    if (BLOCK_ON != 0) begin : gen_scales
      sampan_ram #(.WIDTH(B * 8), .DEPTH(SA_WORDS)) u_sa0 (
          .clk(clk), .wr_en(s_wr_en[0]), .wr_addr(s_wr_addr[$clog2(SA_WORDS)-1:0]), .wr_data(r_data_q),
          .rd_en(s_rd_en), .rd_addr(sa_rd_addr), .rd_data(sa0_rd_data));
      sampan_ram #(.WIDTH(B * 8), .DEPTH(SA_WORDS)) u_sa1 (
          .clk(clk), .wr_en(s_wr_en[1]), .wr_addr(s_wr_addr[$clog2(SA_WORDS)-1:0]), .wr_data(r_data_q),
          .rd_en(s_rd_en), .rd_addr(sa_rd_addr), .rd_data(sa1_rd_data));
      sampan_ram #(.WIDTH(B * 8), .DEPTH(SW_WORDS)) u_sw0 (
          .clk(clk), .wr_en(s_wr_en[2]), .wr_addr(s_wr_addr[$clog2(SW_WORDS)-1:0]), .wr_data(r_data_q),
          .rd_en(s_rd_en), .rd_addr(sw_rd_addr), .rd_data(sw0_rd_data));
      sampan_ram #(.WIDTH(B * 8), .DEPTH(SW_WORDS)) u_sw1 (
          .clk(clk), .wr_en(s_wr_en[3]), .wr_addr(s_wr_addr[$clog2(SW_WORDS)-1:0]), .wr_data(r_data_q),
          .rd_en(s_rd_en), .rd_addr(sw_rd_addr), .rd_data(sw1_rd_data));
      wire unused_scales = &{1'b0, s_wr_addr};
    end else begin : gen_no_scales
      assign sa0_rd_data = {(B * 8) {1'b0}};
      assign sa1_rd_data = {(B * 8) {1'b0}};
      assign sw0_rd_data = {(B * 8) {1'b0}};
      assign sw1_rd_data = {(B * 8) {1'b0}};
      wire unused_scales = &{1'b0, s_wr_en, s_wr_addr, s_rd_en, sa_rd_addr, sw_rd_addr};
    end
  endgenerate

  // Accumulator memory, in two copies written together: one read port for
  // the drain's read-modify-write, one for the store. With a single port
  // the drain (ROWS reads per tile) and the store (ROWS more) shared it, and
  // short-K tiles could not stream faster than one per 2*ROWS cycles.
  wire               ex_acc_rd_en, ex_acc_wr_en, st_acc_rd_req;
  wire [AAW-1:0]     ex_acc_rd_addr, ex_acc_wr_addr, st_acc_rd_addr;
  wire [COLS*32-1:0] acc_rd_data, st_acc_rd_data, ex_acc_wr_data;
  wire               st_acc_rd_grant;

  generate
    if (ACC_COPIES == 2) begin : gen_acc2
      assign st_acc_rd_grant = 1'b1;
      sampan_ram #(
          .WIDTH(COLS * 32),
          .DEPTH(ACC_ROWS)
      ) u_acc (
          .clk    (clk),
          .wr_en  (ex_acc_wr_en),
          .wr_addr(ex_acc_wr_addr),
          .wr_data(ex_acc_wr_data),
          .rd_en  (ex_acc_rd_en),
          .rd_addr(ex_acc_rd_addr),
          .rd_data(acc_rd_data)
      );

      sampan_ram #(
          .WIDTH(COLS * 32),
          .DEPTH(ACC_ROWS)
      ) u_acc_store (
          .clk    (clk),
          .wr_en  (ex_acc_wr_en),
          .wr_addr(ex_acc_wr_addr),
          .wr_data(ex_acc_wr_data),
          .rd_en  (st_acc_rd_req),
          .rd_addr(st_acc_rd_addr),
          .rd_data(st_acc_rd_data)
      );
    end else begin : gen_acc1
      // One copy: the drain reads it first, the store in the other cycles
      // (its read data stays on the output for the cycle after the grant,
      // which is when the store takes it).
      assign st_acc_rd_grant = !ex_acc_rd_en;
      sampan_ram #(
          .WIDTH(COLS * 32),
          .DEPTH(ACC_ROWS)
      ) u_acc (
          .clk    (clk),
          .wr_en  (ex_acc_wr_en),
          .wr_addr(ex_acc_wr_addr),
          .wr_data(ex_acc_wr_data),
          .rd_en  (ex_acc_rd_en || st_acc_rd_req),
          .rd_addr(ex_acc_rd_en ? ex_acc_rd_addr : st_acc_rd_addr),
          .rd_data(acc_rd_data)
      );
      assign st_acc_rd_data = acc_rd_data;
    end
  endgenerate

  // Parameter memory: bias, mult and shift of each entry, read together.
  wire             p_rd_en;
  wire [PAW-1:0]   p_rd_addr;
  wire [COLS*32-1:0] p_bias, p_mult, p_shift;

  sampan_ram #(
      .WIDTH(COLS * 32),
      .DEPTH(P_ENTRIES),
      .LOGIC(PARAM_LOGIC & 1)
  ) u_bias (
      .clk    (clk),
      .wr_en  (p_wr_en[0]),
      .wr_addr(p_wr_addr),
      .wr_data(r_data_q[COLS*32-1:0]),
      .rd_en  (p_rd_en),
      .rd_addr(p_rd_addr),
      .rd_data(p_bias)
  );
  sampan_ram #(
      .WIDTH(COLS * 32),
      .DEPTH(P_ENTRIES),
      .LOGIC((PARAM_LOGIC >> 1) & 1)
  ) u_mult (
      .clk    (clk),
      .wr_en  (p_wr_en[1]),
      .wr_addr(p_wr_addr),
      .wr_data(r_data_q[COLS*32-1:0]),
      .rd_en  (p_rd_en),
      .rd_addr(p_rd_addr),
      .rd_data(p_mult)
  );
  sampan_ram #(
      .WIDTH(COLS * 32),
      .DEPTH(P_ENTRIES),
      .LOGIC((PARAM_LOGIC >> 2) & 1)
  ) u_shift (
      .clk    (clk),
      .wr_en  (p_wr_en[2]),
      .wr_addr(p_wr_addr),
      .wr_data(r_data_q[COLS*32-1:0]),
      .rd_en  (p_rd_en),
      .rd_addr(p_rd_addr),
      .rd_data(p_shift)
  );

  // ------------------------------------------------------------------ exec

  sampan_exec #(
      .ROWS     (ROWS),
      .COLS     (COLS),
      .K_DEPTH  (K_DEPTH),
      .ACC_SLOTS(ACC_SLOTS),
      .BUS_BYTES(B),
      .BLOCK    (BLOCK_ON),
      .MV_ROWS  (MV_EFF)
  ) u_exec (
      .clk           (clk),
      .rst           (rst),
      .cmd_valid     (ex_valid),
      .cmd_ready     (ex_ready),
      .cmd_a_bank    (ex_a_bank),
      .cmd_w_bank    (ex_w_bank),
      .cmd_first     (ex_first),
      .cmd_slot      (ex_slot),
      .cmd_k_len     (ex_k_len),
      .cmd_a_off     (ex_a_off),
      .cmd_w_off     (ex_w_off),
      .cmd_za        (ex_za),
      .cmd_q         (ex_q),
      .cmd_wide      (ex_wide),
      .bank_rd_en    (bank_rd_en),
      .a_rd_addr     (a_rd_addr),
      .w_rd_addr     (w_rd_addr),
      .a_rd_bank     (a_rd_bank),
      .w_rd_bank     (w_rd_bank),
      .a0_rd_data    (a0_rd_data),
      .a1_rd_data    (a1_rd_data),
      .w0_rd_data    (w0_rd_data),
      .w1_rd_data    (w1_rd_data),
      .s_rd_en       (s_rd_en),
      .sa_rd_addr    (sa_rd_addr),
      .sw_rd_addr    (sw_rd_addr),
      .sa0_rd_data   (sa0_rd_data),
      .sa1_rd_data   (sa1_rd_data),
      .sw0_rd_data   (sw0_rd_data),
      .sw1_rd_data   (sw1_rd_data),
      .a_loading     (a_loading),
      .w_loading     (w_loading),
      .a_landed      (a_landed),
      .w_landed      (w_landed),
      .acc_rd_en     (ex_acc_rd_en),
      .acc_rd_addr   (ex_acc_rd_addr),
      .acc_rd_data   (acc_rd_data),
      .acc_wr_en     (ex_acc_wr_en),
      .acc_wr_addr   (ex_acc_wr_addr),
      .acc_wr_data   (ex_acc_wr_data),
      .idle          (ex_idle),
      .step          (ex_step),
      .spacing_wait  (ex_spacing_wait),
      .load_wait     (ex_load_wait),
      .release_valid (ex_release_valid),
      .release_a_bank(ex_release_a_bank),
      .release_w_bank(ex_release_w_bank),
      .drained_valid (ex_drained_valid),
      .drained_slot  (ex_drained_slot),
      .drained_q     (ex_drained_q),
      .drained_a_bank(ex_drained_a_bank),
      .drained_w_bank(ex_drained_w_bank)
  );

  // ----------------------------------------------------------------- store

  wire w_valid;
  assign m_axi_awid = {{(AXI_ID_WIDTH - 1) {1'b0}}, 1'b1};
  assign m_axi_awsize = AXSIZE;
  assign m_axi_awburst = 2'b01;
  assign m_axi_wstrb = {B{1'b1}};
  assign m_axi_wvalid = w_valid;
  assign m_axi_bready = 1'b1;

  sampan_store #(
      .ROWS      (ROWS),
      .COLS      (COLS),
      .ACC_SLOTS (ACC_SLOTS),
      .P_ENTRIES (P_ENTRIES),
      .BUS_BYTES (B),
      .ADDR_WIDTH(AXI_ADDR_WIDTH),
      .MAX_BURST (4096 / B > 256 ? 256 : 4096 / B),
      .FIFO_DEPTH(FIFO_DEPTH),
      .REQUANT_SERIAL(REQUANT_SERIAL),
      .FLOAT     (BLOCK_ON)
  ) u_store (
      .clk         (clk),
      .rst         (rst),
      .cmd_valid   (st_valid),
      .cmd_ready   (st_ready),
      .cmd_raw     (st_raw),
      .cmd_float   (st_float),
      .cmd_slot    (st_slot),
      .cmd_entry   (st_entry),
      .cmd_addr    (st_addr),
      .cmd_zo      (st_zo),
      .cmd_lo      (st_lo),
      .cmd_hi      (st_hi),
      .cmd_index   (st_index),
      .idle        (st_idle),
      .slot_busy   (st_slot_busy),
      .busy_slot   (st_busy_slot),
      .slot_drained(st_drained),
      .p_rd_en     (p_rd_en),
      .p_rd_addr   (p_rd_addr),
      .p_bias      (p_bias),
      .p_mult      (p_mult),
      .p_shift     (p_shift),
      .acc_rd_req  (st_acc_rd_req),
      .acc_rd_grant(st_acc_rd_grant),
      .acc_rd_addr (st_acc_rd_addr),
      .acc_rd_data (st_acc_rd_data),
      .aw_valid    (m_axi_awvalid),
      .aw_ready    (m_axi_awready),
      .aw_addr     (m_axi_awaddr),
      .aw_len      (m_axi_awlen),
      .w_valid     (w_valid),
      .w_ready     (m_axi_wready),
      .w_data      (m_axi_wdata),
      .w_last      (m_axi_wlast),
      .b_valid     (m_axi_bvalid),
      .b_error     (m_axi_bresp[1]),
      .err_valid   (st_err_valid),
      .err_index   (st_err_index)
  );

  // -------------------------------------------------------------- counters

  sampan_counters #(
      .BUS_BYTES    (B),
      .COUNTER_WIDTH(COUNTER_WIDTH)
  ) u_counters (
      .clk         (clk),
      .rst         (rst),
      .start       (fetch_start),
      .running     (running),
      .step        (ex_step),
      .spacing_wait(ex_spacing_wait),
      .load_wait   (ex_load_wait),
      .started     (started),
      .active      (active),
      .head_dep    (head_dep),
      .rd_beat     (r_valid_q),
      .wr_beat     (w_valid && m_axi_wready),
      .cmd_fire    (cmd_fire),
      .cmd_macs    (cmd_macs),
      .cmd_compute (ex_valid),
      .cycles      (cnt_cycles),
      .busy        (cnt_busy),
      .macs        (cnt_macs),
      .stall_mem   (cnt_stall_mem),
      .stall_dep   (cnt_stall_dep),
      .bytes_rd    (cnt_bytes_rd),
      .bytes_wr    (cnt_bytes_wr),
      .cmds        (cnt_cmds)
  );

  // RLAST is implied by the beat counts; BID and the low RRESP/BRESP bit
  // (EXOKAY vs OKAY) carry nothing the core needs.
  assign features = FEATURES;

  wire unused_core = &{1'b0, m_axi_rlast, m_axi_bid, m_axi_rresp[0], m_axi_bresp[0]};

endmodule
`resetall
