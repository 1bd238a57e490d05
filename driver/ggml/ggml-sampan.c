/*
 * ggml-sampan.c - a ggml backend for libsampan: llama.cpp's tools
 * (llama-cli, llama-server, llama-bench, test-backend-ops, rpc-server) run
 * their matrix products on sampan devices.
 *
 * Built as a dynamically loaded ggml backend library (libggml-sampan.so);
 * ggml loads it from $GGML_BACKEND_PATH and calls ggml_backend_init().
 *
 *   SAMPAN_GGML_DEVICES  comma-separated sampan device names, one ggml
 *                        device each (SAMPAN0, SAMPAN1, ...); options after
 *                        a colon as sampan_open() takes them, e.g.
 *                        "sim:latency=40,bw=8,cpu". Default: "sim".
 *   SAMPAN_GGML_LOG      1: one line per computed graph on stderr with the
 *                        device's cycles, MACs and utilization.
 *   SAMPAN_GGML_THREADS  threads of the CPU backend that runs the ops the
 *                        device does not claim when a whole graph is handed
 *                        to it (rpc-server); default: online CPUs.
 *
 * What the device claims (supports_op): MUL_MAT of GGUF Q8_0 weights (src0,
 * rows of contiguous blocks, any strides above) by float32 activations
 * (src1, any strides, broadcast over dims 2 and 3 as ggml defines it). The
 * activations are quantized to Q8_0 rows on the host by
 * sampan_quantize_q8_0() (ggml's reference quantizer, as ggml's CPU backend
 * does before its Q8_0 dot products), and the product runs through
 * sampan_matmul() against weights made resident on the card with
 * sampan_weights_create(). Everything else is left to the CPU backend by
 * ggml's scheduler. The device is of type ACCEL: llama.cpp then places the
 * weights of the ops it claims in its buffer type and runs the rest of each
 * layer on the CPU, with no -ngl needed.
 *
 * Buffers live in host memory (is_host): the CPU backend reads and writes
 * the tensors in them directly. A weight is uploaded to the card once, on
 * its first product; the upload is forgotten (and the card memory freed)
 * when the tensor's bytes change through the buffer interface or through a
 * node this backend computes. Tensors of compute buffers, which the CPU
 * backend writes behind the buffer's back, are never kept on the card.
 *
 * rpc-server hands a whole graph to one backend: nodes that the device does
 * not claim then run, in maximal runs, on a CPU backend of this process.
 */

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ggml-backend-impl.h"
#include "ggml-backend.h"
#include "ggml-impl.h"
#include "ggml.h"

#include "sampan.h"

#define SG_MAX_DEVICES 16
#define SG_ALIGNMENT 64 /* tensor alignment in sampan buffers */
#define SG_Q8_BYTES 34  /* sizeof(block_q8_0): fp16 d, int8 qs[32] */

/* ------------------------------------------------------------ structures */

/* Per-graph figures, summed over the device runs of one graph_compute. */
struct sg_graph_stats {
	unsigned matmuls;     /* sampan_matmul() calls */
	int64_t m_min, m_max; /* rows of A over those calls */
	unsigned uploads;     /* weights made resident during the graph */
	uint64_t upload_bytes;
	unsigned delegated;   /* nodes run on the CPU backend */
	struct sampan_stats dev; /* device counters, summed */
};

/* One ggml device: one sampan device name. */
struct sg_device {
	struct ggml_backend_device gdev;
	struct ggml_backend_buffer_type buft;
	int index;
	char name[16];              /* "SAMPAN0" */
	char spec[256];             /* what sampan_open() gets: "sim", "cpu:mem=512" */
	char desc[400];
	pthread_mutex_t lock;       /* serializes every call on @dev and weight lists */
	struct sampan_device *dev;  /* opened on first use */
	struct sampan_info info;
	int open_err;               /* last sampan_open() failure (0: none tried) */
	uint64_t graphs;            /* graphs computed, for the log */
	/* Set once a graph hands it nodes it does not claim (rpc-server): then
	 * every write to its buffers goes through this backend. */
	bool whole_graphs;
};

/* A weight slice resident on the card. */
struct sg_weight {
	struct sg_weight *next;
	const uint8_t *data;        /* host address of the first row */
	size_t extent;              /* host bytes from @data to the end of the last row */
	int64_t n, k;
	size_t row_stride;          /* host bytes between rows */
	struct sampan_weights *wt;
};

/* A buffer of the sampan buffer type. */
struct sg_buffer {
	struct sg_device *sd;
	uint8_t *base;
	size_t size;
	struct sg_weight *weights;  /* resident uploads of tensors in this buffer */
};

/* One backend (stream) on a device. */
struct sg_backend {
	struct sg_device *sd;
	ggml_backend_t cpu;         /* for nodes not claimed (rpc-server), lazily */
	/* scratch for one product, grown as needed */
	int8_t *a;                  /* (M, K) */
	uint16_t *a_scale;          /* (M, K/32) */
	float *row;                 /* (K) one gathered activation row */
	float *out;                 /* (M, N) */
	size_t a_cap, s_cap, row_cap, out_cap;
	struct sg_graph_stats g;     /* the graph being computed */
	struct sg_graph_stats total; /* every graph of this backend */
	uint64_t graphs;             /* graphs with device products */
};

