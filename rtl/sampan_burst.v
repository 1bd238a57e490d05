`default_nettype none
// sampan_burst: length of the next AXI INCR burst of whole beats.
//
// beats = min(left, MAX_BURST, beats up to the next 4 KiB boundary), for a
// B-aligned address, so a burst never crosses a 4 KiB page. beats is 0 when
// left is 0. Purely combinational.
// Parameters:
//   BUS_BYTES  bus width in bytes (power of two, <= 4096)
//   MAX_BURST  longest burst in beats (1..256)
module sampan_burst #(
    parameter BUS_BYTES = 64,  // bus width in bytes
    parameter MAX_BURST = 64   // longest burst in beats
) (
    input  wire [11:0] addr,   // address bits 11:0 (B-aligned)
    input  wire [31:0] left,   // beats still to transfer
    output wire [ 8:0] beats   // beats of the next burst, 0..256
);

  localparam LOG_B = $clog2(BUS_BYTES);

  initial begin
    if ((1 << LOG_B) != BUS_BYTES || BUS_BYTES > 4096)
      $error("%m: BUS_BYTES %0d must be a power of two <= 4096", BUS_BYTES);
    if (MAX_BURST < 1 || MAX_BURST > 256) $error("%m: MAX_BURST %0d out of 1..256", MAX_BURST);
  end

  wire [31:0] to_page = (32'd4096 - {20'd0, addr}) >> LOG_B;
  wire [31:0] max_burst = MAX_BURST;
  wire [31:0] a = (left < max_burst) ? left : max_burst;
  wire [31:0] b = (a < to_page) ? a : to_page;

  assign beats = b[8:0];

  wire unused_burst = &{1'b0, b[31:9]};

endmodule
`resetall
