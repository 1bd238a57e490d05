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
//   BUS_BYTES  bus width in bytes (bytes per beat)
module sampan_counters #(
    parameter BUS_BYTES = 64  // bus width in bytes
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
    output reg  [63:0] cycles,
    output reg  [63:0] busy,
    output reg  [63:0] macs,
    output reg  [63:0] stall_mem,
    output reg  [63:0] stall_dep,
    output reg  [63:0] bytes_rd,
    output reg  [63:0] bytes_wr,
    output reg  [31:0] cmds
);

  localparam [31:0] BUS_BYTES32 = BUS_BYTES;
  localparam [63:0] BEAT_BYTES = {32'd0, BUS_BYTES32};

  wire is_busy = step;
  wire is_dep = !step && !load_wait && (spacing_wait || (started && active && head_dep));
  wire is_mem = !step && (load_wait || (!spacing_wait && started && active && !head_dep));

  always @(posedge clk) begin
    if (rst || start) begin
      cycles <= 64'd0;
      busy <= 64'd0;
      macs <= 64'd0;
      stall_mem <= 64'd0;
      stall_dep <= 64'd0;
      bytes_rd <= 64'd0;
      bytes_wr <= 64'd0;
      cmds <= 32'd0;
    end else if (running) begin
      cycles <= cycles + 64'd1;
      if (is_busy) busy <= busy + 64'd1;
      if (is_dep) stall_dep <= stall_dep + 64'd1;
      if (is_mem) stall_mem <= stall_mem + 64'd1;
      if (rd_beat) bytes_rd <= bytes_rd + BEAT_BYTES;
      if (wr_beat) bytes_wr <= bytes_wr + BEAT_BYTES;
      if (cmd_fire) cmds <= cmds + 32'd1;
      if (cmd_fire && cmd_compute) macs <= macs + {32'd0, cmd_macs};
    end
  end

endmodule
`resetall