static struct ggml_backend_reg sg_reg;
static struct sg_device sg_devices[SG_MAX_DEVICES];
static size_t sg_ndevices;
static int sg_log_enabled;

static const struct ggml_backend_buffer_type_i sg_buft_iface;

/* ---------------------------------------------------------------- helpers */

static void sg_err(const struct sg_device *sd, const char *what, int err)
{
	const char *detail = sampan_last_error();

	fprintf(stderr, "sampan: %s (%s): %s: %s%s%s\n", sd->name, sd->spec, what,
	        sampan_strerror(err), *detail ? ": " : "", detail);
}

/* Opens the sampan device on first use; the caller holds sd->lock. */
static int sg_open_locked(struct sg_device *sd)
{
	int err;

	if (sd->dev)
		return SAMPAN_OK;
	err = sampan_open(&sd->dev, sd->spec);
	if (err != SAMPAN_OK) {
		sd->dev = NULL;
		if (sd->open_err != err)
			sg_err(sd, "cannot open the device", err);
		sd->open_err = err;
		return err;
	}
	err = sampan_get_info(sd->dev, &sd->info);
	if (err != SAMPAN_OK) {
		sg_err(sd, "cannot read the device's info", err);
		sampan_close(sd->dev);
		sd->dev = NULL;
		sd->open_err = err;
		return err;
	}
	snprintf(sd->desc, sizeof(sd->desc), "sampan %s: %ux%u array, %" PRIu64 " MiB card memory%s",
	         sd->spec, sd->info.rows, sd->info.cols, sd->info.mem_bytes >> 20,
	         sd->info.features & SAMPAN_FEATURE_BLOCK_SCALED ? ", Q8_0"
	                                                          : ", no block-scaled commands");
	return SAMPAN_OK;
}

static int sg_open(struct sg_device *sd)
{
	int err;

	pthread_mutex_lock(&sd->lock);
	err = sg_open_locked(sd);
	pthread_mutex_unlock(&sd->lock);
	return err;
}

static bool sg_is_sampan_buft(ggml_backend_buffer_type_t buft)
{
	return buft && buft->iface.get_name == sg_buft_iface.get_name;
}

static bool sg_is_sampan_buffer(ggml_backend_buffer_t buf)
{
	return buf && sg_is_sampan_buft(buf->buft);
}

/* Grows *p to hold at least @n elements of @elem bytes. */
static int sg_reserve(void **p, size_t *cap, size_t n, size_t elem)
{
	void *q;

	if (n <= *cap)
		return 0;
	q = realloc(*p, n * elem);
	if (!q)
		return -1;
	*p = q;
	*cap = n;
	return 0;
}

/* --------------------------------------------------------- resident weights */

/* Drops the uploads of @sb whose host bytes meet [lo, hi); the caller holds
 * the device lock. */
static void sg_forget_locked(struct sg_buffer *sb, const uint8_t *lo, const uint8_t *hi)
{
	struct sg_weight **pp = &sb->weights;

	while (*pp) {
		struct sg_weight *w = *pp;

		if (w->data < hi && lo < w->data + w->extent) {
			*pp = w->next;
			if (sb->sd->dev) /* else sampan_close() freed it */
				sampan_weights_destroy(w->wt);
			free(w);
		} else {
			pp = &w->next;
		}
	}
}

static void sg_forget(struct sg_buffer *sb, const void *p, size_t n)
{
	if (!sb->weights)
		return;
	pthread_mutex_lock(&sb->sd->lock);
	sg_forget_locked(sb, p, (const uint8_t *)p + n);
	pthread_mutex_unlock(&sb->sd->lock);
}

/* Forgets the uploads that a write of @t (a node just computed) changes. */
static void sg_forget_tensor(const struct ggml_tensor *t)
{
	ggml_backend_buffer_t buf = t->view_src ? t->view_src->buffer : t->buffer;

	if (!sg_is_sampan_buffer(buf) || !t->data)
		return;
	sg_forget(buf->context, t->data, ggml_nbytes(t));
}

/*
 * Makes a Q8_0 weight slice (@n rows of @k values, rows @row_stride bytes
 * apart from @data) resident: found in @sb's list, or uploaded and added to
 * it. With @sb NULL the upload is the caller's to destroy. The caller holds
 * the device lock. Returns a sampan error code.
 */
static int sg_weights_get_locked(struct sg_backend *be, struct sg_buffer *sb, const uint8_t *data,
                                 int64_t n, int64_t k, size_t row_stride, const char *name,
                                 struct sampan_weights **out)
{
	struct sg_device *sd = be->sd;
	struct sampan_weights_desc desc;
	struct sg_weight *w;
	int64_t nb = k / SAMPAN_QBLOCK;
	int8_t *q;
	uint16_t *d;
	int err;

	if (sb) {
		for (w = sb->weights; w; w = w->next) {
			if (w->data == data && w->n == n && w->k == k && w->row_stride == row_stride) {
				*out = w->wt;
				return SAMPAN_OK;
			}
		}
	}

