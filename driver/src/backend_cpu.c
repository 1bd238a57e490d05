/*
 * backend_cpu.c - the `cpu` device: the functional model of the sampan core.
 *
 * A register file with the same map and ap_ctrl_hs semantics as the RTL, a
 * card-memory image, and an interpreter that executes the command list from
 * that memory as the hardware would: the same decode, range checks, error
 * codes and ERR_INDEX, the same A/W banks, accumulator slots and parameter
 * memory, and stores in the same card layouts. It has no clock: CYCLES and
 * the stall counters stay 0, CLOCK_MHZ reads 0; BUSY, MACS, CMDS and the
 * byte counters are exact. The command list runs when the driver waits
 * (or reads a register) after ap_start.
 *
 * ISA 1.1 (rtl/ARCHITECTURE.md, "Block-scaled numerics"): scale banks
 * beside the operand banks, block-scaled (q) and matrix-vector (wide)
 * COMPUTEs, float STOREs, with the float rules implemented on the C float
 * unit plus explicit flush-to-zero and NaN fix-ups. Options block=0 and
 * mv_rows=0 model a core without the block-scaled commands or without the
 * wide engine: it answers their commands with status 6.
 */
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "isa.h"

/* The card-memory window starts above 4 GiB so that the high address words
 * of every command are exercised. */
#define CPU_MEM_BASE (UINT64_C(1) << 32)

struct cpu_card {
	/* configuration, as the info registers report it */
	unsigned rows, cols, k_depth, slots, entries, bus;
	unsigned block;   /* 1: block-scaled commands (FEATURES bit 0) */
	unsigned mv_rows; /* rows of the wide engine (0: none, FEATURES bit 1) */
	uint8_t *mem;     /* card memory at CPU_MEM_BASE */
	uint64_t mem_size;

	/* register file */
	int running;   /* ap_start accepted, command list not yet executed */
	uint32_t ctrl; /* ISA_CTRL_* bits */
	uint32_t gie, ier, isr;
	uint32_t cmd_lo, cmd_hi, cmd_count;
	uint32_t status, err_index;
	uint64_t busy, macs, bytes_rd, bytes_wr, cmds;

	/* on-chip memories */
	int8_t *a_bank[2];    /* (k_depth, rows): word k, byte r */
	int8_t *w_bank[2];    /* (k_depth, cols): word k, byte c */
	int32_t *acc;         /* (slots, rows, cols) */
	int32_t *p_bias;      /* (entries, cols) */
	int32_t *p_mult;      /* (entries, cols) */
	int32_t *p_shift;     /* (entries, cols) */
	int32_t *tile;        /* (rows, cols) scratch for one COMPUTE */
	uint16_t *a_scale[2]; /* (k_depth / 32, rows): fp16 scales of A bank b */
	uint16_t *w_scale[2]; /* (k_depth / 32, cols): fp16 scales of W bank b */
};

#define CPU_OPTIONS                                                                                \
	"mem=MiB, rows=N, cols=N, k_depth=N, slots=N, entries=N, mv_rows=N (0: no wide "           \
	"engine), block=0|1 (0: no block-scaled commands)"

/* mv_rows before the options are parsed: not given. */
#define CPU_MV_DEFAULT 1000u

/* ================================================================ card memory */

/* Pointer to [addr, addr + n) of card memory, or NULL if outside it. */
static uint8_t *card_ptr(struct cpu_card *c, uint64_t addr, uint64_t n)
{
	if (addr < CPU_MEM_BASE || addr - CPU_MEM_BASE > c->mem_size ||
	    n > c->mem_size - (addr - CPU_MEM_BASE))
		return NULL;
	return c->mem + (addr - CPU_MEM_BASE);
}

static uint32_t le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void put_le32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
	p[2] = (uint8_t)(v >> 16);
	p[3] = (uint8_t)(v >> 24);
}

/* Bytes moved by a transfer of @n bytes: whole bus beats. */
static uint64_t beats_bytes(const struct cpu_card *c, uint64_t n)
{
	return (n + c->bus - 1) / c->bus * c->bus;
}

/* ================================================================ float rules */

#define CPU_QNAN 0x7FC00000u

