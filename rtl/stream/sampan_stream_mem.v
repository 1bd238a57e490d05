`default_nettype none
// sampan_stream_mem: on-chip card memory of the stream shell. An AXI4 slave
// (INCR bursts, one read and one write burst at a time) for the core's
// master, plus a word port for the frame engine, on one simple dual-port
// RAM with byte enables (block RAM or SPRAM on a board).
//
// Latency: AXI read data one cycle after the beat is issued; an engine read
// (eng_rd_en && eng_rd_gnt) returns eng_rd_data on the next cycle, valid
// until the next granted read. The AXI master has priority: the engine read
// port is granted only between AXI read bursts (and when no R beat is
// waiting), the engine write port in cycles without an AXI W beat.
// Addresses at or above MEM_BYTES answer SLVERR (reads return zeros,
// writes are dropped); FIXED and WRAP bursts are treated as INCR.
//
// SPRAM = 1 builds the memory for single-port RAM of 64-bit words (four
// iCE40UP5K SB_SPRAM256KA make 128 KiB; Yosys infers them with -spram):
// one access per cycle, AXI read first, then AXI write, then the engine;
// an AXI beat takes DATA_WIDTH/64 accesses (a read beat is presented once
// all its words are in, a write beat is accepted with its last word). The
// engine port is then 64 bits wide and its read data comes two cycles
// after the grant (the engine waits that long) and stays until its next
// granted read.
// Parameters:
//   DATA_WIDTH  AXI data width in bits (the RAM word)
//   ADDR_WIDTH  AXI address width
//   ID_WIDTH    AXI ID width
//   MEM_BYTES   memory size in bytes, a power of two multiple of the word
//   SPRAM       1: single-port RAM of 64-bit words (see above)
module sampan_stream_mem #(
    parameter DATA_WIDTH = 512,      // AXI data width in bits
    parameter ADDR_WIDTH = 64,       // AXI address width
    parameter ID_WIDTH   = 1,        // AXI ID width
    parameter MEM_BYTES  = 1 << 20,  // memory size in bytes
    parameter SPRAM      = 0,        // 1: single-port RAM of 64-bit words
    // derived, do not override
    parameter ENG_WIDTH  = SPRAM != 0 ? 64 : DATA_WIDTH,       // engine word width
    parameter WORD_AW    = $clog2(MEM_BYTES / (ENG_WIDTH / 8))  // engine word index width
) (
    input  wire                    clk,
    input  wire                    rst,
    // AXI4 slave
    input  wire [    ID_WIDTH-1:0] s_axi_awid,
    input  wire [  ADDR_WIDTH-1:0] s_axi_awaddr,
    input  wire [             7:0] s_axi_awlen,
    input  wire                    s_axi_awvalid,
    output wire                    s_axi_awready,
    input  wire [  DATA_WIDTH-1:0] s_axi_wdata,
    input  wire [DATA_WIDTH/8-1:0] s_axi_wstrb,
    input  wire                    s_axi_wlast,
    input  wire                    s_axi_wvalid,
    output wire                    s_axi_wready,
    output wire [    ID_WIDTH-1:0] s_axi_bid,
    output wire [             1:0] s_axi_bresp,
    output wire                    s_axi_bvalid,
    input  wire                    s_axi_bready,
    input  wire [    ID_WIDTH-1:0] s_axi_arid,
    input  wire [  ADDR_WIDTH-1:0] s_axi_araddr,
    input  wire [             7:0] s_axi_arlen,
    input  wire                    s_axi_arvalid,
    output wire                    s_axi_arready,
    output wire [    ID_WIDTH-1:0] s_axi_rid,
    output wire [  DATA_WIDTH-1:0] s_axi_rdata,
    output wire [             1:0] s_axi_rresp,
    output wire                    s_axi_rlast,
    output wire                    s_axi_rvalid,
    input  wire                    s_axi_rready,
    // engine word port (word index = byte address / (DATA_WIDTH/8))
    input  wire                    eng_rd_en,
    input  wire [     WORD_AW-1:0] eng_rd_word,
    output wire                    eng_rd_gnt,
    output wire [   ENG_WIDTH-1:0] eng_rd_data,
    input  wire                    eng_wr_en,
    input  wire [     WORD_AW-1:0] eng_wr_word,
    input  wire [   ENG_WIDTH-1:0] eng_wr_data,
    input  wire [ ENG_WIDTH/8-1:0] eng_wr_strb,
    output wire                    eng_wr_gnt
);

  localparam BYTES = DATA_WIDTH / 8;
  localparam BYTE_SHIFT = $clog2(BYTES);
  localparam [63:0] MEM_BYTES64 = 64'd1 << $clog2(MEM_BYTES);  // a power of two (checked)
  localparam [ADDR_WIDTH-1:0] MEM_END = MEM_BYTES64[ADDR_WIDTH-1:0];

  initial begin
    if ((1 << BYTE_SHIFT) != BYTES || MEM_BYTES < 2 * BYTES ||
        (1 << WORD_AW) * (ENG_WIDTH / 8) != MEM_BYTES)
      $error("%m: MEM_BYTES %0d must be a power of two of at least two %0d-byte words",
             MEM_BYTES, BYTES);
    if (SPRAM != 0 && (DATA_WIDTH < 64 || DATA_WIDTH > 512))
      $error("%m: SPRAM needs DATA_WIDTH %0d in 64..512", DATA_WIDTH);
  end

  generate
    if (SPRAM == 0) begin : gen_dual
      localparam DEPTH = MEM_BYTES / BYTES;

      reg [DATA_WIDTH-1:0] mem[0:DEPTH-1];
      reg [DATA_WIDTH-1:0] q_reg;

      // ------------------------------------------------------------ reads
      reg                rd_active_reg, rd_err_reg, rvalid_reg, rlast_reg, rerr_reg;
      reg [ WORD_AW-1:0] rd_word_reg;
      reg [         7:0] rd_left_reg;
      reg [ID_WIDTH-1:0] rd_id_reg;

      wire ar_fire = s_axi_arvalid && s_axi_arready;
      wire r_free = !rvalid_reg || s_axi_rready;
      wire rd_issue = rd_active_reg && r_free;
      wire [ADDR_WIDTH-1:0] ar_end = s_axi_araddr + ({{(ADDR_WIDTH - 8) {1'b0}}, s_axi_arlen} << BYTE_SHIFT);

      assign s_axi_arready = !rd_active_reg;
      assign s_axi_rid = rd_id_reg;
      assign s_axi_rdata = rerr_reg ? {DATA_WIDTH{1'b0}} : q_reg;
      assign s_axi_rresp = rerr_reg ? 2'b10 : 2'b00;
      assign s_axi_rlast = rlast_reg;
      assign s_axi_rvalid = rvalid_reg;
      assign eng_rd_gnt = !rd_active_reg && r_free;
      assign eng_rd_data = q_reg;

      always @(posedge clk) begin
        if (rd_issue) q_reg <= mem[rd_word_reg];
        else if (eng_rd_en && eng_rd_gnt) q_reg <= mem[eng_rd_word];
        if (ar_fire) begin
          rd_word_reg <= s_axi_araddr[BYTE_SHIFT+:WORD_AW];
          rd_left_reg <= s_axi_arlen;
          rd_id_reg <= s_axi_arid;
          rd_err_reg <= s_axi_araddr >= MEM_END || ar_end >= MEM_END;
        end else if (rd_issue) begin
          rd_word_reg <= rd_word_reg + 1'b1;
          rd_left_reg <= rd_left_reg - 1'b1;
        end
        if (rd_issue) begin
          rlast_reg <= rd_left_reg == 8'd0;
          rerr_reg <= rd_err_reg;
        end
        if (rst) begin
          rd_active_reg <= 1'b0;
          rvalid_reg <= 1'b0;
        end else begin
          if (ar_fire) rd_active_reg <= 1'b1;
          else if (rd_issue && rd_left_reg == 8'd0) rd_active_reg <= 1'b0;
          if (rd_issue) rvalid_reg <= 1'b1;
          else if (s_axi_rready) rvalid_reg <= 1'b0;
        end
      end

      // ------------------------------------------------------------ writes
      reg                wr_active_reg, wr_err_reg, bvalid_reg, berr_reg;
      reg [ WORD_AW-1:0] wr_word_reg;
      reg [ID_WIDTH-1:0] wr_id_reg;

      wire aw_fire = s_axi_awvalid && s_axi_awready;
      wire w_fire = s_axi_wvalid && s_axi_wready;
      wire [ADDR_WIDTH-1:0] aw_end = s_axi_awaddr + ({{(ADDR_WIDTH - 8) {1'b0}}, s_axi_awlen} << BYTE_SHIFT);

      assign s_axi_awready = !wr_active_reg && !bvalid_reg;
      assign s_axi_wready = wr_active_reg;
      assign s_axi_bid = wr_id_reg;
      assign s_axi_bresp = berr_reg ? 2'b10 : 2'b00;
      assign s_axi_bvalid = bvalid_reg;
      assign eng_wr_gnt = !w_fire;

      wire                    ram_we = w_fire ? !wr_err_reg : eng_wr_en;
      wire [     WORD_AW-1:0] ram_word = w_fire ? wr_word_reg : eng_wr_word;
      wire [  DATA_WIDTH-1:0] ram_data = w_fire ? s_axi_wdata : eng_wr_data;
      wire [DATA_WIDTH/8-1:0] ram_strb = w_fire ? s_axi_wstrb : eng_wr_strb;

      integer i;
      always @(posedge clk) begin
        if (ram_we)
          for (i = 0; i < BYTES; i = i + 1)
            if (ram_strb[i]) mem[ram_word][8*i+:8] <= ram_data[8*i+:8];
        if (aw_fire) begin
          wr_word_reg <= s_axi_awaddr[BYTE_SHIFT+:WORD_AW];
          wr_id_reg <= s_axi_awid;
          wr_err_reg <= s_axi_awaddr >= MEM_END || aw_end >= MEM_END;
        end else if (w_fire) begin
          wr_word_reg <= wr_word_reg + 1'b1;
        end
        if (w_fire && s_axi_wlast) berr_reg <= wr_err_reg;
        if (rst) begin
          wr_active_reg <= 1'b0;
          bvalid_reg <= 1'b0;
        end else begin
          if (aw_fire) wr_active_reg <= 1'b1;
          else if (w_fire && s_axi_wlast) wr_active_reg <= 1'b0;
          if (w_fire && s_axi_wlast) bvalid_reg <= 1'b1;
          else if (s_axi_bready) bvalid_reg <= 1'b0;
        end
      end
    end else begin : gen_spram
      localparam SUBS = DATA_WIDTH / 64;  // RAM words per AXI beat
      localparam SW = SUBS > 1 ? $clog2(SUBS) : 1;
      localparam [31:0] LAST_SUB = SUBS - 1;
      localparam DEPTH = MEM_BYTES / 8;

      // The single port: AXI read, else AXI write, else engine read, else
      // engine write.
      reg [63:0] mem[0:DEPTH-1];
      reg [63:0] p_q;
      reg                p_en, p_we;
      reg [ WORD_AW-1:0] p_addr;
      reg [        63:0] p_wdata;
      reg [         7:0] p_be;

      integer i;
      always @(posedge clk) begin
        if (p_en) begin
          if (p_we) begin
            for (i = 0; i < 8; i = i + 1) if (p_be[i]) mem[p_addr][8*i+:8] <= p_wdata[8*i+:8];
          end else begin
            p_q <= mem[p_addr];
          end
        end
      end

      // ---------------------------------------------------------- reads
      reg                rd_active_reg, rd_hold_reg, rd_err_reg;
      reg [ WORD_AW-1:0] rd_word_reg;
      reg [     SW-1:0]  rd_sub_reg;
      reg [         7:0] rd_left_reg;
      reg [ID_WIDTH-1:0] rd_id_reg;
      reg                land_valid_q;
      reg [     SW-1:0]  land_sub_q;
      reg                rvalid_reg, rlast_reg, rerr_reg;
      reg [DATA_WIDTH-1:0] rdata_reg;

      wire ar_fire = s_axi_arvalid && s_axi_arready;
      wire r_fire = rvalid_reg && s_axi_rready;
      wire rd_issue = rd_active_reg && !rd_hold_reg;
      wire [ADDR_WIDTH-1:0] ar_end = s_axi_araddr + ({{(ADDR_WIDTH - 8) {1'b0}}, s_axi_arlen} << BYTE_SHIFT);

      assign s_axi_arready = !rd_active_reg;
      assign s_axi_rid = rd_id_reg;
      assign s_axi_rdata = rdata_reg;
      assign s_axi_rresp = rerr_reg ? 2'b10 : 2'b00;
      assign s_axi_rlast = rlast_reg;
      assign s_axi_rvalid = rvalid_reg;

      always @(posedge clk) begin
        land_valid_q <= rd_issue;
        land_sub_q <= rd_sub_reg;
        if (land_valid_q) rdata_reg[64*land_sub_q+:64] <= rd_err_reg ? 64'd0 : p_q;
        if (ar_fire) begin
          rd_word_reg <= s_axi_araddr[3+:WORD_AW];
          rd_sub_reg <= {SW{1'b0}};
          rd_left_reg <= s_axi_arlen;
          rd_id_reg <= s_axi_arid;
          rd_err_reg <= s_axi_araddr >= MEM_END || ar_end >= MEM_END;
        end else if (rd_issue) begin
          rd_word_reg <= rd_word_reg + 1'b1;
          rd_sub_reg <= ({{(32 - SW) {1'b0}}, rd_sub_reg} == LAST_SUB) ? {SW{1'b0}} : rd_sub_reg + 1'b1;
        end
        if (land_valid_q && {{(32 - SW) {1'b0}}, land_sub_q} == LAST_SUB) begin
          rlast_reg <= rd_left_reg == 8'd0;
          rerr_reg <= rd_err_reg;
        end
        if (r_fire) rd_left_reg <= rd_left_reg - 1'b1;
        if (rst) begin
          rd_active_reg <= 1'b0;
          rd_hold_reg <= 1'b0;
          rvalid_reg <= 1'b0;
          land_valid_q <= 1'b0;
        end else begin
          if (ar_fire) rd_active_reg <= 1'b1;
          else if (r_fire && rlast_reg) rd_active_reg <= 1'b0;
          if (ar_fire || r_fire) rd_hold_reg <= 1'b0;
          else if (rd_issue && {{(32 - SW) {1'b0}}, rd_sub_reg} == LAST_SUB) rd_hold_reg <= 1'b1;
          if (land_valid_q && {{(32 - SW) {1'b0}}, land_sub_q} == LAST_SUB) rvalid_reg <= 1'b1;
          else if (r_fire) rvalid_reg <= 1'b0;
        end
      end

      // --------------------------------------------------------- writes
      reg                wr_active_reg, wr_err_reg, bvalid_reg, berr_reg;
      reg [ WORD_AW-1:0] wr_word_reg;
      reg [     SW-1:0]  wr_sub_reg;
      reg [ID_WIDTH-1:0] wr_id_reg;

      wire aw_fire = s_axi_awvalid && s_axi_awready;
      wire wr_do = wr_active_reg && s_axi_wvalid && !rd_issue;
      wire wr_beat_end = {{(32 - SW) {1'b0}}, wr_sub_reg} == LAST_SUB;
      wire w_fire = wr_do && wr_beat_end;
      wire [ADDR_WIDTH-1:0] aw_end = s_axi_awaddr + ({{(ADDR_WIDTH - 8) {1'b0}}, s_axi_awlen} << BYTE_SHIFT);

      assign s_axi_awready = !wr_active_reg && !bvalid_reg;
      assign s_axi_wready = wr_do && wr_beat_end;
      assign s_axi_bid = wr_id_reg;
      assign s_axi_bresp = berr_reg ? 2'b10 : 2'b00;
      assign s_axi_bvalid = bvalid_reg;

      always @(posedge clk) begin
        if (aw_fire) begin
          wr_word_reg <= s_axi_awaddr[3+:WORD_AW];
          wr_sub_reg <= {SW{1'b0}};
          wr_id_reg <= s_axi_awid;
          wr_err_reg <= s_axi_awaddr >= MEM_END || aw_end >= MEM_END;
        end else if (wr_do) begin
          wr_word_reg <= wr_word_reg + 1'b1;
          wr_sub_reg <= wr_beat_end ? {SW{1'b0}} : wr_sub_reg + 1'b1;
        end
        if (w_fire && s_axi_wlast) berr_reg <= wr_err_reg;
        if (rst) begin
          wr_active_reg <= 1'b0;
          bvalid_reg <= 1'b0;
        end else begin
          if (aw_fire) wr_active_reg <= 1'b1;
          else if (w_fire && s_axi_wlast) wr_active_reg <= 1'b0;
          if (w_fire && s_axi_wlast) bvalid_reg <= 1'b1;
          else if (s_axi_bready) bvalid_reg <= 1'b0;
        end
      end

      // --------------------------------------------------------- engine
      reg        eng_land_q;
      reg [63:0] eng_q;
      wire       axi_use = rd_issue || wr_do;
      assign eng_rd_gnt = !axi_use;
      assign eng_wr_gnt = !axi_use && !eng_rd_en;
      assign eng_rd_data = eng_q;

      always @(posedge clk) begin
        eng_land_q <= eng_rd_en && eng_rd_gnt;
        if (eng_land_q) eng_q <= p_q;
        if (rst) eng_land_q <= 1'b0;
      end

      always @(*) begin
        p_en = 1'b0;
        p_we = 1'b0;
        p_addr = eng_rd_word;
        p_wdata = eng_wr_data;
        p_be = eng_wr_strb;
        if (rd_issue) begin
          p_en = 1'b1;
          p_addr = rd_word_reg;
        end else if (wr_do) begin
          p_en = !wr_err_reg;  // out of range: dropped
          p_we = 1'b1;
          p_addr = wr_word_reg;
          p_wdata = s_axi_wdata[64*wr_sub_reg+:64];
          p_be = s_axi_wstrb[8*wr_sub_reg+:8];
        end else if (eng_rd_en) begin
          p_en = 1'b1;
        end else if (eng_wr_en) begin
          p_en = 1'b1;
          p_we = 1'b1;
          p_addr = eng_wr_word;
        end
      end
    end
  endgenerate

endmodule
`resetall