	q = malloc((size_t)(n * k));
	d = malloc((size_t)(n * nb) * sizeof(*d));
	if (!q || !d) {
		free(q);
		free(d);
		return SAMPAN_ERROR_NO_MEM;
	}
	/* block_q8_0 rows -> (N, K) int8 and (N, K/32) fp16 scales */
	for (int64_t r = 0; r < n; r++) {
		const uint8_t *row = data + (size_t)r * row_stride;

		for (int64_t b = 0; b < nb; b++) {
			const uint8_t *blk = row + (size_t)b * SG_Q8_BYTES;

			memcpy(&d[r * nb + b], blk, 2);
			memcpy(&q[r * k + b * SAMPAN_QBLOCK], blk + 2, SAMPAN_QBLOCK);
		}
	}
	memset(&desc, 0, sizeof(desc));
	desc.format = SAMPAN_FORMAT_Q8_0;
	desc.n = n;
	desc.k = k;
	desc.w = q;
	desc.w_scale = d;
	desc.name = name;
	err = sampan_weights_create(sd->dev, &desc, out);
	free(q);
	free(d);
	if (err != SAMPAN_OK)
		return err;
	be->g.uploads++;
	be->g.upload_bytes += sampan_weights_bytes(*out);
	if (!sb)
		return SAMPAN_OK;

	w = malloc(sizeof(*w));
	if (!w) {
		sampan_weights_destroy(*out);
		return SAMPAN_ERROR_NO_MEM;
	}
	w->data = data;
	w->extent = (size_t)(n - 1) * row_stride + (size_t)nb * SG_Q8_BYTES;
	w->n = n;
	w->k = k;
	w->row_stride = row_stride;
	w->wt = *out;
	w->next = sb->weights;
	sb->weights = w;
	return SAMPAN_OK;
}

/* ----------------------------------------------------------------- buffer */

static void sg_buffer_free(ggml_backend_buffer_t buffer)
{
	struct sg_buffer *sb = buffer->context;

	pthread_mutex_lock(&sb->sd->lock);
	sg_forget_locked(sb, sb->base, sb->base + sb->size);
	pthread_mutex_unlock(&sb->sd->lock);
	free(sb->base);
	free(sb);
}

static void *sg_buffer_get_base(ggml_backend_buffer_t buffer)
{
	struct sg_buffer *sb = buffer->context;

	return sb->base;
}

static void sg_buffer_memset_tensor(ggml_backend_buffer_t buffer, struct ggml_tensor *tensor,
                                    uint8_t value, size_t offset, size_t size)
{
	uint8_t *p = (uint8_t *)tensor->data + offset;

	sg_forget(buffer->context, p, size);
	memset(p, value, size);
}

static void sg_buffer_set_tensor(ggml_backend_buffer_t buffer, struct ggml_tensor *tensor,
                                 const void *data, size_t offset, size_t size)
{
	uint8_t *p = (uint8_t *)tensor->data + offset;

	sg_forget(buffer->context, p, size);
	memcpy(p, data, size);
}

static void sg_buffer_get_tensor(ggml_backend_buffer_t buffer, const struct ggml_tensor *tensor,
                                 void *data, size_t offset, size_t size)
{
	(void)buffer;
	memcpy(data, (const uint8_t *)tensor->data + offset, size);
}

static bool sg_buffer_cpy_tensor(ggml_backend_buffer_t buffer, const struct ggml_tensor *src,
                                 struct ggml_tensor *dst)
{
	if (!src->buffer || !ggml_backend_buffer_is_host(src->buffer))
		return false;
	sg_forget(buffer->context, dst->data, ggml_nbytes(src));
	memcpy(dst->data, src->data, ggml_nbytes(src));
	return true;
}

static void sg_buffer_clear(ggml_backend_buffer_t buffer, uint8_t value)
{
	struct sg_buffer *sb = buffer->context;

	sg_forget(sb, sb->base, sb->size);
	memset(sb->base, value, sb->size);
}

static const struct ggml_backend_buffer_i sg_buffer_iface = {
	.free_buffer = sg_buffer_free,
	.get_base = sg_buffer_get_base,
	.init_tensor = NULL,
	.memset_tensor = sg_buffer_memset_tensor,
	.set_tensor = sg_buffer_set_tensor,
	.get_tensor = sg_buffer_get_tensor,
	.set_tensor_2d = NULL,
	.get_tensor_2d = NULL,
	.cpy_tensor = sg_buffer_cpy_tensor,
	.clear = sg_buffer_clear,
	.reset = NULL,
};

/* ------------------------------------------------------------ buffer type */

static const char *sg_buft_get_name(ggml_backend_buffer_type_t buft)
{
	struct sg_device *sd = buft->context;

	return sd->name;
}

/*
 * Allocates host memory for tensors of this device. A buffer larger than
 * the whole card memory cannot hold weights for it: refused with the sizes.
 */
