`default_nettype none
// sampan_stream_engine: the frame engine of the stream shell. It parses
// request frames from a byte stream, executes them on the core's AXI4-Lite
// registers and on the card memory's engine port, and answers each with one
// response frame. Frame format, types and error handling: rtl/stream/README.md.
//
// One frame at a time: s_axis_tready stays low while a request executes and
// its response goes out. A memory write streams its data into memory as it
// arrives (at most one byte per cycle), after its header CRC has been
// checked, so the written range is always the one the header names.
// Latency: a response starts a few cycles after the last request byte (plus
// the register access for register frames).
// Parameters:
//   DATA_WIDTH     memory word width in bits (the core's AXI data width)
//   MEM_BYTES      card memory size in bytes (a power of two)
//   MAX_DATA       largest memory-frame payload data in bytes (<= 65531)
//   FRAME_TIMEOUT  cycles without a byte after which a partial frame is dropped
module sampan_stream_engine #(
    parameter DATA_WIDTH    = 512,      // memory word width in bits
    parameter MEM_BYTES     = 1 << 20,  // card memory size in bytes
    parameter MAX_DATA      = 4096,     // largest memory-frame data in bytes
    parameter FRAME_TIMEOUT = 1 << 20,  // idle cycles that abort a partial frame
    // derived, do not override
    parameter WORD_AW       = $clog2(MEM_BYTES / (DATA_WIDTH / 8))  // word index width
) (
    input  wire                    clk,
    input  wire                    rst,
    // request bytes
    input  wire [             7:0] s_axis_tdata,
    input  wire                    s_axis_tvalid,
    output wire                    s_axis_tready,
    // response bytes
    output wire [             7:0] m_axis_tdata,
    output wire                    m_axis_tvalid,
    input  wire                    m_axis_tready,
    // AXI4-Lite master to the core's registers
    output wire [             7:0] m_axil_awaddr,
    output wire                    m_axil_awvalid,
    input  wire                    m_axil_awready,
    output wire [            31:0] m_axil_wdata,
    output wire [             3:0] m_axil_wstrb,
    output wire                    m_axil_wvalid,
    input  wire                    m_axil_wready,
    input  wire [             1:0] m_axil_bresp,
    input  wire                    m_axil_bvalid,
    output wire                    m_axil_bready,
    output wire [             7:0] m_axil_araddr,
    output wire                    m_axil_arvalid,
    input  wire                    m_axil_arready,
    input  wire [            31:0] m_axil_rdata,
    input  wire [             1:0] m_axil_rresp,
    input  wire                    m_axil_rvalid,
    output wire                    m_axil_rready,
    // card memory word port (sampan_stream_mem)
    output wire                    eng_rd_en,
    output wire [     WORD_AW-1:0] eng_rd_word,
    input  wire                    eng_rd_gnt,
    input  wire [  DATA_WIDTH-1:0] eng_rd_data,
    output wire                    eng_wr_en,
    output wire [     WORD_AW-1:0] eng_wr_word,
    output wire [  DATA_WIDTH-1:0] eng_wr_data,
    output wire [DATA_WIDTH/8-1:0] eng_wr_strb,
    input  wire                    eng_wr_gnt
);

  localparam BYTES = DATA_WIDTH / 8;
  localparam BS = $clog2(BYTES);
  localparam AW = BS + WORD_AW;  // byte address bits inside the memory
  localparam TW = $clog2(FRAME_TIMEOUT + 1);

  initial begin
    if ((1 << BS) != BYTES) $error("%m: DATA_WIDTH %0d must be 8 times a power of two", DATA_WIDTH);
    if (MAX_DATA < 1 || MAX_DATA > 65531) $error("%m: MAX_DATA %0d out of 1..65531", MAX_DATA);
    if (FRAME_TIMEOUT < 16) $error("%m: FRAME_TIMEOUT %0d must be at least 16", FRAME_TIMEOUT);
  end

  // Frame constants (README.md).
  localparam [7:0] SYNC = 8'hA5;
  localparam [7:0] T_HELLO = 8'h00, T_REG_WRITE = 8'h01, T_REG_READ = 8'h02;
  localparam [7:0] T_MEM_WRITE = 8'h03, T_MEM_READ = 8'h04;
  localparam [7:0] T_ACK = 8'h80, T_DATA = 8'h81, T_NAK = 8'h82;
  localparam [2:0] NAK_NONE = 3'd0, NAK_CRC = 3'd1, NAK_FORMAT = 3'd2, NAK_RANGE = 3'd3;
  localparam [2:0] NAK_NOT_SYNCED = 3'd4, NAK_BUS = 3'd5;
  localparam [7:0] PROTO_VERSION = 8'd1;
  localparam [31:0] MAX_DATA32 = MAX_DATA;
  localparam [15:0] MAX_DATA16 = MAX_DATA32[15:0];
  localparam [31:0] TIMEOUT32 = FRAME_TIMEOUT;
  localparam [TW-1:0] TIMEOUT_T = TIMEOUT32[TW-1:0];
  localparam [31:0] MEM_BYTES32 = MEM_BYTES;

  // Payload sources of a response.
  localparam [2:0] SRC_NONE = 3'd0, SRC_NAK = 3'd1, SRC_VAL = 3'd2, SRC_INFO = 3'd3, SRC_MEM = 3'd4;

  localparam [2:0] ST_SYNC = 3'd0, ST_HDR = 3'd1, ST_PAY = 3'd2, ST_FCRC = 3'd3;
  localparam [2:0] ST_REG = 3'd4, ST_TXH = 3'd5, ST_TXP = 3'd6, ST_TXC = 3'd7;

  function [15:0] crc16_step;  // CRC-16/CCITT-FALSE, one byte, MSB first
    input [15:0] crc;
    input [7:0] b;
    integer k;
    begin
      crc16_step = crc;
      for (k = 7; k >= 0; k = k - 1)
        crc16_step = {crc16_step[14:0], 1'b0} ^ ((crc16_step[15] ^ b[k]) ? 16'h1021 : 16'h0000);
    end
  endfunction

  reg [2:0] state_reg, state_next;
  reg [15:0] idx_reg, idx_next;  // byte index in the header / payload / CRC
  reg [7:0] type_reg, type_next, seq_reg, seq_next;
  reg [15:0] len_reg, len_next, crc_reg, crc_next, hcrc_reg, hcrc_next;
  reg [7:0] crc_lo_reg, crc_lo_next;
  reg [2:0] nak_reg, nak_next;
  reg dup_reg, dup_next;
  reg [31:0] addr_reg, addr_next, val_reg, val_next, rval_reg, rval_next;
  reg [15:0] cnt_reg, cnt_next;
  reg [DATA_WIDTH-1:0] wword_reg, wword_next;
  reg [BYTES-1:0] wstrb_reg, wstrb_next;
  reg synced_reg, synced_next, last_valid_reg, last_valid_next;
  reg [7:0] last_seq_reg, last_seq_next, last_type_reg, last_type_next;
  reg [TW-1:0] idle_reg, idle_next;
  reg axil_req_reg, axil_req_next;
  // response being sent
  reg [7:0] tx_type_reg, tx_type_next;
  reg [15:0] tx_len_reg, tx_len_next;
  reg [2:0] tx_src_reg, tx_src_next;
  reg rword_valid_reg, rword_valid_next, rword_wait_reg, rword_wait_next;

  wire rx_fire = s_axis_tvalid && s_axis_tready;
  wire tx_fire = m_axis_tvalid && m_axis_tready;
  wire [7:0] b = s_axis_tdata;
  wire [BS-1:0] lane = addr_reg[BS-1:0];
  wire [WORD_AW-1:0] word = addr_reg[AW-1:BS];

  // Memory-write data: the last byte of a word, or of the frame, writes it.
  wire wdata_phase = state_reg == ST_PAY && type_reg == T_MEM_WRITE && idx_reg >= 16'd4;
  wire wexec = wdata_phase && nak_reg == NAK_NONE && !dup_reg;
  wire wflush = wexec && (&lane || idx_reg == len_reg - 16'd1);
  reg [DATA_WIDTH-1:0] wword_merged;
  reg [BYTES-1:0] wstrb_merged;
  always @* begin
    wword_merged = wword_reg;
    wword_merged[8*lane+:8] = b;
    wstrb_merged = wstrb_reg;
    wstrb_merged[lane] = 1'b1;
  end

  assign s_axis_tready = (state_reg <= ST_FCRC) && !(wflush && !eng_wr_gnt);
  assign eng_wr_en = wflush && s_axis_tvalid;
  assign eng_wr_word = word;
  assign eng_wr_data = wword_merged;
  assign eng_wr_strb = wstrb_merged;

  // Memory-read data for a DATA response.
  wire tx_mem = state_reg == ST_TXP && tx_src_reg == SRC_MEM;
  assign eng_rd_en = tx_mem && !rword_valid_reg && !rword_wait_reg;
  assign eng_rd_word = word;

  // Response byte.
  reg [7:0] tx_byte;
  reg tx_valid;
  always @* begin
    tx_byte = 8'h00;
    tx_valid = 1'b1;
    case (state_reg)
      ST_TXH:
      case (idx_reg[2:0])
        3'd0: tx_byte = SYNC;
        3'd1: tx_byte = tx_type_reg;
        3'd2: tx_byte = seq_reg;
        3'd3: tx_byte = tx_len_reg[7:0];
        3'd4: tx_byte = tx_len_reg[15:8];
        3'd5: tx_byte = crc_reg[7:0];
        default: tx_byte = hcrc_reg[15:8];
      endcase
      ST_TXP:
      case (tx_src_reg)
        SRC_NAK: tx_byte = {5'd0, nak_reg};
        SRC_VAL: tx_byte = rval_reg[8*idx_reg[1:0]+:8];
        SRC_INFO:
        case (idx_reg[2:0])
          3'd0: tx_byte = PROTO_VERSION;
          3'd1: tx_byte = MAX_DATA16[7:0];
          3'd2: tx_byte = MAX_DATA16[15:8];
          3'd3: tx_byte = MEM_BYTES32[7:0];
          3'd4: tx_byte = MEM_BYTES32[15:8];
          3'd5: tx_byte = MEM_BYTES32[23:16];
          default: tx_byte = MEM_BYTES32[31:24];
        endcase
        default: begin
          tx_byte = eng_rd_data[8*lane+:8];
          tx_valid = rword_valid_reg;
        end
      endcase
      ST_TXC: tx_byte = idx_reg[0] ? hcrc_reg[15:8] : crc_reg[7:0];
      default: tx_valid = 1'b0;
    endcase
  end
  assign m_axis_tdata = tx_byte;
  assign m_axis_tvalid = tx_valid;

  // Register access.
  wire reg_write = type_reg == T_REG_WRITE;
  assign m_axil_awaddr = addr_reg[7:0];
  assign m_axil_awvalid = state_reg == ST_REG && axil_req_reg && reg_write;
  assign m_axil_wdata = val_reg;
  assign m_axil_wstrb = 4'hF;
  assign m_axil_wvalid = m_axil_awvalid;
  assign m_axil_bready = state_reg == ST_REG && !axil_req_reg;
  assign m_axil_araddr = addr_reg[7:0];
  assign m_axil_arvalid = state_reg == ST_REG && axil_req_reg && !reg_write;
  assign m_axil_rready = state_reg == ST_REG && !axil_req_reg;

  // The payload is valid for its type (header checked, before any payload).
  reg len_ok;
  always @* begin
    case (type_next)
      T_HELLO: len_ok = len_next == 16'd0;
      T_REG_WRITE: len_ok = len_next == 16'd8;
      T_REG_READ: len_ok = len_next == 16'd4;
      T_MEM_WRITE: len_ok = len_next >= 16'd5 && len_next <= MAX_DATA16 + 16'd4;
      T_MEM_READ: len_ok = len_next == 16'd6;
      default: len_ok = 1'b0;
    endcase
  end

  // Address + count inside the memory (33-bit sum: no wrap).
  wire [31:0] addr_full = {b, addr_reg[23:0]};
  wire [32:0] wr_end = {1'b0, addr_full} + {17'd0, len_reg} - 33'd4;
  wire [32:0] rd_end = {1'b0, addr_reg} + {17'd0, b, cnt_reg[7:0]};
  wire [15:0] rd_cnt = {b, cnt_reg[7:0]};

  // Starts the response of the current frame.
  task respond;
    input [7:0] rtype;
    input [15:0] rlen;
    input [2:0] rsrc;
    begin
      state_next = ST_TXH;
      idx_next = 16'd0;
      tx_type_next = rtype;
      tx_len_next = rlen;
      tx_src_next = rsrc;
      crc_next = 16'hFFFF;
      rword_valid_next = 1'b0;
      rword_wait_next = 1'b0;
    end
  endtask

  // Executes a checked frame (or answers its duplicate again).
  task execute;
    begin
      if (nak_reg != NAK_NONE) begin
        respond(T_NAK, 16'd1, SRC_NAK);
      end else if (dup_reg) begin
        case (last_type_reg)
          T_REG_READ: respond(T_DATA, 16'd4, SRC_VAL);
          T_MEM_READ: respond(T_DATA, cnt_reg, SRC_MEM);
          default: respond(T_ACK, 16'd0, SRC_NONE);
        endcase
      end else begin
        case (type_reg)
          T_HELLO: begin
            synced_next = 1'b1;
            respond(T_DATA, 16'd7, SRC_INFO);
          end
          T_REG_WRITE, T_REG_READ: begin
            state_next = ST_REG;
            axil_req_next = 1'b1;
          end
          T_MEM_WRITE: respond(T_ACK, 16'd0, SRC_NONE);
          default: respond(T_DATA, cnt_reg, SRC_MEM);
        endcase
        if (type_reg != T_REG_WRITE && type_reg != T_REG_READ) begin
          last_valid_next = 1'b1;
          last_seq_next = seq_reg;
          last_type_next = type_reg;
        end
      end
    end
  endtask

  always @* begin
    state_next = state_reg;
    idx_next = idx_reg;
    type_next = type_reg;
    seq_next = seq_reg;
    len_next = len_reg;
    crc_next = crc_reg;
    hcrc_next = hcrc_reg;
    crc_lo_next = crc_lo_reg;
    nak_next = nak_reg;
    dup_next = dup_reg;
    addr_next = addr_reg;
    val_next = val_reg;
    rval_next = rval_reg;
    cnt_next = cnt_reg;
    wword_next = wword_reg;
    wstrb_next = wstrb_reg;
    synced_next = synced_reg;
    last_valid_next = last_valid_reg;
    last_seq_next = last_seq_reg;
    last_type_next = last_type_reg;
    idle_next = idle_reg;
    axil_req_next = axil_req_reg;
    tx_type_next = tx_type_reg;
    tx_len_next = tx_len_reg;
    tx_src_next = tx_src_reg;
    rword_valid_next = rword_valid_reg;
    rword_wait_next = rword_wait_reg;

    // A partial frame that stops arriving is dropped.
    if (state_reg == ST_HDR || state_reg == ST_PAY || state_reg == ST_FCRC) begin
      if (rx_fire) idle_next = {TW{1'b0}};
      else if (idle_reg == TIMEOUT_T) state_next = ST_SYNC;
      else idle_next = idle_reg + 1'b1;
    end

    case (state_reg)
      ST_SYNC:
      if (rx_fire && b == SYNC) begin
        state_next = ST_HDR;
        idx_next = 16'd1;
        crc_next = 16'hFFFF;
        idle_next = {TW{1'b0}};
      end
      ST_HDR:
      if (rx_fire) begin
        idx_next = idx_reg + 16'd1;
        crc_next = crc16_step(crc_reg, b);
        case (idx_reg[2:0])
          3'd1: type_next = b;
          3'd2: seq_next = b;
          3'd3: len_next[7:0] = b;
          3'd4: begin
            len_next[15:8] = b;
            hcrc_next = crc16_step(crc_reg, b);
          end
          3'd5: crc_lo_next = b;
          default: begin
            // A bad header is dropped silently: its fields are not trusted.
            if ({b, crc_lo_reg} != hcrc_reg) begin
              state_next = ST_SYNC;
            end else begin
              nak_next = !len_ok ? NAK_FORMAT :
                         (!synced_reg && type_reg != T_HELLO) ? NAK_NOT_SYNCED : NAK_NONE;
              dup_next = synced_reg && last_valid_reg && seq_reg == last_seq_reg &&
                         type_reg == last_type_reg && type_reg != T_HELLO;
              idx_next = 16'd0;
              wstrb_next = {BYTES{1'b0}};
              state_next = len_reg == 16'd0 ? ST_FCRC : ST_PAY;
            end
          end
        endcase
      end
      ST_PAY:
      if (rx_fire) begin
        idx_next = idx_reg + 16'd1;
        crc_next = crc16_step(crc_reg, b);
        if (idx_reg < 16'd4) begin
          addr_next[8*idx_reg[1:0]+:8] = b;
          if (idx_reg == 16'd3 && nak_reg == NAK_NONE &&
              (type_reg == T_MEM_WRITE ? wr_end > {1'b0, MEM_BYTES32} :
               (type_reg == T_REG_WRITE || type_reg == T_REG_READ) &&
               (addr_full[31:8] != 24'd0 || addr_full[1:0] != 2'd0)))
            nak_next = NAK_RANGE;
        end else if (type_reg == T_REG_WRITE) begin
          val_next[8*idx_reg[1:0]+:8] = b;
        end else if (type_reg == T_MEM_READ) begin
          cnt_next[8*idx_reg[0]+:8] = b;
          if (idx_reg == 16'd5 && nak_reg == NAK_NONE &&
              (rd_cnt == 16'd0 || rd_cnt > MAX_DATA16 || rd_end > {1'b0, MEM_BYTES32}))
            nak_next = NAK_RANGE;
        end else begin
          // memory-write data
          addr_next = addr_reg + 32'd1;
          if (wflush) begin
            wstrb_next = {BYTES{1'b0}};
          end else begin
            wword_next = wword_merged;
            wstrb_next = wstrb_merged;
          end
        end
        if (idx_reg == len_reg - 16'd1) begin
          state_next = ST_FCRC;
          idx_next = 16'd0;
        end
      end
      ST_FCRC:
      if (rx_fire) begin
        idx_next = idx_reg + 16'd1;
        if (idx_reg == 16'd0) begin
          crc_lo_next = b;
        end else if ({b, crc_lo_reg} != crc_reg) begin
          // The header was good: the sender learns which frame to repeat.
          nak_next = NAK_CRC;
          respond(T_NAK, 16'd1, SRC_NAK);
        end else begin
          execute;
        end
      end
      ST_REG:
      if (axil_req_reg) begin
        if (reg_write ? m_axil_awready && m_axil_wready : m_axil_arready) axil_req_next = 1'b0;
      end else if (reg_write ? m_axil_bvalid : m_axil_rvalid) begin
        if ((reg_write ? m_axil_bresp : m_axil_rresp) != 2'b00) begin
          nak_next = NAK_BUS;
          respond(T_NAK, 16'd1, SRC_NAK);
        end else begin
          if (!reg_write) rval_next = m_axil_rdata;
          last_valid_next = 1'b1;
          last_seq_next = seq_reg;
          last_type_next = type_reg;
          if (reg_write) respond(T_ACK, 16'd0, SRC_NONE);
          else respond(T_DATA, 16'd4, SRC_VAL);
        end
      end
      ST_TXH:
      if (tx_fire) begin
        idx_next = idx_reg + 16'd1;
        if (idx_reg != 16'd0) crc_next = crc16_step(crc_reg, tx_byte);
        if (idx_reg == 16'd5) hcrc_next = crc_reg;
        if (idx_reg == 16'd6) begin
          idx_next = 16'd0;
          state_next = tx_len_reg == 16'd0 ? ST_TXC : ST_TXP;
        end
      end
      ST_TXP: begin
        if (eng_rd_en && eng_rd_gnt) rword_wait_next = 1'b1;
        if (rword_wait_reg) begin
          rword_wait_next = 1'b0;
          rword_valid_next = 1'b1;
        end
        if (tx_fire) begin
          idx_next = idx_reg + 16'd1;
          crc_next = crc16_step(crc_reg, tx_byte);
          if (tx_src_reg == SRC_MEM) begin
            addr_next = addr_reg + 32'd1;
            if (&lane) rword_valid_next = 1'b0;
          end
          if (idx_reg == tx_len_reg - 16'd1) begin
            idx_next = 16'd0;
            state_next = ST_TXC;
          end
        end
      end
      default:  // ST_TXC
      if (tx_fire) begin
        idx_next = idx_reg + 16'd1;
        if (idx_reg == 16'd0) hcrc_next = crc_reg;
        else state_next = ST_SYNC;
      end
    endcase
  end

  always @(posedge clk) begin
    idx_reg <= idx_next;
    type_reg <= type_next;
    seq_reg <= seq_next;
    len_reg <= len_next;
    crc_reg <= crc_next;
    hcrc_reg <= hcrc_next;
    crc_lo_reg <= crc_lo_next;
    nak_reg <= nak_next;
    dup_reg <= dup_next;
    addr_reg <= addr_next;
    val_reg <= val_next;
    rval_reg <= rval_next;
    cnt_reg <= cnt_next;
    wword_reg <= wword_next;
    wstrb_reg <= wstrb_next;
    last_seq_reg <= last_seq_next;
    last_type_reg <= last_type_next;
    idle_reg <= idle_next;
    tx_type_reg <= tx_type_next;
    tx_len_reg <= tx_len_next;
    tx_src_reg <= tx_src_next;
    if (rst) begin
      state_reg <= ST_SYNC;
      synced_reg <= 1'b0;
      last_valid_reg <= 1'b0;
      axil_req_reg <= 1'b0;
      rword_valid_reg <= 1'b0;
      rword_wait_reg <= 1'b0;
    end else begin
      state_reg <= state_next;
      synced_reg <= synced_next;
      last_valid_reg <= last_valid_next;
      axil_req_reg <= axil_req_next;
      rword_valid_reg <= rword_valid_next;
      rword_wait_reg <= rword_wait_next;
    end
  end

endmodule
`resetall
