/*
 * gemm.c - GEMM jobs: validation, tiling, operand packing, the command
 * list, and completion.
 *
 * A GEMM is cut into output tiles of ROWS x COLS (M tiles x N tiles), and K
 * into nk = ceil(K / K_DEPTH) balanced chunks. The job owns one region of
 * card memory laid out as
 *
 *     [A tiles][W tiles][parameter entries][output tiles][command list]
 *
 * each part in the layouts of rtl/ARCHITECTURE.md, every tile at a
 * bus-aligned stride. The command list is software-pipelined: operand banks
 * are reused when they already hold the needed tile and otherwise loaded
 * into the bank the running COMPUTE does not read, accumulator slots rotate,
 * and each output tile is stored only after the next tile's COMPUTEs are
 * queued, so the array never waits for a store.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "internal.h"
#include "isa.h"

/* ================================================================ planning */

/* Geometry of one GEMM on one device; offsets are relative to the job's
 * card region. */
struct plan {
	unsigned rows, cols, k_depth, slots, entries, bus;
	uint64_t m, k, n;
	uint64_t m_tiles, n_tiles, k_chunks, groups;
	uint64_t chunk_base, chunk_rem;        /* chunk c has base + (c < rem) steps */
	uint64_t a_stride, w_stride, o_stride; /* bytes per tile */
	uint64_t a_off, w_off, p_off, o_off, c_off;
	uint64_t in_bytes;  /* A, W and parameters: [0, o_off) */
	uint64_t out_bytes; /* output tiles: [o_off, c_off) */
};

static uint64_t div_up(uint64_t a, uint64_t b)
{
	return a / b + (a % b != 0);
}

static uint64_t chunk_start(const struct plan *p, uint64_t c)
{
	return c * p->chunk_base + (c < p->chunk_rem ? c : p->chunk_rem);
}

static unsigned chunk_len(const struct plan *p, uint64_t c)
{
	return (unsigned)(p->chunk_base + (c < p->chunk_rem));
}

/* a * b + c, or UINT64_MAX on overflow (larger than any card memory). */
static uint64_t mul_add(uint64_t a, uint64_t b, uint64_t c)
{
	uint64_t r;

	if (__builtin_mul_overflow(a, b, &r) || __builtin_add_overflow(r, c, &r))
		return UINT64_MAX;
	return r;
}

/* Lays out the data parts of the job; the command list goes after them. */
static void make_plan(const struct sampan_info *info, const struct sampan_gemm *g, struct plan *p)
{
	uint64_t esize = g->raw ? 4 : 1, bus = info->bus_bytes;
	uint64_t a_bytes, w_bytes, p_bytes, o_bytes;

	memset(p, 0, sizeof(*p));
	p->rows = info->rows;
	p->cols = info->cols;
	p->k_depth = info->k_depth;
	p->slots = info->acc_slots;
	p->entries = info->param_entries;
	p->bus = info->bus_bytes;
	p->m = (uint64_t)g->m;
	p->k = (uint64_t)g->k;
	p->n = (uint64_t)g->n;
	p->m_tiles = div_up(p->m, p->rows);
	p->n_tiles = div_up(p->n, p->cols);
	p->k_chunks = div_up(p->k, p->k_depth);
	p->groups = div_up(p->n_tiles, p->entries);
	p->chunk_base = p->k / p->k_chunks;
	p->chunk_rem = p->k % p->k_chunks;
	p->a_stride = div_up(mul_add(div_up(p->k, p->k_chunks), p->rows, 0), bus) * bus;
	p->w_stride = div_up(mul_add(div_up(p->k, p->k_chunks), p->cols, 0), bus) * bus;
	p->o_stride = div_up((uint64_t)p->rows * p->cols * esize, bus) * bus;

	a_bytes = mul_add(mul_add(p->m_tiles, p->k_chunks, 0), p->a_stride, 0);
	w_bytes = mul_add(mul_add(p->n_tiles, p->k_chunks, 0), p->w_stride, 0);
	p_bytes = mul_add(p->n_tiles, 3 * bus, 0);
	o_bytes = mul_add(mul_add(p->m_tiles, p->n_tiles, 0), p->o_stride, 0);
	p->a_off = 0;
	p->w_off = mul_add(a_bytes, 1, 0);
	p->p_off = mul_add(w_bytes, 1, p->w_off);
	p->o_off = mul_add(p_bytes, 1, p->p_off);
	p->c_off = mul_add(o_bytes, 1, p->o_off);
	p->in_bytes = p->o_off;
	p->out_bytes = o_bytes;
}