static ggml_backend_buffer_t sg_buft_alloc_buffer(ggml_backend_buffer_type_t buft, size_t size)
{
	struct sg_device *sd = buft->context;
	struct sg_buffer *sb;
	size_t alloc = (size ? size : 1);

	if (sg_open(sd) != SAMPAN_OK)
		return NULL;
	if (size > sd->info.mem_bytes) {
		fprintf(stderr,
		        "sampan: %s (%s): a buffer of %zu bytes (%.1f MiB) does not fit in the card "
		        "memory of %" PRIu64 " bytes (%.1f MiB); open the device with more memory "
		        "(%.*s:mem=MiB where the device takes it) or use a smaller model\n",
		        sd->name, sd->spec, size, size / 1048576.0, sd->info.mem_bytes,
		        sd->info.mem_bytes / 1048576.0, (int)strcspn(sd->spec, ":"), sd->spec);
		return NULL;
	}
	sb = malloc(sizeof(*sb));
	if (!sb)
		return NULL;
	alloc = (alloc + SG_ALIGNMENT - 1) / SG_ALIGNMENT * SG_ALIGNMENT;
	sb->base = aligned_alloc(SG_ALIGNMENT, alloc);
	if (!sb->base) {
		fprintf(stderr, "sampan: %s: cannot allocate %zu bytes of host memory\n", sd->name,
		        alloc);
		free(sb);
		return NULL;
	}
	sb->sd = sd;
	sb->size = size;
	sb->weights = NULL;
	return ggml_backend_buffer_init(buft, sg_buffer_iface, sb, size);
}

static size_t sg_buft_get_alignment(ggml_backend_buffer_type_t buft)
{
	(void)buft;
	return SG_ALIGNMENT;
}

static bool sg_buft_is_host(ggml_backend_buffer_type_t buft)
{
	(void)buft;
	return true;
}

static const struct ggml_backend_buffer_type_i sg_buft_iface = {
	.get_name = sg_buft_get_name,
	.alloc_buffer = sg_buft_alloc_buffer,
	.get_alignment = sg_buft_get_alignment,
	.get_max_size = NULL,
	.get_alloc_size = NULL,
	.is_host = sg_buft_is_host,
};

/* ------------------------------------------------------------- the product */

/*
 * Whether the device computes @op: MUL_MAT of Q8_0 src0 whose rows are
 * contiguous blocks, by F32 src1, into F32 with contiguous rows.
 */
static bool sg_claims(const struct ggml_tensor *op)
{
	const struct ggml_tensor *a = op->src[0], *b = op->src[1];

	if (op->op != GGML_OP_MUL_MAT || !a || !b)
		return false;
	return a->type == GGML_TYPE_Q8_0 && b->type == GGML_TYPE_F32 &&
	       op->type == GGML_TYPE_F32 && a->nb[0] == SG_Q8_BYTES &&
	       a->ne[0] % SAMPAN_QBLOCK == 0 && op->nb[0] == sizeof(float) &&
	       a->ne[2] > 0 && a->ne[3] > 0 && b->ne[2] % a->ne[2] == 0 &&
	       b->ne[3] % a->ne[3] == 0;
}

/* Gathers src1 row (i1, i2, i3) into be->row and quantizes it to row @r of
 * be->a / be->a_scale. */
static int sg_quantize_row(struct sg_backend *be, const struct ggml_tensor *b, int64_t i1,
                           int64_t i2, int64_t i3, int64_t r)
{
	const int64_t k = b->ne[0];
	const uint8_t *src = (const uint8_t *)b->data + i1 * b->nb[1] + i2 * b->nb[2] + i3 * b->nb[3];
	const float *x;

	if (b->nb[0] == sizeof(float) && ((uintptr_t)src % sizeof(float)) == 0) {
		x = (const float *)src;
	} else {
		for (int64_t i = 0; i < k; i++)
			memcpy(&be->row[i], src + i * b->nb[0], sizeof(float));
		x = be->row;
	}
	return sampan_quantize_q8_0(x, k, be->a + r * k, be->a_scale + r * (k / SAMPAN_QBLOCK));
}

/*
 * Computes the MUL_MAT @dst on the device: for each 2-D slice of src0 the
 * rows of src1 that multiply it are quantized and run through
 * sampan_matmul() as one product, and the (M, N) result is scattered into
 * dst. Returns a sampan error code.
 */
