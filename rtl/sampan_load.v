`default_nettype none
// sampan_load: the load unit (LOAD_A, LOAD_W, LOAD_P).
//
// A command is turned into AXI INCR read bursts (ARID 1 in the core) of up
// to MAX_BURST beats, never crossing 4 KiB. Bursts are requested back to back
// without waiting for data, so several bursts are outstanding and the memory
// latency is hidden; the next command starts requesting as soon as the
// previous one has requested all of its bursts. A queue of QUEUE_DEPTH
// descriptors follows the commands whose data is still arriving: R beats of
// one ID return in order, so beat i of the head command is written to word i
// of its A or W bank (the layouts in memory and in the bank are the same), or
// for LOAD_P to parameter entry first + i/3 (bias, mult, shift for i%3 = 0,
// 1, 2). done pulses when the last beat of a command is written.
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
    parameter MAX_BURST  = 64,    // longest read burst in beats
    // derived, do not override
    parameter A_WORDS    = K_DEPTH * ROWS / BUS_BYTES,  // bus words per A bank
    parameter W_WORDS    = K_DEPTH * COLS / BUS_BYTES   // bus words per W bank
) (
    input  wire                         clk,
    input  wire                         rst,
    // command from the sequencer
    input  wire                         cmd_valid,
    output wire                         cmd_ready,
    input  wire [                  1:0] cmd_kind,   // 0 LOAD_A, 1 LOAD_W, 2 LOAD_P
    input  wire                         cmd_bank,   // A/W bank
    input  wire [                 15:0] cmd_len,    // k_len (A/W) or entry count (P)
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
    output reg                          err_valid,
    output reg  [                 31:0] err_index,
    // bank and parameter memory writes (the data is the R beat)
    output wire [                  1:0] a_wr_en,    // per A bank
    output wire [  $clog2(A_WORDS)-1:0] a_wr_addr,
    output wire [                  1:0] w_wr_en,    // per W bank
    output wire [  $clog2(W_WORDS)-1:0] w_wr_addr,
    output wire [                  2:0] p_wr_en,    // bias, mult, shift
    output wire [$clog2(P_ENTRIES)-1:0] p_wr_addr
);

  localparam LOG_B = $clog2(BUS_BYTES);
  localparam QUEUE_DEPTH = 2;  // commands whose data may be arriving
  localparam KIND_A = 2'd0;
  localparam KIND_W = 2'd1;
  localparam KIND_P = 2'd2;
  localparam DESC_W = 2 + 1 + 32 + 8 + 32;  // kind, bank, beats, first, index

  initial begin
    if (A_WORDS < 2 || W_WORDS < 2) $error("%m: K_DEPTH %0d too small for the bus width", K_DEPTH);
    if (P_ENTRIES < 2 || P_ENTRIES > 256) $error("%m: P_ENTRIES %0d out of 2..256", P_ENTRIES);
  end

  // ---------------------------------------------------------- request side

  reg                  act_reg, act_next;  // requesting bursts
  reg [ADDR_WIDTH-1:0] addr_reg, addr_next;
  reg [31:0]           left_reg, left_next;  // beats not yet requested

  wire       queue_in_ready;
  wire [8:0] burst;
  sampan_burst #(
      .BUS_BYTES(BUS_BYTES),
      .MAX_BURST(MAX_BURST)
  ) u_burst (
      .addr (addr_reg[11:0]),
      .left (left_reg),
      .beats(burst)
  );

  // Beats of the command being accepted.
  wire [31:0] row_bytes = (cmd_kind == KIND_A) ? ROWS : COLS;
  wire [31:0] ab_beats = ({16'd0, cmd_len} * row_bytes + BUS_BYTES - 1) >> LOG_B;
  wire [31:0] cmd_beats = (cmd_kind == KIND_P) ? {16'd0, cmd_len} * 32'd3 : ab_beats;

  assign cmd_ready = !act_reg && queue_in_ready;
  assign ar_valid = act_reg;
  assign ar_addr = addr_reg;
  assign ar_len = burst[7:0] - 8'd1;

  always @(*) begin
    act_next = act_reg;
    addr_next = addr_reg;
    left_next = left_reg;
    if (cmd_valid && cmd_ready) begin
      act_next = 1'b1;
      addr_next = cmd_addr;
      left_next = cmd_beats;
    end else if (ar_valid && ar_ready) begin
      addr_next = addr_reg + ({{(ADDR_WIDTH - 9) {1'b0}}, burst} << LOG_B);
      left_next = left_reg - {23'd0, burst};
      act_next = left_next != 32'd0;
    end
  end

  always @(posedge clk) begin
    addr_reg <= addr_next;
    left_reg <= left_next;
    if (rst) act_reg <= 1'b0;
    else act_reg <= act_next;
  end

  // ------------------------------------------------------------- data side

  wire              head_valid;
  wire [DESC_W-1:0] head;
  wire [1:0]        head_kind = head[DESC_W-1 -: 2];
  wire              head_bank = head[DESC_W-3];
  wire [31:0]       head_beats = head[40 +: 32];
  wire [7:0]        head_first = head[32 +: 8];
  wire [31:0]       head_index = head[0 +: 32];

  reg  [31:0] beat_reg;   // beat number within the head command
  reg  [7:0]  entry_reg;  // LOAD_P: entry offset
  reg  [1:0]  which_reg;  // LOAD_P: 0 bias, 1 mult, 2 shift
  wire        head_done = r_valid && (beat_reg == head_beats - 32'd1);

  wire [$clog2(QUEUE_DEPTH):0] queue_count;
  sampan_fifo #(
      .WIDTH(DESC_W),
      .DEPTH(QUEUE_DEPTH)
  ) u_queue (
      .clk      (clk),
      .rst      (rst),
      .clear    (1'b0),
      .in_valid (cmd_valid && cmd_ready),
      .in_ready (queue_in_ready),
      .in_data  ({cmd_kind, cmd_bank, cmd_beats, cmd_first, cmd_index}),
      .out_valid(head_valid),
      .out_ready(head_done),
      .out_data (head),
      .count    (queue_count)
  );

  assign idle = !act_reg && !head_valid;

  wire [7:0] p_entry = head_first + entry_reg;
  assign a_wr_en = {2{r_valid && head_kind == KIND_A}} & {head_bank, !head_bank};
  assign w_wr_en = {2{r_valid && head_kind == KIND_W}} & {head_bank, !head_bank};
  assign p_wr_en = {3{r_valid && head_kind == KIND_P}} &
                   {which_reg == 2'd2, which_reg == 2'd1, which_reg == 2'd0};
  assign a_wr_addr = beat_reg[$clog2(A_WORDS)-1:0];
  assign w_wr_addr = beat_reg[$clog2(W_WORDS)-1:0];
  assign p_wr_addr = p_entry[$clog2(P_ENTRIES)-1:0];

  always @(posedge clk) begin
    done_valid <= 1'b0;
    done_kind <= head_kind;
    done_bank <= head_bank;
    err_valid <= 1'b0;
    err_index <= head_index;
    if (r_valid) begin
      err_valid <= r_error;
      if (head_done) begin
        done_valid <= 1'b1;
        beat_reg <= 32'd0;
        entry_reg <= 8'd0;
        which_reg <= 2'd0;
      end else begin
        beat_reg <= beat_reg + 32'd1;
        if (which_reg == 2'd2) begin
          which_reg <= 2'd0;
          entry_reg <= entry_reg + 8'd1;
        end else begin
          which_reg <= which_reg + 2'd1;
        end
      end
    end
    if (rst) begin
      done_valid <= 1'b0;
      err_valid <= 1'b0;
      beat_reg <= 32'd0;
      entry_reg <= 8'd0;
      which_reg <= 2'd0;
    end
  end

  wire unused_load = &{1'b0, queue_count, head_valid, p_entry, beat_reg};

endmodule
`resetall
