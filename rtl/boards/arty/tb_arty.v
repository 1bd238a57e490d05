`timescale 1ns / 1ps
`default_nettype none
// tb_arty: Icarus check of the Arty board top (`make arty-sim`). The host
// side is modelled at the FT2232H's exact 3 Mbaud (333.333 ns per bit)
// while the top divides its 100 MHz clock by 33 (3.03 Mbaud), so the
// check covers the real rate mismatch. Frames of rtl/stream/README.md:
//   REG_READ before HELLO  -> NAK 4 (not synchronised after reset)
//   HELLO                  -> DATA: version 1, MAX_DATA, MEM_BYTES
//   REG_READ SHAPE, CLOCK_MHZ -> ROWS | COLS << 16, 100
//   MEM_WRITE 6 bytes, MEM_READ them back
// and the LEDs: rx/tx activity seen, no UART error. Prints PASS or the
// failures, then $finish.
module tb_arty;

  localparam real BIT = 1.0e9 / 3.0e6;  // ns per bit at 3 Mbaud
  localparam ROWS = 8, COLS = 4, MEM_BYTES = 65536, MAX_DATA = 4096;

  reg clk100 = 1'b0;
  reg ck_rst_n = 1'b0;
  reg txd = 1'b1;  // host -> FPGA (uart_txd_in)
  wire rxd;  // FPGA -> host (uart_rxd_out)
  wire [3:0] led;
  always #5 clk100 = !clk100;

  sampan_arty #(
      .ROWS            (ROWS),
      .COLS            (COLS),
      .MEM_BYTES       (MEM_BYTES),
      .MAX_DATA        (MAX_DATA),
      .LED_STRETCH_LOG2(4)
  ) dut (
      .clk100      (clk100),
      .ck_rst_n    (ck_rst_n),
      .uart_txd_in (txd),
      .uart_rxd_out(rxd),
      .led         (led)
  );

  integer errors = 0;

  // ------------------------------------------------------------ CRC-16
  function [15:0] crc16(input [15:0] crc_in, input [7:0] b);
    integer k;
    reg [15:0] c;
    begin
      c = crc_in ^ {b, 8'h00};
      for (k = 0; k < 8; k = k + 1) c = c[15] ? {c[14:0], 1'b0} ^ 16'h1021 : {c[14:0], 1'b0};
      crc16 = c;
    end
  endfunction

  // ------------------------------------------------------------ host TX
  reg [7:0] req[0:127];

  task send_byte(input [7:0] b);
    integer k;
    begin
      txd = 1'b0;
      #(BIT);
      for (k = 0; k < 8; k = k + 1) begin
        txd = b[k];
        #(BIT);
      end
      txd = 1'b1;
      #(BIT);
    end
  endtask

  // Sends a frame of @ftype and @seq whose payload is req[0 .. len-1].
  task send_frame(input [7:0] ftype, input [7:0] seq, input integer len);
    reg [7:0] hdr[0:6];
    reg [15:0] crc;
    integer k;
    begin
      hdr[0] = 8'hA5;
      hdr[1] = ftype;
      hdr[2] = seq;
      hdr[3] = len[7:0];
      hdr[4] = len[15:8];
      crc = 16'hFFFF;
      for (k = 1; k < 5; k = k + 1) crc = crc16(crc, hdr[k]);
      hdr[5] = crc[7:0];
      hdr[6] = crc[15:8];
      crc = 16'hFFFF;
      for (k = 1; k < 7; k = k + 1) crc = crc16(crc, hdr[k]);
      for (k = 0; k < len; k = k + 1) crc = crc16(crc, req[k]);
      for (k = 0; k < 7; k = k + 1) send_byte(hdr[k]);
      for (k = 0; k < len; k = k + 1) send_byte(req[k]);
      send_byte(crc[7:0]);
      send_byte(crc[15:8]);
    end
  endtask

  // ------------------------------------------------------------ host RX
  reg [7:0] resp[0:255];
  integer rx_n = 0;

  // Samples each bit in its middle at the host's rate, as the FT2232H does.
  initial begin : rx
    integer k;
    reg [7:0] b;
    forever begin
      @(negedge rxd);
      #(BIT * 1.5);
      for (k = 0; k < 8; k = k + 1) begin
        b[k] = rxd;
        if (k < 7) #(BIT);
      end
      #(BIT);
      if (rxd !== 1'b1) begin
        $display("FAIL host saw a framing error after byte %0d", rx_n);
        errors = errors + 1;
      end
      resp[rx_n] = b;
      rx_n = rx_n + 1;
    end
  end

  // Waits for one response frame (or 2 ms) and checks its header, frame
  // CRC, type, sequence number and payload length; payload at resp[7..].
  task expect_frame(input [7:0] ftype, input [7:0] seq, input integer len, input [8*24-1:0] what);
    reg [15:0] crc;
    integer k, t;
    begin
      t = 0;
      while (rx_n < 9 + len && t < 2000) begin
        #1000;
        t = t + 1;
      end
      crc = 16'hFFFF;
      for (k = 1; k < 7 + len && k < rx_n; k = k + 1) crc = crc16(crc, resp[k]);
      if (rx_n != 9 + len || resp[0] !== 8'hA5 || resp[1] !== ftype || resp[2] !== seq ||
          {resp[4], resp[3]} !== len[15:0] || {resp[8+len], resp[7+len]} !== crc) begin
        $display("FAIL %0s: %0d bytes, type %02x seq %02x len %0d; want type %02x seq %02x len %0d",
                 what, rx_n, resp[1], resp[2], {resp[4], resp[3]}, ftype, seq, len);
        errors = errors + 1;
      end
      #(BIT * 20);  // nothing more may follow
      if (rx_n != 9 + len) begin
        $display("FAIL %0s: %0d bytes arrived, want %0d", what, rx_n, 9 + len);
        errors = errors + 1;
      end
      rx_n = 0;
    end
  endtask

  task reg_read(input [7:0] seq, input [7:0] off, input [31:0] want, input [8*24-1:0] what);
    begin
      {req[3], req[2], req[1], req[0]} = {24'd0, off};
      send_frame(8'h02, seq, 4);
      expect_frame(8'h81, seq, 4, what);
      if ({resp[10], resp[9], resp[8], resp[7]} !== want) begin
        $display("FAIL %0s: %08x, want %08x", what, {resp[10], resp[9], resp[8], resp[7]}, want);
        errors = errors + 1;
      end
    end
  endtask

  reg rx_led_seen = 1'b0, tx_led_seen = 1'b0, err_led_seen = 1'b0;
  always @(posedge clk100) begin
    rx_led_seen <= rx_led_seen | led[1];
    tx_led_seen <= tx_led_seen | led[2];
    if (led[3] && ck_rst_n && !err_led_seen) $display("FAIL the UART error LED lit at %0t ns", $time);
    err_led_seen <= err_led_seen | (led[3] && ck_rst_n);
  end

  integer i;
  initial begin
    #200 ck_rst_n = 1'b1;
    #(BIT * 4);

    // Registers were lost at reset: everything but HELLO gets NAK 4.
    {req[3], req[2], req[1], req[0]} = 32'h48;
    send_frame(8'h02, 8'd1, 4);
    expect_frame(8'h82, 8'd1, 1, "REG_READ before HELLO");
    if (resp[7] !== 8'd4) begin
      $display("FAIL NAK code %0d before HELLO, want 4", resp[7]);
      errors = errors + 1;
    end

    send_frame(8'h00, 8'd2, 0);
    expect_frame(8'h81, 8'd2, 7, "HELLO");
    if (resp[7] !== 8'd1 || {resp[9], resp[8]} !== MAX_DATA[15:0] ||
        {resp[13], resp[12], resp[11], resp[10]} !== MEM_BYTES) begin
      $display("FAIL HELLO: version %0d, max data %0d, memory %0d", resp[7], {resp[9], resp[8]},
               {resp[13], resp[12], resp[11], resp[10]});
      errors = errors + 1;
    end

    reg_read(8'd3, 8'h48, COLS << 16 | ROWS, "SHAPE");
    reg_read(8'd4, 8'h58, 32'd100, "CLOCK_MHZ");

    {req[3], req[2], req[1], req[0]} = 32'h0000_0123;  // unaligned on purpose
    for (i = 0; i < 6; i = i + 1) req[4+i] = 8'h5A ^ (i * 37);
    send_frame(8'h03, 8'd5, 10);
    expect_frame(8'h80, 8'd5, 0, "MEM_WRITE");
    {req[3], req[2], req[1], req[0]} = 32'h0000_0123;
    {req[5], req[4]} = 16'd6;
    send_frame(8'h04, 8'd6, 6);
    expect_frame(8'h81, 8'd6, 6, "MEM_READ");
    for (i = 0; i < 6; i = i + 1)
      if (resp[7+i] !== (8'h5A ^ (i * 37))) begin
        $display("FAIL MEM_READ byte %0d: %02x, want %02x", i, resp[7+i], 8'h5A ^ (i * 37));
        errors = errors + 1;
      end

    if (err_led_seen) errors = errors + 1;
    if (!rx_led_seen || !tx_led_seen) begin
      $display("FAIL activity LEDs: rx %b tx %b", rx_led_seen, tx_led_seen);
      errors = errors + 1;
    end
    if (errors == 0) $display("PASS sampan_arty: NAK before HELLO, HELLO, SHAPE, CLOCK_MHZ, memory write/read at 3 Mbaud against DIVISOR 33");
    $finish;
  end

endmodule
`resetall