static float f_of(uint32_t u)
{
	float f;

	memcpy(&f, &u, sizeof(f));
	return f;
}

static uint32_t u_of(float f)
{
	uint32_t u;

	memcpy(&u, &f, sizeof(u));
	return u;
}

/* h2f: exact; every NaN becomes the canonical NaN. */
static float cpu_h2f(uint16_t h)
{
	if ((h & 0x7C00u) == 0x7C00u && (h & 0x03FFu))
		return f_of(CPU_QNAN);
	/* fp16 values are exact in double and in float. */
	return (float)sampan_fp16_to_fp32(h);
}

/* A subnormal operand reads as zero of its sign. */
static float daz(float x)
{
	if (x != 0.0f && fabsf(x) < 0x1p-126f)
		return copysignf(0.0f, x);
	return x;
}

/* The rules' fix-ups of a rounded result: canonical NaN, flush to zero. */
static float fix_result(float r)
{
	if (isnan(r))
		return f_of(CPU_QNAN);
	if (r != 0.0f && fabsf(r) < 0x1p-126f)
		return copysignf(0.0f, r);
	return r;
}

/*
 * fmul of the float rules. The product of two floats is exact in double
 * (48 significant bits, exponent well inside double's range), so rounding
 * it to float rounds once; below 2^-126 the C conversion would round to
 * the subnormal grid instead of the unbounded one, so there the product is
 * scaled by 2^100 first: the scaled result is 2^-26 exactly when the
 * unbounded rounding reaches 2^-126, else the result flushes.
 */
static float cpu_fmul(float a, float b)
{
	double p;

	a = daz(a);
	b = daz(b);
	if (isnan(a) || isnan(b))
		return f_of(CPU_QNAN);
	p = (double)a * (double)b;
	if (isnan(p))
		return f_of(CPU_QNAN); /* Inf * 0 */
	if (p != 0.0 && fabs(p) < 0x1p-126) {
		float s = (float)(p * 0x1p100);

		return fabsf(s) == 0x1p-26f ? copysignf(0x1p-126f, s) : copysignf(0.0f, s);
	}
	return fix_result((float)p);
}

/*
 * fadd of the float rules. A sum of two normal floats below 2^-126 is exact
 * (a multiple of 2^-149 with few bits), so C's addition rounds as the
 * unbounded rule does and only the flush remains; +0 + -0 is +0 under
 * round to nearest, as the rules say.
 */
static float cpu_fadd(float a, float b)
{
	a = daz(a);
	b = daz(b);
	if (isnan(a) || isnan(b))
		return f_of(CPU_QNAN);
	return fix_result(a + b);
}

/* ================================================================ commands */

static unsigned exec_load_bank(struct cpu_card *c, const struct isa_cmd *cmd)
{
	unsigned width = cmd->op == ISA_OP_LOAD_A ? c->rows : c->cols;
	int8_t *bank = cmd->op == ISA_OP_LOAD_A ? c->a_bank[cmd->bank] : c->w_bank[cmd->bank];
	uint64_t bytes;
	const uint8_t *src;

	if (cmd->k_len < 1 || cmd->k_len > c->k_depth)
		return ISA_STATUS_RANGE;
	if (cmd->addr % c->bus)
		return ISA_STATUS_ALIGN;
	/* Whole beats land in the bank; K_DEPTH is a multiple of the words
	 * per beat, so they always fit. */
	bytes = beats_bytes(c, (uint64_t)cmd->k_len * width);
	src = card_ptr(c, cmd->addr, bytes);
	if (!src)
		return ISA_STATUS_AXI_READ;
	memcpy(bank, src, bytes);
	c->bytes_rd += bytes;
	return ISA_STATUS_OK;
}

/* LOAD_S: nb blocks of fp16 scales into the scale bank of an operand bank,
 * block j lane l at byte 2*(j*lanes + l). */
