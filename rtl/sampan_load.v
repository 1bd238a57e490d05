`default_nettype none
// sampan_load: the load unit (LOAD_A, LOAD_W, LOAD_P, LOAD_S).
//
// Two channels each hold one load command from acceptance until its last
// beat has landed, so two loads stream at once. Their read bursts (ARID 1
// in the core; up to MAX_BURST beats, never across 4 KiB) are requested
// alternately and without waiting for data, several outstanding, which
// hides the memory latency and lets a LOAD_A and a LOAD_W arrive
// interleaved. A FIFO of burst descriptors (channel, beats) follows the
// requested bursts: R beats of one ID return in order, so beat i of a
// channel's command is written to word i of its A or W bank (the layouts in
// memory and in the bank are the same), or for LOAD_P to parameter entry
// first + i/3 (bias, mult, shift for i%3 = 0, 1, 2), or for LOAD_S to word
// i of the scale bank of its operand and bank.
//
// For the execute unit, which may read a bank while it is being loaded,
// {a,w}_loading[b] says a load into bank b is in flight and {a,w}_landed
// [2b +: LW] how many of its words have been written (a word read in a later
// cycle than it is counted here is the new data). The sequencer never
// dispatches two loads into the same bank or two LOAD_Ps at once.
// done pulses the cycle after the last beat of a command is written.
//
// Parameters: ROWS, COLS, K_DEPTH, P_ENTRIES as in sampan_core; BUS_BYTES bus
// width in bytes; ADDR_WIDTH AXI address width; MAX_BURST longest burst.
module sampan_load #(
    parameter ROWS       = 16,    // array rows
    parameter COLS       = 16,    // array columns
    parameter K_DEPTH    = 1024,  // k-steps per bank
    parameter P_ENTRIES  = 64,    // parameter entries
    parameter BUS_BYTES  = 64,    // bus width in bytes
    parameter ADDR_WIDTH = 64,    // AXI address width
    parameter MAX_BURST  = 16,    // longest read burst in beats
    // derived, do not override
    parameter A_WORDS    = K_DEPTH * ROWS / BUS_BYTES,  // bus words per A bank
    parameter W_WORDS    = K_DEPTH * COLS / BUS_BYTES   // bus words per W bank
) (
    input  wire                         clk,
    input  wire                         rst,
    // command from the sequencer
    input  wire                         cmd_valid,
    output wire                         cmd_ready,
    input  wire [                  1:0] cmd_kind,   // 0 LOAD_A, 1 LOAD_W, 2 LOAD_P, 3 LOAD_S
    input  wire                         cmd_sop,    // LOAD_S operand: 0 A scales, 1 W scales
    input  wire                         cmd_bank,   // A/W bank
    input  wire [                 15:0] cmd_len,    // k_len (A/W), entry count (P), blocks (S)
    input  wire [                  7:0] cmd_first,  // first entry (P)
    input  wire [       ADDR_WIDTH-1:0] cmd_addr,
    input  wire [                 31:0] cmd_index,  // command index, for errors
    output wire                         idle,
    // read requests (to the AR arbiter)
    output wire                         ar_valid,
    input  wire                         ar_ready,
    output wire [       ADDR_WIDTH-1:0] ar_addr,
    output wire [                  7:0] ar_len,
    // read data (beats with ID 1)
    input  wire                         r_valid,
    input  wire                         r_error,    // RRESP is not OKAY
    // completion and errors
    output reg                          done_valid,
    output reg  [                  1:0] done_kind,
    output reg                          done_bank,
    output reg                          done_sop,   // LOAD_S operand
    output reg                          err_valid,
    output reg  [                 31:0] err_index,
    // loads in flight, per bank, for the execute unit
    output wire [                  1:0] a_loading,
    output wire [                  1:0] w_loading,
    output wire [                 31:0] a_landed,   // words landed, bank b at [16b +: 16]
    output wire [                 31:0] w_landed,
    // bank and parameter memory writes (the data is the R beat)
    output wire [                  1:0] a_wr_en,    // per A bank
    output wire [  $clog2(A_WORDS)-1:0] a_wr_addr,
    output wire [                  1:0] w_wr_en,    // per W bank
    output wire [  $clog2(W_WORDS)-1:0] w_wr_addr,
    output wire [                  2:0] p_wr_en,    // bias, mult, shift
    output wire [$clog2(P_ENTRIES)-1:0] p_wr_addr,
    output wire [                  3:0] s_wr_en,    // scale banks: A0, A1, W0, W1
    output wire [                 15:0] s_wr_addr
);

  localparam LOG_B = $clog2(BUS_BYTES);
  localparam KIND_A = 2'd0;
  localparam KIND_W = 2'd1;
  localparam KIND_P = 2'd2;
  localparam KIND_S = 2'd3;
  localparam BURSTS = 16;  // bursts requested and not yet fully received
  // Bursts one channel may have outstanding: enough to cover the memory
  // latency alone, few enough that a second load gets its share at once.
  localparam CH_BURSTS = 4;

  initial begin
    if (A_WORDS < 2 || W_WORDS < 2) $error("%m: K_DEPTH %0d too small for the bus width", K_DEPTH);
    if (A_WORDS > 65535 || W_WORDS > 65535) $error("%m: K_DEPTH %0d too large", K_DEPTH);
    if (P_ENTRIES < 2 || P_ENTRIES > 256) $error("%m: P_ENTRIES %0d out of 2..256", P_ENTRIES);
  end

  // Beats of the command being accepted.
  // ROWS and COLS are powers of two (sampan_exec checks): shifts, not
  // multipliers.
  localparam LOG_R = $clog2(ROWS);
  localparam LOG_C = $clog2(COLS);
  wire [31:0] len32 = {16'd0, cmd_len};
  wire [31:0] ab_bytes = (cmd_kind == KIND_A) ? len32 << LOG_R : len32 << LOG_C;
  wire [31:0] ab_beats = (ab_bytes + BUS_BYTES - 1) >> LOG_B;
  wire [31:0] s_bytes = cmd_sop ? len32 << (LOG_C + 1) : len32 << (LOG_R + 1);
  wire [31:0] s_beats = (s_bytes + BUS_BYTES - 1) >> LOG_B;
  wire [31:0] cmd_beats = (cmd_kind == KIND_P) ? (len32 << 1) + len32 :
                          (cmd_kind == KIND_S) ? s_beats : ab_beats;

  // ---------------------------------------------------------------- channels

  // Per-channel state, channel ch at [ch*WIDTH +: WIDTH].
  reg [1:0]              busy_reg;   // channel holds a command
  reg [3:0]              kind_reg;
  reg [1:0]              bank_reg;
  reg [1:0]              sop_reg;    // LOAD_S operand
  reg [15:0]             first_reg;
  reg [63:0]             index_reg;
  reg [63:0]             beats_reg;  // beats of the command
  reg [2*ADDR_WIDTH-1:0] addr_reg;   // next burst address
  reg [63:0]             left_reg;   // beats not yet requested
  reg [63:0]             got_reg;    // beats landed
  reg [15:0]             entry_reg;  // LOAD_P: entry offset of the next beat
  reg [3:0]              which_reg;  // LOAD_P: 0 bias, 1 mult, 2 shift
  reg [5:0]              out_reg;    // bursts requested, not all received
  reg                    turn_reg;   // channel requested last

  wire accept = cmd_valid && cmd_ready;
  wire accept_ch = busy_reg[0];  // the free channel: 0 unless busy
  assign cmd_ready = busy_reg != 2'b11;
  assign idle = busy_reg == 2'b00;

  // ------------------------------------------------------------ requests

  wire [1:0] want = {left_reg[32 +: 32] != 32'd0 && out_reg[3 +: 3] < CH_BURSTS,
                     left_reg[0 +: 32] != 32'd0 && out_reg[0 +: 3] < CH_BURSTS};
  wire       burst_room;
  // Alternate between the channels when both want to request.
  wire       ar_ch = (want == 2'b11) ? !turn_reg : want[1];
  wire [8:0] burst;

  sampan_burst #(
      .BUS_BYTES(BUS_BYTES),
      .MAX_BURST(MAX_BURST)
  ) u_burst (
      .addr (ar_addr[11:0]),
      .left (left_reg[ar_ch*32 +: 32]),
      .beats(burst)
  );

  assign ar_valid = want != 2'b00 && burst_room;
  assign ar_addr = addr_reg[ar_ch*ADDR_WIDTH +: ADDR_WIDTH];
  assign ar_len = burst[7:0] - 8'd1;
  wire ar_fire = ar_valid && ar_ready;

  // Descriptor FIFO: which channel each requested burst belongs to.
  wire       desc_valid;
  wire [9:0] desc;  // {channel, beats}
  wire       desc_in_ready;
  wire [$clog2(BURSTS):0] desc_count;
  reg  [8:0] desc_got_reg;  // beats of the head burst received
  wire       head_ch = desc[9];
  wire       burst_end = r_valid && desc_got_reg == desc[8:0] - 9'd1;

  sampan_fifo #(
      .WIDTH(10),
      .DEPTH(BURSTS)
  ) u_desc (
      .clk      (clk),
      .rst      (rst),
      .clear    (1'b0),
      .in_valid (ar_fire),
      .in_ready (desc_in_ready),
      .in_data  ({ar_ch, burst}),
      .out_valid(desc_valid),
      .out_ready(burst_end),
      .out_data (desc),
      .count    (desc_count)
  );
  assign burst_room = desc_in_ready;

  // ---------------------------------------------------------------- data

  wire [31:0] head_got = got_reg[head_ch*32 +: 32];
  wire       cmd_end = r_valid && head_got == beats_reg[head_ch*32 +: 32] - 32'd1;
  wire [1:0] head_kind = kind_reg[head_ch*2 +: 2];
  wire       head_bank = bank_reg[head_ch];
  wire [7:0] p_entry = first_reg[head_ch*8 +: 8] + entry_reg[head_ch*8 +: 8];

  assign a_wr_en = {2{r_valid && head_kind == KIND_A}} & {head_bank, !head_bank};
  assign w_wr_en = {2{r_valid && head_kind == KIND_W}} & {head_bank, !head_bank};
  assign p_wr_en = {3{r_valid && head_kind == KIND_P}} &
                   {which_reg[head_ch*2 +: 2] == 2'd2, which_reg[head_ch*2 +: 2] == 2'd1, which_reg[head_ch*2 +: 2] == 2'd0};
  assign a_wr_addr = head_got[$clog2(A_WORDS)-1:0];
  assign w_wr_addr = head_got[$clog2(W_WORDS)-1:0];
  assign p_wr_addr = p_entry[$clog2(P_ENTRIES)-1:0];
  wire       head_sop = sop_reg[head_ch];
  assign s_wr_en = {4{r_valid && head_kind == KIND_S}} &
                   {head_sop && head_bank, head_sop && !head_bank, !head_sop && head_bank,
                    !head_sop && !head_bank};
  assign s_wr_addr = head_got[15:0];

  // Loads in flight per bank, and their landed words.
  genvar b;
  generate
    for (b = 0; b < 2; b = b + 1) begin : gen_bank
      wire [1:0] a_ch = busy_reg & {kind_reg[2 +: 2] == KIND_A && bank_reg[1] == b[0],
                                    kind_reg[0 +: 2] == KIND_A && bank_reg[0] == b[0]};
      wire [1:0] w_ch = busy_reg & {kind_reg[2 +: 2] == KIND_W && bank_reg[1] == b[0],
                                    kind_reg[0 +: 2] == KIND_W && bank_reg[0] == b[0]};
      assign a_loading[b] = a_ch != 2'b00;
      assign w_loading[b] = w_ch != 2'b00;
      assign a_landed[16*b +: 16] = a_ch[1] ? got_reg[32 +: 16] : got_reg[0 +: 16];
      assign w_landed[16*b +: 16] = w_ch[1] ? got_reg[32 +: 16] : got_reg[0 +: 16];
    end
  endgenerate

  integer i;
  always @(posedge clk) begin
    // Requests.
    if (ar_fire) begin
      addr_reg[ar_ch*ADDR_WIDTH +: ADDR_WIDTH] <= addr_reg[ar_ch*ADDR_WIDTH +: ADDR_WIDTH] + ({{(ADDR_WIDTH - 9) {1'b0}}, burst} << LOG_B);
      left_reg[ar_ch*32 +: 32] <= left_reg[ar_ch*32 +: 32] - {23'd0, burst};
      turn_reg <= ar_ch;
    end
    for (i = 0; i < 2; i = i + 1) begin
      out_reg[i*3 +: 3] <= out_reg[i*3 +: 3] + {2'd0, ar_fire && ar_ch == i[0]} - {2'd0, burst_end && head_ch == i[0]};
    end
    // Data.
    if (r_valid) begin
      desc_got_reg <= burst_end ? 9'd0 : desc_got_reg + 9'd1;
      got_reg[head_ch*32 +: 32] <= got_reg[head_ch*32 +: 32] + 32'd1;
      if (which_reg[head_ch*2 +: 2] == 2'd2) begin
        which_reg[head_ch*2 +: 2] <= 2'd0;
        entry_reg[head_ch*8 +: 8] <= entry_reg[head_ch*8 +: 8] + 8'd1;
      end else begin
        which_reg[head_ch*2 +: 2] <= which_reg[head_ch*2 +: 2] + 2'd1;
      end
      if (cmd_end) busy_reg[head_ch] <= 1'b0;
    end
    // A new command (never into the channel finishing this cycle: that one
    // was busy, so accept_ch names the other, free one).
    if (accept) begin
      busy_reg[accept_ch] <= 1'b1;
      kind_reg[accept_ch*2 +: 2] <= cmd_kind;
      bank_reg[accept_ch] <= cmd_bank;
      sop_reg[accept_ch] <= cmd_sop;
      first_reg[accept_ch*8 +: 8] <= cmd_first;
      index_reg[accept_ch*32 +: 32] <= cmd_index;
      beats_reg[accept_ch*32 +: 32] <= cmd_beats;
      addr_reg[accept_ch*ADDR_WIDTH +: ADDR_WIDTH] <= cmd_addr;
      left_reg[accept_ch*32 +: 32] <= cmd_beats;
      got_reg[accept_ch*32 +: 32] <= 32'd0;
      entry_reg[accept_ch*8 +: 8] <= 8'd0;
      which_reg[accept_ch*2 +: 2] <= 2'd0;
    end

    done_valid <= r_valid && cmd_end;
    done_kind <= head_kind;
    done_bank <= head_bank;
    done_sop <= head_sop;
    err_valid <= r_valid && r_error;
    err_index <= index_reg[head_ch*32 +: 32];

    if (rst) begin
      busy_reg <= 2'b00;
      turn_reg <= 1'b0;
      desc_got_reg <= 9'd0;
      done_valid <= 1'b0;
      err_valid <= 1'b0;
      for (i = 0; i < 2; i = i + 1) begin
        left_reg[i*32 +: 32] <= 32'd0;
        out_reg[i*3 +: 3] <= 3'd0;
      end
    end
  end

  wire unused_load = &{1'b0, desc_valid, desc_count, p_entry, head_got};

endmodule
`resetall
