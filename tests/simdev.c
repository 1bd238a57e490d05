/*
 * simdev.c - the simulated card through the sim C ABI (see simdev.h).
 */
#include "simdev.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ref.h"

int simdev_open(struct simdev *d, uint64_t mem_bytes, char *err, size_t err_size)
{
	struct ssim_config cfg;
	uint32_t shape, slots;

	memset(&cfg, 0, sizeof(cfg));
	cfg.mem_bytes = mem_bytes;
	memset(d, 0, sizeof(*d));
	if (ssim_abi_version() != SSIM_ABI_VERSION) {
		snprintf(err, err_size, "sim ABI version %d, tests built for %d",
		         ssim_abi_version(), SSIM_ABI_VERSION);
		return -1;
	}
	d->sim = ssim_create(&cfg);
	if (!d->sim) {
		snprintf(err, err_size, "ssim_create: %s", ssim_error(NULL));
		return -1;
	}
	shape = simdev_reg(d, REG_SHAPE);
	slots = simdev_reg(d, REG_SLOTS);
	d->rows = shape & 0xffff;
	d->cols = shape >> 16;
	d->k_depth = simdev_reg(d, REG_K_DEPTH);
	d->slots = slots & 0xffff;
	d->params = slots >> 16;
	d->bus = simdev_reg(d, REG_BUS_BYTES);
	return 0;
}

void simdev_close(struct simdev *d)
{
	ssim_destroy(d->sim);
	d->sim = NULL;
}

uint32_t simdev_reg(struct simdev *d, uint32_t offset)
{
	uint32_t v = 0xdeadbeef;

	if (ssim_reg_read(d->sim, offset, &v) != 0)
		fprintf(stderr, "ssim_reg_read(0x%x): %s\n", offset, ssim_error(d->sim));
	return v;
}

uint64_t simdev_reg64(struct simdev *d, uint32_t offset)
{
	uint64_t lo = simdev_reg(d, offset);

	return lo | (uint64_t)simdev_reg(d, offset + 4) << 32;
}

int simdev_run(struct simdev *d, uint64_t addr, const struct cmd *cmds, size_t count,
               uint64_t max_cycles, uint32_t *status, uint32_t *err_index)
{
	uint8_t bytes[16];
	uint32_t ctrl;

	for (size_t i = 0; i < count; i++) {
		for (int j = 0; j < 4; j++)
			for (int b = 0; b < 4; b++)
				bytes[4 * j + b] = (uint8_t)(cmds[i].w[j] >> (8 * b));
		if (ssim_mem_write(d->sim, addr + 16 * i, bytes, 16) != 0)
			return -1;
	}
	if (ssim_reg_write(d->sim, REG_GIE, 1) || ssim_reg_write(d->sim, REG_IER, 1) ||
	    ssim_reg_write(d->sim, REG_CMD_ADDR_LO, (uint32_t)addr) ||
	    ssim_reg_write(d->sim, REG_CMD_ADDR_HI, (uint32_t)(addr >> 32)) ||
	    ssim_reg_write(d->sim, REG_CMD_COUNT, (uint32_t)count) ||
	    ssim_reg_write(d->sim, REG_CTRL, 1))
		return -1;
	if (!ssim_wait_irq(d->sim, max_cycles))
		return 0;
	*status = simdev_reg(d, REG_STATUS);
	*err_index = simdev_reg(d, REG_ERR_INDEX);
	/* Acknowledge: reading CTRL clears ap_done, writing ISR.done toggles
	 * the pending interrupt off. */
	if (ssim_reg_read(d->sim, REG_CTRL, &ctrl) || ssim_reg_write(d->sim, REG_ISR, 1))
		return -1;
	return 1;
}

struct cmd cmd_load(int op, unsigned bank, unsigned k_len, uint64_t addr)
{
	struct cmd c = {{(uint32_t)op | (bank & 1) << 8 | (k_len & 0xffff) << 16, (uint32_t)addr,
	                 (uint32_t)(addr >> 32), 0}};
	return c;
}

struct cmd cmd_load_p(unsigned first, unsigned count, uint64_t addr)
{
	struct cmd c = {{OP_LOAD_P | (first & 0xff) << 8 | (count & 0xffff) << 16, (uint32_t)addr,
	                 (uint32_t)(addr >> 32), 0}};
	return c;
}

struct cmd cmd_compute(unsigned a_bank, unsigned w_bank, int first, unsigned slot, unsigned k_len,
                       int za, unsigned m_valid, unsigned n_valid)
{
	struct cmd c = {
	    {OP_COMPUTE | (a_bank & 1) << 8 | (w_bank & 1) << 9 | (uint32_t)(first & 1) << 10 |
	         (slot & 0xf) << 12 | (k_len & 0xffff) << 16,
	     ((uint32_t)za & 0xff) | (m_valid & 0xff) << 8 | (n_valid & 0xff) << 16, 0, 0}};
	return c;
}

struct cmd cmd_store(int raw, unsigned slot, unsigned entry, uint64_t addr, int zo, int lo, int hi)
{
	struct cmd c = {
	    {OP_STORE | (uint32_t)(raw & 1) << 8 | (slot & 0xf) << 12 | (entry & 0xffff) << 16,
	     (uint32_t)addr, (uint32_t)(addr >> 32),
	     ((uint32_t)zo & 0xff) | ((uint32_t)lo & 0xff) << 8 | ((uint32_t)hi & 0xff) << 16}};
	return c;
}

/* ------------------------------------------------------------ one tile */