static int sg_mul_mat(struct sg_backend *be, struct ggml_tensor *dst)
{
	struct sg_device *sd = be->sd;
	const struct ggml_tensor *a = dst->src[0], *b = dst->src[1];
	ggml_backend_buffer_t abuf = a->view_src ? a->view_src->buffer : a->buffer;
	struct sg_buffer *sb = NULL;
	const int64_t k = a->ne[0], n = a->ne[1];
	const int64_t r2 = b->ne[2] / a->ne[2], r3 = b->ne[3] / a->ne[3];
	/* A 2-D src0 multiplies every row of src1 in one product. */
	const bool flat = a->ne[2] == 1 && a->ne[3] == 1;
	const int64_t m = flat ? b->ne[1] * b->ne[2] * b->ne[3] : b->ne[1];
	int err = SAMPAN_OK;

	/* Uploads stay on the card for weight buffers. Under ggml's scheduler
	 * the CPU backend writes the other buffers (KV cache, compute) without
	 * telling us; only when this backend computes whole graphs does every
	 * write go through it, so that any buffer but a compute one may keep
	 * its uploads. */
	if (sg_is_sampan_buffer(abuf)) {
		enum ggml_backend_buffer_usage u = ggml_backend_buffer_get_usage(abuf);

		if (u == GGML_BACKEND_BUFFER_USAGE_WEIGHTS ||
		    (u == GGML_BACKEND_BUFFER_USAGE_ANY && sd->whole_graphs))
			sb = abuf->context;
	}

	if (sg_reserve((void **)&be->a, &be->a_cap, (size_t)(m * k), 1) ||
	    sg_reserve((void **)&be->a_scale, &be->s_cap, (size_t)(m * (k / SAMPAN_QBLOCK)),
	               sizeof(uint16_t)) ||
	    sg_reserve((void **)&be->row, &be->row_cap, (size_t)k, sizeof(float)) ||
	    sg_reserve((void **)&be->out, &be->out_cap, (size_t)(m * n), sizeof(float)))
		return SAMPAN_ERROR_NO_MEM;

	for (int64_t i3 = 0; i3 < (flat ? 1 : b->ne[3]); i3++) {
		for (int64_t i2 = 0; i2 < (flat ? 1 : b->ne[2]); i2++) {
			const uint8_t *wdata = (const uint8_t *)a->data + (i2 / r2) * a->nb[2] +
			                       (i3 / r3) * a->nb[3];
			struct sampan_weights *wt = NULL;
			struct sampan_matmul x;
			struct sampan_stats st;
			int64_t r = 0;

			/* quantize the activations */
			for (int64_t j3 = (flat ? 0 : i3); j3 < (flat ? b->ne[3] : i3 + 1); j3++)
				for (int64_t j2 = (flat ? 0 : i2); j2 < (flat ? b->ne[2] : i2 + 1); j2++)
					for (int64_t j1 = 0; j1 < b->ne[1]; j1++) {
						err = sg_quantize_row(be, b, j1, j2, j3, r++);
						if (err != SAMPAN_OK)
							return err;
					}

			memset(&x, 0, sizeof(x));
			x.m = m;
			x.a = be->a;
			x.a_scale = be->a_scale;
			x.out = be->out;

			pthread_mutex_lock(&sd->lock);
			err = sg_weights_get_locked(be, sb, wdata, n, k, a->nb[1], a->name, &wt);
			if (err == SAMPAN_OK) {
				err = sampan_matmul(sd->dev, wt, &x);
				if (err == SAMPAN_OK && sampan_get_stats(sd->dev, &st) == SAMPAN_OK) {
					be->g.dev.cycles += st.cycles;
					be->g.dev.busy_cycles += st.busy_cycles;
					be->g.dev.macs += st.macs;
					be->g.dev.host_bytes_in += st.host_bytes_in;
					be->g.dev.host_bytes_out += st.host_bytes_out;
					be->g.dev.wall_seconds += st.wall_seconds;
				}
				if (!sb)
					sampan_weights_destroy(wt);
			}
			pthread_mutex_unlock(&sd->lock);
			if (err != SAMPAN_OK)
				return err;

			be->g.matmuls++;
			if (be->g.matmuls == 1 || m < be->g.m_min)
				be->g.m_min = m;
			if (m > be->g.m_max)
				be->g.m_max = m;

			/* scatter (M, N) into dst */
			r = 0;
			for (int64_t j3 = (flat ? 0 : i3); j3 < (flat ? b->ne[3] : i3 + 1); j3++)
				for (int64_t j2 = (flat ? 0 : i2); j2 < (flat ? b->ne[2] : i2 + 1); j2++)
					for (int64_t j1 = 0; j1 < b->ne[1]; j1++, r++)
						memcpy((uint8_t *)dst->data + j1 * dst->nb[1] +
						               j2 * dst->nb[2] + j3 * dst->nb[3],
						       be->out + r * n, (size_t)n * sizeof(float));
		}
	}
	return SAMPAN_OK;
}

/* ---------------------------------------------------------------- backend */

static const char *sg_backend_get_name(ggml_backend_t backend)
{
	struct sg_backend *be = backend->context;

	return be->sd->name;
}

static void sg_log_total(struct sg_backend *be)
{
	struct sg_device *sd = be->sd;
	const struct sg_graph_stats *t = &be->total;

	fprintf(stderr,
	        "sampan: %s (%s) total: %" PRIu64 " graphs, %u matmuls, %" PRIu64 " cycles, %" PRIu64
	        " MACs, utilization %.1f%%, %u uploads (%" PRIu64 " bytes), device wall %.3f s\n",
	        sd->name, sd->spec, be->graphs, t->matmuls, t->dev.cycles, t->dev.macs,
	        100.0 * sampan_utilization(&t->dev, &sd->info), t->uploads, t->upload_bytes,
	        t->dev.wall_seconds);
}

static void sg_backend_free(ggml_backend_t backend)
{
	struct sg_backend *be = backend->context;

	if (sg_log_enabled && be->graphs)
		sg_log_total(be);

	if (be->cpu)
		ggml_backend_free(be->cpu);
	free(be->a);
	free(be->a_scale);
	free(be->row);
	free(be->out);
	free(be);
	free(backend);
}

/* The CPU backend that runs the nodes the device does not claim. */
static ggml_backend_t sg_cpu_backend(struct sg_backend *be)
{
	ggml_backend_dev_t cpu_dev;
	const char *env;
	long threads;

	if (be->cpu)
		return be->cpu;
	cpu_dev = ggml_backend_dev_by_type(GGML_BACKEND_DEVICE_TYPE_CPU);
	if (!cpu_dev) {
		fprintf(stderr, "sampan: %s: no CPU backend for the ops the device does not do\n",
		        be->sd->name);
		return NULL;
	}
	be->cpu = ggml_backend_dev_init(cpu_dev, NULL);
	if (!be->cpu)
		return NULL;
	env = getenv("SAMPAN_GGML_THREADS");
	threads = env && *env ? strtol(env, NULL, 10) : sysconf(_SC_NPROCESSORS_ONLN);
	if (threads > 0) {
		ggml_backend_reg_t reg = ggml_backend_dev_backend_reg(cpu_dev);
		ggml_backend_set_n_threads_t set_threads =
		        (ggml_backend_set_n_threads_t)ggml_backend_reg_get_proc_address(
		                reg, "ggml_backend_set_n_threads");

		if (set_threads)
			set_threads(be->cpu, (int)threads);
	}
	return be->cpu;
}