static unsigned exec_load_s(struct cpu_card *c, const struct isa_cmd *cmd)
{
	unsigned lanes = cmd->operand ? c->cols : c->rows;
	uint16_t *bank = cmd->operand ? c->w_scale[cmd->bank] : c->a_scale[cmd->bank];
	uint64_t bytes, payload = (uint64_t)2 * cmd->count * lanes;
	const uint8_t *src;

	if (!c->block)
		return ISA_STATUS_UNSUPPORTED;
	if (cmd->count < 1 || cmd->count > c->k_depth / ISA_QBLOCK)
		return ISA_STATUS_RANGE;
	if (cmd->addr % c->bus)
		return ISA_STATUS_ALIGN;
	bytes = beats_bytes(c, payload);
	src = card_ptr(c, cmd->addr, bytes);
	if (!src)
		return ISA_STATUS_AXI_READ;
	for (uint64_t i = 0; i < payload / 2; i++)
		bank[i] = (uint16_t)(src[2 * i] | src[2 * i + 1] << 8);
	c->bytes_rd += bytes;
	return ISA_STATUS_OK;
}

static unsigned exec_load_p(struct cpu_card *c, const struct isa_cmd *cmd)
{
	uint64_t bytes = (uint64_t)3 * c->bus * cmd->count;
	const uint8_t *src;

	if (cmd->count < 1 || cmd->entry + cmd->count > c->entries)
		return ISA_STATUS_RANGE;
	if (cmd->addr % c->bus)
		return ISA_STATUS_ALIGN;
	src = card_ptr(c, cmd->addr, bytes);
	if (!src)
		return ISA_STATUS_AXI_READ;
	for (unsigned i = 0; i < cmd->count; i++) {
		const uint8_t *beat = src + (uint64_t)3 * c->bus * i;
		size_t e = (size_t)(cmd->entry + i) * c->cols;

		for (unsigned col = 0; col < c->cols; col++) {
			c->p_bias[e + col] = (int32_t)le32(beat + 4 * col);
			c->p_mult[e + col] = (int32_t)le32(beat + c->bus + 4 * col);
			c->p_shift[e + col] = (int32_t)le32(beat + 2 * c->bus + 4 * col);
		}
	}
	c->bytes_rd += bytes;
	return ISA_STATUS_OK;
}

/*
 * tile[r][col] = sum_{k < k_len} (a[k][r] - za) * w[k][col] for rows r <
 * @done of the @rows lanes. The products fit 17 bits and k_len <= 65535,
 * so int32 sums cannot overflow. @cols is a parameter so that the compiler
 * can specialise the inner loop for a constant width.
 */
static inline void mac_tile(int32_t *tile, const int8_t *a, const int8_t *w, unsigned k_len, int za,
                            unsigned rows, unsigned done, unsigned cols)
{
	memset(tile, 0, sizeof(*tile) * done * cols);
	for (unsigned k = 0; k < k_len; k++) {
		const int8_t *ak = a + (size_t)k * rows, *wk = w + (size_t)k * cols;

		for (unsigned r = 0; r < done; r++) {
			int32_t av = ak[r] - za;
			int32_t *row = tile + (size_t)r * cols;

			for (unsigned col = 0; col < cols; col++)
				row[col] += av * wk[col];
		}
	}
}

/*
 * The float chain of a q COMPUTE over rows [0, rows_done) of the slot: for
 * each block j of 32 steps the integer sums of that block, scaled with the
 * scale-bank blocks a_off/32 + j and w_off/32 + j, are added in fp32 to the
 * slot's value (+0.0 first when cmd->first).
 */