/* Checks every argument of a GEMM against the contract of sampan.h. */
static int validate(const struct sampan_gemm *g)
{
	if (!g)
		return drv_error(SAMPAN_ERROR_INVALID, "sampan_gemm: NULL GEMM description");
	if (g->m < 1 || g->k < 1 || g->n < 1)
		return drv_error(SAMPAN_ERROR_INVALID,
		                 "sampan_gemm: shape m=%" PRId64 " k=%" PRId64 " n=%" PRId64
		                 ": every dimension must be >= 1",
		                 g->m, g->k, g->n);
	if (!g->a || !g->w || !g->out)
		return drv_error(SAMPAN_ERROR_INVALID, "sampan_gemm: NULL %s array",
		                 !g->a   ? "a"
		                 : !g->w ? "w"
		                         : "out");
	if (!g->raw && (!g->mult || !g->shift))
		return drv_error(SAMPAN_ERROR_INVALID,
		                 "sampan_gemm: requantized mode needs the %s array (NULL given)",
		                 !g->mult ? "mult" : "shift");
	if (g->za < -128 || g->za > 127 || g->zo < -128 || g->zo > 127)
		return drv_error(SAMPAN_ERROR_INVALID,
		                 "sampan_gemm: %s = %" PRId32 " is outside [-128, 127]",
		                 g->za < -128 || g->za > 127 ? "za" : "zo",
		                 g->za < -128 || g->za > 127 ? g->za : g->zo);
	if (g->lo < -128 || g->hi > 127 || g->lo > g->hi)
		return drv_error(SAMPAN_ERROR_INVALID,
		                 "sampan_gemm: clamp [lo, hi] = [%" PRId32 ", %" PRId32
		                 "] must satisfy -128 <= lo <= hi <= 127",
		                 g->lo, g->hi);
	/* Every host array must be addressable: A, W, out, and bias/mult/shift. */
	if (mul_add((uint64_t)g->m, (uint64_t)g->k, 0) > SIZE_MAX ||
	    mul_add((uint64_t)g->n, (uint64_t)g->k, 0) > SIZE_MAX ||
	    mul_add(mul_add((uint64_t)g->m, (uint64_t)g->n, 0), 4, 0) > SIZE_MAX / 4)
		return drv_error(SAMPAN_ERROR_INVALID,
		                 "sampan_gemm: shape m=%" PRId64 " k=%" PRId64 " n=%" PRId64
		                 " overflows the address space",
		                 g->m, g->k, g->n);
	if (!g->raw)
		for (int64_t i = 0; i < g->n; i++)
			if (g->shift[i] < -31 || g->shift[i] > 31)
				return drv_error(SAMPAN_ERROR_INVALID,
				                 "sampan_gemm: shift[%" PRId64 "] = %" PRId32
				                 " is outside [-31, 31]",
				                 i, g->shift[i]);
	return SAMPAN_OK;
}

/* ================================================================ packing */

/* Writes the A tiles, W tiles and parameter entries into @img, the first
 * p->in_bytes of the job region, zero-filled by the caller. */
