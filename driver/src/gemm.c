/*
 * gemm.c - GEMM jobs: validation, tiling, operand packing, the command
 * list, and completion.
 *
 * A GEMM, int8 (TFLite) or block-scaled (Q8_0), is cut into output tiles of
 * ROWS x COLS (M tiles x N tiles; tiles of MV_ROWS x COLS when it runs on
 * the matrix-vector engine), and K into balanced chunks that fit a bank.
 * Card memory holds two parts:
 *
 *     weights: [W tiles][W scale tiles][parameter entries]
 *     job:     [A tiles][A scale tiles][output tiles][command list]
 *
 * each in the layouts of rtl/ARCHITECTURE.md, every tile at a bus-aligned
 * stride. A plain GEMM puts both parts in one region (weights first);
 * resident weights (sampan_weights) keep the weights part on the card and
 * each sampan_matmul() job region has only the job part. The command list is software-pipelined:
 * operand banks are reused when they already hold the needed tile and otherwise loaded into the
 * bank the running COMPUTE does not read, accumulator slots rotate, and each output tile is stored
 * only after the next tile's COMPUTEs are queued, so the array never waits for a store.
 */
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"
#include "isa.h"

/* ================================================================ planning */

/* What one device run computes: a GEMM in either format, with its weights
 * in the job's own region or resident on the card. */
struct spec {
	enum sampan_format format;
	uint64_t m, k, n;
	const int8_t *a;                    /* (M, K) row-major */
	const uint16_t *a_scale;            /* Q8_0: (M, K/32) */
	const int8_t *w;                    /* (N, K); unused when resident */
	const uint16_t *w_scale;            /* Q8_0: (N, K/32) */
	const int32_t *bias, *mult, *shift; /* INT8: (N) or NULL */
	const float *fbias;                 /* Q8_0: (N) or NULL */
	int32_t za, zo, lo, hi;
	int raw;
	void *out;                       /* (M, ldo) row-major: float, int32_t or int8_t */
	uint64_t ldo;                    /* elements between output rows (>= N) */
	const struct sampan_weights *wt; /* resident weights, or NULL */
};

/* Resident weights: the weights part of the plan of (format, K, N). */
struct sampan_weights {
	struct sampan_device *dev;
	enum sampan_format format;
	uint64_t n, k;
	int requant; /* mult and shift were given */
	uint64_t addr, bytes;
	char name[64];
	struct sampan_weights *next;      /* the device's list */
	struct sampan_weights *live_next; /* the process-wide registry */
};

/* Addresses of the weights part carry this bit in the host command list;
 * the rest are offsets in the job region. */
#define WT_REL (UINT64_C(1) << 63)

/* Geometry of one GEMM on one device; offsets are relative to the weights
 * base (w_off, ws_off, p_off) or to the job's card region. */
struct plan {
	unsigned rows, cols, k_depth, slots, entries, bus;
	unsigned tm;   /* output rows per M tile */
	int q, raw;    /* block-scaled; raw int32 outputs */
	int wl, wide;  /* layout fit for the wide engine; this run uses it */
	unsigned gran; /* chunk lengths are multiples of this */
	uint64_t m, k, n;
	uint64_t m_tiles, n_tiles, k_chunks, groups;
	uint64_t chunk_base, chunk_rem;        /* chunk c has (base + (c < rem)) * gran steps */
	uint64_t a_steps, w_steps;             /* bank steps per packed tile */
	uint64_t a_stride, w_stride, o_stride; /* bytes per tile */
	uint64_t as_stride, ws_stride;         /* bytes per scale tile */
	uint64_t w_off, ws_off, p_off, wt_bytes;
	uint64_t a_off, as_off, o_off, c_off;
	uint64_t in_off, in_bytes; /* the host writes [in_off, in_off + in_bytes) */
	uint64_t out_bytes;        /* output tiles: [o_off, c_off) */
};

static uint64_t div_up(uint64_t a, uint64_t b)
{
	return a / b + (a % b != 0);
}

static uint64_t gcd64(uint64_t a, uint64_t b)
{
	while (b) {
		uint64_t t = a % b;
		a = b;
		b = t;
	}
	return a;
}

static uint64_t lcm64(uint64_t a, uint64_t b)
{
	return a / gcd64(a, b) * b;
}

static uint64_t chunk_start(const struct plan *p, uint64_t c)
{
	return (c * p->chunk_base + (c < p->chunk_rem ? c : p->chunk_rem)) * p->gran;
}

static unsigned chunk_len(const struct plan *p, uint64_t c)
{
	return (unsigned)((p->chunk_base + (c < p->chunk_rem)) * p->gran);
}

/* a * b + c, or UINT64_MAX on overflow (larger than any card memory). */
static uint64_t mul_add(uint64_t a, uint64_t b, uint64_t c)
{
	uint64_t r;

	if (__builtin_mul_overflow(a, b, &r) || __builtin_add_overflow(r, c, &r))
		return UINT64_MAX;
	return r;
}

/* Largest M that runs on the matrix-vector engine. A wide tile of MV_ROWS
 * rows streams the weights at KW = bus/COLS steps a cycle, the array a
 * tile of ROWS rows at one step a cycle: ceil(M / MV_ROWS) wide passes
 * beat one array pass while fewer than KW of them are needed. */
static uint64_t wide_max_m(const struct sampan_info *info)
{
	uint64_t kw = info->bus_bytes / info->cols;

	return kw > 1 ? (uint64_t)info->mv_rows * (kw - 1) : info->mv_rows;
}

/*
 * Lays out the parts of a GEMM. The weights part depends only on the
 * device, the format, K and N, so that resident weights fit every later
 * product. Fails (SAMPAN_ERROR_NOT_SUPPORTED) when no chunk fits the banks.
 */