static void q_chain(struct cpu_card *c, const struct isa_cmd *cmd, uint32_t *slot,
                    unsigned rows_done)
{
	size_t n = (size_t)c->rows * c->cols;
	unsigned blocks = cmd->k_len / ISA_QBLOCK;
	float fw[64]; /* COLS <= 64 */

	for (size_t i = 0; i < n; i++)
		if (cmd->first)
			slot[i] = 0; /* +0.0 */
	for (unsigned j = 0; j < blocks; j++) {
		const int8_t *a =
		    c->a_bank[cmd->a_bank] + (size_t)(cmd->a_off + j * ISA_QBLOCK) * c->rows;
		const int8_t *w =
		    c->w_bank[cmd->w_bank] + (size_t)(cmd->w_off + j * ISA_QBLOCK) * c->cols;
		const uint16_t *sa =
		    c->a_scale[cmd->a_bank] + (size_t)(cmd->a_off / ISA_QBLOCK + j) * c->rows;
		const uint16_t *sw =
		    c->w_scale[cmd->w_bank] + (size_t)(cmd->w_off / ISA_QBLOCK + j) * c->cols;

		if (c->cols == 16)
			mac_tile(c->tile, a, w, ISA_QBLOCK, cmd->za, c->rows, rows_done, 16);
		else
			mac_tile(c->tile, a, w, ISA_QBLOCK, cmd->za, c->rows, rows_done, c->cols);
		for (unsigned col = 0; col < c->cols; col++)
			fw[col] = cpu_h2f(sw[col]);
		for (unsigned r = 0; r < rows_done; r++) {
			float fa = cpu_h2f(sa[r]);

			for (unsigned col = 0; col < c->cols; col++) {
				size_t i = (size_t)r * c->cols + col;
				float s_b = cpu_fmul(fw[col], fa);
				float t = cpu_fmul((float)c->tile[i], s_b);

				slot[i] = u_of(cpu_fadd(f_of(slot[i]), t));
			}
		}
	}
}

static unsigned exec_compute(struct cpu_card *c, const struct isa_cmd *cmd)
{
	size_t n = (size_t)c->rows * c->cols;
	unsigned kw = c->bus / c->cols, rows_done = c->rows;
	uint32_t *slot;

	const int8_t *a, *w;

	if ((cmd->q && !c->block) || (cmd->wide && !c->mv_rows))
		return ISA_STATUS_UNSUPPORTED;
	if (cmd->k_len < 1 || cmd->k_len > c->k_depth || cmd->slot >= c->slots ||
	    cmd->m_valid < 1 || cmd->m_valid > c->rows || cmd->n_valid < 1 ||
	    cmd->n_valid > c->cols || cmd->a_off + cmd->k_len > c->k_depth ||
	    cmd->w_off + cmd->k_len > c->k_depth)
		return ISA_STATUS_RANGE;
	if (cmd->q &&
	    (cmd->k_len % ISA_QBLOCK || cmd->a_off % ISA_QBLOCK || cmd->w_off % ISA_QBLOCK))
		return ISA_STATUS_RANGE;
	if (cmd->wide) {
		if (cmd->m_valid > c->mv_rows || c->rows > c->cols || cmd->k_len % kw ||
		    cmd->a_off % kw || cmd->w_off % kw)
			return ISA_STATUS_RANGE;
		/* Rows MV_ROWS and above are left unspecified: untouched here. */
		rows_done = c->mv_rows < c->rows ? c->mv_rows : c->rows;
	}
	slot = (uint32_t *)c->acc + cmd->slot * n;
	if (cmd->q) {
		q_chain(c, cmd, slot, rows_done);
	} else {
		a = c->a_bank[cmd->a_bank] + (size_t)cmd->a_off * c->rows;
		w = c->w_bank[cmd->w_bank] + (size_t)cmd->w_off * c->cols;
		if (c->cols == 16)
			mac_tile(c->tile, a, w, cmd->k_len, cmd->za, c->rows, rows_done, 16);
		else
			mac_tile(c->tile, a, w, cmd->k_len, cmd->za, c->rows, rows_done, c->cols);
		/* The slot accumulates in wrapping int32: add as unsigned. */
		for (size_t i = 0; i < (size_t)rows_done * c->cols; i++)
			slot[i] = (cmd->first ? 0 : slot[i]) + (uint32_t)c->tile[i];
	}
	c->macs += (uint64_t)cmd->k_len * cmd->m_valid * cmd->n_valid;
	/* The wide engine streams KW steps a cycle. */
	c->busy += cmd->wide ? cmd->k_len / kw : cmd->k_len;
	return ISA_STATUS_OK;
}

