/*
 * isa.c - command encoder and decoder, per rtl/ARCHITECTURE.md.
 */
#include "isa.h"

#include <string.h>

static void put_le32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
	p[2] = (uint8_t)(v >> 16);
	p[3] = (uint8_t)(v >> 24);
}

static uint32_t get_le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* An int8 field as its 8-bit pattern. */
static uint32_t i8_bits(int v)
{
	return (uint32_t)v & 0xFFu;
}

static int i8_value(uint32_t bits)
{
	return (int)(int8_t)(uint8_t)bits;
}

void isa_encode(const struct isa_cmd *c, uint8_t out[ISA_CMD_BYTES])
{
	uint32_t w[4] = {c->op & 0xFFu, 0, 0, 0};

	switch (c->op) {
	case ISA_OP_LOAD_A:
	case ISA_OP_LOAD_W:
		w[0] |= (c->bank & 1u) << 8 | (c->k_len & 0xFFFFu) << 16;
		w[1] = (uint32_t)c->addr;
		w[2] = (uint32_t)(c->addr >> 32);
		break;
	case ISA_OP_LOAD_S:
		w[0] |= (c->bank & 1u) << 8 | (c->operand & 1u) << 9 | (c->count & 0xFFFFu) << 16;
		w[1] = (uint32_t)c->addr;
		w[2] = (uint32_t)(c->addr >> 32);
		break;
	case ISA_OP_LOAD_P:
		w[0] |= (c->entry & 0xFFu) << 8 | (c->count & 0xFFFFu) << 16;
		w[1] = (uint32_t)c->addr;
		w[2] = (uint32_t)(c->addr >> 32);
		break;
	case ISA_OP_COMPUTE:
		w[0] |= (c->a_bank & 1u) << 8 | (c->w_bank & 1u) << 9 | (c->first & 1u) << 10 |
		        (c->q & 1u) << 11 | (c->slot & 0xFu) << 12 | (c->k_len & 0xFFFFu) << 16;
		w[1] = i8_bits(c->za) | (c->m_valid & 0xFFu) << 8 | (c->n_valid & 0xFFu) << 16;
		w[2] = (c->a_off & 0xFFFFu) | (c->w_off & 0xFFFFu) << 16;
		w[3] = c->wide & 1u;
		break;
	case ISA_OP_STORE:
		w[0] |= (c->raw & 1u) << 8 | (c->fstore & 1u) << 9 | (c->slot & 0xFu) << 12 |
		        (c->entry & 0xFFFFu) << 16;
		w[1] = (uint32_t)c->addr;
		w[2] = (uint32_t)(c->addr >> 32);
		w[3] = i8_bits(c->zo) | i8_bits(c->lo) << 8 | i8_bits(c->hi) << 16;
		break;
	default:
		break;
	}
	for (int i = 0; i < 4; i++)
		put_le32(out + 4 * i, w[i]);
}

void isa_decode(const uint8_t in[ISA_CMD_BYTES], struct isa_cmd *c)
{
	uint32_t w[4];

	for (int i = 0; i < 4; i++)
		w[i] = get_le32(in + 4 * i);
	memset(c, 0, sizeof(*c));
	c->op = w[0] & 0xFFu;
	switch (c->op) {
	case ISA_OP_LOAD_A:
	case ISA_OP_LOAD_W:
		c->bank = (w[0] >> 8) & 1u;
		c->k_len = w[0] >> 16;
		c->addr = (uint64_t)w[2] << 32 | w[1];
		break;
	case ISA_OP_LOAD_S:
		c->bank = (w[0] >> 8) & 1u;
		c->operand = (w[0] >> 9) & 1u;
		c->count = w[0] >> 16;
		c->addr = (uint64_t)w[2] << 32 | w[1];
		break;
	case ISA_OP_LOAD_P:
		c->entry = (w[0] >> 8) & 0xFFu;
		c->count = w[0] >> 16;
		c->addr = (uint64_t)w[2] << 32 | w[1];
		break;
	case ISA_OP_COMPUTE:
		c->a_bank = (w[0] >> 8) & 1u;
		c->w_bank = (w[0] >> 9) & 1u;
		c->first = (w[0] >> 10) & 1u;
		c->q = (w[0] >> 11) & 1u;
		c->wide = w[3] & 1u;
		c->slot = (w[0] >> 12) & 0xFu;
		c->k_len = w[0] >> 16;
		c->za = i8_value(w[1]);
		c->m_valid = (w[1] >> 8) & 0xFFu;
		c->n_valid = (w[1] >> 16) & 0xFFu;
		c->a_off = w[2] & 0xFFFFu;
		c->w_off = w[2] >> 16;
		break;
	case ISA_OP_STORE:
		c->raw = (w[0] >> 8) & 1u;
		c->fstore = (w[0] >> 9) & 1u;
		c->slot = (w[0] >> 12) & 0xFu;
		c->entry = w[0] >> 16;
		c->addr = (uint64_t)w[2] << 32 | w[1];
		c->zo = i8_value(w[3]);
		c->lo = i8_value(w[3] >> 8);
		c->hi = i8_value(w[3] >> 16);
		break;
	default:
		break;
	}
}

const char *isa_op_name(unsigned op)
{
	switch (op) {
	case ISA_OP_LOAD_A:
		return "LOAD_A";
	case ISA_OP_LOAD_W:
		return "LOAD_W";
	case ISA_OP_LOAD_P:
		return "LOAD_P";
	case ISA_OP_COMPUTE:
		return "COMPUTE";
	case ISA_OP_STORE:
		return "STORE";
	case ISA_OP_LOAD_S:
		return "LOAD_S";
	default:
		return "illegal";
	}
}

const char *isa_status_name(unsigned status)
{
	switch (status) {
	case ISA_STATUS_OK:
		return "ok";
	case ISA_STATUS_OPCODE:
		return "illegal opcode";
	case ISA_STATUS_RANGE:
		return "field out of range";
	case ISA_STATUS_ALIGN:
		return "unaligned address";
	case ISA_STATUS_AXI_READ:
		return "AXI read error response";
	case ISA_STATUS_AXI_WRITE:
		return "AXI write error response";
	case ISA_STATUS_UNSUPPORTED:
		return "command not supported by this core";
	default:
		return "unknown error";
	}
}