void tile_random(struct tile *t, const struct simdev *d, struct rng *r, unsigned m, unsigned n,
                 unsigned k)
{
	t->m = m;
	t->n = n;
	t->k = k;
	t->a = calloc((size_t)d->rows * k, 1);
	t->w = calloc((size_t)d->cols * k, 1);
	cr_assert(t->a && t->w);
	fill_i8(r, t->a, (size_t)m * k, FILL_RANDOM);
	fill_i8(r, t->w, (size_t)n * k, FILL_RANDOM);
	for (unsigned c = 0; c < d->cols; c++) {
		t->bias[c] = c < n ? (int32_t)rng_range(r, -100000, 100000) : 0;
		t->mult[c] = (int32_t)rng_range(r, 1 << 30, INT32_MAX);
		t->shift[c] = (int32_t)rng_range(r, -12, -4);
	}
	t->za = (int32_t)rng_range(r, -128, 127);
	t->zo = (int32_t)rng_range(r, -20, 20);
	t->lo = -100;
	t->hi = 120;
}

/* Writes k steps [k0, k0 + k_len) of the tile's A and W in the card
 * layouts of LOAD_A/LOAD_W. */
void tile_write_operands(struct simdev *d, const struct tile *t, unsigned k0, unsigned k_len,
                         uint64_t a_addr, uint64_t w_addr)
{
	uint8_t *a = calloc((size_t)k_len * d->rows, 1), *w = calloc((size_t)k_len * d->cols, 1);

	cr_assert(a && w);
	for (unsigned k = 0; k < k_len; k++) {
		for (unsigned r = 0; r < d->rows; r++)
			a[k * d->rows + r] = (uint8_t)t->a[(size_t)r * t->k + k0 + k];
		for (unsigned c = 0; c < d->cols; c++)
			w[k * d->cols + c] = (uint8_t)t->w[(size_t)c * t->k + k0 + k];
	}
	cr_assert_eq(ssim_mem_write(d->sim, a_addr, a, (size_t)k_len * d->rows), 0);
	cr_assert_eq(ssim_mem_write(d->sim, w_addr, w, (size_t)k_len * d->cols), 0);
	free(a);
	free(w);
}

static void put32(uint8_t *p, int32_t v)
{
	for (int b = 0; b < 4; b++)
		p[b] = (uint8_t)((uint32_t)v >> (8 * b));
}

static int32_t get32(const uint8_t *p)
{
	return ref_wrap32((int64_t)((uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	                            (uint32_t)p[3] << 24));
}

/* Parameter entry @entry at ADDR_P: bias, mult and shift beats. */
void tile_write_params(struct simdev *d, const struct tile *t, unsigned entry)
{
	uint8_t *p = calloc(3, d->bus);

	cr_assert(p);
	for (unsigned c = 0; c < d->cols; c++) {
		put32(p + 4 * c, t->bias[c]);
		put32(p + d->bus + 4 * c, t->mult[c]);
		put32(p + 2 * d->bus + 4 * c, t->shift[c]);
	}
	cr_assert_eq(ssim_mem_write(d->sim, ADDR_P + 3 * (uint64_t)d->bus * entry, p, 3 * d->bus),
	             0);
	free(p);
}

/* Compares the raw (int32) output at ADDR_OUT and the requantized one at
 * ADDR_OUT2 with the reference, over the valid rows and columns. */
void tile_check(struct simdev *d, const struct tile *t, const char *what)
{
	tile_check_at(d, t, ADDR_OUT, ADDR_OUT2, what);
}

void tile_check_at(struct simdev *d, const struct tile *t, uint64_t raw_addr, uint64_t q_addr,
                   const char *what)
{
	size_t raw_bytes = (size_t)4 * d->rows * d->cols, q_bytes = (size_t)d->rows * d->cols;
	uint8_t *raw = malloc(raw_bytes), *q = malloc(q_bytes);
	size_t bad = 0;

	cr_assert(raw && q);
	cr_assert_eq(ssim_mem_read(d->sim, raw_addr, raw, raw_bytes), 0);
	cr_assert_eq(ssim_mem_read(d->sim, q_addr, q, q_bytes), 0);
	for (unsigned r = 0; r < t->m; r++)
		for (unsigned c = 0; c < t->n; c++) {
			int32_t acc = ref_dot(t->a + (size_t)r * t->k, 1, t->w + (size_t)c * t->k,
			                      1, t->k, t->za, t->bias[c]);
			int32_t want_q =
			    ref_requantize(acc, t->mult[c], t->shift[c], t->zo, t->lo, t->hi);
			int32_t got = get32(raw + 4 * (r * d->cols + c));
			int32_t got_q = (int8_t)q[r * d->cols + c];

			if ((got != acc || got_q != want_q) && bad++ < 5)
				cr_log_error("%s: [%u][%u] raw %d want %d, requantized %d want %d",
				             what, r, c, got, acc, got_q, want_q);
		}
	free(raw);
	free(q);
	cr_assert_eq(bad, 0, "%s: %zu outputs wrong", what, bad);
}

void tile_free(struct tile *t)
{
	free(t->a);
	free(t->w);
}

size_t tile_commands(const struct simdev *d, const struct tile *t, struct cmd *cmds)
{
	(void)d;
	cmds[0] = cmd_load(OP_LOAD_A, 0, t->k, ADDR_A0);
	cmds[1] = cmd_load(OP_LOAD_W, 0, t->k, ADDR_W0);
	cmds[2] = cmd_load_p(0, 1, ADDR_P);
	cmds[3] = cmd_compute(0, 0, 1, 0, t->k, t->za, t->m, t->n);
	cmds[4] = cmd_store(1, 0, 0, ADDR_OUT, 0, -128, 127);
	cmds[5] = cmd_store(0, 0, 0, ADDR_OUT2, t->zo, t->lo, t->hi);
	return 6;
}