static unsigned exec_store(struct cpu_card *c, const struct isa_cmd *cmd)
{
	size_t n = (size_t)c->rows * c->cols;
	uint64_t payload = n * (cmd->raw || cmd->fstore ? 4 : 1), bytes = beats_bytes(c, payload);
	const uint32_t *slot;
	uint8_t *dst;

	if (cmd->raw && cmd->fstore)
		return ISA_STATUS_RANGE; /* mode 3 */
	if (cmd->fstore && !c->block)
		return ISA_STATUS_UNSUPPORTED;
	if (cmd->slot >= c->slots || cmd->entry >= c->entries || cmd->lo > cmd->hi)
		return ISA_STATUS_RANGE;
	if (cmd->addr % c->bus)
		return ISA_STATUS_ALIGN;
	dst = card_ptr(c, cmd->addr, bytes);
	if (!dst)
		return ISA_STATUS_AXI_WRITE;
	slot = (const uint32_t *)c->acc + cmd->slot * n;
	for (unsigned r = 0; r < c->rows; r++) {
		for (unsigned col = 0; col < c->cols; col++) {
			size_t i = (size_t)r * c->cols + col,
			       e = (size_t)cmd->entry * c->cols + col;
			uint32_t v = slot[i] + (uint32_t)c->p_bias[e];

			if (cmd->fstore)
				put_le32(dst + 4 * i, u_of(cpu_fadd(f_of(slot[i]),
				                                    f_of((uint32_t)c->p_bias[e]))));
			else if (cmd->raw)
				put_le32(dst + 4 * i, v);
			else
				dst[i] = (uint8_t)sampan_requantize((int32_t)v, c->p_mult[e],
				                                    c->p_shift[e], cmd->zo, cmd->lo,
				                                    cmd->hi);
		}
	}
	memset(dst + payload, 0, bytes - payload);
	c->bytes_wr += bytes;
	return ISA_STATUS_OK;
}

/* Executes the command list and raises ap_done, as the core does from
 * ap_start: fetch in order, stop at the first illegal command. */
static void cpu_run(struct cpu_card *c)
{
	uint64_t base = (uint64_t)c->cmd_hi << 32 | c->cmd_lo;

	c->busy = c->macs = c->bytes_rd = c->bytes_wr = c->cmds = 0;
	c->status = ISA_STATUS_OK;
	c->err_index = 0;
	for (uint32_t i = 0; i < c->cmd_count; i++) {
		uint64_t off = (uint64_t)ISA_CMD_BYTES * i;
		const uint8_t *p = NULL;
		struct isa_cmd cmd;
		unsigned st;

		if (base % c->bus) {
			st = ISA_STATUS_ALIGN;
		} else if (!(p = card_ptr(c, base + off, ISA_CMD_BYTES))) {
			st = ISA_STATUS_AXI_READ;
		} else {
			/* The fetch unit reads whole beats. */
			if (off % c->bus == 0)
				c->bytes_rd += c->bus;
			isa_decode(p, &cmd);
			switch (cmd.op) {
			case ISA_OP_LOAD_A:
			case ISA_OP_LOAD_W:
				st = exec_load_bank(c, &cmd);
				break;
			case ISA_OP_LOAD_P:
				st = exec_load_p(c, &cmd);
				break;
			case ISA_OP_LOAD_S:
				st = exec_load_s(c, &cmd);
				break;
			case ISA_OP_COMPUTE:
				st = exec_compute(c, &cmd);
				break;
			case ISA_OP_STORE:
				st = exec_store(c, &cmd);
				break;
			default:
				st = ISA_STATUS_OPCODE;
				break;
			}
		}
		/* A bus error ends a command that was dispatched and counts it, as
		 * the RTL does; a command that fails to decode is not counted. */
		if (st == ISA_STATUS_OK ||
		    (p && (st == ISA_STATUS_AXI_READ || st == ISA_STATUS_AXI_WRITE)))
			c->cmds++;
		if (st != ISA_STATUS_OK) {
			c->status = st;
			c->err_index = i;
			break;
		}
	}
	c->running = 0;
	c->ctrl =
	    (c->ctrl & ISA_CTRL_AUTO_RESTART) | ISA_CTRL_DONE | ISA_CTRL_IDLE | ISA_CTRL_READY;
	c->isr |= c->ier & (ISA_IRQ_DONE | ISA_IRQ_READY);
}

/* ================================================================ registers */