/* Runs nodes [i0, i1) of @cgraph on the CPU backend. */
static enum ggml_status sg_delegate(struct sg_backend *be, struct ggml_cgraph *cgraph, int i0,
                                    int i1)
{
	struct ggml_cgraph view;
	ggml_backend_t cpu;
	enum ggml_status st;
	bool work = false;

	for (int i = i0; i < i1 && !work; i++)
		work = !ggml_op_is_empty(cgraph->nodes[i]->op) &&
		       (cgraph->nodes[i]->flags & GGML_TENSOR_FLAG_COMPUTE);
	if (!work)
		return GGML_STATUS_SUCCESS;
	cpu = sg_cpu_backend(be);
	if (!cpu)
		return GGML_STATUS_FAILED;
	view = *cgraph;
	view.size = 0;
	view.n_nodes = i1 - i0;
	view.n_leafs = 0;
	view.nodes = cgraph->nodes + i0;
	view.grads = NULL;
	view.grad_accs = NULL;
	view.leafs = NULL;
	view.uid = 0;
	st = ggml_backend_graph_compute(cpu, &view);
	for (int i = i0; i < i1; i++) {
		if (!ggml_op_is_empty(cgraph->nodes[i]->op)) {
			sg_forget_tensor(cgraph->nodes[i]);
			be->g.delegated++;
		}
	}
	return st;
}

static void sg_log_graph(struct sg_backend *be)
{
	struct sg_device *sd = be->sd;
	const struct sg_graph_stats *g = &be->g;
	double util = sampan_utilization(&g->dev, &sd->info);

	fprintf(stderr,
	        "sampan: %s (%s) graph %" PRIu64 ": %u matmuls, M %" PRId64 "..%" PRId64
	        ", %" PRIu64 " cycles, %" PRIu64 " busy, %" PRIu64
	        " MACs, utilization %.1f%%, %u uploads (%" PRIu64 " bytes), %u nodes on CPU, "
	        "device wall %.3f ms\n",
	        sd->name, sd->spec, sd->graphs, g->matmuls, g->matmuls ? g->m_min : 0,
	        g->matmuls ? g->m_max : 0, g->dev.cycles, g->dev.busy_cycles, g->dev.macs,
	        100.0 * util, g->uploads, g->upload_bytes, g->delegated,
	        1e3 * g->dev.wall_seconds);
}

static enum ggml_status sg_backend_graph_compute(ggml_backend_t backend, struct ggml_cgraph *cgraph)
{
	struct sg_backend *be = backend->context;
	enum ggml_status st = GGML_STATUS_SUCCESS;
	int run = 0; /* first node of the pending CPU run */

	memset(&be->g, 0, sizeof(be->g));
	if (!be->sd->whole_graphs) {
		for (int i = 0; i < cgraph->n_nodes; i++) {
			const struct ggml_tensor *t = cgraph->nodes[i];

			if (!ggml_op_is_empty(t->op) && (t->flags & GGML_TENSOR_FLAG_COMPUTE) &&
			    !sg_claims(t)) {
				pthread_mutex_lock(&be->sd->lock);
				be->sd->whole_graphs = true;
				pthread_mutex_unlock(&be->sd->lock);
				break;
			}
		}
	}
	for (int i = 0; i < cgraph->n_nodes; i++) {
		struct ggml_tensor *node = cgraph->nodes[i];
		int err;

		/* the device is open: the backend exists */
		if (!sg_claims(node) || !(be->sd->info.features & SAMPAN_FEATURE_BLOCK_SCALED))
			continue;
		st = sg_delegate(be, cgraph, run, i);
		run = i + 1;
		if (st != GGML_STATUS_SUCCESS)
			break;
		if (!(node->flags & GGML_TENSOR_FLAG_COMPUTE))
			continue;
		err = sg_mul_mat(be, node);
		if (err != SAMPAN_OK) {
			char what[160];

			snprintf(what, sizeof(what), "MUL_MAT %s x %s", node->src[0]->name,
			         node->src[1]->name);
			sg_err(be->sd, what, err);
			st = err == SAMPAN_ERROR_NO_MEM || err == SAMPAN_ERROR_DEVICE_MEM
			             ? GGML_STATUS_ALLOC_FAILED
			             : GGML_STATUS_FAILED;
			break;
		}
		sg_forget_tensor(node);
	}
	if (st == GGML_STATUS_SUCCESS)
		st = sg_delegate(be, cgraph, run, cgraph->n_nodes);

