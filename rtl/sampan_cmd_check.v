`default_nettype none
// sampan_cmd_check: decodes one 128-bit command (rtl/ARCHITECTURE.md,
// "Commands") into its opcode class and fields, and checks it: the one
// place the legality rules live, used by the full core's sequencer
// (sampan_seq) and by the lite core (sampan_lite_core).
//
// error is 0 for a legal command, otherwise the first failing check in
// this order of precedence (ARCHITECTURE.md, "Errors"): 1 illegal opcode,
// 6 a command of ISA 1.1 the core was built without (LOAD_S, q COMPUTE or
// float STORE with BLOCK = 0; wide COMPUTE with MV_ROWS = 0), 2 a field
// out of range (STORE mode 3 included), 3 an unaligned address.
//
// Latency: combinational. Parameters: the core's (ARCHITECTURE.md,
// "Parameters"); the lite core has BLOCK = 0 and MV_ROWS = 0.
module sampan_cmd_check #(
    parameter ROWS      = 16,    // array rows
    parameter COLS      = 16,    // array columns
    parameter K_DEPTH   = 1024,  // k-steps per A/W bank
    parameter ACC_SLOTS = 4,     // accumulator tiles
    parameter P_ENTRIES = 64,    // requantizer parameter entries
    parameter BUS_BYTES = 64,    // bus width in bytes (address alignment)
    parameter BLOCK     = 1,     // 1: block-scaled commands (LOAD_S, q COMPUTE, float STORE)
    parameter MV_ROWS   = 0      // rows of the matrix-vector engine (0: no wide COMPUTE)
) (
    input  wire [127:0] cmd,
    output wire [  7:0] error,        // 0: legal; else the status code of the first failing check
    // opcode class (at most one set)
    output wire         is_load_a,
    output wire         is_load_w,
    output wire         is_load_p,
    output wire         is_load_s,
    output wire         is_compute,
    output wire         is_store,
    // fields, in command-word order (meaning per opcode: ARCHITECTURE.md, "Commands")
    output wire         f_bank,       // w0[8]: LOAD bank, COMPUTE A bank, STORE raw
    output wire         f_w_bank,     // w0[9]: COMPUTE W bank, LOAD_S operand
    output wire [  1:0] f_mode,       // w0[9:8]: STORE 0 int8, 1 raw, 2 float
    output wire         f_first,      // COMPUTE: overwrite the slot
    output wire         f_q,          // COMPUTE: block-scaled
    output wire [  7:0] f_first_entry,  // LOAD_P
    output wire [  3:0] f_slot,       // COMPUTE, STORE
    output wire [ 15:0] f_len,        // LOAD_A/W, COMPUTE k_len; LOAD_P, LOAD_S count; STORE entry
    output wire [  7:0] f_za,         // COMPUTE: A zero point
    output wire [  7:0] f_m_valid,    // COMPUTE
    output wire [  7:0] f_n_valid,    // COMPUTE
    output wire [ 63:0] f_addr,       // LOAD_*, STORE
    output wire [ 15:0] f_a_off,      // COMPUTE: first A bank step
    output wire [ 15:0] f_w_off,      // COMPUTE: first W bank step
    output wire         f_wide,       // COMPUTE: matrix-vector engine
    output wire [  7:0] f_zo,         // STORE: output zero point
    output wire [  7:0] f_lo,         // STORE: clamp
    output wire [  7:0] f_hi          // STORE: clamp
);

  localparam LOG_B = $clog2(BUS_BYTES);
  localparam [31:0] SBLOCKS = K_DEPTH / 32;  // scale blocks per bank
  localparam KWS = BUS_BYTES / COLS;  // k-steps a cycle of the wide engine
  localparam [31:0] KW_MASK32 = KWS - 1;
  localparam [15:0] KW_MASK = KW_MASK32[15:0];

  localparam [7:0] OP_LOAD_A = 8'd1;
  localparam [7:0] OP_LOAD_W = 8'd2;
  localparam [7:0] OP_LOAD_P = 8'd3;
  localparam [7:0] OP_COMPUTE = 8'd4;
  localparam [7:0] OP_STORE = 8'd5;
  localparam [7:0] OP_LOAD_S = 8'd6;

  localparam [7:0] ERR_OPCODE = 8'd1;
  localparam [7:0] ERR_RANGE = 8'd2;
  localparam [7:0] ERR_ALIGN = 8'd3;
  localparam [7:0] ERR_UNSUPPORTED = 8'd6;

  wire [31:0] w0 = cmd[31:0];
  wire [31:0] w1 = cmd[63:32];
  wire [31:0] w2 = cmd[95:64];
  wire [31:0] w3 = cmd[127:96];
  wire [7:0]  op = w0[7:0];

  assign is_load_a = op == OP_LOAD_A;
  assign is_load_w = op == OP_LOAD_W;
  assign is_load_p = op == OP_LOAD_P;
  assign is_load_s = op == OP_LOAD_S;
  assign is_compute = op == OP_COMPUTE;
  assign is_store = op == OP_STORE;

  assign f_len = w0[31:16];
  assign f_first_entry = w0[15:8];
  assign f_slot = w0[15:12];
  assign f_bank = w0[8];
  assign f_w_bank = w0[9];
  assign f_first = w0[10];
  assign f_q = w0[11];
  assign f_mode = w0[9:8];
  assign f_wide = w3[0];
  assign f_za = w1[7:0];
  assign f_m_valid = w1[15:8];
  assign f_n_valid = w1[23:16];
  assign f_addr = {w2, w1};
  assign f_a_off = w2[15:0];
  assign f_w_off = w2[31:16];
  assign f_zo = w3[7:0];
  assign f_lo = w3[15:8];
  assign f_hi = w3[23:16];

  wire is_load_ab = is_load_a || is_load_w;
  wire has_addr = is_load_ab || is_load_p || is_store || is_load_s;
  wire q_ok = f_len[4:0] == 5'd0 && f_a_off[4:0] == 5'd0 && f_w_off[4:0] == 5'd0;
  wire wide_ok = {24'd0, f_m_valid} <= MV_ROWS && (f_len & KW_MASK) == 16'd0 &&
                 (f_a_off & KW_MASK) == 16'd0 && (f_w_off & KW_MASK) == 16'd0;
  wire unsupported = (BLOCK == 0 && (is_load_s || (is_compute && f_q) || (is_store && f_mode == 2'd2))) ||
                     (MV_ROWS == 0 && is_compute && f_wide);

  wire k_ok = f_len != 16'd0 && {16'd0, f_len} <= K_DEPTH;
  wire slot_ok = {28'd0, f_slot} < ACC_SLOTS;
  wire range_ok =
      is_load_ab ? k_ok :
      is_load_p ? (f_len != 16'd0 && {24'd0, f_first_entry} + {16'd0, f_len} <= P_ENTRIES) :
      is_compute ? (k_ok && slot_ok && f_m_valid != 8'd0 && {24'd0, f_m_valid} <= ROWS &&
                    {16'd0, f_a_off} + {16'd0, f_len} <= K_DEPTH &&
                    {16'd0, f_w_off} + {16'd0, f_len} <= K_DEPTH &&
                    f_n_valid != 8'd0 && {24'd0, f_n_valid} <= COLS && (!f_q || q_ok) &&
                    (!f_wide || wide_ok)) :
      is_load_s ? (f_len != 16'd0 && {16'd0, f_len} <= SBLOCKS) :
      (slot_ok && {16'd0, f_len} < P_ENTRIES && $signed(f_lo) <= $signed(f_hi) && f_mode != 2'd3);
  wire align_ok = !has_addr || f_addr[LOG_B-1:0] == {LOG_B{1'b0}};
  wire op_ok = is_load_ab || is_load_p || is_compute || is_store || is_load_s;

  assign error = !op_ok ? ERR_OPCODE : unsupported ? ERR_UNSUPPORTED :
                 !range_ok ? ERR_RANGE : !align_ok ? ERR_ALIGN : 8'd0;

  wire unused_cmd = &{1'b0, w1[31:24], w3[31:24]};  // reserved bits (not checked)

endmodule
`resetall