static int cpu_reg_read(void *ctx, uint32_t off, uint32_t *val)
{
	struct cpu_card *c = ctx;

	if (c->running)
		cpu_run(c);
	switch (off) {
	case ISA_REG_CTRL:
		*val = c->ctrl;
		c->ctrl &= ~(ISA_CTRL_DONE | ISA_CTRL_READY); /* clear on read */
		break;
	case ISA_REG_GIE:
		*val = c->gie;
		break;
	case ISA_REG_IER:
		*val = c->ier;
		break;
	case ISA_REG_ISR:
		*val = c->isr;
		break;
	case ISA_REG_CMD_ADDR_LO:
		*val = c->cmd_lo;
		break;
	case ISA_REG_CMD_ADDR_HI:
		*val = c->cmd_hi;
		break;
	case ISA_REG_CMD_COUNT:
		*val = c->cmd_count;
		break;
	case ISA_REG_ID:
		*val = ISA_ID;
		break;
	case ISA_REG_VERSION:
		*val = ISA_VERSION_1_1;
		break;
	case ISA_REG_FEATURES:
		*val = (c->block ? ISA_FEATURE_BLOCK : 0) | (c->mv_rows ? ISA_FEATURE_WIDE : 0) |
		       c->mv_rows << 8;
		break;
	case ISA_REG_SHAPE:
		*val = c->cols << 16 | c->rows;
		break;
	case ISA_REG_K_DEPTH:
		*val = c->k_depth;
		break;
	case ISA_REG_SLOTS:
		*val = c->entries << 16 | c->slots;
		break;
	case ISA_REG_BUS_BYTES:
		*val = c->bus;
		break;
	case ISA_REG_STATUS:
		*val = c->status;
		break;
	case ISA_REG_ERR_INDEX:
		*val = c->err_index;
		break;
	case ISA_REG_BUSY:
		*val = (uint32_t)c->busy;
		break;
	case ISA_REG_BUSY + 4:
		*val = (uint32_t)(c->busy >> 32);
		break;
	case ISA_REG_MACS:
		*val = (uint32_t)c->macs;
		break;
	case ISA_REG_MACS + 4:
		*val = (uint32_t)(c->macs >> 32);
		break;
	case ISA_REG_BYTES_RD:
		*val = (uint32_t)c->bytes_rd;
		break;
	case ISA_REG_BYTES_RD + 4:
		*val = (uint32_t)(c->bytes_rd >> 32);
		break;
	case ISA_REG_BYTES_WR:
		*val = (uint32_t)c->bytes_wr;
		break;
	case ISA_REG_BYTES_WR + 4:
		*val = (uint32_t)(c->bytes_wr >> 32);
		break;
	case ISA_REG_CMDS:
		*val = (uint32_t)c->cmds;
		break;
	default:
		/* CLOCK_MHZ, CYCLES and the stall counters: no clock, 0.
		 * Unmapped offsets read 0 as on the AXI4-Lite slave. */
		*val = 0;
		break;
	}
	return SAMPAN_OK;
}

static int cpu_reg_write(void *ctx, uint32_t off, uint32_t val)
{
	struct cpu_card *c = ctx;

	switch (off) {
	case ISA_REG_CTRL:
		c->ctrl = (c->ctrl & ~ISA_CTRL_AUTO_RESTART) | (val & ISA_CTRL_AUTO_RESTART);
		if ((val & ISA_CTRL_START) && !c->running) {
			c->running = 1;
			c->ctrl = (c->ctrl & ISA_CTRL_AUTO_RESTART) | ISA_CTRL_START;
		}
		break;
	case ISA_REG_GIE:
		c->gie = val & 1u;
		break;
	case ISA_REG_IER:
		c->ier = val & (ISA_IRQ_DONE | ISA_IRQ_READY);
		break;
	case ISA_REG_ISR:
		c->isr ^= val & (ISA_IRQ_DONE | ISA_IRQ_READY); /* toggle on write */
		break;
	case ISA_REG_CMD_ADDR_LO:
		c->cmd_lo = val;
		break;
	case ISA_REG_CMD_ADDR_HI:
		c->cmd_hi = val;
		break;
	case ISA_REG_CMD_COUNT:
		c->cmd_count = val;
		break;
	default:
		/* read-only or unmapped: ignored, as on the AXI4-Lite slave */
		break;
	}
	return SAMPAN_OK;
}

