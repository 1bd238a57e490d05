/*
 * isa.h - the hardware/software contract of rtl/ARCHITECTURE.md in C:
 * register offsets, opcodes, error codes and the 16-byte command format.
 *
 * Shared by the command encoder (gemm.c), the functional model
 * (backend_cpu.c) and every transport backend.
 */
#ifndef SAMPAN_ISA_H
#define SAMPAN_ISA_H

#include <stdint.h>

/* ------------------------------------------------------------ registers */

#define ISA_REG_CTRL 0x00
#define ISA_REG_GIE 0x04
#define ISA_REG_IER 0x08
#define ISA_REG_ISR 0x0C
#define ISA_REG_CMD_ADDR_LO 0x10
#define ISA_REG_CMD_ADDR_HI 0x14
#define ISA_REG_CMD_COUNT 0x18
#define ISA_REG_ID 0x40
#define ISA_REG_VERSION 0x44
#define ISA_REG_SHAPE 0x48
#define ISA_REG_K_DEPTH 0x4C
#define ISA_REG_SLOTS 0x50
#define ISA_REG_BUS_BYTES 0x54
#define ISA_REG_CLOCK_MHZ 0x58
#define ISA_REG_FEATURES 0x5C /* ISA 1.1: bit 0 block-scaled, bit 1 wide, [15:8] MV_ROWS */
#define ISA_REG_STATUS 0x60
#define ISA_REG_ERR_INDEX 0x64
/* 64-bit counters: low word at the offset, high word at offset + 4. */
#define ISA_REG_CYCLES 0x80
#define ISA_REG_BUSY 0x88
#define ISA_REG_MACS 0x90
#define ISA_REG_STALL_MEM 0x98
#define ISA_REG_STALL_DEP 0xA0
#define ISA_REG_BYTES_RD 0xA8
#define ISA_REG_BYTES_WR 0xB0
#define ISA_REG_CMDS 0xB8

/* CTRL bits (Vitis ap_ctrl_hs). */
#define ISA_CTRL_START 0x01u
#define ISA_CTRL_DONE 0x02u
#define ISA_CTRL_IDLE 0x04u
#define ISA_CTRL_READY 0x08u
#define ISA_CTRL_AUTO_RESTART 0x80u

/* GIE, IER and ISR bits. */
#define ISA_IRQ_DONE 0x01u
#define ISA_IRQ_READY 0x02u

#define ISA_ID 0x4E504D53u /* "SMPN" in memory order */
#define ISA_VERSION 0x00010000u
#define ISA_VERSION_1_1 0x00010100u /* block-scaled commands, FEATURES register */
#define ISA_FEATURE_BLOCK 0x1u
#define ISA_FEATURE_WIDE 0x2u
#define ISA_FEATURE_MV_ROWS(f) (((f) >> 8) & 0xFFu)
#define ISA_QBLOCK 32 /* k-steps per scale block */
#define ISA_VERSION_MAJOR(v) ((v) >> 16)

/* ------------------------------------------------------------ commands */

#define ISA_CMD_BYTES 16

enum isa_op {
	ISA_OP_LOAD_A = 1,
	ISA_OP_LOAD_W = 2,
	ISA_OP_LOAD_P = 3,
	ISA_OP_COMPUTE = 4,
	ISA_OP_STORE = 5,
	ISA_OP_LOAD_S = 6, /* ISA 1.1: fp16 block scales into a scale bank */
};

/* STATUS error codes. */
enum isa_status {
	ISA_STATUS_OK = 0,
	ISA_STATUS_OPCODE = 1,      /* illegal opcode */
	ISA_STATUS_RANGE = 2,       /* field out of range */
	ISA_STATUS_ALIGN = 3,       /* unaligned address */
	ISA_STATUS_AXI_READ = 4,    /* AXI read error response */
	ISA_STATUS_AXI_WRITE = 5,   /* AXI write error response */
	ISA_STATUS_UNSUPPORTED = 6, /* command not supported by this core */
};

/*
 * One decoded command. Only the fields of its opcode are meaningful:
 *   LOAD_A, LOAD_W: bank, k_len, addr
 *   LOAD_P:         entry (first entry), count, addr
 *   LOAD_S:         bank, operand (0 A, 1 W), count (blocks), addr
 *   COMPUTE:        a_bank, w_bank, first, slot, k_len, za, m_valid, n_valid,
 *                   a_off, w_off, q (block-scaled), wide (matrix-vector engine)
 *   STORE:          raw, fstore (float; raw and fstore together are illegal),
 *                   slot, entry, addr, zo, lo, hi
 */
struct isa_cmd {
	unsigned op;
	unsigned bank;
	unsigned a_bank, w_bank, first;
	unsigned slot;
	unsigned k_len;
	unsigned a_off, w_off; /* COMPUTE: first bank step read */
	unsigned entry, count;
	unsigned m_valid, n_valid;
	unsigned raw;
	unsigned fstore;    /* STORE: fp32 acc + fp32 bias */
	unsigned q, wide;   /* COMPUTE: block-scaled, matrix-vector engine */
	unsigned operand;   /* LOAD_S: 0 A scales, 1 W scales */
	int za, zo, lo, hi; /* int8 values */
	uint64_t addr;
};

/* Encodes @c into 16 bytes (four little-endian words); reserved bits are
 * zero and each field is truncated to its width. */
void isa_encode(const struct isa_cmd *c, uint8_t out[ISA_CMD_BYTES]);

/* Decodes 16 bytes; fields of other opcodes are zero, int8 fields are
 * sign-extended. Never fails: the opcode is checked by the caller. */
void isa_decode(const uint8_t in[ISA_CMD_BYTES], struct isa_cmd *c);

/* Name of an opcode ("LOAD_A", ...) or "illegal". */
const char *isa_op_name(unsigned op);

/* Name of a STATUS code ("field out of range", ...) or "unknown error". */
const char *isa_status_name(unsigned status);

#endif /* SAMPAN_ISA_H */