static int make_plan(const struct sampan_info *info, const struct spec *s, struct plan *p)
{
	uint64_t bus = info->bus_bytes, kw = info->bus_bytes / info->cols;
	uint64_t unit_a, unit_w, cap, cap_w, units, maxlen, esize;
	uint64_t a_bytes, as_bytes, w_bytes, ws_bytes, p_bytes, o_bytes, base;

	memset(p, 0, sizeof(*p));
	p->rows = info->rows;
	p->cols = info->cols;
	p->k_depth = info->k_depth;
	p->slots = info->acc_slots;
	p->entries = info->param_entries;
	p->bus = info->bus_bytes;
	p->m = s->m;
	p->k = s->k;
	p->n = s->n;
	p->q = s->format == SAMPAN_FORMAT_Q8_0;
	p->raw = s->raw;
	p->wl = (info->features & SAMPAN_FEATURE_MATVEC) && info->mv_rows &&
	        info->mv_rows <= info->rows && info->rows <= info->cols &&
	        (p->q ? ISA_QBLOCK % kw == 0 : s->k % kw == 0);
	p->wide = p->wl && s->m <= wide_max_m(info);
	p->tm = p->wide ? info->mv_rows : info->rows;

	/* Steps per tile: whole beats; with scales, whole beats of scales
	 * (16 * B / lanes steps) in whole blocks; on the wide engine, whole
	 * KW-step words. */
	p->gran = p->q ? ISA_QBLOCK : 1;
	unit_a = bus / p->rows;
	unit_w = bus / p->cols;
	if (p->q) {
		unit_a = lcm64(unit_a, lcm64(ISA_QBLOCK, 16 * bus / p->rows));
		unit_w = lcm64(unit_w, lcm64(ISA_QBLOCK, 16 * bus / p->cols));
	}
	if (p->wl) {
		p->gran = (unsigned)lcm64(p->gran, kw);
		unit_a = lcm64(unit_a, kw);
		unit_w = lcm64(unit_w, kw);
	}
	cap = p->k_depth / unit_a * unit_a;
	cap_w = p->k_depth / unit_w * unit_w;
	cap = (cap < cap_w ? cap : cap_w) / p->gran * p->gran;
	if (cap == 0)
		return drv_error(SAMPAN_ERROR_NOT_SUPPORTED,
		                 "device '%s': K_DEPTH %u is too small for %s tiles of %" PRIu64
		                 " and %" PRIu64 " steps",
		                 info->name, p->k_depth, p->q ? "block-scaled" : "int8", unit_a,
		                 unit_w);
	units = p->k / p->gran;
	p->k_chunks = div_up(units, cap / p->gran);
	p->chunk_base = units / p->k_chunks;
	p->chunk_rem = units % p->k_chunks;
	maxlen = div_up(units, p->k_chunks) * p->gran;
	p->a_steps = div_up(maxlen, unit_a) * unit_a;
	p->w_steps = div_up(maxlen, unit_w) * unit_w;
	p->m_tiles = div_up(p->m, p->tm);
	p->n_tiles = div_up(p->n, p->cols);
	p->groups = div_up(p->n_tiles, p->entries);
	p->a_stride = p->a_steps * p->rows;
	p->w_stride = p->w_steps * p->cols;
	p->as_stride = p->q ? p->a_steps / ISA_QBLOCK * 2 * p->rows : 0;
	p->ws_stride = p->q ? p->w_steps / ISA_QBLOCK * 2 * p->cols : 0;
	esize = p->q || p->raw ? 4 : 1;
	p->o_stride = div_up((uint64_t)p->rows * p->cols * esize, bus) * bus;

	w_bytes = mul_add(mul_add(p->n_tiles, p->k_chunks, 0), p->w_stride, 0);
	ws_bytes = mul_add(mul_add(p->n_tiles, p->k_chunks, 0), p->ws_stride, 0);
	p_bytes = mul_add(p->n_tiles, 3 * bus, 0);
	a_bytes = mul_add(mul_add(p->m_tiles, p->k_chunks, 0), p->a_stride, 0);
	as_bytes = mul_add(mul_add(p->m_tiles, p->k_chunks, 0), p->as_stride, 0);
	o_bytes = mul_add(mul_add(p->m_tiles, p->n_tiles, 0), p->o_stride, 0);
	p->w_off = 0;
	p->ws_off = w_bytes;
	p->p_off = mul_add(ws_bytes, 1, p->ws_off);
	p->wt_bytes = mul_add(p_bytes, 1, p->p_off);
	base = s->wt ? 0 : p->wt_bytes;
	p->a_off = base;
	p->as_off = mul_add(a_bytes, 1, p->a_off);
	p->o_off = mul_add(as_bytes, 1, p->as_off);
	p->c_off = mul_add(o_bytes, 1, p->o_off);
	p->in_off = s->wt ? p->a_off : 0;
	p->in_bytes = p->o_off - p->in_off;
	p->out_bytes = o_bytes;
	return SAMPAN_OK;
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

static void spec_of_gemm(const struct sampan_gemm *g, struct spec *s)
{
	*s = (struct spec){
	    .format = SAMPAN_FORMAT_INT8,
	    .m = (uint64_t)g->m,
	    .k = (uint64_t)g->k,
	    .n = (uint64_t)g->n,
	    .a = g->a,
	    .w = g->w,
	    .bias = g->bias,
	    .mult = g->mult,
	    .shift = g->shift,
	    .za = g->za,
	    .zo = g->zo,
	    .lo = g->lo,
	    .hi = g->hi,
	    .raw = g->raw,
	    .out = g->out,
	    .ldo = (uint64_t)g->n,
	};
}

/* ================================================================ packing */

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

/* Writes the W tiles, W scale tiles and parameter entries into @img, the
 * weights part (p->wt_bytes), zero-filled by the caller. @w etc. are the
 * (N, K) arrays of the spec. */
static void pack_weights(const struct plan *p, const struct spec *s, uint8_t *img)
{
	uint64_t nb_k = p->k / ISA_QBLOCK;

	for (uint64_t t = 0; t < p->n_tiles; t++) {
		for (uint64_t c = 0; c < p->k_chunks; c++) {
			uint64_t id = t * p->k_chunks + c, k0 = chunk_start(p, c);
			int8_t *dst = (int8_t *)img + p->w_off + id * p->w_stride;
			uint8_t *sdst = img + p->ws_off + id * p->ws_stride;
			unsigned len = chunk_len(p, c);

			/* byte k*C + c = W[n0 + c][k0 + k]; columns past N stay 0 */
			for (unsigned col = 0; col < p->cols && t * p->cols + col < p->n; col++) {
				uint64_t n = t * p->cols + col;
				const int8_t *src = s->w + n * p->k + k0;

				for (unsigned k = 0; k < len; k++)
					dst[(size_t)k * p->cols + col] = src[k];
				/* scale byte 2*(j*C + c) = sw[n0 + c][k0/32 + j] */
				if (p->q)
					for (unsigned j = 0; j < len / ISA_QBLOCK; j++)
						put16(sdst + 2 * ((size_t)j * p->cols + col),
						      s->w_scale[n * nb_k + k0 / ISA_QBLOCK + j]);
			}
		}
	}
	/* Entry of N tile t (beats: bias, mult, shift): int32 bias, or the
	 * fp32 bits of the float bias; NULL arrays are 0. */
	for (uint64_t t = 0; t < p->n_tiles; t++) {
		uint8_t *beat = img + p->p_off + t * 3 * p->bus;

		for (unsigned col = 0; col < p->cols && t * p->cols + col < p->n; col++) {
			uint64_t n = t * p->cols + col;
			uint32_t v[3] = {0, 0, 0};

			if (p->q) {
				if (s->fbias)
					memcpy(&v[0], &s->fbias[n], sizeof(v[0]));
			} else {
				v[0] = s->bias ? (uint32_t)s->bias[n] : 0;
				v[1] = s->mult ? (uint32_t)s->mult[n] : 0;
				v[2] = s->shift ? (uint32_t)s->shift[n] : 0;
			}
			for (unsigned b = 0; b < 3; b++)
				for (unsigned i = 0; i < 4; i++)
					beat[b * p->bus + 4 * col + i] = (uint8_t)(v[b] >> (8 * i));
		}
	}
}

/* Writes the A tiles and A scale tiles into @img, which starts at the job
 * offset p->a_off and is zero-filled by the caller. */
static void pack_act(const struct plan *p, const struct spec *s, uint8_t *img)
{
	uint64_t nb_k = p->k / ISA_QBLOCK;

	for (uint64_t t = 0; t < p->m_tiles; t++) {
		for (uint64_t c = 0; c < p->k_chunks; c++) {
			uint64_t id = t * p->k_chunks + c, k0 = chunk_start(p, c);
			int8_t *dst = (int8_t *)img + id * p->a_stride;
			uint8_t *sdst = img + (p->as_off - p->a_off) + id * p->as_stride;
			unsigned len = chunk_len(p, c);

			/* byte k*R + r = A[m0 + r][k0 + k]; rows past M (or past
			 * the wide tile) stay 0 */
			for (unsigned r = 0; r < p->tm && t * p->tm + r < p->m; r++) {
				uint64_t m = t * p->tm + r;
				const int8_t *src = s->a + m * p->k + k0;

				for (unsigned k = 0; k < len; k++)
					dst[(size_t)k * p->rows + r] = src[k];
				if (p->q)
					for (unsigned j = 0; j < len / ISA_QBLOCK; j++)
						put16(sdst + 2 * ((size_t)j * p->rows + r),
						      s->a_scale[m * nb_k + k0 / ISA_QBLOCK + j]);
			}
		}
	}
}

/* Copies the valid part of every output tile from @img (the output region)
 * into s->out. */
static void unpack(const struct plan *p, const struct spec *s, const uint8_t *img)
{
	unsigned wide4 = p->q || p->raw;

	for (uint64_t mt = 0; mt < p->m_tiles; mt++) {
		for (uint64_t nt = 0; nt < p->n_tiles; nt++) {
			const uint8_t *tile = img + (mt * p->n_tiles + nt) * p->o_stride;
			uint64_t m0 = mt * p->tm, n0 = nt * p->cols;
			unsigned mv = (unsigned)(p->m - m0 < p->tm ? p->m - m0 : p->tm);
			unsigned nv = (unsigned)(p->n - n0 < p->cols ? p->n - n0 : p->cols);

			for (unsigned r = 0; r < mv; r++) {
				const uint8_t *src = tile + (size_t)r * p->cols * (wide4 ? 4 : 1);
				uint64_t at = (m0 + r) * s->ldo + n0;

				if (wide4) {
					/* int32 or fp32 bits, little-endian */
					uint32_t *dst = (uint32_t *)s->out + at;
					for (unsigned c = 0; c < nv; c++) {
						uint32_t v = (uint32_t)src[4 * c] |
						             (uint32_t)src[4 * c + 1] << 8 |
						             (uint32_t)src[4 * c + 2] << 16 |
						             (uint32_t)src[4 * c + 3] << 24;
						memcpy(dst + c, &v, sizeof(v));
					}
				} else {
					memcpy((int8_t *)s->out + at, src, nv);
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
	uint64_t base;       /* address of tile 0 (WT_REL: in the weights part) */
	uint64_t tile_bytes; /* bytes per packed tile */
	uint64_t s_base;     /* block-scaled: address of scale tile 0 */
	uint64_t s_bytes;    /* bytes per scale tile (0: no scales) */
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
		/* The scale bank of that bank: same tiles, blocks at step / 32. */
		if (b->s_bytes) {
			struct isa_cmd ls = {.op = ISA_OP_LOAD_S,
			                     .bank = *bank,
			                     .operand = b->op == ISA_OP_LOAD_W,
			                     .count = load.k_len / ISA_QBLOCK,
			                     .addr = b->s_base + id * b->s_bytes};

			if ((err = push(l, &ls)) < 0)
				return err;
		}
		b->first[*bank] = id;
		b->end[*bank] = id + n;
	}
	*off = (unsigned)((id - b->first[*bank]) * b->stride);
	return SAMPAN_OK;
}

/* Emits the loads (if the banks do not hold them) and the COMPUTE of
 * output tile (mt, nt), K chunk c, into @slot. */
static int emit_compute(const struct plan *p, const struct spec *g, struct cmd_list *l,
                        struct banks *a, struct banks *w, uint64_t mt, uint64_t nt, uint64_t c,
                        int first, unsigned slot)
{
	uint64_t m0 = mt * p->tm, n0 = nt * p->cols;
	struct isa_cmd compute = {
	    .op = ISA_OP_COMPUTE,
	    .first = (unsigned)first,
	    .slot = slot,
	    .k_len = chunk_len(p, c),
	    .za = p->q ? 0 : g->za,
	    .q = (unsigned)p->q,
	    .wide = (unsigned)p->wide,
	    .m_valid = (unsigned)(p->m - m0 < p->tm ? p->m - m0 : p->tm),
	    .n_valid = (unsigned)(p->n - n0 < p->cols ? p->n - n0 : p->cols),
	};
	int err;

	if ((err = use_bank(p, l, a, mt * p->k_chunks + c, &compute.a_bank, &compute.a_off)) < 0 ||
	    (err = use_bank(p, l, w, nt * p->k_chunks + c, &compute.w_bank, &compute.w_off)) < 0 ||
	    (err = push(l, &compute)) < 0)
		return err;
	a->last = compute.a_bank;
	w->last = compute.w_bank;
	return SAMPAN_OK;
}

/*
 * Emits the command list: loop order parameter group -> M tile -> group of
 * SLOTS N tiles -> K chunk -> N tile, so that an A chunk is loaded once
 * per M tile and group (with one K chunk, once per M tile) and reused
 * across the N tiles. Addresses are offsets in the job region (WT_REL:
 * in the weights part).
 */
static int schedule(const struct plan *p, const struct spec *g, struct cmd_list *l)
{
	struct banks a = {.op = ISA_OP_LOAD_A,
	                  .base = p->a_off,
	                  .tile_bytes = p->a_stride,
	                  .s_base = p->as_off,
	                  .s_bytes = p->as_stride,
	                  .tiles = p->m_tiles * p->k_chunks,
	                  .stride = (unsigned)p->a_steps,
	                  .last = 1};
	struct banks w = {.op = ISA_OP_LOAD_W,
	                  .base = WT_REL | p->w_off,
	                  .tile_bytes = p->w_stride,
	                  .s_base = WT_REL | p->ws_off,
	                  .s_bytes = p->ws_stride,
	                  .tiles = p->n_tiles * p->k_chunks,
	                  .stride = (unsigned)p->w_steps,
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
		    .addr = WT_REL | (p->p_off + nt0 * 3 * p->bus),
		};

		int load_p_due = 1;

		for (uint64_t mt = 0; mt < p->m_tiles; mt++) {
			/* Up to one N tile per slot accumulates at a time, K chunk
			 * by K chunk, so that an A chunk is loaded once for all of
			 * them rather than once per N tile. */
			for (uint64_t ng = nt0; ng < nt1; ng += p->slots) {
				uint64_t ne = ng + p->slots < nt1 ? ng + p->slots : nt1;

				/* int8 sums commute: every other group runs the
				 * chunks backwards and finds the last two A chunks
				 * still in the banks. The float chain runs forwards. */
				int back = !p->q && (ng - nt0) / p->slots % 2;

				for (uint64_t i = 0; i < p->k_chunks; i++) {
					uint64_t c = back ? p->k_chunks - 1 - i : i;

					for (uint64_t nt = ng; nt < ne; nt++) {
						unsigned slot =
						    (unsigned)((tile + nt - ng) % p->slots);

						if ((err = emit_compute(p, g, l, &a, &w, mt, nt, c,
						                        i == 0, slot)) < 0)
							return err;
						/* The previous tile's store goes behind this
						 * COMPUTE; with one slot there is nothing to
						 * overlap. */
						if (pending && (err = push(l, &store)) < 0)
							return err;
						pending = 0;
						/* The group's parameters follow its first
						 * COMPUTEs (and the last store that reads the
						 * old entries), so that the first operand
						 * loads do not queue behind them. */
						if (load_p_due && (err = push(l, &load_p)) < 0)
							return err;
						load_p_due = 0;
						if (i + 1 < p->k_chunks)
							continue;
						store = (struct isa_cmd){
						    .op = ISA_OP_STORE,
						    .raw = !p->q && g->raw,
						    .fstore = (unsigned)p->q,
						    .slot = slot,
						    .entry = (unsigned)(nt - nt0),
						    .addr = p->o_off +
						            (mt * p->n_tiles + nt) * p->o_stride,
						    .zo = p->q ? 0 : g->zo,
						    .lo = p->q ? 0 : g->lo,
						    .hi = p->q ? 0 : g->hi,
						};
						pending = 1;
						if (p->slots < 2) {
							if ((err = push(l, &store)) < 0)
								return err;
							pending = 0;
						}
					}
				}
				tile += ne - ng;
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
	struct spec g;             /* what it computes; the arrays stay the caller's */
	struct plan plan;
	struct cmd_list cmds; /* host copy, to name a failing command */
	uint64_t card;        /* address of the job's card region */
	uint64_t wbase;       /* address of the weights part */
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
			c.addr =
			    c.addr & WT_REL ? job->wbase + (c.addr & ~WT_REL) : job->card + c.addr;
		isa_encode(&c, enc + i * ISA_CMD_BYTES);
	}
	if ((err = ops->mem_write(dev->ctx, job->card + p->in_off, img, p->in_bytes)) < 0 ||
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

/* One job at a time: completes the one in flight first. */
static int settle_inflight(struct sampan_device *dev)
{
	if (dev->inflight && sampan_job_wait(dev->inflight, -1) == SAMPAN_ERROR_TIMEOUT)
		return drv_error(SAMPAN_ERROR_BUSY,
		                 "device '%s': the previous job did not finish: %s", dev->info.name,
		                 sampan_last_error());
	return SAMPAN_OK;
}

/* Plans and schedules @s into @job (its card region not yet allocated);
 * writes the bytes the job region needs. */
static int job_prepare(struct sampan_device *dev, const struct spec *s, struct sampan_job *job,
                       uint64_t *total)
{
	int err;

	job->dev = dev;
	job->g = *s;
	if ((err = make_plan(&dev->info, s, &job->plan)) < 0)
		return err;
	if (job->plan.c_off >= dev->mem_size)
		return drv_error(SAMPAN_ERROR_DEVICE_MEM,
		                 "device '%s': GEMM %" PRIu64 "x%" PRIu64 "x%" PRIu64
		                 " needs at least %" PRIu64
		                 " bytes of card memory; the card has %" PRIu64,
		                 dev->info.name, s->m, s->k, s->n, job->plan.c_off, dev->mem_size);
	if ((err = schedule(&job->plan, s, &job->cmds)) < 0)
		return err;
	if (job->cmds.n > UINT32_MAX)
		return drv_error(SAMPAN_ERROR_INVALID, "sampan_gemm: %zu commands exceed CMD_COUNT",
		                 job->cmds.n);
	*total = job->plan.c_off + job->cmds.n * ISA_CMD_BYTES;
	return SAMPAN_OK;
}

/* Validated @s: allocates the job region, packs, starts the device. */
static int job_submit(struct sampan_device *dev, const struct spec *s, struct sampan_job **jobp)
{
	struct sampan_job *job;
	uint8_t *img;
	uint64_t total = 0, ideal, timeout_ms;
	int err;

	if ((err = settle_inflight(dev)) < 0)
		return err;
	job = calloc(1, sizeof(*job));
	if (!job)
		return drv_error(SAMPAN_ERROR_NO_MEM, "sampan_gemm: out of host memory");
	clock_gettime(CLOCK_MONOTONIC, &job->t0);
	if ((err = job_prepare(dev, s, job, &total)) < 0)
		goto err_free_job;
	if ((err = drv_mem_alloc(dev, total, "this GEMM", &job->card)) < 0)
		goto err_free_job;
	job->wbase = s->wt ? s->wt->addr : job->card;

	img = calloc(1, job->plan.in_bytes);
	if (!img) {
		err = drv_error(SAMPAN_ERROR_NO_MEM, "sampan_gemm: out of host memory");
		goto err_free_card;
	}
	if (!s->wt)
		pack_weights(&job->plan, s, img);
	pack_act(&job->plan, s, img + (job->plan.a_off - job->plan.in_off));
	err = start(job, img);
	free(img);
	if (err < 0)
		goto err_free_card;

	/* Limits of the wait: the ideal run is one cycle per streamed step
	 * plus one per bus beat moved; a healthy device stays far below 20x. */
	ideal = job->cmds.compute_steps + (total + job->plan.wt_bytes) / dev->info.bus_bytes;
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

int sampan_gemm_submit(struct sampan_device *dev, const struct sampan_gemm *g,
                       struct sampan_job **jobp)
{
	struct spec s;
	int err;

	if (!dev || !jobp)
		return drv_error(SAMPAN_ERROR_INVALID, "sampan_gemm_submit: NULL argument");
	if ((err = validate(g)) < 0)
		return err;
	spec_of_gemm(g, &s);
	return job_submit(dev, &s, jobp);
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
		return drv_error(err, "device '%s': GEMM %" PRIu64 "x%" PRIu64 "x%" PRIu64 ": %s",
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

double sampan_utilization(const struct sampan_stats *s, const struct sampan_info *info)
{
	if (!s || !info || !s->cycles || !info->rows || !info->cols)
		return 0.0;
	return (double)s->macs / ((double)s->cycles * info->rows * info->cols);
}

/* ================================================================ runs */

/* Adds the counters of one run to @sum. */
static void stats_add(struct sampan_stats *sum, const struct sampan_stats *s)
{
	sum->cycles += s->cycles;
	sum->busy_cycles += s->busy_cycles;
	sum->macs += s->macs;
	sum->stall_mem += s->stall_mem;
	sum->stall_dep += s->stall_dep;
	sum->dev_bytes_read += s->dev_bytes_read;
	sum->dev_bytes_written += s->dev_bytes_written;
	sum->host_bytes_in += s->host_bytes_in;
	sum->host_bytes_out += s->host_bytes_out;
	sum->commands += s->commands;
}

/* Card bytes a run of @s needs (its job region, plus the weights part when
 * they are not resident). */
static int run_bytes(struct sampan_device *dev, const struct spec *s, uint64_t *bytes)
{
	struct sampan_job job = {0};
	uint64_t total = 0;
	int err = job_prepare(dev, s, &job, &total);

	free(job.cmds.v);
	if (err == SAMPAN_ERROR_DEVICE_MEM) {
		/* larger than the card: what its plan needs, at least */
		*bytes = job.plan.c_off ? job.plan.c_off : UINT64_MAX;
		return SAMPAN_OK;
	}
	*bytes = total;
	return err;
}

/* Runs @s as one device job and adds its counters to @sum. */
static int run_one(struct sampan_device *dev, const struct spec *s, struct sampan_stats *sum)
{
	struct sampan_job *job;
	int err = job_submit(dev, s, &job);

	if (err < 0)
		return err;
	err = sampan_job_wait(job, -1);
	if (err == SAMPAN_OK)
		stats_add(sum, &job->stats);
	sampan_job_destroy(job);
	return err;
}

/* The sub-product of rows [m0, m0 + m) or columns [n0, n0 + n) of @s. */
static struct spec sub_rows(const struct spec *s, uint64_t m0, uint64_t m)
{
	struct spec r = *s;
	size_t esize = s->format == SAMPAN_FORMAT_Q8_0 || s->raw ? 4 : 1;

	r.m = m;
	r.a = s->a + m0 * s->k;
	if (s->a_scale)
		r.a_scale = s->a_scale + m0 * (s->k / ISA_QBLOCK);
	r.out = (uint8_t *)s->out + m0 * s->ldo * esize;
	return r;
}

static struct spec sub_cols(const struct spec *s, uint64_t n0, uint64_t n)
{
	struct spec r = *s;
	size_t esize = s->format == SAMPAN_FORMAT_Q8_0 || s->raw ? 4 : 1;

	r.n = n;
	r.w = s->w + n0 * s->k;
	if (s->w_scale)
		r.w_scale = s->w_scale + n0 * (s->k / ISA_QBLOCK);
	if (s->bias)
		r.bias = s->bias + n0;
	if (s->mult)
		r.mult = s->mult + n0;
	if (s->shift)
		r.shift = s->shift + n0;
	if (s->fbias)
		r.fbias = s->fbias + n0;
	r.out = (uint8_t *)s->out + n0 * esize;
	return r;
}

/*
 * Runs @s in as few device runs as the free card memory allows: whole if
 * it fits, else halves of M (whole M tiles) and, for weights that travel
 * with the job, halves of N (whole N tiles) until each run fits.
 */
static int run_split(struct sampan_device *dev, const struct spec *s, struct sampan_stats *sum)
{
	uint64_t need, free_bytes = drv_mem_largest_free(dev), tile_m, one;
	struct spec half;
	int err;

	if ((err = run_bytes(dev, s, &need)) < 0)
		return err;
	if (need <= free_bytes)
		return run_one(dev, s, sum);
	/* Split N first when even one M tile does not fit with the weights. */
	tile_m = dev->info.rows;
	half = sub_rows(s, 0, s->m < tile_m ? s->m : tile_m);
	if ((err = run_bytes(dev, &half, &one)) < 0)
		return err;
	if (one > free_bytes && !s->wt && s->n > dev->info.cols) {
		uint64_t n1 = div_up(div_up(s->n, dev->info.cols), 2) * dev->info.cols;
		struct spec lo = sub_cols(s, 0, n1), hi = sub_cols(s, n1, s->n - n1);

		if ((err = run_split(dev, &lo, sum)) < 0)
			return err;
		return run_split(dev, &hi, sum);
	}
	if (s->m > tile_m) {
		uint64_t m1 = div_up(div_up(s->m, tile_m), 2) * tile_m;
		struct spec lo = sub_rows(s, 0, m1), hi = sub_rows(s, m1, s->m - m1);

		if ((err = run_split(dev, &lo, sum)) < 0)
			return err;
		return run_split(dev, &hi, sum);
	}
	return drv_error(SAMPAN_ERROR_DEVICE_MEM,
	                 "device '%s': a %" PRIu64 "x%" PRIu64 "x%" PRIu64 " product needs %" PRIu64
	                 " bytes of card memory even in its smallest "
	                 "run; %" PRIu64 " bytes are free in one piece",
	                 dev->info.name, s->m, s->k, s->n, need, free_bytes);
}

/* Runs @s with run_split() and records the summed counters as the
 * device's last stats. */
static int run_all(struct sampan_device *dev, const struct spec *s, uint64_t extra_in)
{
	struct sampan_stats sum = {0};
	struct timespec t0;
	int err;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	if ((err = settle_inflight(dev)) < 0)
		return err;
	err = run_split(dev, s, &sum);
	if (err < 0)
		return err;
	sum.host_bytes_in += extra_in;
	sum.wall_seconds = seconds_since(&t0);
	dev->last_stats = sum;
	dev->have_stats = 1;
	return SAMPAN_OK;
}

/* Host bytes of A, W and the output of @s: arrays the caller really has
 * cannot be larger than this machine's memory, so a shape beyond it is
 * refused before a split would read past them. */
static int operands_in_host_memory(const struct spec *s)
{
	long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
	uint64_t esize = s->raw ? 4 : 1;
	uint64_t bytes = mul_add(s->m, s->n, 0);

	bytes = mul_add(bytes, esize, 0);
	bytes = mul_add(s->m, s->k, bytes);
	bytes = mul_add(s->n, s->k, bytes);
	return pages > 0 && page > 0 && bytes <= (uint64_t)pages * (uint64_t)page;
}

int sampan_gemm(struct sampan_device *dev, const struct sampan_gemm *g)
{
	struct spec s;
	int err;

	if (!dev)
		return drv_error(SAMPAN_ERROR_INVALID, "sampan_gemm: NULL argument");
	if ((err = validate(g)) < 0)
		return err;
	spec_of_gemm(g, &s);
	if (!operands_in_host_memory(&s))
		return drv_error(
		    SAMPAN_ERROR_DEVICE_MEM,
		    "device '%s': GEMM %" PRIu64 "x%" PRIu64 "x%" PRIu64
		    " has operands larger than this host's memory; the card has %" PRIu64 " bytes",
		    dev->info.name, s.m, s.k, s.n, dev->mem_size);
	return run_all(dev, &s, 0);
}

/* ================================================================ block-scaled */

/* Checks the shape and arrays of a block-scaled product. */
static int validate_q8(const char *fn, int64_t m, int64_t k, int64_t n, const void *a,
                       const void *a_scale, const void *out)
{
	if (m < 1 || k < 1 || n < 1)
		return drv_error(SAMPAN_ERROR_INVALID,
		                 "%s: shape m=%" PRId64 " k=%" PRId64 " n=%" PRId64
		                 ": every dimension must be >= 1",
		                 fn, m, k, n);
	if (k % SAMPAN_QBLOCK)
		return drv_error(SAMPAN_ERROR_INVALID,
		                 "%s: k=%" PRId64
		                 " is not a multiple of %d (the Q8_0 block): pad K "
		                 "with zero blocks",
		                 fn, k, SAMPAN_QBLOCK);
	if (mul_add((uint64_t)m, (uint64_t)k, 0) > SIZE_MAX / 4 ||
	    mul_add((uint64_t)n, (uint64_t)k, 0) > SIZE_MAX / 4 ||
	    mul_add((uint64_t)m, (uint64_t)n, 0) > SIZE_MAX / 4)
		return drv_error(SAMPAN_ERROR_INVALID,
		                 "%s: shape m=%" PRId64 " k=%" PRId64 " n=%" PRId64
		                 " overflows the address space",
		                 fn, m, k, n);
	if (!a || !a_scale || !out)
		return drv_error(SAMPAN_ERROR_INVALID, "%s: NULL %s array", fn,
		                 !a         ? "a"
		                 : !a_scale ? "a_scale"
		                            : "out");
	return SAMPAN_OK;
}

/* Fails with status 6's meaning when the device lacks the block-scaled
 * commands. */
static int need_block(struct sampan_device *dev, const char *fn)
{
	if (!(dev->info.features & SAMPAN_FEATURE_BLOCK_SCALED))
		return drv_error(SAMPAN_ERROR_NOT_SUPPORTED,
		                 "%s: device '%s' (hardware version 0x%08" PRIx32
		                 ") has no block-scaled commands",
		                 fn, dev->info.name, dev->info.hw_version);
	return SAMPAN_OK;
}

int sampan_gemm_q8(struct sampan_device *dev, const struct sampan_gemm_q8 *g)
{
	struct spec s;
	int err;

	if (!dev || !g)
		return drv_error(SAMPAN_ERROR_INVALID, "sampan_gemm_q8: NULL argument");
	if ((err = validate_q8("sampan_gemm_q8", g->m, g->k, g->n, g->a, g->a_scale, g->out)) < 0)
		return err;
	if (!g->w || !g->w_scale)
		return drv_error(SAMPAN_ERROR_INVALID, "sampan_gemm_q8: NULL %s array",
		                 !g->w ? "w" : "w_scale");
	if ((err = need_block(dev, "sampan_gemm_q8")) < 0)
		return err;
	s = (struct spec){
	    .format = SAMPAN_FORMAT_Q8_0,
	    .m = (uint64_t)g->m,
	    .k = (uint64_t)g->k,
	    .n = (uint64_t)g->n,
	    .a = g->a,
	    .a_scale = g->a_scale,
	    .w = g->w,
	    .w_scale = g->w_scale,
	    .fbias = g->bias,
	    .out = g->out,
	    .ldo = (uint64_t)g->n,
	};
	return run_all(dev, &s, 0);
}

/* ================================================================ resident weights */

/* Every live weights handle of the process, so that a destroyed or foreign
 * handle is recognised without reading it. */
static struct sampan_weights *live_weights;
static pthread_mutex_t live_lock = PTHREAD_MUTEX_INITIALIZER;

static int is_live(const struct sampan_weights *wt)
{
	int found = 0;

	pthread_mutex_lock(&live_lock);
	for (const struct sampan_weights *w = live_weights; w && !found; w = w->live_next)
		found = w == wt;
	pthread_mutex_unlock(&live_lock);
	return found;
}

/* Unlinks @wt from the registry and its device and frees it. */
static void weights_free(struct sampan_weights *wt)
{
	struct sampan_device *dev = wt->dev;

	pthread_mutex_lock(&live_lock);
	for (struct sampan_weights **l = &live_weights; *l; l = &(*l)->live_next)
		if (*l == wt) {
			*l = wt->live_next;
			break;
		}
	pthread_mutex_unlock(&live_lock);
	for (struct sampan_weights **l = &dev->weights; *l; l = &(*l)->next)
		if (*l == wt) {
			*l = wt->next;
			break;
		}
	drv_mem_free(dev, wt->addr);
	free(wt);
}

void drv_weights_release_all(struct sampan_device *dev)
{
	while (dev->weights)
		weights_free(dev->weights);
}

int sampan_weights_create(struct sampan_device *dev, const struct sampan_weights_desc *d,
                          struct sampan_weights **wtp)
{
	struct sampan_weights *wt;
	struct plan p;
	struct spec s;
	const char *name;
	uint8_t *img;
	int err;

	if (!dev || !d || !wtp)
		return drv_error(SAMPAN_ERROR_INVALID, "sampan_weights_create: NULL argument");
	name = d->name ? d->name : "weights";
	if (d->format != SAMPAN_FORMAT_INT8 && d->format != SAMPAN_FORMAT_Q8_0)
		return drv_error(SAMPAN_ERROR_INVALID,
		                 "sampan_weights_create: %s: unknown format %d", name,
		                 (int)d->format);
	if (d->n < 1 || d->k < 1 || !d->w)
		return drv_error(SAMPAN_ERROR_INVALID,
		                 "sampan_weights_create: %s: n=%" PRId64 " k=%" PRId64
		                 " (each must be >= 1) and w must be given",
		                 name, d->n, d->k);
	if (mul_add((uint64_t)d->n, (uint64_t)d->k, 0) > SIZE_MAX / 4)
		return drv_error(SAMPAN_ERROR_INVALID,
		                 "sampan_weights_create: %s: n=%" PRId64 " k=%" PRId64
		                 " overflows the address space",
		                 name, d->n, d->k);
	if (d->format == SAMPAN_FORMAT_Q8_0) {
		if (d->k % SAMPAN_QBLOCK)
			return drv_error(SAMPAN_ERROR_INVALID,
			                 "sampan_weights_create: %s: k=%" PRId64
			                 " is not a multiple of %d (the Q8_0 block)",
			                 name, d->k, SAMPAN_QBLOCK);
		if (!d->w_scale)
			return drv_error(SAMPAN_ERROR_INVALID,
			                 "sampan_weights_create: %s: Q8_0 needs w_scale", name);
		if ((err = need_block(dev, "sampan_weights_create")) < 0)
			return err;
	} else {
		if (!d->mult != !d->shift)
			return drv_error(
			    SAMPAN_ERROR_INVALID,
			    "sampan_weights_create: %s: give both mult and shift, or neither",
			    name);
		for (int64_t i = 0; d->shift && i < d->n; i++)
			if (d->shift[i] < -31 || d->shift[i] > 31)
				return drv_error(SAMPAN_ERROR_INVALID,
				                 "sampan_weights_create: %s: shift[%" PRId64
				                 "] = %" PRId32 " is outside [-31, 31]",
				                 name, i, d->shift[i]);
	}
	if ((err = settle_inflight(dev)) < 0)
		return err;

	s = (struct spec){.format = d->format,
	                  .m = 1,
	                  .k = (uint64_t)d->k,
	                  .n = (uint64_t)d->n,
	                  .w = d->w,
	                  .w_scale = d->w_scale,
	                  .bias = d->bias,
	                  .mult = d->mult,
	                  .shift = d->shift,
	                  .fbias = d->fbias,
	                  .raw = 1};
	if ((err = make_plan(&dev->info, &s, &p)) < 0)
		return err;
	wt = calloc(1, sizeof(*wt));
	if (!wt)
		return drv_error(SAMPAN_ERROR_NO_MEM, "sampan_weights_create: out of host memory");
	wt->dev = dev;
	wt->format = d->format;
	wt->n = (uint64_t)d->n;
	wt->k = (uint64_t)d->k;
	wt->requant = d->mult && d->shift;
	wt->bytes = p.wt_bytes;
	snprintf(wt->name, sizeof(wt->name), "%s", name);
	if (p.wt_bytes > dev->mem_size || drv_mem_alloc(dev, p.wt_bytes, name, &wt->addr) < 0) {
		err = drv_error(SAMPAN_ERROR_DEVICE_MEM,
		                "sampan_weights_create: %s (%" PRId64 "x%" PRId64 ") needs %" PRIu64
		                " bytes of card memory; %" PRIu64 " of %" PRIu64 " are free",
		                name, d->n, d->k, p.wt_bytes, dev->mem_size - drv_mem_used(dev),
		                dev->mem_size);
		goto err_free_wt;
	}
	img = calloc(1, p.wt_bytes);
	if (!img) {
		err = drv_error(SAMPAN_ERROR_NO_MEM, "sampan_weights_create: out of host memory");
		goto err_free_card;
	}
	pack_weights(&p, &s, img);
	err = dev->ops->mem_write(dev->ctx, wt->addr, img, p.wt_bytes);
	free(img);
	if (err < 0)
		goto err_free_card;

	wt->next = dev->weights;
	dev->weights = wt;
	pthread_mutex_lock(&live_lock);
	wt->live_next = live_weights;
	live_weights = wt;
	pthread_mutex_unlock(&live_lock);
	*wtp = wt;
	return SAMPAN_OK;

err_free_card:
	drv_mem_free(dev, wt->addr);
err_free_wt:
	free(wt);
	return err;
}

void sampan_weights_destroy(struct sampan_weights *wt)
{
	/* Handles already freed by sampan_close() are not live: nothing to do. */
	if (wt && is_live(wt))
		weights_free(wt);
}

uint64_t sampan_weights_bytes(const struct sampan_weights *wt)
{
	return wt && is_live(wt) ? wt->bytes : 0;
}

int sampan_matmul(struct sampan_device *dev, const struct sampan_weights *wt,
                  const struct sampan_matmul *x)
{
	struct spec s;
	int err;

	if (!dev || !wt || !x)
		return drv_error(SAMPAN_ERROR_INVALID, "sampan_matmul: NULL argument");
	if (!is_live(wt))
		return drv_error(SAMPAN_ERROR_INVALID,
		                 "sampan_matmul: the weights handle is not live (destroyed, its "
		                 "device closed, or never created)");
	if (wt->dev != dev)
		return drv_error(SAMPAN_ERROR_INVALID,
		                 "sampan_matmul: weights '%s' belong to device '%s', not to '%s'",
		                 wt->name, wt->dev->info.name, dev->info.name);
	s = (struct spec){.format = wt->format,
	                  .m = (uint64_t)x->m,
	                  .k = wt->k,
	                  .n = wt->n,
	                  .a = x->a,
	                  .a_scale = x->a_scale,
	                  .za = x->za,
	                  .zo = x->zo,
	                  .lo = x->lo,
	                  .hi = x->hi,
	                  .raw = x->raw,
	                  .out = x->out,
	                  .ldo = wt->n,
	                  .wt = wt};
	if (wt->format == SAMPAN_FORMAT_Q8_0) {
		s.raw = 0;
		s.za = s.zo = s.lo = s.hi = 0;
		if ((err = validate_q8("sampan_matmul", x->m, (int64_t)wt->k, (int64_t)wt->n, x->a,
		                       x->a_scale, x->out)) < 0)
			return err;
	} else {
		struct sampan_gemm g = {.m = x->m,
		                        .k = (int64_t)wt->k,
		                        .n = (int64_t)wt->n,
		                        .a = x->a,
		                        .w = (const int8_t *)wt, /* not read: resident */
		                        .za = x->za,
		                        .zo = x->zo,
		                        .lo = x->lo,
		                        .hi = x->hi,
		                        .raw = 1,
		                        .out = x->out};

		if ((err = validate(&g)) < 0)
			return err;
		if (!x->raw && !wt->requant)
			return drv_error(SAMPAN_ERROR_INVALID,
			                 "sampan_matmul: weights '%s' have no mult/shift: only raw "
			                 "outputs",
			                 wt->name);
	}
	return run_all(dev, &s, 0);
}