static int cpu_wait_done(void *ctx, uint64_t max_cycles, int timeout_ms)
{
	struct cpu_card *c = ctx;
	uint32_t ctrl;

	(void)max_cycles; /* no clock: the run always completes */
	(void)timeout_ms;
	if (c->running)
		cpu_run(c);
	cpu_reg_read(c, ISA_REG_CTRL, &ctrl);
	if (!(ctrl & ISA_CTRL_DONE))
		return drv_error(SAMPAN_ERROR_TIMEOUT,
		                 "device 'cpu': waiting, but no job was started");
	if (c->isr & ISA_IRQ_DONE)
		cpu_reg_write(c, ISA_REG_ISR, ISA_IRQ_DONE);
	return SAMPAN_OK;
}

/* ================================================================ memory */

static int cpu_mem_write(void *ctx, uint64_t addr, const void *src, size_t n)
{
	struct cpu_card *c = ctx;
	uint8_t *dst = card_ptr(c, addr, n);

	if (!dst)
		return drv_error(SAMPAN_ERROR_INVALID,
		                 "device 'cpu': write of %zu bytes at 0x%" PRIx64
		                 " is outside card memory",
		                 n, addr);
	memcpy(dst, src, n);
	return SAMPAN_OK;
}

static int cpu_mem_read(void *ctx, uint64_t addr, void *dst, size_t n)
{
	struct cpu_card *c = ctx;
	const uint8_t *src = card_ptr(c, addr, n);

	if (!src)
		return drv_error(SAMPAN_ERROR_INVALID,
		                 "device 'cpu': read of %zu bytes at 0x%" PRIx64
		                 " is outside card memory",
		                 n, addr);
	memcpy(dst, src, n);
	return SAMPAN_OK;
}

/* ================================================================ open/close */

static void cpu_close(void *ctx)
{
	struct cpu_card *c = ctx;

	if (!c)
		return;
	for (int b = 0; b < 2; b++) {
		free(c->a_bank[b]);
		free(c->w_bank[b]);
	}
	free(c->acc);
	free(c->p_bias);
	free(c->p_mult);
	free(c->p_shift);
	free(c->tile);
	for (int b = 0; b < 2; b++) {
		free(c->a_scale[b]);
		free(c->w_scale[b]);
	}
	free(c->mem);
	free(c);
}

/* Parses the options into @c (defaults already set) and checks the legal
 * combinations of rtl/ARCHITECTURE.md. */
static int cpu_parse_options(struct cpu_card *c, const char *options, unsigned *mem_mib)
{
	const struct {
		const char *key;
		uint64_t min, max;
		unsigned *dst;
	} opts[] = {
	    {"mem", 1, 65536, mem_mib},      {"rows", 1, 64, &c->rows},
	    {"cols", 1, 64, &c->cols},       {"k_depth", 1, 65535, &c->k_depth},
	    {"slots", 1, 16, &c->slots},     {"entries", 1, 256, &c->entries},
	    {"mv_rows", 0, 64, &c->mv_rows}, {"block", 0, 1, &c->block},
	};
	char key[32], val[32];
	const char *cur = options;
	int more;

	while ((more = drv_opt_next("cpu", &cur, key, sizeof(key), val, sizeof(val))) > 0) {
		size_t i = 0;
		uint64_t v;
		int err;

		while (i < sizeof(opts) / sizeof(opts[0]) && strcmp(key, opts[i].key))
			i++;
		if (i == sizeof(opts) / sizeof(opts[0]))
			return drv_opt_unknown("cpu", key, CPU_OPTIONS);
		err = drv_opt_uint("cpu", key, val, opts[i].min, opts[i].max, &v);
		if (err < 0)
			return err;
		*opts[i].dst = (unsigned)v;
	}
	if (more < 0)
		return more;
	if (c->bus % c->rows || c->bus % (4 * c->cols) || c->k_depth % (c->bus / c->rows) ||
	    c->k_depth % (c->bus / c->cols))
		return drv_error(SAMPAN_ERROR_INVALID,
		                 "device 'cpu': illegal configuration rows=%u cols=%u k_depth=%u: "
		                 "with a %u-byte bus, rows and 4*cols must divide %u and k_depth "
		                 "must be a multiple of %u/rows and %u/cols",
		                 c->rows, c->cols, c->k_depth, c->bus, c->bus, c->bus, c->bus);
	/* Unless given: 4 rows, or fewer on a smaller array, none if rows > cols. */
	if (c->mv_rows == CPU_MV_DEFAULT)
		c->mv_rows = c->rows > c->cols ? 0 : c->rows < 4 ? c->rows : 4;
	if (c->mv_rows > c->rows || (c->mv_rows && c->rows > c->cols))
		return drv_error(
		    SAMPAN_ERROR_INVALID,
		    "device 'cpu': illegal configuration mv_rows=%u with a %ux%u array: "
		    "the wide engine needs mv_rows <= rows <= cols (mv_rows=0 leaves it "
		    "out)",
		    c->mv_rows, c->rows, c->cols);
	return SAMPAN_OK;
}