static void pack(const struct plan *p, const struct sampan_gemm *g, uint8_t *img)
{
	for (uint64_t t = 0; t < p->m_tiles; t++) {
		for (uint64_t c = 0; c < p->k_chunks; c++) {
			int8_t *dst =
			    (int8_t *)img + p->a_off + (t * p->k_chunks + c) * p->a_stride;
			uint64_t k0 = chunk_start(p, c);
			unsigned len = chunk_len(p, c);

			/* byte k*R + r = A[m0 + r][k0 + k]; rows past M stay 0 */
			for (unsigned r = 0; r < p->rows && t * p->rows + r < p->m; r++) {
				const int8_t *src = g->a + (t * p->rows + r) * p->k + k0;
				for (unsigned k = 0; k < len; k++)
					dst[(size_t)k * p->rows + r] = src[k];
			}
		}
	}
	for (uint64_t t = 0; t < p->n_tiles; t++) {
		for (uint64_t c = 0; c < p->k_chunks; c++) {
			int8_t *dst =
			    (int8_t *)img + p->w_off + (t * p->k_chunks + c) * p->w_stride;
			uint64_t k0 = chunk_start(p, c);
			unsigned len = chunk_len(p, c);

			/* byte k*C + c = W[n0 + c][k0 + k]; columns past N stay 0 */
			for (unsigned col = 0; col < p->cols && t * p->cols + col < p->n; col++) {
				const int8_t *src = g->w + (t * p->cols + col) * p->k + k0;
				for (unsigned k = 0; k < len; k++)
					dst[(size_t)k * p->cols + col] = src[k];
			}
		}
	}
	/* Entry of N tile t (beats: bias, mult, shift); raw mode leaves
	 * mult and shift 0, a NULL bias is 0. */
	for (uint64_t t = 0; t < p->n_tiles; t++) {
		uint8_t *beat = img + p->p_off + t * 3 * p->bus;

		for (unsigned col = 0; col < p->cols && t * p->cols + col < p->n; col++) {
			uint64_t n = t * p->cols + col;
			uint32_t v[3] = {
			    g->bias ? (uint32_t)g->bias[n] : 0,
			    g->raw ? 0 : (uint32_t)g->mult[n],
			    g->raw ? 0 : (uint32_t)g->shift[n],
			};
			for (unsigned b = 0; b < 3; b++)
				for (unsigned i = 0; i < 4; i++)
					beat[b * p->bus + 4 * col + i] = (uint8_t)(v[b] >> (8 * i));
		}
	}
}

/* Copies the valid part of every output tile from @img (the output region)
 * into g->out. */
static void unpack(const struct plan *p, const struct sampan_gemm *g, const uint8_t *img)
{
	for (uint64_t mt = 0; mt < p->m_tiles; mt++) {
		for (uint64_t nt = 0; nt < p->n_tiles; nt++) {
			const uint8_t *tile = img + (mt * p->n_tiles + nt) * p->o_stride;
			uint64_t m0 = mt * p->rows, n0 = nt * p->cols;
			unsigned mv = (unsigned)(p->m - m0 < p->rows ? p->m - m0 : p->rows);
			unsigned nv = (unsigned)(p->n - n0 < p->cols ? p->n - n0 : p->cols);

			for (unsigned r = 0; r < mv; r++) {
				const uint8_t *src = tile + (size_t)r * p->cols * (g->raw ? 4 : 1);
				uint64_t at = (m0 + r) * p->n + n0;

				if (g->raw) {
					int32_t *dst = (int32_t *)g->out + at;
					for (unsigned c = 0; c < nv; c++)
						dst[c] = (int32_t)((uint32_t)src[4 * c] |
						                   (uint32_t)src[4 * c + 1] << 8 |
						                   (uint32_t)src[4 * c + 2] << 16 |
						                   (uint32_t)src[4 * c + 3] << 24);
				} else {
					memcpy((int8_t *)g->out + at, src, nv);
				}
			}
		}
	}
}

/* ================================================================ command list */

struct cmd_list {
	struct isa_cmd *v;
	size_t n, cap;
	uint64_t compute_steps; /* sum of COMPUTE k_len: the ideal busy time */
};

