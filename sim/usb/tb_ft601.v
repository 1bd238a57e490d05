`timescale 1ns / 1ps
`default_nettype none
// tb_ft601: Icarus check of the FT600/FT601 bridge (`make usb-ft601-check`,
// part of `make usb-bridge-check` and of test_ft601). Two cases run side
// by side, each a behavioural FT60x chip in 245 synchronous FIFO mode
// driving sampan_ft601_fifo in front of the whole stream shell
// (sampan_stream_top, a 4x4 core) on a clock of its own:
//   32-bit FT601 at 100 MHz, shell at 40 MHz
//   16-bit FT600 at  66 MHz, shell at 125 MHz
// The host side of each chip speaks the frames of rtl/stream/README.md:
// a request before HELLO (NAK 4), HELLO, ID and scratch registers, memory
// writes and reads of every length modulo the bus width, junk between
// frames. Prints PASS or what went wrong, then $finish.

// ------------------------------------------------------------------ a case
module tb_ft601_case #(
    parameter DATA_WIDTH = 32,    // 16 (FT600) or 32 (FT601)
    parameter FT_HALF    = 5.0,   // half period of the chip's clock, ns
    parameter CORE_HALF  = 12.5,  // half period of the shell's clock, ns
    parameter SEED       = 1      // throttling pattern
) (
    output reg        done,
    output reg [31:0] errors
);

  localparam LANES = DATA_WIDTH / 8;
  localparam MEM_BYTES = 65536;
  localparam MAX_DATA = 1024;

  reg ft_clk = 1'b0, clk = 1'b0, rst = 1'b1;
  always #(FT_HALF) ft_clk = !ft_clk;
  always #(CORE_HALF) clk = !clk;

  // ---------------------------------------------------------- the DUT
  reg [DATA_WIDTH-1:0] ft_data_in;
  reg [LANES-1:0] ft_be_in;
  wire [DATA_WIDTH-1:0] ft_data_out;
  wire [LANES-1:0] ft_be_out;
  wire ft_bus_oe, ft_rd_n, ft_wr_n, ft_oe_n, ft_siwu_n, ft_wakeup_n;
  reg ft_rxf_n = 1'b1, ft_txe_n = 1'b1;
  wire [7:0] req_data, rsp_data;
  wire req_valid, req_ready, rsp_valid, rsp_ready, irq;

  sampan_ft601_fifo #(
      .DATA_WIDTH(DATA_WIDTH)
  ) u_bridge (
      .ft_clk       (ft_clk),
      .ft_data_in   (ft_data_in),
      .ft_data_out  (ft_data_out),
      .ft_be_in     (ft_be_in),
      .ft_be_out    (ft_be_out),
      .ft_bus_oe    (ft_bus_oe),
      .ft_rxf_n     (ft_rxf_n),
      .ft_txe_n     (ft_txe_n),
      .ft_rd_n      (ft_rd_n),
      .ft_wr_n      (ft_wr_n),
      .ft_oe_n      (ft_oe_n),
      .ft_siwu_n    (ft_siwu_n),
      .ft_wakeup_n  (ft_wakeup_n),
      .clk          (clk),
      .rst          (rst),
      .m_axis_tdata (req_data),
      .m_axis_tvalid(req_valid),
      .m_axis_tready(req_ready),
      .s_axis_tdata (rsp_data),
      .s_axis_tvalid(rsp_valid),
      .s_axis_tready(rsp_ready)
  );

  sampan_stream_top #(
      .ROWS(4),
      .COLS(4),
      .AXI_DATA_WIDTH(128),
      .MEM_BYTES(MEM_BYTES),
      .MAX_DATA(MAX_DATA)
  ) u_shell (
      .clk          (clk),
      .rst          (rst),
      .s_axis_tdata (req_data),
      .s_axis_tvalid(req_valid),
      .s_axis_tready(req_ready),
      .m_axis_tdata (rsp_data),
      .m_axis_tvalid(rsp_valid),
      .m_axis_tready(rsp_ready),
      .irq          (irq)
  );

  // ---------------------------------------------------------- the chip
  // Host-to-FPGA bytes h2f[h2f_rd .. h2f_wr-1]; the host appends a whole
  // USB transfer at once, the chip hands it out LANES bytes a word, the
  // last word with fewer byte enables. FPGA-to-host bytes go to f2h.
  reg [7:0] h2f[0:65535];
  reg [7:0] f2h[0:65535];
  integer h2f_wr = 0, h2f_rd = 0, f2h_wr = 0, f2h_rd = 0;
  integer seed = SEED, words_in = 0, words_out = 0, partial_in = 0, partial_out = 0;
  integer rd_stalls = 0, i, n;
  reg oe_seen = 1'b0;  // the chip drives the bus: OE# was low at the last edge
  reg be_ok;

  always @(posedge ft_clk) begin
    if (!rst) begin
      // a word leaves the chip at each edge where RXF# and RD# are low
      if (!ft_rxf_n && !ft_rd_n) begin
        if (ft_oe_n || !oe_seen) begin
          $display("FAIL %0d-bit: RD# low without OE# low one cycle before", DATA_WIDTH);
          errors = errors + 1;
        end
        n = h2f_wr - h2f_rd < LANES ? h2f_wr - h2f_rd : LANES;
        if (n < LANES) partial_in = partial_in + 1;
        h2f_rd = h2f_rd + n;
        words_in = words_in + 1;
      end
      if (ft_rxf_n && !ft_rd_n) rd_stalls = rd_stalls + 1;
      // a word enters the chip at each edge where TXE# and WR# are low
      if (!ft_txe_n && !ft_wr_n) begin
        be_ok = 1'b1;
        n = 0;
        for (i = 0; i < LANES; i = i + 1) begin
          if (ft_be_out[i] === 1'b1) begin
            if (n != i) be_ok = 1'b0;
            f2h[f2h_wr] = ft_data_out[8*i+:8];
            f2h_wr = f2h_wr + 1;
            n = n + 1;
          end else if (ft_be_out[i] !== 1'b0) be_ok = 1'b0;
        end
        if (!ft_bus_oe || !be_ok || n == 0) begin
          $display("FAIL %0d-bit: bad write word: bus driven %b, BE %b", DATA_WIDTH, ft_bus_oe,
                   ft_be_out);
          errors = errors + 1;
        end
        if (n < LANES) partial_out = partial_out + 1;
        words_out = words_out + 1;
      end
      if (ft_bus_oe && oe_seen) begin
        $display("FAIL %0d-bit: bus contention (the chip drives it, OE# low)", DATA_WIDTH);
        errors = errors + 1;
      end
      // registered chip outputs for the next cycle, throttled at random
      ft_rxf_n <= h2f_rd == h2f_wr || ($random(seed) & 7) == 0;
      ft_txe_n <= ($random(seed) & 3) == 0;
    end
    oe_seen <= !ft_oe_n;
    // the chip drives DATA and BE only while OE# is low
    if (!ft_oe_n) begin
      for (i = 0; i < LANES; i = i + 1) begin
        ft_data_in[8*i+:8] <= h2f_rd + i < h2f_wr ? h2f[h2f_rd+i] : 8'hEE;
        ft_be_in[i] <= h2f_rd + i < h2f_wr;
      end
    end else begin
      ft_data_in <= {DATA_WIDTH{1'bx}};
      ft_be_in <= {LANES{1'bx}};
    end
  end

  // ---------------------------------------------------------- the host
  function [15:0] crc16(input [15:0] crc, input [7:0] b);
    integer k;
    begin
      crc16 = crc ^ {b, 8'h00};
      for (k = 0; k < 8; k = k + 1) crc16 = crc16[15] ? (crc16 << 1) ^ 16'h1021 : crc16 << 1;
    end
  endfunction

  reg [7:0] pay[0:2047];  // request payload, then response payload
  reg [7:0] wdata[0:2047];
  reg [7:0] seq = 8'd0;
  reg [7:0] rsp_type;
  integer rsp_len;
  reg [15:0] crc;
  integer start, k, len, waited;

  // Queues one request frame (type t, payload pay[0..plen-1]) as one
  // USB transfer.
  task send_frame(input [7:0] t, input integer plen);
    begin
      seq = seq + 8'd1;
      start = h2f_wr;
      h2f[start+0] = 8'hA5;
      h2f[start+1] = t;
      h2f[start+2] = seq;
      h2f[start+3] = plen[7:0];
      h2f[start+4] = plen[15:8];
      crc = 16'hFFFF;
      for (k = 1; k < 5; k = k + 1) crc = crc16(crc, h2f[start+k]);
      h2f[start+5] = crc[7:0];
      h2f[start+6] = crc[15:8];
      for (k = 0; k < plen; k = k + 1) h2f[start+7+k] = pay[k];
      crc = 16'hFFFF;
      for (k = 1; k < 7 + plen; k = k + 1) crc = crc16(crc, h2f[start+k]);
      h2f[start+7+plen] = crc[7:0];
      h2f[start+8+plen] = crc[15:8];
      h2f_wr = start + 9 + plen;
    end
  endtask

  // Waits for the response (at most 20000 chip cycles) and checks its
  // framing and sequence number; payload to pay[], type and length to
  // rsp_type, rsp_len. After a response that does not come, the case is
  // over (dead): later requests are not sent.
  reg dead = 1'b0;
  task get_response;
    begin
      waited = dead ? 20000 : 0;
      while (f2h_wr - f2h_rd < 7 && waited < 20000) begin
        @(posedge ft_clk);
        waited = waited + 1;
      end
      rsp_len = f2h_wr - f2h_rd < 7 ? -1 : {f2h[f2h_rd+4], f2h[f2h_rd+3]};
      while (rsp_len >= 0 && f2h_wr - f2h_rd < 9 + rsp_len && waited < 20000) begin
        @(posedge ft_clk);
        waited = waited + 1;
      end
      rsp_type = 8'hFF;
      if (rsp_len < 0 || f2h_wr - f2h_rd < 9 + rsp_len) begin
        if (!dead)
          $display("FAIL %0d-bit: no response to request %0d (%0d bytes came)", DATA_WIDTH, seq,
                   f2h_wr - f2h_rd);
        dead = 1'b1;
        errors = errors + 1;
        rsp_len = 0;
      end else begin
        crc = 16'hFFFF;
        for (k = 1; k < 7 + rsp_len; k = k + 1) crc = crc16(crc, f2h[f2h_rd+k]);
        if (f2h[f2h_rd] !== 8'hA5 || f2h[f2h_rd+2] !== seq ||
            {f2h[f2h_rd+8+rsp_len], f2h[f2h_rd+7+rsp_len]} !== crc) begin
          $display("FAIL %0d-bit: bad response frame to request %0d", DATA_WIDTH, seq);
          errors = errors + 1;
        end
        rsp_type = f2h[f2h_rd+1];
        for (k = 0; k < rsp_len; k = k + 1) pay[k] = f2h[f2h_rd+7+k];
        f2h_rd = f2h_rd + 9 + rsp_len;
      end
    end
  endtask

  task expect_rsp(input [7:0] t, input integer plen, input [8*24-1:0] what);
    begin
      if (!dead && (rsp_type !== t || rsp_len != plen)) begin
        $display("FAIL %0d-bit: %0s: response type %02x length %0d, want %02x length %0d",
                 DATA_WIDTH, what, rsp_type, rsp_len, t, plen);
        errors = errors + 1;
      end
    end
  endtask

  task reg_read(input [31:0] off, input [31:0] want);
    begin
      {pay[3], pay[2], pay[1], pay[0]} = off;
      send_frame(8'h02, 4);
      get_response;
      expect_rsp(8'h81, 4, "REG_READ");
      if (!dead && {pay[3], pay[2], pay[1], pay[0]} !== want) begin
        $display("FAIL %0d-bit: register %02x = %08x, want %08x", DATA_WIDTH, off,
                 {pay[3], pay[2], pay[1], pay[0]}, want);
        errors = errors + 1;
      end
    end
  endtask

  // Writes len random bytes at addr and reads them back.
  task mem_roundtrip(input [31:0] addr, input integer mlen);
    begin
      for (k = 0; k < mlen; k = k + 1) wdata[k] = $random(seed);
      {pay[3], pay[2], pay[1], pay[0]} = addr;
      for (k = 0; k < mlen; k = k + 1) pay[4+k] = wdata[k];
      send_frame(8'h03, 4 + mlen);
      get_response;
      expect_rsp(8'h80, 0, "MEM_WRITE");
      {pay[3], pay[2], pay[1], pay[0]} = addr;
      {pay[5], pay[4]} = mlen[15:0];
      send_frame(8'h04, 6);
      get_response;
      expect_rsp(8'h81, mlen, "MEM_READ");
      for (k = 0; k < mlen && k < rsp_len; k = k + 1) begin
        if (!dead && pay[k] !== wdata[k]) begin
          $display("FAIL %0d-bit: memory byte %0d of %0d at %0x: %02x, want %02x", DATA_WIDTH,
                   k, mlen, addr, pay[k], wdata[k]);
          errors = errors + 1;
          k = mlen;
        end
      end
    end
  endtask

  initial begin
    done = 1'b0;
    errors = 0;
    repeat (8) @(posedge clk);
    repeat (8) @(posedge ft_clk);
    @(posedge clk) rst <= 1'b0;
    // before HELLO: NAK 4 (not synchronised)
    {pay[3], pay[2], pay[1], pay[0]} = 32'h40;
    send_frame(8'h02, 4);
    get_response;
    expect_rsp(8'h82, 1, "REG_READ before HELLO");
    if (pay[0] !== 8'd4) begin
      $display("FAIL %0d-bit: NAK code %0d before HELLO, want 4", DATA_WIDTH, pay[0]);
      errors = errors + 1;
    end
    // HELLO: version 1, MAX_DATA, MEM_BYTES
    send_frame(8'h00, 0);
    get_response;
    expect_rsp(8'h81, 7, "HELLO");
    if (pay[0] !== 8'd1 || {pay[2], pay[1]} !== MAX_DATA ||
        {pay[6], pay[5], pay[4], pay[3]} !== MEM_BYTES) begin
      $display("FAIL %0d-bit: HELLO says version %0d, max data %0d, memory %0d", DATA_WIDTH,
               pay[0], {pay[2], pay[1]}, {pay[6], pay[5], pay[4], pay[3]});
      errors = errors + 1;
    end
    reg_read(32'h40, 32'h4E504D53);  // ID
    {pay[3], pay[2], pay[1], pay[0]} = 32'h10;  // CMD_ADDR_LO
    {pay[7], pay[6], pay[5], pay[4]} = 32'hC0DE_0F10;
    send_frame(8'h01, 8);
    get_response;
    expect_rsp(8'h80, 0, "REG_WRITE");
    reg_read(32'h10, 32'hC0DE_0F10);
    // junk between frames: the engine hunts for the next sync byte
    for (k = 0; k < 5; k = k + 1) h2f[h2f_wr+k] = 8'h11 * k;
    h2f_wr = h2f_wr + 5;
    reg_read(32'h48, 32'h0004_0004);  // SHAPE: 4x4
    // every payload length modulo the bus width, both ways
    for (len = 1; len <= 9; len = len + 1) mem_roundtrip(32'h100 + len * 16, len);
    mem_roundtrip(32'h1003, 250);
    mem_roundtrip(32'h2001, MAX_DATA);
    repeat (20) @(posedge ft_clk);
    if (!dead && f2h_wr != f2h_rd) begin
      $display("FAIL %0d-bit: %0d unexpected bytes from the FPGA", DATA_WIDTH, f2h_wr - f2h_rd);
      errors = errors + 1;
    end
    if (partial_in == 0 || partial_out == 0 || rd_stalls == 0) begin
      $display("FAIL %0d-bit: not exercised: partial words in %0d, out %0d, read stalls %0d",
               DATA_WIDTH, partial_in, partial_out, rd_stalls);
      errors = errors + 1;
    end
    $display("%0d-bit: %0d words in (%0d partial), %0d out (%0d partial), %0d errors",
             DATA_WIDTH, words_in, partial_in, words_out, partial_out, errors);
    $display("%0d-bit: done at %0t ns", DATA_WIDTH, $time);
    done = 1'b1;
  end

endmodule

// ------------------------------------------------------------------- top
module tb_ft601;

  wire done32, done16;
  wire [31:0] err32, err16;

  tb_ft601_case #(
      .DATA_WIDTH(32),
      .FT_HALF(5.0),
      .CORE_HALF(12.5),
      .SEED(11)
  ) u_ft601 (
      .done  (done32),
      .errors(err32)
  );

  tb_ft601_case #(
      .DATA_WIDTH(16),
      .FT_HALF(7.5),
      .CORE_HALF(4.0),
      .SEED(23)
  ) u_ft600 (
      .done  (done16),
      .errors(err16)
  );

  initial begin
    wait (done32 && done16);
    if (err32 == 0 && err16 == 0)
      $display("PASS ft600 (16-bit) and ft601 (32-bit) bridges: stream-shell conversation");
    $finish;
  end

  // a watchdog in simulated time (the cases take about 0.3 ms)
  initial begin
    #20000000;
    $display("FAIL timeout: FT601 done %b, FT600 done %b", done32, done16);
    $finish;
  end

endmodule
`resetall
