`default_nettype none
// sampan_fetch: command fetch. Reads the command list as bursts of whole
// bus beats through the shared AXI read channel (the core tags them ARID 0)
// into a FIFO of beats, which the sequencer consumes.
//
// A burst is only requested when the FIFO has room for all of its beats
// (credit = free words - beats in flight), so R beats are always accepted.
// Bursts never cross a 4 KiB boundary. On stop (an error) no further burst is
// requested; idle rises once every requested beat has arrived, so no stale
// beat can reach a later run (the FIFO is also cleared on start).
//
// Latency: the first beat reaches the FIFO memory latency + 1 cycle after
// start. Parameters:
//   BUS_BYTES   bus width in bytes (B), a power of two
//   ADDR_WIDTH  AXI address width
//   FIFO_DEPTH  beats buffered (power of two)
//   MAX_BURST   beats per burst at most (<= FIFO_DEPTH, <= 256)
module sampan_fetch #(
    parameter BUS_BYTES  = 64,  // bus width in bytes
    parameter ADDR_WIDTH = 64,  // AXI address width
    parameter FIFO_DEPTH = 16,  // beats buffered
    parameter MAX_BURST  = 8    // beats per burst at most
) (
    input  wire                    clk,
    input  wire                    rst,
    // control
    input  wire                    start,      // pulse: begin fetching
    input  wire [  ADDR_WIDTH-1:0] base_addr,  // B-aligned command list address
    input  wire [            31:0] num_beats,  // beats to fetch
    input  wire                    stop,       // stop requesting (error)
    output wire                    idle,       // nothing to request, nothing in flight
    // read requests (to the AR arbiter)
    output wire                    ar_valid,
    input  wire                    ar_ready,
    output wire [  ADDR_WIDTH-1:0] ar_addr,
    output wire [             7:0] ar_len,
    // read data (beats with ID 0)
    input  wire                    r_valid,
    input  wire [BUS_BYTES*8-1:0]  r_data,
    // beats to the sequencer
    output wire                    beat_valid,
    input  wire                    beat_ready,
    output wire [BUS_BYTES*8-1:0]  beat_data
);

  localparam LOG_B = $clog2(BUS_BYTES);
  localparam CW = $clog2(FIFO_DEPTH) + 1;  // width of FIFO counts

  initial begin
    if ((1 << LOG_B) != BUS_BYTES) $error("%m: BUS_BYTES %0d must be a power of two", BUS_BYTES);
    if (MAX_BURST < 1 || MAX_BURST > FIFO_DEPTH || MAX_BURST > 256)
      $error("%m: MAX_BURST %0d must be in 1..min(FIFO_DEPTH, 256)", MAX_BURST);
  end

  reg [ADDR_WIDTH-1:0] addr_reg, addr_next;
  reg [31:0] left_reg, left_next;        // beats not yet requested
  reg [CW-1:0] inflight_reg, inflight_next;  // requested, not yet arrived
  reg stopped_reg, stopped_next;

  wire [CW-1:0] fifo_count;

  wire [8:0] burst;  // beats of the next burst
  sampan_burst #(
      .BUS_BYTES(BUS_BYTES),
      .MAX_BURST(MAX_BURST)
  ) u_burst (
      .addr (addr_reg[11:0]),
      .left (left_reg),
      .beats(burst)
  );

  wire [31:0] reserved = {{(32 - CW) {1'b0}}, fifo_count} + {{(32 - CW) {1'b0}}, inflight_reg};
  wire room = reserved + {23'd0, burst} <= FIFO_DEPTH;
  assign ar_valid = !stopped_reg && left_reg != 32'd0 && room;
  assign ar_addr = addr_reg;
  assign ar_len = burst[7:0] - 8'd1;
  assign idle = (stopped_reg || left_reg == 32'd0) && inflight_reg == {CW{1'b0}};

  always @(*) begin
    addr_next = addr_reg;
    left_next = left_reg;
    inflight_next = inflight_reg;
    stopped_next = stopped_reg || stop;
    if (ar_valid && ar_ready) begin
      addr_next = addr_reg + ({{(ADDR_WIDTH - 9) {1'b0}}, burst} << LOG_B);
      left_next = left_reg - {23'd0, burst};
      inflight_next = inflight_next + burst[CW-1:0];
    end
    if (r_valid) inflight_next = inflight_next - 1'b1;
    if (start) begin
      addr_next = base_addr;
      left_next = num_beats;
      stopped_next = 1'b0;
    end
  end

  always @(posedge clk) begin
    addr_reg <= addr_next;
    if (rst) begin
      left_reg <= 32'd0;
      inflight_reg <= {CW{1'b0}};
      stopped_reg <= 1'b0;
    end else begin
      left_reg <= left_next;
      inflight_reg <= inflight_next;
      stopped_reg <= stopped_next;
    end
  end

  wire fifo_in_ready;  // always high: space is reserved before requesting
  sampan_fifo #(
      .WIDTH(BUS_BYTES * 8),
      .DEPTH(FIFO_DEPTH)
  ) u_fifo (
      .clk      (clk),
      .rst      (rst),
      .clear    (start),
      .in_valid (r_valid),
      .in_ready (fifo_in_ready),
      .in_data  (r_data),
      .out_valid(beat_valid),
      .out_ready(beat_ready),
      .out_data (beat_data),
      .count    (fifo_count)
  );

  wire unused_fetch = &{1'b0, fifo_in_ready};

endmodule
`resetall