static int push(struct cmd_list *l, const struct isa_cmd *c)
{
	if (l->n == l->cap) {
		size_t cap = l->cap ? 2 * l->cap : 256;
		struct isa_cmd *v = realloc(l->v, cap * sizeof(*v));

		if (!v)
			return drv_error(SAMPAN_ERROR_NO_MEM, "sampan_gemm: out of host memory");
		l->v = v;
		l->cap = cap;
	}
	l->v[l->n++] = *c;
	if (c->op == ISA_OP_COMPUTE)
		l->compute_steps += c->k_len;
	return SAMPAN_OK;
}

/* Two operand banks of one operand (A or W). A bank holds a run of
 * consecutive tiles [first, end) of the packed operand, tile i at bank step
 * (i - first) * stride: short K chunks share a bank, so one load serves
 * several COMPUTEs. */
struct banks {
	unsigned op;         /* ISA_OP_LOAD_A or ISA_OP_LOAD_W */
	uint64_t base;       /* job-region offset of tile 0 */
	uint64_t tile_bytes; /* bytes per packed tile */
	uint64_t tiles;      /* tiles of the operand */
	unsigned stride;     /* bank steps per tile (tile_bytes / lane bytes) */
	uint64_t first[2], end[2];
	unsigned last; /* bank read by the most recent COMPUTE */
};

static int bank_holds(const struct banks *b, unsigned bank, uint64_t id)
{
	return id >= b->first[bank] && id < b->end[bank];
}

/* Finds tile @id in a bank, or emits one load of as many tiles from @id on
 * as fit into the bank the most recent COMPUTE did not read. Writes the
 * bank and the tile's first bank step. */
static int use_bank(const struct plan *p, struct cmd_list *l, struct banks *b, uint64_t id,
                    unsigned *bank, unsigned *off)
{
	struct isa_cmd load = {.op = b->op, .addr = b->base + id * b->tile_bytes};
	uint64_t n = 1;
	int err;

	if (bank_holds(b, b->last, id))
		*bank = b->last;
	else if (bank_holds(b, b->last ^ 1u, id))
		*bank = b->last ^ 1u;
	else {
		*bank = load.bank = b->last ^ 1u;
		while (id + n < b->tiles &&
		       n * b->stride + chunk_len(p, (id + n) % p->k_chunks) <= p->k_depth)
			n++;
		load.k_len =
		    (unsigned)((n - 1) * b->stride) + chunk_len(p, (id + n - 1) % p->k_chunks);
		if ((err = push(l, &load)) < 0)
			return err;
		b->first[*bank] = id;
		b->end[*bank] = id + n;
	}
	*off = (unsigned)((id - b->first[*bank]) * b->stride);
	return SAMPAN_OK;
}

/*
 * Emits the command list: loop order parameter group -> M tile -> N tile ->
 * K chunk, so that with one K chunk an A tile is loaded once per M tile and
 * reused across the N tiles. Addresses are offsets in the job region.
 */