static int cpu_open(const char *options, void **ctx, uint64_t *mem_base, uint64_t *mem_size)
{
	struct cpu_card *c = calloc(1, sizeof(*c));
	unsigned mem_mib = 256;
	size_t tile;
	int err;

	if (!c)
		return drv_error(SAMPAN_ERROR_NO_MEM, "device 'cpu': out of memory");
	/* The default configuration of the RTL. */
	c->rows = 16;
	c->cols = 16;
	c->k_depth = 1024;
	c->slots = 4;
	c->entries = 64;
	c->bus = 64;
	c->block = 1;
	c->mv_rows = CPU_MV_DEFAULT;
	err = cpu_parse_options(c, options, &mem_mib);
	if (err < 0)
		goto err_close;

	c->mem_size = (uint64_t)mem_mib << 20;
	c->ctrl = ISA_CTRL_IDLE;
	tile = (size_t)c->rows * c->cols;
	/* calloc of the big image costs nothing until pages are touched. */
	c->mem = calloc(1, c->mem_size);
	c->acc = calloc((size_t)c->slots * tile, sizeof(*c->acc));
	c->p_bias = calloc((size_t)c->entries * c->cols, sizeof(*c->p_bias));
	c->p_mult = calloc((size_t)c->entries * c->cols, sizeof(*c->p_mult));
	c->p_shift = calloc((size_t)c->entries * c->cols, sizeof(*c->p_shift));
	c->tile = calloc(tile, sizeof(*c->tile));
	for (int b = 0; b < 2; b++) {
		c->a_bank[b] = calloc(c->k_depth, c->rows);
		c->w_bank[b] = calloc(c->k_depth, c->cols);
		/* at least one block, so that a small bank still has a pointer */
		c->a_scale[b] = calloc(c->k_depth / ISA_QBLOCK + 1, c->rows * sizeof(uint16_t));
		c->w_scale[b] = calloc(c->k_depth / ISA_QBLOCK + 1, c->cols * sizeof(uint16_t));
	}
	if (!c->mem || !c->acc || !c->p_bias || !c->p_mult || !c->p_shift || !c->tile ||
	    !c->a_bank[0] || !c->a_bank[1] || !c->w_bank[0] || !c->w_bank[1] || !c->a_scale[0] ||
	    !c->a_scale[1] || !c->w_scale[0] || !c->w_scale[1]) {
		err = drv_error(SAMPAN_ERROR_NO_MEM,
		                "device 'cpu': cannot allocate %u MiB of card memory", mem_mib);
		goto err_close;
	}
	*ctx = c;
	*mem_base = CPU_MEM_BASE;
	*mem_size = c->mem_size;
	return SAMPAN_OK;

err_close:
	cpu_close(c);
	return err;
}

const struct backend_ops cpu_backend = {
    .name = "cpu",
    .description = "functional model of the sampan core in C (no clock)",
    .options_help = CPU_OPTIONS,
    .open = cpu_open,
    .close = cpu_close,
    .mem_write = cpu_mem_write,
    .mem_read = cpu_mem_read,
    .reg_read = cpu_reg_read,
    .reg_write = cpu_reg_write,
    .wait_done = cpu_wait_done,
};
