`timescale 1ns / 1ps
`default_nettype none
// tb_requant_seq: sampan_requant_seq against sampan_requant (the pipelined
// lane that the default build uses and the C reference checks), on corner
// values and random ones. Prints PASS or the first mismatch. Icarus only.
module tb_requant_seq;
  reg clk = 1'b0;
  reg rst = 1'b1;
  always #5 clk = !clk;

  reg               in_valid;
  reg               in_raw;
  reg signed [31:0] acc, bias, mult, shift;
  reg signed [7:0]  zo, lo, hi;
  wire              ref_valid, seq_valid, seq_ready;
  wire signed [31:0] ref_data, seq_data;

  sampan_requant u_ref (
      .clk(clk), .rst(rst), .in_valid(in_valid), .in_raw(in_raw), .in_acc(acc),
      .in_bias(bias), .in_mult(mult), .in_shift(shift), .in_zo(zo), .in_lo(lo),
      .in_hi(hi), .out_valid(ref_valid), .out_data(ref_data));
  sampan_requant_seq u_seq (
      .clk(clk), .rst(rst), .in_valid(in_valid), .in_ready(seq_ready), .in_raw(in_raw),
      .in_acc(acc), .in_bias(bias), .in_mult(mult), .in_shift(shift), .in_zo(zo),
      .in_lo(lo), .in_hi(hi), .out_valid(seq_valid), .out_data(seq_data));

  integer n, errors, seed;
  reg               seq_got;
  reg signed [31:0] seq_word;
  always @(posedge clk) begin
    if (seq_valid) begin
      seq_got <= 1'b1;
      seq_word <= seq_data;
    end
  end
  reg signed [31:0] want;
  reg [31:0] pick [0:11];

  function [31:0] corner(input [31:0] r, input [31:0] sel);
    case (sel % 12)
      0: corner = 32'h8000_0000;
      1: corner = 32'h7fff_ffff;
      2: corner = 32'h0000_0000;
      3: corner = 32'hffff_ffff;
      4: corner = 32'h0000_0001;
      5: corner = 32'h4000_0000;
      6: corner = 32'hc000_0000;
      default: corner = r;
    endcase
  endfunction

  initial begin
    errors = 0;
    seed = 42;
    in_valid = 1'b0;
    repeat (4) @(posedge clk);
    rst <= 1'b0;
    for (n = 0; n < 3000 && errors == 0; n = n + 1) begin
      @(posedge clk);
      in_raw <= ($random(seed) & 15) == 0;
      acc <= corner($random(seed), $random(seed));
      bias <= ($random(seed) & 1) ? 32'sd0 : $random(seed);
      mult <= corner($random(seed), $random(seed));
      shift <= (($random(seed) & 7) == 0) ? $random(seed) : ($random(seed) % 40);
      zo <= $random(seed);
      lo <= -8'sd128 + (($random(seed) & 3) == 0 ? ($random(seed) & 63) : 0);
      hi <= 8'sd127 - (($random(seed) & 3) == 0 ? ($random(seed) & 63) : 0);
      in_valid <= 1'b1;
      seq_got <= 1'b0;
      @(posedge clk);
      in_valid <= 1'b0;
      while (!ref_valid) @(posedge clk);
      want = ref_data;
      while (!seq_got) @(posedge clk);
      if (seq_word !== want) begin
        $display("MISMATCH raw=%0d acc=%0d bias=%0d mult=%0d shift=%0d zo=%0d lo=%0d hi=%0d: seq %0d ref %0d",
                 in_raw, acc, bias, mult, shift, zo, lo, hi, seq_word, want);
        errors = errors + 1;
      end
    end
    if (errors == 0) $display("PASS %0d values", n);
    $finish;
  end
endmodule
`resetall