static int schedule(const struct plan *p, const struct sampan_gemm *g, struct cmd_list *l)
{
	struct banks a = {.op = ISA_OP_LOAD_A,
	                  .base = p->a_off,
	                  .tile_bytes = p->a_stride,
	                  .tiles = p->m_tiles * p->k_chunks,
	                  .stride = (unsigned)(p->a_stride / p->rows),
	                  .last = 1};
	struct banks w = {.op = ISA_OP_LOAD_W,
	                  .base = p->w_off,
	                  .tile_bytes = p->w_stride,
	                  .tiles = p->n_tiles * p->k_chunks,
	                  .stride = (unsigned)(p->w_stride / p->cols),
	                  .last = 1};
	struct isa_cmd store = {0};
	int pending = 0, err;
	uint64_t tile = 0;

	for (uint64_t grp = 0; grp < p->groups; grp++) {
		uint64_t nt0 = grp * p->entries;
		uint64_t nt1 = nt0 + p->entries < p->n_tiles ? nt0 + p->entries : p->n_tiles;
		struct isa_cmd load_p = {
		    .op = ISA_OP_LOAD_P,
		    .entry = 0,
		    .count = (unsigned)(nt1 - nt0),
		    .addr = p->p_off + nt0 * 3 * p->bus,
		};

		int load_p_due = 1;

		for (uint64_t mt = 0; mt < p->m_tiles; mt++) {
			for (uint64_t nt = nt0; nt < nt1; nt++, tile++) {
				unsigned slot = (unsigned)(tile % p->slots);
				uint64_t m0 = mt * p->rows, n0 = nt * p->cols;

				for (uint64_t c = 0; c < p->k_chunks; c++) {
					uint64_t a_id = mt * p->k_chunks + c,
					         w_id = nt * p->k_chunks + c;
					unsigned len = chunk_len(p, c);
					struct isa_cmd compute = {
					    .op = ISA_OP_COMPUTE,
					    .first = c == 0,
					    .slot = slot,
					    .k_len = len,
					    .za = g->za,
					    .m_valid = (unsigned)(p->m - m0 < p->rows ? p->m - m0
					                                              : p->rows),
					    .n_valid = (unsigned)(p->n - n0 < p->cols ? p->n - n0
					                                              : p->cols),
					};

					if ((err = use_bank(p, l, &a, a_id, &compute.a_bank,
					                    &compute.a_off)) < 0 ||
					    (err = use_bank(p, l, &w, w_id, &compute.w_bank,
					                    &compute.w_off)) < 0 ||
					    (err = push(l, &compute)) < 0)
						return err;
					a.last = compute.a_bank;
					w.last = compute.w_bank;
				}
				/* The previous tile's store goes behind this tile's
				 * COMPUTEs; with one slot there is nothing to overlap. */
				if (pending && (err = push(l, &store)) < 0)
					return err;
				pending = 0;
				/* The group's parameters follow its first COMPUTEs (and
				 * the last store that reads the old entries), so that
				 * the first operand loads do not queue behind them. */
				if (load_p_due && (err = push(l, &load_p)) < 0)
					return err;
				load_p_due = 0;
				store = (struct isa_cmd){
				    .op = ISA_OP_STORE,
				    .raw = g->raw != 0,
				    .slot = slot,
				    .entry = (unsigned)(nt - nt0),
				    .addr = p->o_off + (mt * p->n_tiles + nt) * p->o_stride,
				    .zo = g->zo,
				    .lo = g->lo,
				    .hi = g->hi,
				};
				pending = 1;
				if (p->slots < 2) {
					if ((err = push(l, &store)) < 0)
						return err;
					pending = 0;
				}
			}
		}
	}
	if (pending && (err = push(l, &store)) < 0)
		return err;
	return SAMPAN_OK;
}

/* ================================================================ jobs */

enum job_state {
	JOB_RUNNING, /* started, not yet completed */
	JOB_DONE,    /* completed: result holds the outcome */
};

struct sampan_job {
	struct sampan_device *dev; /* NULL once detached by sampan_close() */
	struct sampan_gemm g;      /* the caller's description; arrays stay the caller's */
	struct plan plan;
	struct cmd_list cmds; /* host copy, to name a failing command */
	uint64_t card;        /* address of the job's card region */
	uint64_t max_cycles;  /* cycle budget of the device */
	int default_timeout_ms;
	enum job_state state;
	int timed_out; /* a wait gave up: do not wait again implicitly */
	int result;
	char error[512]; /* detail of a failed result */
	struct timespec t0;
	struct sampan_stats stats;
};

static double seconds_since(const struct timespec *t0)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)(t.tv_sec - t0->tv_sec) + (double)(t.tv_nsec - t0->tv_nsec) * 1e-9;
}

static void job_free(struct sampan_job *job)
{
	free(job->cmds.v);
	free(job);
}

/* Releases the card region and marks the job complete with @result. */
static int job_finish(struct sampan_job *job, int result)
{
	struct sampan_device *dev = job->dev;

	drv_mem_free(dev, job->card);
	dev->inflight = NULL;
	job->state = JOB_DONE;
	job->result = result;
	if (result < 0)
		snprintf(job->error, sizeof(job->error), "%s", sampan_last_error());
	free(job->cmds.v);
	job->cmds.v = NULL;
	return result;
}

/* Encodes the command list (at its final addresses), writes the job region
 * and starts the device. */
