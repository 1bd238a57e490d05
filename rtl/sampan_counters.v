`default_nettype none
// sampan_counters: the performance counters of a run (ARCHITECTURE.md
// register map, 0x80..0xBC). All clear on start and count while running.
//
// Every running cycle is exactly one of (first match):
//   busy       the array streamed a k-step;
//   stall_mem  the running tile waits for its operands to land;
//   stall_dep  a pending tile is held back by the drain spacing;
//   other      start-up (no COMPUTE dispatched yet) and the tail (no command
//              left to dispatch);
//   stall_dep  the head command is blocked by the scoreboard (bank still
//              read, slot still being stored, store unit busy for LOAD_P);
//   stall_mem  otherwise: the array waits for the command fetch or for a
//              unit busy with memory traffic.
// Latency: counts are visible the cycle after the event.
// Parameters:
//   BUS_BYTES      bus width in bytes (bytes per beat)
//   COUNTER_WIDTH  bits kept of the 64-bit counters (the rest read zero;
//                  32 wraps after 2^32 cycles, for small parts)
module sampan_counters #(
    parameter BUS_BYTES     = 64,  // bus width in bytes
    parameter COUNTER_WIDTH = 64   // 32..64
) (
    input  wire        clk,
    input  wire        rst,
    input  wire        start,         // clears every counter
    input  wire        running,
    input  wire        step,          // array streamed a step
    input  wire        spacing_wait,  // pending tile held by the drain spacing
    input  wire        load_wait,     // running tile waits for landing operands
    input  wire        started,       // a COMPUTE has been dispatched
    input  wire        active,        // commands remain to dispatch
    input  wire        head_dep,      // head command blocked by a dependency
    input  wire        rd_beat,       // an AXI read beat arrived
    input  wire        wr_beat,       // an AXI write beat was sent
    input  wire        cmd_fire,      // a command was dispatched
    input  wire [31:0] cmd_macs,      // its useful MACs (COMPUTE) else ignored
    input  wire        cmd_compute,   // the dispatched command is a COMPUTE
    output wire [63:0] cycles,
    output wire [63:0] busy,
    output wire [63:0] macs,
    output wire [63:0] stall_mem,
    output wire [63:0] stall_dep,
    output wire [63:0] bytes_rd,
    output wire [63:0] bytes_wr,
    output reg  [31:0] cmds
);

  localparam N = COUNTER_WIDTH;
  localparam [63:0] BUS_BYTES64 = 64'd1 << $clog2(BUS_BYTES);  // a power of two
  localparam [N-1:0] BEAT_BYTES = BUS_BYTES64[N-1:0];

  initial begin
    if (COUNTER_WIDTH < 32 || COUNTER_WIDTH > 64) $error("%m: COUNTER_WIDTH %0d out of 32..64", COUNTER_WIDTH);
    if ((1 << $clog2(BUS_BYTES)) != BUS_BYTES) $error("%m: BUS_BYTES %0d must be a power of two", BUS_BYTES);
  end

  reg [N-1:0] cycles_reg, busy_reg, macs_reg, stall_mem_reg, stall_dep_reg, bytes_rd_reg, bytes_wr_reg;
  generate
    if (N < 64) begin : gen_narrow
      assign cycles = {{(64 - N) {1'b0}}, cycles_reg};
      assign busy = {{(64 - N) {1'b0}}, busy_reg};
      assign macs = {{(64 - N) {1'b0}}, macs_reg};
      assign stall_mem = {{(64 - N) {1'b0}}, stall_mem_reg};
      assign stall_dep = {{(64 - N) {1'b0}}, stall_dep_reg};
      assign bytes_rd = {{(64 - N) {1'b0}}, bytes_rd_reg};
      assign bytes_wr = {{(64 - N) {1'b0}}, bytes_wr_reg};
    end else begin : gen_full
      assign cycles = cycles_reg;
      assign busy = busy_reg;
      assign macs = macs_reg;
      assign stall_mem = stall_mem_reg;
      assign stall_dep = stall_dep_reg;
      assign bytes_rd = bytes_rd_reg;
      assign bytes_wr = bytes_wr_reg;
    end
  endgenerate

  wire is_busy = step;
  wire is_dep = !step && !load_wait && (spacing_wait || (started && active && head_dep));
  wire is_mem = !step && (load_wait || (!spacing_wait && started && active && !head_dep));

  always @(posedge clk) begin
    if (rst || start) begin
      cycles_reg <= {N{1'b0}};
      busy_reg <= {N{1'b0}};
      macs_reg <= {N{1'b0}};
      stall_mem_reg <= {N{1'b0}};
      stall_dep_reg <= {N{1'b0}};
      bytes_rd_reg <= {N{1'b0}};
      bytes_wr_reg <= {N{1'b0}};
      cmds <= 32'd0;
    end else if (running) begin
      cycles_reg <= cycles_reg + 1'b1;
      if (is_busy) busy_reg <= busy_reg + 1'b1;
      if (is_dep) stall_dep_reg <= stall_dep_reg + 1'b1;
      if (is_mem) stall_mem_reg <= stall_mem_reg + 1'b1;
      if (rd_beat) bytes_rd_reg <= bytes_rd_reg + BEAT_BYTES;
      if (wr_beat) bytes_wr_reg <= bytes_wr_reg + BEAT_BYTES;
      if (cmd_fire) cmds <= cmds + 32'd1;
      if (cmd_fire && cmd_compute) macs_reg <= macs_reg + {{(N - 32) {1'b0}}, cmd_macs};
    end
  end

endmodule
`resetall