	pthread_mutex_lock(&be->sd->lock);
	be->sd->graphs++;
	pthread_mutex_unlock(&be->sd->lock);
	if (be->g.matmuls) {
		be->graphs++;
		be->total.matmuls += be->g.matmuls;
		be->total.uploads += be->g.uploads;
		be->total.upload_bytes += be->g.upload_bytes;
		be->total.dev.cycles += be->g.dev.cycles;
		be->total.dev.busy_cycles += be->g.dev.busy_cycles;
		be->total.dev.macs += be->g.dev.macs;
		be->total.dev.wall_seconds += be->g.dev.wall_seconds;
	}
	if (sg_log_enabled && (be->g.matmuls || be->g.delegated))
		sg_log_graph(be);
	return st;
}

static const struct ggml_backend_i sg_backend_iface = {
	.get_name = sg_backend_get_name,
	.free = sg_backend_free,
	.graph_compute = sg_backend_graph_compute,
};

static ggml_guid_t sg_guid(void)
{
	/* "sampan ggml v1" */
	static ggml_guid guid = {0x73, 0x61, 0x6d, 0x70, 0x61, 0x6e, 0x20, 0x67,
	                         0x67, 0x6d, 0x6c, 0x20, 0x76, 0x31, 0x00, 0x01};
	return &guid;
}

/* ----------------------------------------------------------------- device */

static struct sg_device *sg_dev(ggml_backend_dev_t dev)
{
	return dev->context;
}

static const char *sg_dev_get_name(ggml_backend_dev_t dev)
{
	return sg_dev(dev)->name;
}

/* Opens the device to describe it: array size, card memory, Q8_0 or not. */
static const char *sg_dev_get_description(ggml_backend_dev_t dev)
{
	struct sg_device *sd = sg_dev(dev);

	if (sg_open(sd) != SAMPAN_OK)
		snprintf(sd->desc, sizeof(sd->desc), "sampan %s (not available: %s)", sd->spec,
		         sampan_strerror(sd->open_err));
	return sd->desc;
}

static void sg_dev_get_memory(ggml_backend_dev_t dev, size_t *free_bytes, size_t *total)
{
	struct sg_device *sd = sg_dev(dev);
	struct sampan_info info;

	*free_bytes = 0;
	*total = 0;
	pthread_mutex_lock(&sd->lock);
	if (sg_open_locked(sd) == SAMPAN_OK && sampan_get_info(sd->dev, &info) == SAMPAN_OK) {
		*total = info.mem_bytes;
		*free_bytes = info.mem_bytes - info.mem_used;
	}
	pthread_mutex_unlock(&sd->lock);
}

static enum ggml_backend_dev_type sg_dev_get_type(ggml_backend_dev_t dev)
{
	(void)dev;
	return GGML_BACKEND_DEVICE_TYPE_ACCEL;
}

static void sg_dev_get_props(ggml_backend_dev_t dev, struct ggml_backend_dev_props *props)
{
	memset(props, 0, sizeof(*props));
	props->name = sg_dev_get_name(dev);
	props->description = sg_dev_get_description(dev);
	props->type = sg_dev_get_type(dev);
	sg_dev_get_memory(dev, &props->memory_free, &props->memory_total);
	props->device_id = NULL;
	props->caps.async = false;
	props->caps.host_buffer = false;
	props->caps.buffer_from_host_ptr = false;
	props->caps.events = false;
	props->caps.mmap_support = false;
}

static ggml_backend_t sg_dev_init_backend(ggml_backend_dev_t dev, const char *params)
{
	struct sg_device *sd = sg_dev(dev);
	struct sg_backend *be;
	ggml_backend_t backend;

	(void)params;
	if (sg_open(sd) != SAMPAN_OK)
		return NULL;
	be = calloc(1, sizeof(*be));
	backend = malloc(sizeof(*backend));
	if (!be || !backend) {
		free(be);
		free(backend);
		return NULL;
	}
	be->sd = sd;
	backend->guid = sg_guid();
	backend->iface = sg_backend_iface;
	backend->device = dev;
	backend->context = be;
	return backend;
}

static ggml_backend_buffer_type_t sg_dev_get_buffer_type(ggml_backend_dev_t dev)
{
	return &sg_dev(dev)->buft;
}

static bool sg_dev_supports_op(ggml_backend_dev_t dev, const struct ggml_tensor *op)
{
	const struct ggml_tensor *a = op->src[0];
	ggml_backend_buffer_t abuf;

	switch (op->op) {
	case GGML_OP_NONE:
	case GGML_OP_RESHAPE:
	case GGML_OP_VIEW:
	case GGML_OP_PERMUTE:
	case GGML_OP_TRANSPOSE:
		return true;
	case GGML_OP_MUL_MAT:
		if (!sg_claims(op))
			return false;
		/* Hardware without the block-scaled commands leaves it to the CPU. */
		if (sg_open(sg_dev(dev)) != SAMPAN_OK ||
		    !(sg_dev(dev)->info.features & SAMPAN_FEATURE_BLOCK_SCALED))
			return false;
		/* Weights elsewhere (another device, CPU memory) stay there. */
		abuf = a->view_src ? a->view_src->buffer : a->buffer;
		return !abuf || abuf->buft == &sg_dev(dev)->buft;
	default:
		return false;
	}
}

static bool sg_dev_supports_buft(ggml_backend_dev_t dev, ggml_backend_buffer_type_t buft)
{
	return buft == &sg_dev(dev)->buft || ggml_backend_buft_is_host(buft);
}