static int start(struct sampan_job *job, const uint8_t *img)
{
	struct sampan_device *dev = job->dev;
	const struct backend_ops *ops = dev->ops;
	const struct plan *p = &job->plan;
	size_t bytes = job->cmds.n * ISA_CMD_BYTES;
	uint64_t list = job->card + p->c_off;
	uint8_t *enc = malloc(bytes);
	uint32_t ctrl, isr;
	int err;

	if (!enc)
		return drv_error(SAMPAN_ERROR_NO_MEM, "sampan_gemm: out of host memory");
	for (size_t i = 0; i < job->cmds.n; i++) {
		struct isa_cmd c = job->cmds.v[i];

		if (c.op != ISA_OP_COMPUTE)
			c.addr += job->card;
		isa_encode(&c, enc + i * ISA_CMD_BYTES);
	}
	if ((err = ops->mem_write(dev->ctx, job->card, img, p->in_bytes)) < 0 ||
	    (err = ops->mem_write(dev->ctx, list, enc, bytes)) < 0)
		goto out;
	job->stats.host_bytes_in = p->in_bytes + bytes;

	if ((err = ops->reg_read(dev->ctx, ISA_REG_CTRL, &ctrl)) < 0)
		goto out;
	if (!(ctrl & ISA_CTRL_IDLE)) {
		err = drv_error(SAMPAN_ERROR_BUSY,
		                "device '%s': the core is busy (CTRL 0x%02" PRIx32
		                "): a job given up "
		                "earlier, or another user, is still running",
		                dev->info.name, ctrl);
		goto out;
	}
	/* A stale done interrupt would end the wait at once: acknowledge it. */
	if ((err = ops->reg_read(dev->ctx, ISA_REG_ISR, &isr)) < 0 ||
	    ((isr & ISA_IRQ_DONE) &&
	     (err = ops->reg_write(dev->ctx, ISA_REG_ISR, ISA_IRQ_DONE)) < 0) ||
	    (err = ops->reg_write(dev->ctx, ISA_REG_CMD_ADDR_LO, (uint32_t)list)) < 0 ||
	    (err = ops->reg_write(dev->ctx, ISA_REG_CMD_ADDR_HI, (uint32_t)(list >> 32))) < 0 ||
	    (err = ops->reg_write(dev->ctx, ISA_REG_CMD_COUNT, (uint32_t)job->cmds.n)) < 0 ||
	    (err = ops->reg_write(dev->ctx, ISA_REG_GIE, 1)) < 0 ||
	    (err = ops->reg_write(dev->ctx, ISA_REG_IER, ISA_IRQ_DONE)) < 0 ||
	    (err = ops->reg_write(dev->ctx, ISA_REG_CTRL, ISA_CTRL_START)) < 0)
		goto out;
out:
	free(enc);
	return err;
}

int sampan_gemm_submit(struct sampan_device *dev, const struct sampan_gemm *g,
                       struct sampan_job **jobp)
{
	struct sampan_job *job;
	uint8_t *img;
	uint64_t total, ideal, timeout_ms;
	int err;

	if (!dev || !jobp)
		return drv_error(SAMPAN_ERROR_INVALID, "sampan_gemm_submit: NULL argument");
	if ((err = validate(g)) < 0)
		return err;
	/* One job at a time: complete the one in flight first. */
	if (dev->inflight && sampan_job_wait(dev->inflight, -1) == SAMPAN_ERROR_TIMEOUT)
		return drv_error(SAMPAN_ERROR_BUSY,
		                 "device '%s': the previous job did not finish: %s", dev->info.name,
		                 sampan_last_error());

