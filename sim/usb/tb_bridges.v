`timescale 1ns / 1ps
`default_nettype none
// tb_bridges: Icarus check of the stream shell's bridges (`make
// usb-bridge-check`). A byte sequence goes through sampan_uart_tx into
// sampan_uart_rx (looped back, with a slow consumer), and both ways through
// sampan_ft245_sync against a behavioural FT232H FIFO that throttles RXF#
// and TXE# at random. Prints PASS or the first mismatch, then $finish.
module tb_bridges;

  localparam N = 300;

  reg clk = 1'b0;
  reg rst = 1'b1;
  always #5 clk = !clk;

  reg [7:0] data[0:N-1];
  integer i, errors = 0, seed = 7;

  // ------------------------------------------------------------ UART
  wire [7:0] utx_data;
  wire utx_valid;
  wire utx_ready, line, urx_valid, ferr, ovr;
  wire [7:0] urx_data;
  reg urx_ready;
  integer usent = 0, ugot = 0;

  sampan_uart_tx #(.DIVISOR(4)) u_tx (
      .clk(clk), .rst(rst), .s_axis_tdata(utx_data), .s_axis_tvalid(utx_valid),
      .s_axis_tready(utx_ready), .txd(line)
  );
  sampan_uart_rx #(.DIVISOR(4)) u_rx (
      .clk(clk), .rst(rst), .rxd(line), .m_axis_tdata(urx_data), .m_axis_tvalid(urx_valid),
      .m_axis_tready(urx_ready), .frame_error(ferr), .overrun(ovr)
  );

  always @(posedge clk) begin
    if (!rst) begin
      if (utx_valid && utx_ready) usent <= usent + 1;
      if (urx_valid && urx_ready) begin
        if (urx_data !== data[ugot]) begin
          $display("FAIL uart byte %0d: %02x, want %02x", ugot, urx_data, data[ugot]);
          errors = errors + 1;
        end
        ugot <= ugot + 1;
      end
      if (ferr || ovr) begin
        $display("FAIL uart frame error %b overrun %b", ferr, ovr);
        errors = errors + 1;
      end
    end
  end
  assign utx_valid = !rst && usent < N;
  assign utx_data = data[usent < N ? usent : 0];
  always @(posedge clk) urx_ready <= ($random(seed) & 3) != 0;

  // ------------------------------------------------------------ FT245
  // Chip side: a FIFO toward the FPGA (RXF#) and one from it (TXE#).
  reg ft_rxf_n = 1'b1, ft_txe_n = 1'b1;
  wire ft_rd_n, ft_wr_n, ft_oe_n, ft_siwu_n, ft_oe;
  wire [7:0] ft_out;
  reg [7:0] ft_in;
  integer hsent = 0, hgot = 0, fsent = 0, fgot = 0, flushes = 0;
  wire [7:0] f_rx_data;
  wire f_rx_valid, f_tx_ready;
  reg f_rx_ready;

  sampan_ft245_sync u_ft (
      .clk(clk), .rst(rst), .ft_data_in(ft_in), .ft_data_out(ft_out), .ft_data_oe(ft_oe),
      .ft_rxf_n(ft_rxf_n), .ft_txe_n(ft_txe_n), .ft_rd_n(ft_rd_n), .ft_wr_n(ft_wr_n),
      .ft_oe_n(ft_oe_n), .ft_siwu_n(ft_siwu_n), .m_axis_tdata(f_rx_data),
      .m_axis_tvalid(f_rx_valid), .m_axis_tready(f_rx_ready),
      .s_axis_tdata(data[fsent < N ? fsent : 0]), .s_axis_tvalid(!rst && fsent < N),
      .s_axis_tready(f_tx_ready)
  );

  always @(posedge clk) begin
    if (!rst) begin
      // host to FPGA: a byte moves at each edge where RXF# and RD# are low
      if (!ft_rxf_n && !ft_rd_n) begin
        if (ft_oe_n) begin
          $display("FAIL ft245 read with OE# high");
          errors = errors + 1;
        end
        hsent = hsent + 1;
      end
      if (!ft_txe_n && !ft_wr_n) begin
        if (!ft_oe || ft_out !== data[hgot]) begin
          $display("FAIL ft245 write byte %0d: %02x, want %02x", hgot, ft_out, data[hgot]);
          errors = errors + 1;
        end
        hgot = hgot + 1;
      end
      if (f_rx_valid && f_rx_ready) begin
        if (f_rx_data !== data[fgot]) begin
          $display("FAIL ft245 receive byte %0d: %02x, want %02x", fgot, f_rx_data, data[fgot]);
          errors = errors + 1;
        end
        fgot = fgot + 1;
      end
      if (f_tx_ready && fsent < N) fsent = fsent + 1;
      if (!ft_siwu_n) flushes = flushes + 1;
      ft_rxf_n <= hsent >= N || ($random(seed) & 7) == 0;
      ft_txe_n <= ($random(seed) & 7) == 0;
      f_rx_ready <= ($random(seed) & 3) != 0;
    end
    ft_in <= data[hsent < N ? hsent : 0];
  end

  initial begin
    for (i = 0; i < N; i = i + 1) data[i] = (i * 37 + 11) & 8'hFF;
    repeat (4) @(posedge clk);
    rst <= 1'b0;
    wait ((ugot == N && fgot == N && hgot == N) || $time > 2000000);
    if (ugot != N || fgot != N || hgot != N) begin
      $display("FAIL timeout: uart %0d, ft245 receive %0d, send %0d of %0d", ugot, fgot, hgot, N);
      errors = errors + 1;
    end
    repeat (4) @(posedge clk);
    if (flushes == 0) begin
      $display("FAIL ft245: no SIWU# pulse after the last write");
      errors = errors + 1;
    end
    if (errors == 0) $display("PASS uart and ft245 bridges, %0d bytes each way", N);
    $finish;
  end

endmodule
`resetall