static const struct ggml_backend_device_i sg_dev_iface = {
	.get_name = sg_dev_get_name,
	.get_description = sg_dev_get_description,
	.get_memory = sg_dev_get_memory,
	.get_type = sg_dev_get_type,
	.get_props = sg_dev_get_props,
	.init_backend = sg_dev_init_backend,
	.get_buffer_type = sg_dev_get_buffer_type,
	.get_host_buffer_type = NULL,
	.buffer_from_host_ptr = NULL,
	.supports_op = sg_dev_supports_op,
	.supports_buft = sg_dev_supports_buft,
	.offload_op = NULL,
};

/* --------------------------------------------------------------- registry */

static const char *sg_reg_get_name(ggml_backend_reg_t reg)
{
	(void)reg;
	return "SAMPAN";
}

static size_t sg_reg_get_device_count(ggml_backend_reg_t reg)
{
	(void)reg;
	return sg_ndevices;
}

static ggml_backend_dev_t sg_reg_get_device(ggml_backend_reg_t reg, size_t index)
{
	(void)reg;
	return index < sg_ndevices ? &sg_devices[index].gdev : NULL;
}

static const struct ggml_backend_reg_i sg_reg_iface = {
	.get_name = sg_reg_get_name,
	.get_device_count = sg_reg_get_device_count,
	.get_device = sg_reg_get_device,
	.get_proc_address = NULL,
};

static void sg_add_device(const char *spec)
{
	struct sg_device *sd;

	if (sg_ndevices == SG_MAX_DEVICES) {
		fprintf(stderr, "sampan: more than %d devices in SAMPAN_GGML_DEVICES; ignoring %s\n",
		        SG_MAX_DEVICES, spec);
		return;
	}
	sd = &sg_devices[sg_ndevices];
	memset(sd, 0, sizeof(*sd));
	sd->index = (int)sg_ndevices;
	snprintf(sd->name, sizeof(sd->name), "SAMPAN%zu", sg_ndevices);
	snprintf(sd->spec, sizeof(sd->spec), "%s", spec);
	snprintf(sd->desc, sizeof(sd->desc), "sampan %s", spec);
	pthread_mutex_init(&sd->lock, NULL);
	sd->buft.iface = sg_buft_iface;
	sd->buft.device = &sd->gdev;
	sd->buft.context = sd;
	sd->gdev.iface = sg_dev_iface;
	sd->gdev.reg = &sg_reg;
	sd->gdev.context = sd;
	sg_ndevices++;
}

/*
 * Splits $SAMPAN_GGML_DEVICES into device names. Options of one device are
 * separated by commas too ("sim:latency=40,bw=8,cpu"): a piece holding '='
 * and no ':' continues the previous device.
 */
static void sg_parse_devices(const char *list)
{
	char spec[256] = "";
	const char *p = list;

	while (*p) {
		const char *end = strchr(p, ',');
		size_t len = end ? (size_t)(end - p) : strlen(p);
		char piece[256];

		snprintf(piece, sizeof(piece), "%.*s", (int)len, p);
		if (spec[0] && strchr(piece, '=') && !strchr(piece, ':')) {
			size_t used = strlen(spec);

			if (used + 1 + strlen(piece) < sizeof(spec)) {
				spec[used] = ',';
				memcpy(spec + used + 1, piece, strlen(piece) + 1);
			}
		} else {
			if (spec[0])
				sg_add_device(spec);
			snprintf(spec, sizeof(spec), "%s", piece);
		}
		p += len;
		if (*p == ',')
			p++;
	}
	if (spec[0])
		sg_add_device(spec);
}

static pthread_once_t sg_once = PTHREAD_ONCE_INIT;

/* Closes the devices at exit, while the process is still whole: a
 * simulated device stops its model before the libraries unload. Buffers
 * freed later only drop their bookkeeping. */
static void sg_close_all(void)
{
	for (size_t i = 0; i < sg_ndevices; i++) {
		struct sg_device *sd = &sg_devices[i];

		pthread_mutex_lock(&sd->lock);
		if (sd->dev) {
			sampan_close(sd->dev);
			sd->dev = NULL;
		}
		pthread_mutex_unlock(&sd->lock);
	}
}

static void sg_init_once(void)
{
	const char *list = getenv("SAMPAN_GGML_DEVICES");
	const char *log = getenv("SAMPAN_GGML_LOG");

	sg_log_enabled = log && *log && strcmp(log, "0") != 0;
	sg_parse_devices(list && *list ? list : "sim");
	atexit(sg_close_all);
	sg_reg.api_version = GGML_BACKEND_API_VERSION;
	sg_reg.iface = sg_reg_iface;
	sg_reg.context = NULL;
}

/* The registry of sampan devices. */
ggml_backend_reg_t ggml_backend_sampan_reg(void);
ggml_backend_reg_t ggml_backend_sampan_reg(void)
{
	pthread_once(&sg_once, sg_init_once);
	return &sg_reg;
}

/* Entry point of a dynamically loaded ggml backend ($GGML_BACKEND_PATH). */
__attribute__((visibility("default"))) ggml_backend_reg_t ggml_backend_init(void);
ggml_backend_reg_t ggml_backend_init(void)
{
	return ggml_backend_sampan_reg();
}