	job = calloc(1, sizeof(*job));
	if (!job)
		return drv_error(SAMPAN_ERROR_NO_MEM, "sampan_gemm: out of host memory");
	clock_gettime(CLOCK_MONOTONIC, &job->t0);
	job->dev = dev;
	job->g = *g;
	make_plan(&dev->info, g, &job->plan);
	if (job->plan.c_off >= dev->mem_size) {
		err = drv_error(SAMPAN_ERROR_DEVICE_MEM,
		                "device '%s': GEMM %" PRId64 "x%" PRId64 "x%" PRId64
		                " needs at least %" PRIu64
		                " bytes of card memory; the card has %" PRIu64,
		                dev->info.name, g->m, g->k, g->n, job->plan.c_off, dev->mem_size);
		goto err_free_job;
	}
	if ((err = schedule(&job->plan, g, &job->cmds)) < 0)
		goto err_free_job;
	if (job->cmds.n > UINT32_MAX) {
		err = drv_error(SAMPAN_ERROR_INVALID, "sampan_gemm: %zu commands exceed CMD_COUNT",
		                job->cmds.n);
		goto err_free_job;
	}
	total = job->plan.c_off + job->cmds.n * ISA_CMD_BYTES;
	if ((err = drv_mem_alloc(dev, total, "this GEMM", &job->card)) < 0)
		goto err_free_job;

	img = calloc(1, job->plan.in_bytes);
	if (!img) {
		err = drv_error(SAMPAN_ERROR_NO_MEM, "sampan_gemm: out of host memory");
		goto err_free_card;
	}
	pack(&job->plan, g, img);
	err = start(job, img);
	free(img);
	if (err < 0)
		goto err_free_card;

	/* Limits of the wait: the ideal run is one cycle per streamed step
	 * plus one per bus beat moved; a healthy device stays far below 20x. */
	ideal = job->cmds.compute_steps + total / dev->info.bus_bytes;
	job->max_cycles = 20 * ideal + 1000000;
	timeout_ms = 60000 + ideal / 10; /* even a slow simulation runs 10 k cycles/s */
	job->default_timeout_ms = timeout_ms < INT32_MAX ? (int)timeout_ms : INT32_MAX;
	job->state = JOB_RUNNING;
	dev->inflight = job;
	*jobp = job;
	return SAMPAN_OK;

err_free_card:
	drv_mem_free(dev, job->card);
err_free_job:
	job_free(job);
	return err;
}

/* Reads the counters into job->stats. */
static int read_counters(struct sampan_job *job)
{
	static const struct {
		uint32_t off;
		size_t field;
	} map[] = {
	    {ISA_REG_CYCLES, offsetof(struct sampan_stats, cycles)},
	    {ISA_REG_BUSY, offsetof(struct sampan_stats, busy_cycles)},
	    {ISA_REG_MACS, offsetof(struct sampan_stats, macs)},
	    {ISA_REG_STALL_MEM, offsetof(struct sampan_stats, stall_mem)},
	    {ISA_REG_STALL_DEP, offsetof(struct sampan_stats, stall_dep)},
	    {ISA_REG_BYTES_RD, offsetof(struct sampan_stats, dev_bytes_read)},
	    {ISA_REG_BYTES_WR, offsetof(struct sampan_stats, dev_bytes_written)},
	};
	struct sampan_device *dev = job->dev;
	uint32_t cmds;
	int err;

	for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++) {
		uint64_t v;

		if ((err = drv_reg_read64(dev, map[i].off, &v)) < 0)
			return err;
		memcpy((char *)&job->stats + map[i].field, &v, sizeof(v));
	}
	if ((err = dev->ops->reg_read(dev->ctx, ISA_REG_CMDS, &cmds)) < 0)
		return err;
	job->stats.commands = cmds;
	return SAMPAN_OK;
}

