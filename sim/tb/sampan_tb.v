`default_nettype none
// sampan_tb: Icarus Verilog testbench of sampan_axi_top for `make simspeed`.
//
// Runs the same command list as `ssim_gemm -m ROWS -k KT -n 4*COLS` on the
// Verilator library (one LOAD_P, then LOAD_A/LOAD_W/COMPUTE/STORE per
// N-tile, banks alternating, slots rotating; requantized output), REPS
// times, and prints the cycles simulated. Operands are random, generated
// here into a behavioural card memory.
//
// The memory answers AXI4 INCR bursts in order: AR accepted while fewer
// than OUTSTANDING bursts are pending, first R beat LATENCY cycles after
// AR, one beat per cycle on R and on W (not shared), WSTRB honoured, B
// LATENCY cycles after the last W beat. Every output is registered.
//
// Prints `SIMSPEED cycles=<cycles simulated> device_cycles=<CYCLES of the
// last run> runs=<runs>` at the end.
// Plusargs: +reps=N (default 1); +progress prints (and flushes)
// `SIMSPEED_PROGRESS cycles=<n>` every cycle, so that a run stopped from
// outside after a time limit still tells how far it got.
module sampan_tb #(
    parameter ROWS = 16,          // array rows of the DUT
    parameter COLS = 16,          // array columns of the DUT
    parameter K_DEPTH = 1024,     // k-steps per bank; also the workload's K
    parameter LATENCY = 40,       // memory: cycles from AR to the first R beat
    parameter OUTSTANDING = 8,    // memory: read bursts accepted at once
    parameter MEM_WORDS = 16384   // memory size in bus words (1 MiB)
);
    localparam B = 64;            // bus bytes (AXI_DATA_WIDTH / 8)
    localparam NT = 4;            // N-tiles of the workload
    localparam NCMD = 1 + 4 * NT;
    // Card-memory layout (byte addresses, B-aligned).
    localparam [63:0] ADDR_CMD = 64'h0;
    localparam [63:0] ADDR_P = 64'h400;
    localparam [63:0] ADDR_A = 64'h1000;
    localparam [63:0] ADDR_W = ADDR_A + ROWS * K_DEPTH;
    localparam [63:0] ADDR_OUT = ADDR_W + NT * COLS * K_DEPTH;

    reg clk = 1'b0;
    reg rst = 1'b1;
    always #5 clk = ~clk;

    // ------------------------------------------------------------ DUT
    reg [7:0] s_axil_awaddr = 0, s_axil_araddr = 0;
    reg s_axil_awvalid = 0, s_axil_wvalid = 0, s_axil_bready = 0, s_axil_arvalid = 0, s_axil_rready = 0;
    reg [31:0] s_axil_wdata = 0;
    reg [3:0] s_axil_wstrb = 0;
    wire s_axil_awready, s_axil_wready, s_axil_bvalid, s_axil_arready, s_axil_rvalid;
    wire [1:0] s_axil_bresp, s_axil_rresp;
    wire [31:0] s_axil_rdata;

    wire [0:0] m_axi_awid, m_axi_arid;
    wire [63:0] m_axi_awaddr, m_axi_araddr;
    wire [7:0] m_axi_awlen, m_axi_arlen;
    wire [2:0] m_axi_awsize, m_axi_arsize;
    wire [1:0] m_axi_awburst, m_axi_arburst;
    wire m_axi_awvalid, m_axi_wlast, m_axi_wvalid, m_axi_bready, m_axi_arvalid, m_axi_rready;
    wire [B*8-1:0] m_axi_wdata;
    wire [B-1:0] m_axi_wstrb;
    reg m_axi_awready = 0, m_axi_wready = 0, m_axi_bvalid = 0, m_axi_arready = 0, m_axi_rvalid = 0;
    reg m_axi_rlast = 0;
    reg [0:0] m_axi_bid = 0, m_axi_rid = 0;
    reg [1:0] m_axi_bresp = 0, m_axi_rresp = 0;
    reg [B*8-1:0] m_axi_rdata = 0;
    wire interrupt;

    sampan_axi_top #(
        .ROWS(ROWS),
        .COLS(COLS),
        .K_DEPTH(K_DEPTH)
    ) u_dut (
        .clk(clk), .rst(rst),
        .s_axil_awaddr(s_axil_awaddr), .s_axil_awvalid(s_axil_awvalid), .s_axil_awready(s_axil_awready),
        .s_axil_wdata(s_axil_wdata), .s_axil_wstrb(s_axil_wstrb), .s_axil_wvalid(s_axil_wvalid),
        .s_axil_wready(s_axil_wready), .s_axil_bresp(s_axil_bresp), .s_axil_bvalid(s_axil_bvalid),
        .s_axil_bready(s_axil_bready), .s_axil_araddr(s_axil_araddr), .s_axil_arvalid(s_axil_arvalid),
        .s_axil_arready(s_axil_arready), .s_axil_rdata(s_axil_rdata), .s_axil_rresp(s_axil_rresp),
        .s_axil_rvalid(s_axil_rvalid), .s_axil_rready(s_axil_rready),
        .m_axi_awid(m_axi_awid), .m_axi_awaddr(m_axi_awaddr), .m_axi_awlen(m_axi_awlen),
        .m_axi_awsize(m_axi_awsize), .m_axi_awburst(m_axi_awburst), .m_axi_awvalid(m_axi_awvalid),
        .m_axi_awready(m_axi_awready), .m_axi_wdata(m_axi_wdata), .m_axi_wstrb(m_axi_wstrb),
        .m_axi_wlast(m_axi_wlast), .m_axi_wvalid(m_axi_wvalid), .m_axi_wready(m_axi_wready),
        .m_axi_bid(m_axi_bid), .m_axi_bresp(m_axi_bresp), .m_axi_bvalid(m_axi_bvalid),
        .m_axi_bready(m_axi_bready), .m_axi_arid(m_axi_arid), .m_axi_araddr(m_axi_araddr),
        .m_axi_arlen(m_axi_arlen), .m_axi_arsize(m_axi_arsize), .m_axi_arburst(m_axi_arburst),
        .m_axi_arvalid(m_axi_arvalid), .m_axi_arready(m_axi_arready), .m_axi_rid(m_axi_rid),
        .m_axi_rdata(m_axi_rdata), .m_axi_rresp(m_axi_rresp), .m_axi_rlast(m_axi_rlast),
        .m_axi_rvalid(m_axi_rvalid), .m_axi_rready(m_axi_rready),
        .interrupt(interrupt)
    );

    // ------------------------------------------------- card memory
    reg [B*8-1:0] mem [0:MEM_WORDS-1];
    integer cycle = 0;

    // Accepted read bursts (ring of OUTSTANDING), write bursts, B responses.
    reg [63:0] rq_addr [0:OUTSTANDING-1];
    reg [7:0] rq_len [0:OUTSTANDING-1];
    reg [0:0] rq_id [0:OUTSTANDING-1];
    integer rq_ready [0:OUTSTANDING-1];
    integer rq_head = 0, rq_count = 0, r_beat = 0;
    reg [63:0] wq_addr [0:OUTSTANDING-1];
    reg [0:0] wq_id [0:OUTSTANDING-1];
    integer wq_head = 0, wq_count = 0, w_beat = 0;
    reg [0:0] bq_id [0:OUTSTANDING-1];
    integer bq_ready [0:OUTSTANDING-1];
    integer bq_head = 0, bq_count = 0;

    // Bus word at beat @beat of a burst at byte address @addr; out of range
    // words answer DECERR.
    function integer word_index(input [63:0] addr, input integer beat);
        word_index = addr / B + beat;
    endfunction

    integer wi, j;
    always @(posedge clk) begin
        cycle <= cycle + 1;
        if (rst) begin
            rq_count = 0; wq_count = 0; bq_count = 0; r_beat = 0; w_beat = 0;
            m_axi_rvalid <= 1'b0; m_axi_bvalid <= 1'b0;
            m_axi_arready <= 1'b0; m_axi_awready <= 1'b0; m_axi_wready <= 1'b0;
        end else begin
            // handshakes of the cycle that ends at this edge
            if (m_axi_rvalid && m_axi_rready) begin
                r_beat = r_beat + 1;
                if (m_axi_rlast) begin
                    rq_head = (rq_head + 1) % OUTSTANDING; rq_count = rq_count - 1; r_beat = 0;
                end
            end
            if (m_axi_arvalid && m_axi_arready) begin
                j = (rq_head + rq_count) % OUTSTANDING;
                rq_addr[j] = m_axi_araddr; rq_len[j] = m_axi_arlen; rq_id[j] = m_axi_arid;
                rq_ready[j] = cycle + LATENCY; rq_count = rq_count + 1;
            end
            if (m_axi_wvalid && m_axi_wready) begin
                wi = word_index(wq_addr[wq_head], w_beat);
                if (wi < MEM_WORDS)
                    for (j = 0; j < B; j = j + 1)
                        if (m_axi_wstrb[j]) mem[wi][j*8 +: 8] = m_axi_wdata[j*8 +: 8];
                w_beat = w_beat + 1;
                if (m_axi_wlast) begin
                    j = (bq_head + bq_count) % OUTSTANDING;
                    bq_id[j] = wq_id[wq_head]; bq_ready[j] = cycle + LATENCY; bq_count = bq_count + 1;
                    wq_head = (wq_head + 1) % OUTSTANDING; wq_count = wq_count - 1; w_beat = 0;
                end
            end
            if (m_axi_awvalid && m_axi_awready) begin
                j = (wq_head + wq_count) % OUTSTANDING;
                wq_addr[j] = m_axi_awaddr; wq_id[j] = m_axi_awid; wq_count = wq_count + 1;
            end
            if (m_axi_bvalid && m_axi_bready) begin
                bq_head = (bq_head + 1) % OUTSTANDING; bq_count = bq_count - 1;
            end
            // outputs of the next cycle
            m_axi_arready <= rq_count < OUTSTANDING;
            m_axi_awready <= wq_count < OUTSTANDING;
            m_axi_wready <= wq_count > 0;
            if (rq_count > 0 && rq_ready[rq_head] <= cycle) begin
                wi = word_index(rq_addr[rq_head], r_beat);
                m_axi_rvalid <= 1'b1;
                m_axi_rid <= rq_id[rq_head];
                m_axi_rlast <= r_beat == rq_len[rq_head];
                m_axi_rdata <= wi < MEM_WORDS ? mem[wi] : {B*8{1'b0}};
                m_axi_rresp <= wi < MEM_WORDS ? 2'd0 : 2'd3;
            end else begin
                m_axi_rvalid <= 1'b0;
            end
            m_axi_bvalid <= bq_count > 0 && bq_ready[bq_head] <= cycle;
            m_axi_bid <= bq_id[bq_head];
            m_axi_bresp <= 2'd0;
        end
    end

    // ------------------------------------------------ AXI4-Lite master
    task axil_write(input [7:0] addr, input [31:0] data);
        integer n;
        reg aw, w, b;
        begin
            s_axil_awaddr <= addr; s_axil_awvalid <= 1'b1;
            s_axil_wdata <= data; s_axil_wstrb <= 4'hf; s_axil_wvalid <= 1'b1;
            s_axil_bready <= 1'b1;
            aw = 1'b1; w = 1'b1; b = 1'b1;
            for (n = 0; n < 1000 && b; n = n + 1) begin
                @(posedge clk);
                if (aw && s_axil_awready) begin aw = 1'b0; s_axil_awvalid <= 1'b0; end
                if (w && s_axil_wready) begin w = 1'b0; s_axil_wvalid <= 1'b0; end
                if (s_axil_bvalid) begin b = 1'b0; s_axil_bready <= 1'b0; end
            end
            if (n >= 1000) begin
                $display("sampan_tb: AXI4-Lite write to 0x%02x: no response", addr);
                $finish;
            end
        end
    endtask

    task axil_read(input [7:0] addr, output [31:0] data);
        integer n;
        reg rd;
        begin
            s_axil_araddr <= addr; s_axil_arvalid <= 1'b1; s_axil_rready <= 1'b1;
            rd = 1'b1;
            for (n = 0; n < 1000 && rd; n = n + 1) begin
                @(posedge clk);
                if (s_axil_arready) s_axil_arvalid <= 1'b0;
                if (s_axil_rvalid) begin data = s_axil_rdata; rd = 1'b0; s_axil_rready <= 1'b0; end
            end
            if (n >= 1000) begin
                $display("sampan_tb: AXI4-Lite read at 0x%02x: no response", addr);
                $finish;
            end
        end
    endtask

    // ------------------------------------------------------ workload
    // Writes command @i (four words) into the memory image.
    task put_cmd(input integer i, input [31:0] w0, input [31:0] w1, input [31:0] w2, input [31:0] w3);
        begin
            mem[(ADDR_CMD + 16 * i) / B][((16 * i) % B) * 8 +: 128] = {w3, w2, w1, w0};
        end
    endtask

    integer reps, r, i, n, c;
    reg progress;
    reg [31:0] v, status, cmds, dev_lo;
    reg [63:0] wa;
    initial begin
        if (!$value$plusargs("reps=%d", reps)) reps = 1;
        progress = $test$plusargs("progress");
        for (i = 0; i < MEM_WORDS; i = i + 1)
            mem[i] = {B*8{1'b0}};
        for (i = ADDR_A / B; i < ADDR_OUT / B; i = i + 1)
            for (j = 0; j < B / 4; j = j + 1)
                mem[i][j*32 +: 32] = $random;
        for (n = 0; n < NT; n = n + 1)
            for (c = 0; c < COLS; c = c + 1) begin
                mem[(ADDR_P + 3 * B * n) / B][c*32 +: 32] = $random % 1000;                // bias
                mem[(ADDR_P + 3 * B * n) / B + 1][c*32 +: 32] = 32'h40000000 + c;        // mult
                mem[(ADDR_P + 3 * B * n) / B + 2][c*32 +: 32] = -32'sd12;                 // shift
            end
        put_cmd(0, 32'd3 | NT << 16, ADDR_P[31:0], ADDR_P[63:32], 0);                    // LOAD_P 0..NT-1
        for (n = 0; n < NT; n = n + 1) begin
            wa = ADDR_W + n * COLS * K_DEPTH;
            put_cmd(1 + 4 * n, 32'd1 | (n % 2) << 8 | K_DEPTH << 16, ADDR_A[31:0], ADDR_A[63:32], 0);
            put_cmd(2 + 4 * n, 32'd2 | (n % 2) << 8 | K_DEPTH << 16, wa[31:0], wa[63:32], 0);
            put_cmd(3 + 4 * n, 32'd4 | (n % 2) << 8 | (n % 2) << 9 | 1 << 10 | (n % 4) << 12 | K_DEPTH << 16,
                    32'd3 | ROWS << 8 | COLS << 16, 0, 0);                                  // za 3
            wa = ADDR_OUT + n * 4 * B * ((ROWS * COLS + B - 1) / B);
            put_cmd(4 + 4 * n, 32'd5 | (n % 4) << 12 | n << 16, wa[31:0], wa[63:32],
                    32'h007f80_00 | 32'd5);                                                 // zo 5, lo -128, hi 127
        end

        repeat (8) @(posedge clk);
        rst <= 1'b0;
        @(posedge clk);
        axil_read(8'h40, v);
        if (v != 32'h4E504D53) begin
            $display("sampan_tb: ID register reads 0x%08x", v);
            $finish;
        end
        axil_write(8'h04, 1);
        axil_write(8'h08, 1);
        axil_write(8'h10, ADDR_CMD[31:0]);
        axil_write(8'h14, ADDR_CMD[63:32]);
        axil_write(8'h18, NCMD);
        for (r = 0; r < reps; r = r + 1) begin
            axil_write(8'h00, 1);
            for (i = 0; i < 100000000 && !interrupt; i = i + 1)
                @(posedge clk);
            axil_read(8'h00, v);
            axil_write(8'h0C, 1);
            axil_read(8'h60, status);
            axil_read(8'hB8, cmds);
            axil_read(8'h80, dev_lo);
            if (!(v & 2) || status != 0 || cmds != NCMD) begin
                $display("sampan_tb: run %0d failed: CTRL 0x%x STATUS %0d CMDS %0d", r, v, status, cmds);
                $finish;
            end
        end
        $display("SIMSPEED cycles=%0d device_cycles=%0d runs=%0d", cycle, dev_lo, reps);
        $finish;
    end

    always @(posedge clk)
        if (progress) begin
            $display("SIMSPEED_PROGRESS cycles=%0d", cycle);
            $fflush;
        end
endmodule
`resetall
