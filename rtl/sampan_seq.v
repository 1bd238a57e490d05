`default_nettype none
// sampan_seq: the sequencer. Takes commands in order from the fetch FIFO,
// checks them, and dispatches each to the load, execute or store unit once
// the scoreboard allows it (rtl/ARCHITECTURE.md, "Ordering and hazards"):
//
//   LOAD_A/LOAD_W bank b  waits until no dispatched COMPUTE still reads b and
//                         no earlier load into b is in flight;
//   LOAD_P                waits until the store unit is idle and no earlier
//                         LOAD_P is in flight;
//   LOAD_S operand bank b waits until no dispatched q COMPUTE that uses
//                         the scale bank is still undrained and no earlier
//                         LOAD_S into it is in flight;
//   COMPUTE               waits for a STORE that still reads its slot (not
//                         for loads of its banks: the execute unit follows
//                         a load in flight word by word, see sampan_exec);
//                         a q COMPUTE also waits for the LOAD_S into its
//                         scale banks to land;
//   STORE                 waits until every LOAD_P has landed; the store unit
//                         then waits by itself (st_drained) until every
//                         COMPUTE into its slot has drained, so the commands
//                         behind it keep flowing.
//
// Errors (codes as in ARCHITECTURE.md, "Errors"): an illegal opcode (1),
// field out of range (2) or unaligned address (3) is found when the command
// reaches the head, and so is a command of ISA 1.1 that this core was built
// without (6: LOAD_S, q COMPUTE or float STORE with BLOCK = 0); AXI error
// responses come from the units (4 read, 5 write), a failed command-fetch
// beat counts as one of the first command it carries. The first error is
// kept with the index of its command; dispatching stops, the head command is
// dropped, the units and the fetch finish what they hold, then done pulses.
// done also pulses when all CMD_COUNT commands have been dispatched and
// every unit is idle.
//
// Latency: one command per cycle at most. Parameters as in sampan_core.
module sampan_seq #(
    parameter ROWS       = 16,    // array rows
    parameter COLS       = 16,    // array columns
    parameter K_DEPTH    = 1024,  // k-steps per bank
    parameter ACC_SLOTS  = 4,     // accumulator tiles
    parameter P_ENTRIES  = 64,    // parameter entries
    parameter BUS_BYTES  = 64,    // bus width in bytes
    parameter ADDR_WIDTH = 64,    // AXI address width
    parameter BLOCK      = 1,     // 1: block-scaled commands (LOAD_S, q, float STORE)
    parameter MV_ROWS    = 0      // rows of the matrix-vector engine (0: no wide COMPUTE)
) (
    input  wire                         clk,
    input  wire                         rst,
    // control
    input  wire                         start,
    input  wire [                 63:0] cmd_addr,
    input  wire [                 31:0] cmd_count,
    output reg                          running,
    output wire                         done,
    output reg  [                  7:0] error_code,
    output reg  [                 31:0] error_index,
    // fetch
    output wire                         fetch_start,
    output wire [       ADDR_WIDTH-1:0] fetch_addr,
    output wire [                 31:0] fetch_beats,
    output wire                         fetch_stop,
    input  wire                         fetch_idle,
    input  wire                         fetch_err,
    input  wire                         fetch_beat,  // a command beat arrives (with fetch_err if failed)
    input  wire                         beat_valid,
    output wire                         beat_ready,
    input  wire [      BUS_BYTES*8-1:0] beat_data,
    // load unit
    output wire                         ld_valid,
    input  wire                         ld_ready,
    output wire [                  1:0] ld_kind,
    output wire                         ld_bank,
    output wire                         ld_sop,
    output wire [                 15:0] ld_len,
    output wire [                  7:0] ld_first,
    output wire [       ADDR_WIDTH-1:0] ld_addr,
    output wire [                 31:0] ld_index,
    input  wire                         ld_idle,
    input  wire                         ld_done_valid,
    input  wire [                  1:0] ld_done_kind,
    input  wire                         ld_done_bank,
    input  wire                         ld_done_sop,
    input  wire                         ld_err_valid,
    input  wire [                 31:0] ld_err_index,
    // execute unit
    output wire                         ex_valid,
    input  wire                         ex_ready,
    output wire                         ex_a_bank,
    output wire                         ex_w_bank,
    output wire                         ex_first,
    output wire [                  3:0] ex_slot,
    output wire [                 15:0] ex_k_len,
    output wire [                 15:0] ex_a_off,
    output wire [                 15:0] ex_w_off,
    output wire [                  7:0] ex_za,
    output wire                         ex_q,
    output wire                         ex_wide,
    input  wire                         ex_idle,
    input  wire                         ex_release_valid,
    input  wire                         ex_release_a_bank,
    input  wire                         ex_release_w_bank,
    input  wire                         ex_drained_valid,
    input  wire [                  3:0] ex_drained_slot,
    input  wire                         ex_drained_q,
    input  wire                         ex_drained_a_bank,
    input  wire                         ex_drained_w_bank,
    // store unit
    output wire                         st_valid,
    input  wire                         st_ready,
    output wire                         st_raw,     // 32-bit output: raw or float
    output wire                         st_float,
    output wire [                  3:0] st_slot,
    output wire [$clog2(P_ENTRIES)-1:0] st_entry,
    output wire [       ADDR_WIDTH-1:0] st_addr,
    output wire [                  7:0] st_zo,
    output wire [                  7:0] st_lo,
    output wire [                  7:0] st_hi,
    output wire [                 31:0] st_index,
    input  wire                         st_idle,
    input  wire                         st_slot_busy,
    output wire                         st_drained,  // no COMPUTE into st_busy_slot undrained
    input  wire [                  3:0] st_busy_slot,
    input  wire                         st_err_valid,
    input  wire [                 31:0] st_err_index,
    // to the counters
    output reg                          started,    // a COMPUTE was dispatched
    output wire                         active,     // commands remain to dispatch
    output wire                         head_dep,   // head blocked by a dependency
    output wire                         cmd_fire,   // a command was dispatched
    output wire [                 31:0] cmd_macs    // useful MACs of a dispatched COMPUTE
);

  localparam LOG_B = $clog2(BUS_BYTES);
  localparam CPB = BUS_BYTES / 16;  // commands per beat
  localparam LOG_CPB = $clog2(CPB);
  localparam SW = LOG_CPB > 0 ? LOG_CPB : 1;

  localparam ERR_ALIGN = 8'd3;
  localparam ERR_AXI_RD = 8'd4;
  localparam ERR_AXI_WR = 8'd5;

  initial begin
    if (CPB < 1 || (1 << LOG_CPB) != CPB) $error("%m: BUS_BYTES %0d must be a power of two >= 16", BUS_BYTES);
    if (ADDR_WIDTH < 13 || ADDR_WIDTH > 64) $error("%m: ADDR_WIDTH %0d out of 13..64", ADDR_WIDTH);
  end

  // ----------------------------------------------------------- head command

  reg          cur_valid_reg;
  reg [127:0]  cur_reg;
  reg [31:0]   cur_index_reg;
  reg [31:0]   next_index_reg;  // index of the next command to take
  reg [31:0]   count_reg;
  reg [SW-1:0] sel_reg;         // command within the head beat

  // Decode and checks (sampan_cmd_check, shared with the lite core); the
  // fields the units take straight from the command go to their ports.
  wire [7:0]  cur_error;
  wire        is_load_a, is_load_w, is_load_p, is_load_s, is_compute, is_store;
  wire        bank, w_bank;
  wire [1:0]  f_mode;
  wire [3:0]  f_slot;
  wire [15:0] f_len;
  wire [7:0]  f_m_valid, f_n_valid;
  wire [63:0] f_addr;
  sampan_cmd_check #(
      .ROWS     (ROWS),
      .COLS     (COLS),
      .K_DEPTH  (K_DEPTH),
      .ACC_SLOTS(ACC_SLOTS),
      .P_ENTRIES(P_ENTRIES),
      .BUS_BYTES(BUS_BYTES),
      .BLOCK    (BLOCK),
      .MV_ROWS  (MV_ROWS)
  ) u_check (
      .cmd          (cur_reg),
      .error        (cur_error),
      .is_load_a    (is_load_a),
      .is_load_w    (is_load_w),
      .is_load_p    (is_load_p),
      .is_load_s    (is_load_s),
      .is_compute   (is_compute),
      .is_store     (is_store),
      .f_bank       (bank),
      .f_w_bank     (w_bank),
      .f_mode       (f_mode),
      .f_first      (ex_first),
      .f_q          (ex_q),
      .f_first_entry(ld_first),
      .f_slot       (f_slot),
      .f_len        (f_len),
      .f_za         (ex_za),
      .f_m_valid    (f_m_valid),
      .f_n_valid    (f_n_valid),
      .f_addr       (f_addr),
      .f_a_off      (ex_a_off),
      .f_w_off      (ex_w_off),
      .f_wide       (ex_wide),
      .f_zo         (st_zo),
      .f_lo         (st_lo),
      .f_hi         (st_hi)
  );
  wire is_load_ab = is_load_a || is_load_w;
  wire cur_bad = cur_valid_reg && cur_error != 8'd0;

  // -------------------------------------------------------------- scoreboard

  // Counters, 2 bits per bank (bank b at [2b +: 2]) and 3 bits per slot.
  reg [3:0]  a_readers_reg;  // dispatched COMPUTEs still reading A bank b
  reg [3:0]  w_readers_reg;  // ... W bank b
  reg [3:0]  a_loads_reg;    // dispatched loads into A bank b not landed
  reg [3:0]  w_loads_reg;    // ... W bank b
  reg [1:0]  p_loads_reg;    // dispatched LOAD_Ps not landed
  reg [47:0] undrained_reg;  // dispatched COMPUTEs into slot s not drained
  reg [11:0] s_readers_reg;  // undrained q COMPUTEs using scale bank i (A0, A1, W0, W1) at [3i +: 3]
  reg [7:0]  s_loads_reg;    // dispatched LOAD_S into scale bank i not landed, at [2i +: 2]

  wire load_dep = is_load_a ? a_readers_reg[bank*2 +: 2] != 2'd0 : w_readers_reg[bank*2 +: 2] != 2'd0;
  wire load_mem = is_load_a ? a_loads_reg[bank*2 +: 2] != 2'd0 : w_loads_reg[bank*2 +: 2] != 2'd0;
  // Scale banks: index {operand, bank}.
  wire [1:0] s_idx = {w_bank, bank};                  // LOAD_S
  wire [1:0] sa_idx = {1'b0, bank}, sw_idx = {1'b1, w_bank};  // q COMPUTE
  wire s_load_dep = s_readers_reg[s_idx*3 +: 3] != 3'd0;
  wire s_load_mem = s_loads_reg[s_idx*2 +: 2] != 2'd0;
  wire q_mem = ex_q && (s_loads_reg[sa_idx*2 +: 2] != 2'd0 || s_loads_reg[sw_idx*2 +: 2] != 2'd0);
  wire compute_dep = st_slot_busy && st_busy_slot == f_slot;
  wire store_mem = p_loads_reg != 2'd0;

  wire ok = cur_valid_reg && cur_error == 8'd0 && error_code == 8'd0;
  wire fire_ld = ok && (is_load_ab ? (!load_dep && !load_mem && ld_ready) :
                        is_load_p ? (st_idle && !store_mem && ld_ready) :
                        is_load_s ? (!s_load_dep && !s_load_mem && ld_ready) : 1'b0);
  wire fire_ex = ok && is_compute && !compute_dep && !q_mem && ex_ready;
  wire fire_st = ok && is_store && !store_mem && st_ready;
  wire fire = fire_ld || fire_ex || fire_st;

  assign head_dep = ok && ((is_load_ab && load_dep) || (is_load_p && !st_idle) ||
                           (is_load_s && s_load_dep) || (is_compute && compute_dep));
  assign cmd_fire = fire;
  // Only a command that passed the checks fires, so m_valid <= ROWS,
  // n_valid <= COLS and k_len <= K_DEPTH here.
  generate
    if (ROWS * COLS <= 16) begin : gen_macs_small
      // Small arrays (parts whose DSPs all go to the PEs): shift and add.
      localparam MW = $clog2(ROWS + 1);
      localparam NW = $clog2(COLS + 1);
      localparam LW = $clog2(K_DEPTH + 1);
      localparam PW = LW + MW + NW;
      wire [MW+NW-1:0] mn = {{NW{1'b0}}, f_m_valid[MW-1:0]} * {{MW{1'b0}}, f_n_valid[NW-1:0]};
      reg  [PW-1:0]    macs_sum;
      integer j;
      always @(*) begin
        macs_sum = {PW{1'b0}};
        for (j = 0; j < MW + NW; j = j + 1)
          if (mn[j]) macs_sum = macs_sum + ({{(MW + NW) {1'b0}}, f_len[LW-1:0]} << j);
      end
      assign cmd_macs = {{(32 - PW) {1'b0}}, macs_sum};
      wire unused_macs = &{1'b0, f_m_valid, f_n_valid, f_len};
    end else begin : gen_macs_mul
      assign cmd_macs = {16'd0, f_len} * {24'd0, f_m_valid} * {24'd0, f_n_valid};
    end
  endgenerate

  assign ld_valid = fire_ld;
  assign ld_kind = is_load_a ? 2'd0 : is_load_w ? 2'd1 : is_load_s ? 2'd3 : 2'd2;
  assign ld_bank = bank;
  assign ld_sop = w_bank;
  assign ld_len = f_len;
  assign ld_addr = f_addr[ADDR_WIDTH-1:0];
  assign ld_index = cur_index_reg;

  assign ex_valid = fire_ex;
  assign ex_a_bank = bank;
  assign ex_w_bank = w_bank;
  assign ex_slot = f_slot;
  assign ex_k_len = f_len;

  assign st_valid = fire_st;
  assign st_raw = f_mode == 2'd1 || f_mode == 2'd2;
  assign st_float = f_mode == 2'd2;
  assign st_slot = f_slot;
  assign st_entry = f_len[$clog2(P_ENTRIES)-1:0];
  assign st_addr = f_addr[ADDR_WIDTH-1:0];
  assign st_index = cur_index_reg;
  // COMPUTEs into the slot of the STORE in progress can only have been
  // dispatched before it (later ones wait for st_slot_busy), so this only
  // falls to zero.
  assign st_drained = undrained_reg[st_busy_slot*3 +: 3] == 3'd0;

  integer i;
  always @(posedge clk) begin
    for (i = 0; i < 2; i = i + 1) begin
      a_readers_reg[i*2 +: 2] <= a_readers_reg[i*2 +: 2]
          + {1'b0, fire_ex && bank == i[0]}
          - {1'b0, ex_release_valid && ex_release_a_bank == i[0]};
      w_readers_reg[i*2 +: 2] <= w_readers_reg[i*2 +: 2]
          + {1'b0, fire_ex && w_bank == i[0]}
          - {1'b0, ex_release_valid && ex_release_w_bank == i[0]};
      a_loads_reg[i*2 +: 2] <= a_loads_reg[i*2 +: 2]
          + {1'b0, fire_ld && is_load_a && bank == i[0]}
          - {1'b0, ld_done_valid && ld_done_kind == 2'd0 && ld_done_bank == i[0]};
      w_loads_reg[i*2 +: 2] <= w_loads_reg[i*2 +: 2]
          + {1'b0, fire_ld && is_load_w && bank == i[0]}
          - {1'b0, ld_done_valid && ld_done_kind == 2'd1 && ld_done_bank == i[0]};
    end
    for (i = 0; i < 4; i = i + 1) begin
      s_readers_reg[i*3 +: 3] <= s_readers_reg[i*3 +: 3]
          + {2'd0, fire_ex && ex_q && (sa_idx == i[1:0] || sw_idx == i[1:0])}
          - {2'd0, ex_drained_valid && ex_drained_q &&
                   ({1'b0, ex_drained_a_bank} == i[1:0] || {1'b1, ex_drained_w_bank} == i[1:0])};
      s_loads_reg[i*2 +: 2] <= s_loads_reg[i*2 +: 2]
          + {1'b0, fire_ld && is_load_s && s_idx == i[1:0]}
          - {1'b0, ld_done_valid && ld_done_kind == 2'd3 && {ld_done_sop, ld_done_bank} == i[1:0]};
    end
    p_loads_reg <= p_loads_reg + {1'b0, fire_ld && is_load_p}
                   - {1'b0, ld_done_valid && ld_done_kind == 2'd2};
    for (i = 0; i < 16; i = i + 1) begin
      undrained_reg[i*3 +: 3] <= undrained_reg[i*3 +: 3]
          + {2'd0, fire_ex && f_slot == i[3:0]}
          - {2'd0, ex_drained_valid && ex_drained_slot == i[3:0]};
    end
    if (rst) begin
      a_readers_reg <= 4'd0;
      w_readers_reg <= 4'd0;
      a_loads_reg <= 4'd0;
      w_loads_reg <= 4'd0;
      p_loads_reg <= 2'd0;
      undrained_reg <= 48'd0;
      s_readers_reg <= 12'd0;
      s_loads_reg <= 8'd0;
    end
  end

  // ------------------------------------------------------ fetch and control

  wire unaligned_list = cmd_addr[LOG_B-1:0] != {LOG_B{1'b0}} && cmd_count != 32'd0;
  wire [32:0] beats = ({1'b0, cmd_count} + CPB - 1) >> LOG_CPB;

  assign fetch_start = start && !running;
  assign fetch_addr = cmd_addr[ADDR_WIDTH-1:0];
  assign fetch_beats = unaligned_list ? 32'd0 : beats[31:0];
  assign fetch_stop = error_code != 8'd0;

  wire take = running && error_code == 8'd0 && next_index_reg != count_reg && beat_valid &&
              (!cur_valid_reg || fire);
  wire beat_end = sel_reg == CPB[SW-1:0] - 1'b1 || next_index_reg == count_reg - 32'd1;
  assign beat_ready = take && beat_end;
  assign active = running && error_code == 8'd0 && (cur_valid_reg || next_index_reg != count_reg);

  assign done = running && !active && !cur_valid_reg && fetch_idle && ld_idle && ex_idle && st_idle;

  // Command beats arrived so far: beat j carries commands j*CPB and up.
  reg [31:0] fetched_reg;
  always @(posedge clk) begin
    if (start && !running) fetched_reg <= 32'd0;
    else if (fetch_beat) fetched_reg <= fetched_reg + 32'd1;
  end

  // First error wins; among simultaneous ones the lowest code.
  reg [7:0]  new_error;
  reg [31:0] new_index;
  always @(*) begin
    new_error = 8'd0;
    new_index = cur_index_reg;
    if (cur_bad) begin
      new_error = cur_error;
    end else if (ld_err_valid) begin
      new_error = ERR_AXI_RD;
      new_index = ld_err_index;
    end else if (fetch_err) begin
      new_error = ERR_AXI_RD;
      new_index = fetched_reg << LOG_CPB;
    end else if (st_err_valid) begin
      new_error = ERR_AXI_WR;
      new_index = st_err_index;
    end
  end

  always @(posedge clk) begin
    if (take) begin
      cur_reg <= beat_data[sel_reg*128 +: 128];
      cur_index_reg <= next_index_reg;
      next_index_reg <= next_index_reg + 32'd1;
      sel_reg <= beat_end ? {SW{1'b0}} : sel_reg + 1'b1;
    end
    // After an error the head command is dropped (it will never fire), so
    // that done can rise once the units are idle.
    if (take) cur_valid_reg <= 1'b1;
    else if (fire || cur_bad || error_code != 8'd0) cur_valid_reg <= 1'b0;

    if (running && error_code == 8'd0 && new_error != 8'd0) begin
      error_code <= new_error;
      error_index <= new_index;
    end
    if (fire_ex) started <= 1'b1;
    if (done) running <= 1'b0;

    if (start && !running) begin
      running <= 1'b1;
      count_reg <= cmd_count;
      next_index_reg <= 32'd0;
      sel_reg <= {SW{1'b0}};
      cur_valid_reg <= 1'b0;
      started <= 1'b0;
      error_code <= unaligned_list ? ERR_ALIGN : 8'd0;
      error_index <= 32'd0;
    end
    if (rst) begin
      running <= 1'b0;
      cur_valid_reg <= 1'b0;
      started <= 1'b0;
      error_code <= 8'd0;
      error_index <= 32'd0;
      next_index_reg <= 32'd0;
      count_reg <= 32'd0;
      sel_reg <= {SW{1'b0}};
    end
  end

  wire unused_seq = &{1'b0, cmd_addr, beats[32], f_addr};

endmodule
`resetall