int sampan_job_wait(struct sampan_job *job, int timeout_ms)
{
	struct sampan_device *dev;
	const struct plan *p;
	uint32_t status, index;
	uint8_t *img;
	int err;

	if (!job)
		return drv_error(SAMPAN_ERROR_INVALID, "sampan_job_wait: NULL job");
	if (job->state == JOB_DONE) {
		if (job->result < 0)
			drv_error(job->result, "%s", job->error);
		return job->result;
	}
	dev = job->dev;
	p = &job->plan;
	err = dev->ops->wait_done(dev->ctx, job->max_cycles,
	                          timeout_ms < 0 ? job->default_timeout_ms
	                          : timeout_ms   ? timeout_ms
	                                         : 1);
	if (err == SAMPAN_ERROR_TIMEOUT) {
		job->timed_out = 1;
		return drv_error(err, "device '%s': GEMM %" PRId64 "x%" PRId64 "x%" PRId64 ": %s",
		                 dev->info.name, job->g.m, job->g.k, job->g.n, sampan_last_error());
	}
	if (err < 0)
		return job_finish(job, err);

	if ((err = dev->ops->reg_read(dev->ctx, ISA_REG_STATUS, &status)) < 0 ||
	    (err = dev->ops->reg_read(dev->ctx, ISA_REG_ERR_INDEX, &index)) < 0 ||
	    (err = read_counters(job)) < 0)
		return job_finish(job, err);
	status &= 0xFFu;
	if (status != ISA_STATUS_OK) {
		struct isa_cmd none = {0};
		const struct isa_cmd *c = index < job->cmds.n ? &job->cmds.v[index] : &none;

		return job_finish(job,
		                  drv_error(SAMPAN_ERROR_DEVICE,
		                            "device '%s': command %" PRIu32 " of %zu (%s) failed: "
		                            "%s (STATUS %" PRIu32 ")",
		                            dev->info.name, index, job->cmds.n, isa_op_name(c->op),
		                            isa_status_name(status), status));
	}

	img = malloc(p->out_bytes);
	if (!img)
		return job_finish(
		    job, drv_error(SAMPAN_ERROR_NO_MEM, "sampan_job_wait: out of host memory"));
	err = dev->ops->mem_read(dev->ctx, job->card + p->o_off, img, p->out_bytes);
	if (err == SAMPAN_OK) {
		unpack(p, &job->g, img);
		job->stats.host_bytes_out = p->out_bytes;
		job->stats.wall_seconds = seconds_since(&job->t0);
		dev->last_stats = job->stats;
		dev->have_stats = 1;
	}
	free(img);
	return job_finish(job, err);
}

int sampan_job_stats(const struct sampan_job *job, struct sampan_stats *stats)
{
	if (!job || !stats)
		return drv_error(SAMPAN_ERROR_INVALID, "sampan_job_stats: NULL argument");
	if (job->state != JOB_DONE || job->result < 0)
		return drv_error(SAMPAN_ERROR_INVALID,
		                 "sampan_job_stats: the job has not completed");
	*stats = job->stats;
	return SAMPAN_OK;
}

/* Completes a job whose owner no longer waits for it: one wait with the
 * default limits unless a wait already timed out; if the device still has
 * not finished, the job fails with @err (@why) and its card region is given
 * up (start() refuses new jobs while the core is not idle). */
static void job_abandon(struct sampan_job *job, int err, const char *why)
{
	if (job->state == JOB_RUNNING && !job->timed_out)
		sampan_job_wait(job, -1);
	if (job->state == JOB_RUNNING)
		job_finish(job, drv_error(err, "device '%s': %s", job->dev->info.name, why));
}

void drv_job_detach(struct sampan_job *job)
{
	job_abandon(job, SAMPAN_ERROR_NO_DEVICE, "closed before the job finished");
	job->dev = NULL;
}

void sampan_job_destroy(struct sampan_job *job)
{
	if (!job)
		return;
	if (job->dev)
		job_abandon(job, SAMPAN_ERROR_TIMEOUT, "job destroyed before it finished");
	job_free(job);
}

int sampan_gemm(struct sampan_device *dev, const struct sampan_gemm *g)
{
	struct sampan_job *job;
	int err = sampan_gemm_submit(dev, g, &job);

	if (err < 0)
		return err;
	err = sampan_job_wait(job, -1);
	sampan_job_destroy(job);
	return err;
}

double sampan_utilization(const struct sampan_stats *s, const struct sampan_info *info)
{
	if (!s || !info || !s->cycles || !info->rows || !info->cols)
		return 0.0;
	return (double)s->macs / ((double)s->cycles * info->rows * info->cols);
}
