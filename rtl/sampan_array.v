`default_nettype none
// sampan_array: ROWS x COLS output-stationary systolic array of sampan_pe,
// with the input skew inside.
//
// in_a/in_w carry one unskewed k-step: row r at in_a[r*9 +: 9] (A[r][k]-za),
// column c at in_w[c*8 +: 8] (W[c][k]); in_valid/in_last qualify the step and
// travel with the activations. Row r is delayed by r registers and column c
// by c registers, so PE(r,c) sees the step presented at cycle t at cycle
// t + r + c. res exposes every PE's shadow register, PE(r,c) at
// res[(r*COLS+c)*32 +: 32].
//
// Timing: if the last step of a tile is presented at cycle t, row r of res
// holds the tile's final sums from cycle t + r + COLS on (all columns), and
// keeps them until the last step of the next tile, presented at t', reaches
// PE(r,0) (visible from t' + r + 1). Reading row r exactly at t + r + COLS is
// therefore safe whenever t' - t >= COLS.
// Parameters:
//   ROWS  array rows (output rows per tile)
//   COLS  array columns (output channels per tile)
module sampan_array #(
    parameter ROWS = 16,  // array rows, 1..64
    parameter COLS = 16   // array columns, 1..64
) (
    input  wire                      clk,
    input  wire                      rst,
    input  wire                      in_valid,
    input  wire                      in_last,
    input  wire [       ROWS*9-1:0]  in_a,
    input  wire [       COLS*8-1:0]  in_w,
    output wire [ROWS*COLS*32-1:0]   res
);

  initial begin
    if (ROWS < 1 || ROWS > 64) $error("%m: ROWS %0d out of 1..64", ROWS);
    if (COLS < 1 || COLS > 64) $error("%m: COLS %0d out of 1..64", COLS);
  end

  // Links are arrays of separate nets (not one wide vector), so that an
  // event-driven simulator re-evaluates only the PE whose input changed:
  // with packed vectors Icarus ran this array ~150x slower.
  // Horizontal links: PE(r,c) output -> PE(r,c+1) input; index r*(COLS+1)+c,
  // column 0 being the skewed array input.
  wire [8:0] h_a     [0:ROWS*(COLS+1)-1];
  wire       h_valid [0:ROWS*(COLS+1)-1];
  wire       h_last  [0:ROWS*(COLS+1)-1];
  // Vertical links: PE(r,c) output -> PE(r+1,c) input; index r*COLS+c, row 0
  // being the skewed array input.
  wire [7:0] v_w     [0:(ROWS+1)*COLS-1];
  // Shadow-write pulses: unused, the drain schedule is computed from in_last.
  wire       res_valid [0:ROWS*COLS-1];

  genvar r, c;
  generate
    // Row r skew: r registers in front of PE(r,0); valid/last reset.
    for (r = 0; r < ROWS; r = r + 1) begin : gen_row_skew
      sampan_delay #(
          .WIDTH(2),
          .DEPTH(r)
      ) u_flags (
          .clk(clk),
          .rst(rst),
          .in ({in_valid, in_last}),
          .out({h_valid[r*(COLS+1)], h_last[r*(COLS+1)]})
      );
      sampan_delay #(
          .WIDTH(9),
          .DEPTH(r)
      ) u_a (
          .clk(clk),
          .rst(1'b0),
          .in (in_a[r*9 +: 9]),
          .out(h_a[r*(COLS+1)])
      );
    end

    // Column c skew: c registers above PE(0,c).
    for (c = 0; c < COLS; c = c + 1) begin : gen_col_skew
      sampan_delay #(
          .WIDTH(8),
          .DEPTH(c)
      ) u_w (
          .clk(clk),
          .rst(1'b0),
          .in (in_w[c*8 +: 8]),
          .out(v_w[c])
      );
    end

    for (r = 0; r < ROWS; r = r + 1) begin : gen_r
      for (c = 0; c < COLS; c = c + 1) begin : gen_c
        sampan_pe #(
            .ACC_WIDTH(32)
        ) u_pe (
            .clk      (clk),
            .rst      (rst),
            .in_valid (h_valid[r*(COLS+1)+c]),
            .in_last  (h_last[r*(COLS+1)+c]),
            .in_a     (h_a[r*(COLS+1)+c]),
            .in_w     (v_w[r*COLS+c]),
            .out_valid(h_valid[r*(COLS+1)+c+1]),
            .out_last (h_last[r*(COLS+1)+c+1]),
            .out_a    (h_a[r*(COLS+1)+c+1]),
            .out_w    (v_w[(r+1)*COLS+c]),
            .res_valid(res_valid[r*COLS+c]),
            .res      (res[(r*COLS+c)*32 +: 32])
        );
      end
    end
  endgenerate

  // The last column's outputs, the bottom row's weights and the shadow-write
  // pulses leave the array unused.
  wire [ROWS*11-1:0]    right_edge;
  wire [COLS*8-1:0]     bottom_edge;
  wire [ROWS*COLS-1:0]  res_pulses;
  generate
    for (r = 0; r < ROWS; r = r + 1) begin : gen_right_edge
      assign right_edge[r*11 +: 11] = {h_valid[r*(COLS+1)+COLS], h_last[r*(COLS+1)+COLS],
                                       h_a[r*(COLS+1)+COLS]};
    end
    for (c = 0; c < COLS; c = c + 1) begin : gen_bottom_edge
      assign bottom_edge[c*8 +: 8] = v_w[ROWS*COLS+c];
    end
    for (r = 0; r < ROWS*COLS; r = r + 1) begin : gen_res_pulses
      assign res_pulses[r] = res_valid[r];
    end
  endgenerate
  wire unused_edges = &{1'b0, right_edge, bottom_edge, res_pulses};

endmodule
`resetall
