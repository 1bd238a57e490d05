/*
 * model.c - llama/qwen2 forward pass with the projections on a sampan
 * device (see model.h).
 */
#include "model.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Most tokens per batch: a longer llm_forward call runs in batches of this
 * many (each projection with M = the batch). */
#define LLM_MAX_BATCH 512
/* Default KV cache when the caller asks for the model's context: at most. */
#define LLM_DEFAULT_CTX_MAX 4096
/* Largest context accepted at all (keeps the cache arithmetic far from
 * overflow). */
#define LLM_CTX_MAX (1 << 20)

/* One projection resident on the device. */
struct llm_proj {
	struct sampan_weights *wt;
	int64_t n, k;
};

struct llm_layer {
	float *attn_norm;        /* (n_embd) */
	float *ffn_norm;         /* (n_embd) */
	struct llm_proj qkv;     /* N = q + k + v rows, K = n_embd */
	struct llm_proj o;       /* N = n_embd, K = n_head * head_dim */
	struct llm_proj gate_up; /* N = 2 * n_ff (gate rows, then up rows), K = n_embd */
	struct llm_proj down;    /* N = n_embd, K = n_ff */
};

struct llm_model {
	struct llm_config cfg;
	struct sampan_device *dev;
	const struct gguf *g;
	const struct gguf_tensor *tok_embd;
	struct llm_layer *layers;
	float *output_norm;
	struct llm_proj output;
	uint64_t weight_bytes;

	/* KV cache: (n_layer, n_ctx, n_head_kv * head_dim) each. */
	float *k_cache, *v_cache;
	int64_t pos;

	/* Scratch for one batch of up to batch_max tokens. */
	int64_t batch_max;
	float *x;       /* (B, n_embd) residual stream */
	float *xn;      /* (B, max(n_embd, q_dim)) normed input / attention output */
	float *qkv;     /* (B, q + 2 kv) */
	float *proj;    /* (B, n_embd) */
	float *ff;      /* (B, 2 n_ff) */
	float *hid;     /* (B, n_ff) */
	int8_t *aq;     /* (B, k_max) quantized activations */
	uint16_t *as;   /* (B, k_max / 32) their scales */
	float *scores;  /* (n_ctx) */
	float *rope_cs; /* (n_rot) cos, sin pairs of one position */

	struct llm_perf perf;
};

static void set_err(char *err, size_t len, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void set_err(char *err, size_t len, const char *fmt, ...)
{
	va_list ap;

	if (!err || !len)
		return;
	va_start(ap, fmt);
	vsnprintf(err, len, fmt, ap);
	va_end(ap);
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* ---------------------------------------------------------------- loading */

/* What a load step needs: the file, the device, where messages go. */
struct loader {
	const struct gguf *g;
	struct sampan_device *dev;
	const char *path;
	const char *arch;
	char *err;
	size_t err_len;
};

static int key_uint(struct loader *ld, const char *suffix, int required, uint64_t def,
                    uint64_t *out)
{
	char key[128];

	snprintf(key, sizeof(key), "%s.%s", ld->arch, suffix);
	if (gguf_get_uint(ld->g, key, out) == 0)
		return 0;
	if (gguf_find(ld->g, key) || required) {
		set_err(ld->err, ld->err_len, "%s: %s %s", ld->path, key,
		        gguf_find(ld->g, key) ? "is not a non-negative integer" : "is missing");
		return -1;
	}
	*out = def;
	return 0;
}

static int key_float(struct loader *ld, const char *suffix, int required, double def, double *out)
{
	char key[128];

	snprintf(key, sizeof(key), "%s.%s", ld->arch, suffix);
	if (gguf_get_float(ld->g, key, out) == 0 && isfinite(*out))
		return 0;
	if (gguf_find(ld->g, key) || required) {
		set_err(ld->err, ld->err_len, "%s: %s %s", ld->path, key,
		        gguf_find(ld->g, key) ? "is not a finite number" : "is missing");
		return -1;
	}
	*out = def;
	return 0;
}

static int type_supported(enum gguf_ttype t)
{
	return t == GGUF_TT_F32 || t == GGUF_TT_F16 || t == GGUF_TT_Q4_0 || t == GGUF_TT_Q8_0;
}

/* Tensor @name of shape {ne0, ne1} (ne1 = 0: one dimension), of a type
 * this runtime converts (@float_only: F32 or F16). NULL with a message
 * when absent (and @required) or of another type or shape. */
static const struct gguf_tensor *get_tensor(struct loader *ld, const char *name, uint64_t ne0,
                                            uint64_t ne1, int float_only, int required, int *failed)
{
	const struct gguf_tensor *t = gguf_tensor(ld->g, name);
	uint64_t want_dims = ne1 ? 2 : 1;

	*failed = 0;
	if (!t) {
		if (required) {
			set_err(ld->err, ld->err_len, "%s: tensor %s is missing", ld->path, name);
			*failed = 1;
		}
		return NULL;
	}
	if (!type_supported(t->type) ||
	    (float_only && t->type != GGUF_TT_F32 && t->type != GGUF_TT_F16)) {
		set_err(ld->err, ld->err_len, "%s: tensor %s has type %s; supported here: %s",
		        ld->path, name, gguf_type_name(t->type),
		        float_only ? "F32, F16" : "F32, F16, Q4_0, Q8_0");
		*failed = 1;
		return NULL;
	}
	if (t->ne[0] != ne0 || t->ne[1] != (ne1 ? ne1 : 1) || t->ne[2] != 1 || t->ne[3] != 1 ||
	    t->n_dims > 2 || (t->n_dims == 2 && want_dims == 1 && t->ne[1] != 1)) {
		if (ne1)
			set_err(ld->err, ld->err_len,
			        "%s: tensor %s has shape {%llu, %llu, %llu, %llu}; expected "
			        "{%llu, %llu} from the model's hyperparameters",
			        ld->path, name, (unsigned long long)t->ne[0],
			        (unsigned long long)t->ne[1], (unsigned long long)t->ne[2],
			        (unsigned long long)t->ne[3], (unsigned long long)ne0,
			        (unsigned long long)ne1);
		else
			set_err(ld->err, ld->err_len,
			        "%s: tensor %s has shape {%llu, %llu, %llu, %llu}; expected {%llu}",
			        ld->path, name, (unsigned long long)t->ne[0],
			        (unsigned long long)t->ne[1], (unsigned long long)t->ne[2],
			        (unsigned long long)t->ne[3], (unsigned long long)ne0);
		*failed = 1;
		return NULL;
	}
	return t;
}

/* A 1-D tensor as floats (malloc'd); NULL with @failed set on error. */
static float *load_vector(struct loader *ld, const char *name, uint64_t n, int required,
                          int *failed)
{
	const struct gguf_tensor *t = get_tensor(ld, name, n, 0, 1, required, failed);
	float *v;

	if (!t)
		return NULL;
	v = malloc(n * sizeof(*v));
	if (!v) {
		set_err(ld->err, ld->err_len, "%s: out of memory reading %s", ld->path, name);
		*failed = 1;
		return NULL;
	}
	gguf_row_to_f32(t, 0, v);
	return v;
}

static uint16_t ld16(const uint8_t *p)
{
	return (uint16_t)(p[0] | (p[1] << 8));
}

/* Converts rows [row0, row0 + rows) of @t (ne0 = k values each) to Q8_0:
 * @w (rows, k) and @ws (rows, k / 32). Q8_0 and Q4_0 exactly; F32 and F16
 * through sampan_quantize_q8_0. @tmp holds k floats. */
static void to_q8_0(const struct gguf_tensor *t, uint64_t row0, uint64_t rows, uint64_t k,
                    int8_t *w, uint16_t *ws, float *tmp)
{
	uint64_t nb = k / SAMPAN_QBLOCK;

	for (uint64_t r = 0; r < rows; r++) {
		int8_t *wr = w + r * k;
		uint16_t *sr = ws + r * nb;

		if (t->type == GGUF_TT_Q8_0) {
			const uint8_t *p = (const uint8_t *)t->data + (row0 + r) * nb * 34;

			for (uint64_t b = 0; b < nb; b++, p += 34) {
				sr[b] = ld16(p);
				memcpy(wr + b * 32, p + 2, 32);
			}
		} else if (t->type == GGUF_TT_Q4_0) {
			const uint8_t *p = (const uint8_t *)t->data + (row0 + r) * nb * 18;

			for (uint64_t b = 0; b < nb; b++, p += 18) {
				sr[b] = ld16(p);
				for (int j = 0; j < 16; j++) {
					wr[b * 32 + j] = (int8_t)((p[2 + j] & 0x0f) - 8);
					wr[b * 32 + j + 16] = (int8_t)((p[2 + j] >> 4) - 8);
				}
			}
		} else {
			gguf_row_to_f32(t, row0 + r, tmp);
			sampan_quantize_q8_0(tmp, (int64_t)k, wr, sr);
		}
	}
}

/* One part of an upload: a tensor (all its rows) and its optional bias. */
struct proj_part {
	const struct gguf_tensor *t;
	const struct gguf_tensor *bias; /* NULL: zeros */
};

/* Uploads the parts stacked along N (K shared) as one sampan_weights. */
static int upload(struct loader *ld, const char *name, const struct proj_part *parts, int n_parts,
                  uint64_t k, struct llm_proj *p)
{
	uint64_t n = 0, row = 0;
	int have_bias = 0, ret = -1, err;
	int8_t *w = NULL;
	uint16_t *ws = NULL;
	float *bias = NULL, *tmp = NULL;
	struct sampan_weights_desc d;

	for (int i = 0; i < n_parts; i++) {
		n += parts[i].t->ne[1];
		have_bias |= parts[i].bias != NULL;
	}
	w = malloc(n * k);
	ws = malloc(n * (k / SAMPAN_QBLOCK) * sizeof(*ws));
	tmp = malloc(k * sizeof(*tmp));
	if (have_bias)
		bias = calloc(n, sizeof(*bias));
	if (!w || !ws || !tmp || (have_bias && !bias)) {
		set_err(ld->err, ld->err_len, "%s: out of host memory converting %s (%llu x %llu)",
		        ld->path, name, (unsigned long long)n, (unsigned long long)k);
		goto out;
	}
	for (int i = 0; i < n_parts; i++) {
		uint64_t rows = parts[i].t->ne[1];

		to_q8_0(parts[i].t, 0, rows, k, w + row * k, ws + row * (k / SAMPAN_QBLOCK), tmp);
		if (parts[i].bias)
			gguf_row_to_f32(parts[i].bias, 0, bias + row);
		row += rows;
	}
	memset(&d, 0, sizeof(d));
	d.format = SAMPAN_FORMAT_Q8_0;
	d.n = (int64_t)n;
	d.k = (int64_t)k;
	d.w = w;
	d.w_scale = ws;
	d.fbias = bias;
	d.name = name;
	err = sampan_weights_create(ld->dev, &d, &p->wt);
	if (err != SAMPAN_OK) {
		set_err(ld->err, ld->err_len,
		        "%s: cannot upload %s (%llu x %llu) to the device: %s", ld->path, name,
		        (unsigned long long)n, (unsigned long long)k,
		        sampan_last_error()[0] ? sampan_last_error() : sampan_strerror(err));
		goto out;
	}
	p->n = (int64_t)n;
	p->k = (int64_t)k;
	ret = 0;
out:
	free(w);
	free(ws);
	free(bias);
	free(tmp);
	return ret;
}

/* Bytes a Q8_0 upload of (n, k) with @bias takes at least on the card. */
static uint64_t q8_bytes(uint64_t n, uint64_t k, int bias)
{
	return n * k + n * (k / SAMPAN_QBLOCK) * 2 + (bias ? n * 4 : 0);
}

/* Reads and checks the hyperparameters into @c. */
static int read_config(struct loader *ld, struct llm_config *c)
{
	uint64_t u, key_len = 0, val_len = 0;
	double f;
	const struct gguf_tensor *emb;

	if (strcmp(ld->arch, "llama") == 0) {
		c->arch = LLM_ARCH_LLAMA;
		c->arch_name = "llama";
	} else {
		c->arch = LLM_ARCH_QWEN2;
		c->arch_name = "qwen2";
	}
	if (key_uint(ld, "embedding_length", 1, 0, &u))
		return -1;
	c->n_embd = (int64_t)(u > INT32_MAX ? 0 : u);
	if (key_uint(ld, "block_count", 1, 0, &u))
		return -1;
	c->n_layer = (int64_t)(u > 4096 ? 0 : u);
	if (key_uint(ld, "feed_forward_length", 1, 0, &u))
		return -1;
	c->n_ff = (int64_t)(u > INT32_MAX ? 0 : u);
	if (key_uint(ld, "attention.head_count", 1, 0, &u))
		return -1;
	c->n_head = (int64_t)(u > 65536 ? 0 : u);
	if (key_uint(ld, "attention.head_count_kv", 0, (uint64_t)c->n_head, &u))
		return -1;
	c->n_head_kv = (int64_t)(u > 65536 ? 0 : u);
	if (key_uint(ld, "context_length", 1, 0, &u))
		return -1;
	c->n_ctx_train = (int64_t)(u > INT32_MAX ? INT32_MAX : u);
	if (key_float(ld, "attention.layer_norm_rms_epsilon", 1, 0, &f))
		return -1;
	c->rms_eps = (float)f;
	if (key_float(ld, "rope.freq_base", 0, 10000.0, &f))
		return -1;
	c->rope_base = (float)f;
	if (key_uint(ld, "attention.key_length", 0, 0, &key_len) ||
	    key_uint(ld, "attention.value_length", 0, 0, &val_len))
		return -1;

	if (c->n_embd <= 0 || c->n_layer <= 0 || c->n_ff <= 0 || c->n_head <= 0 ||
	    c->n_head_kv <= 0 || c->n_ctx_train <= 0) {
		set_err(ld->err, ld->err_len,
		        "%s: unsupported hyperparameters: embedding_length %lld, block_count %lld, "
		        "feed_forward_length %lld, head_count %lld, head_count_kv %lld, "
		        "context_length %lld (each must be positive and in range)",
		        ld->path, (long long)c->n_embd, (long long)c->n_layer, (long long)c->n_ff,
		        (long long)c->n_head, (long long)c->n_head_kv, (long long)c->n_ctx_train);
		return -1;
	}
	if (c->n_head % c->n_head_kv) {
		set_err(ld->err, ld->err_len,
		        "%s: head_count %lld is not a multiple of head_count_kv %lld", ld->path,
		        (long long)c->n_head, (long long)c->n_head_kv);
		return -1;
	}
	if (key_len == 0 && c->n_embd % c->n_head) {
		set_err(ld->err, ld->err_len,
		        "%s: embedding_length %lld is not a multiple of head_count %lld", ld->path,
		        (long long)c->n_embd, (long long)c->n_head);
		return -1;
	}
	c->head_dim = key_len ? (int64_t)(key_len > 65536 ? 0 : key_len) : c->n_embd / c->n_head;
	if (c->head_dim <= 0 || c->head_dim % 2 || (val_len && val_len != (uint64_t)c->head_dim)) {
		set_err(ld->err, ld->err_len,
		        "%s: unsupported head size: key_length %lld, value_length %llu (must be "
		        "equal and even)",
		        ld->path, (long long)c->head_dim, (unsigned long long)val_len);
		return -1;
	}
	if (key_uint(ld, "rope.dimension_count", 0, (uint64_t)c->head_dim, &u))
		return -1;
	if (u == 0 || u % 2 || u > (uint64_t)c->head_dim) {
		set_err(ld->err, ld->err_len,
		        "%s: %s.rope.dimension_count %llu: must be even, positive and at most the "
		        "head size %lld",
		        ld->path, ld->arch, (unsigned long long)u, (long long)c->head_dim);
		return -1;
	}
	c->n_rot = (int64_t)u;
	/* llama.cpp's limits, so that what loads here loads there too */
	if (c->arch == LLM_ARCH_LLAMA && c->n_rot != c->head_dim) {
		set_err(ld->err, ld->err_len,
		        "%s: unsupported shape: llama.rope.dimension_count %lld differs from the "
		        "head size %lld (llama rotates whole heads)",
		        ld->path, (long long)c->n_rot, (long long)c->head_dim);
		return -1;
	}
	if (c->arch == LLM_ARCH_QWEN2 && c->n_head * c->head_dim != c->n_embd) {
		set_err(ld->err, ld->err_len,
		        "%s: unsupported shape: qwen2 needs head_count * head size = "
		        "embedding_length (%lld * %lld != %lld)",
		        ld->path, (long long)c->n_head, (long long)c->head_dim,
		        (long long)c->n_embd);
		return -1;
	}
	if (!(c->rms_eps >= 0) || !(c->rope_base > 0)) {
		set_err(ld->err, ld->err_len,
		        "%s: layer_norm_rms_epsilon %g must be >= 0 and rope.freq_base %g > 0",
		        ld->path, (double)c->rms_eps, (double)c->rope_base);
		return -1;
	}
	emb = gguf_tensor(ld->g, "token_embd.weight");
	if (!emb) {
		set_err(ld->err, ld->err_len, "%s: tensor token_embd.weight is missing", ld->path);
		return -1;
	}
	if (emb->n_dims != 2 || emb->ne[0] != (uint64_t)c->n_embd || emb->ne[1] < 1 ||
	    emb->ne[1] > INT32_MAX) {
		set_err(ld->err, ld->err_len,
		        "%s: tensor token_embd.weight has shape {%llu, %llu}; expected "
		        "{%lld, n_vocab}",
		        ld->path, (unsigned long long)emb->ne[0], (unsigned long long)emb->ne[1],
		        (long long)c->n_embd);
		return -1;
	}
	c->n_vocab = (int64_t)emb->ne[1];
	/* Every projection's K goes to the device in blocks of 32. */
	{
		const struct {
			const char *what;
			int64_t v;
		} ks[] = {{"embedding_length", c->n_embd},
		          {"head_count * head size", c->n_head * c->head_dim},
		          {"feed_forward_length", c->n_ff}};

		for (size_t i = 0; i < sizeof(ks) / sizeof(ks[0]); i++)
			if (ks[i].v % SAMPAN_QBLOCK) {
				set_err(ld->err, ld->err_len,
				        "%s: unsupported shape: %s = %lld is not a multiple of %d "
				        "(the device's Q8_0 block along K)",
				        ld->path, ks[i].what, (long long)ks[i].v, SAMPAN_QBLOCK);
				return -1;
			}
	}
	return 0;
}

/* Checks every tensor of the model (names, types, shapes) and sums the card
 * memory its projections need; before anything is converted or uploaded. */
static int check_tensors(struct loader *ld, struct llm_config *c, uint64_t *need)
{
	char name[96];
	int failed;
	uint64_t E = (uint64_t)c->n_embd, Q = (uint64_t)(c->n_head * c->head_dim),
	         KV = (uint64_t)(c->n_head_kv * c->head_dim), F = (uint64_t)c->n_ff;
	const struct gguf_tensor *t;

	*need = 0;
	c->qkv_bias = c->arch == LLM_ARCH_QWEN2;
	for (int64_t l = 0; l < c->n_layer; l++) {
		static const char *const vecs[] = {"attn_norm", "ffn_norm"};
		const struct {
			const char *n;
			uint64_t ne0, ne1;
		} mats[] = {{"attn_q", E, Q},      {"attn_k", E, KV},  {"attn_v", E, KV},
		            {"attn_output", Q, E}, {"ffn_gate", E, F}, {"ffn_up", E, F},
		            {"ffn_down", F, E}};

		for (size_t i = 0; i < 2; i++) {
			snprintf(name, sizeof(name), "blk.%lld.%s.weight", (long long)l, vecs[i]);
			if (!get_tensor(ld, name, E, 0, 1, 1, &failed))
				return -1;
		}
		for (size_t i = 0; i < sizeof(mats) / sizeof(mats[0]); i++) {
			snprintf(name, sizeof(name), "blk.%lld.%s.weight", (long long)l, mats[i].n);
			if (!get_tensor(ld, name, mats[i].ne0, mats[i].ne1, 0, 1, &failed))
				return -1;
		}
		for (int i = 0; i < 3; i++) {
			snprintf(name, sizeof(name), "blk.%lld.attn_%c.bias", (long long)l,
			         "qkv"[i]);
			t = get_tensor(ld, name, i ? KV : Q, 0, 1, c->qkv_bias, &failed);
			if (failed)
				return -1;
			if (t && !c->qkv_bias) {
				set_err(ld->err, ld->err_len,
				        "%s: tensor %s is not part of a %s model", ld->path, name,
				        c->arch_name);
				return -1;
			}
		}
		*need += q8_bytes(Q + 2 * KV, E, c->qkv_bias) + q8_bytes(E, Q, 0) +
		         q8_bytes(2 * F, E, 0) + q8_bytes(E, F, 0);
	}
	if (!get_tensor(ld, "output_norm.weight", E, 0, 1, 1, &failed))
		return -1;
	t = get_tensor(ld, "output.weight", E, (uint64_t)c->n_vocab, 0, 0, &failed);
	if (failed)
		return -1;
	c->tied_output = t == NULL;
	if (c->tied_output &&
	    !get_tensor(ld, "token_embd.weight", E, (uint64_t)c->n_vocab, 0, 1, &failed))
		return -1;
	*need += q8_bytes((uint64_t)c->n_vocab, E, 0);
	return 0;
}

static void proj_destroy(struct llm_proj *p)
{
	sampan_weights_destroy(p->wt);
	p->wt = NULL;
}

void llm_model_destroy(struct llm_model *m)
{
	if (!m)
		return;
	if (m->layers) {
		for (int64_t l = 0; l < m->cfg.n_layer; l++) {
			struct llm_layer *L = &m->layers[l];

			free(L->attn_norm);
			free(L->ffn_norm);
			proj_destroy(&L->qkv);
			proj_destroy(&L->o);
			proj_destroy(&L->gate_up);
			proj_destroy(&L->down);
		}
		free(m->layers);
	}
	proj_destroy(&m->output);
	free(m->output_norm);
	free(m->k_cache);
	free(m->v_cache);
	free(m->x);
	free(m->xn);
	free(m->qkv);
	free(m->proj);
	free(m->ff);
	free(m->hid);
	free(m->aq);
	free(m->as);
	free(m->scores);
	free(m->rope_cs);
	free(m);
}

/* calloc of @a * @b * @size bytes, NULL on overflow too. */
static void *calloc3(uint64_t a, uint64_t b, size_t size)
{
	if (a && b > SIZE_MAX / a)
		return NULL;
	return calloc(a * b, size);
}

static int alloc_state(struct loader *ld, struct llm_model *m)
{
	const struct llm_config *c = &m->cfg;
	uint64_t B, kv = (uint64_t)(c->n_head_kv * c->head_dim),
	            q = (uint64_t)(c->n_head * c->head_dim);
	uint64_t kmax = (uint64_t)c->n_embd;
	uint64_t wide = (uint64_t)c->n_embd > q ? (uint64_t)c->n_embd : q;

	if (q > kmax)
		kmax = q;
	if ((uint64_t)c->n_ff > kmax)
		kmax = (uint64_t)c->n_ff;
	m->batch_max = c->n_ctx < LLM_MAX_BATCH ? c->n_ctx : LLM_MAX_BATCH;
	B = (uint64_t)m->batch_max;
	m->k_cache = calloc3((uint64_t)(c->n_layer * c->n_ctx), kv, sizeof(float));
	m->v_cache = calloc3((uint64_t)(c->n_layer * c->n_ctx), kv, sizeof(float));
	m->x = calloc3(B, (uint64_t)c->n_embd, sizeof(float));
	m->xn = calloc3(B, wide, sizeof(float));
	m->qkv = calloc3(B, q + 2 * kv, sizeof(float));
	m->proj = calloc3(B, (uint64_t)c->n_embd, sizeof(float));
	m->ff = calloc3(B, 2 * (uint64_t)c->n_ff, sizeof(float));
	m->hid = calloc3(B, (uint64_t)c->n_ff, sizeof(float));
	m->aq = calloc3(B, kmax, 1);
	m->as = calloc3(B, kmax / SAMPAN_QBLOCK, sizeof(uint16_t));
	m->scores = calloc3((uint64_t)c->n_ctx, 1, sizeof(float));
	m->rope_cs = calloc3((uint64_t)c->n_rot, 1, sizeof(float));
	if (!m->k_cache || !m->v_cache || !m->x || !m->xn || !m->qkv || !m->proj || !m->ff ||
	    !m->hid || !m->aq || !m->as || !m->scores || !m->rope_cs) {
		set_err(
		    ld->err, ld->err_len,
		    "%s: out of host memory for a context of %lld tokens (KV cache %llu MiB)",
		    ld->path, (long long)c->n_ctx,
		    (unsigned long long)((2 * (uint64_t)(c->n_layer * c->n_ctx) * kv * 4) >> 20));
		return -1;
	}
	return 0;
}

int llm_model_load(struct sampan_device *dev, const struct gguf *g, int64_t n_ctx,
                   struct llm_model **out, char *err, size_t err_len)
{
	struct loader ld = {.g = g,
	                    .dev = dev,
	                    .path = g->path ? g->path : "model",
	                    .err = err,
	                    .err_len = err_len};
	struct gguf_str arch;
	char arch_buf[64], name[96];
	struct llm_model *m;
	struct llm_config *c;
	struct sampan_info info;
	uint64_t need, E, free_mem;
	int failed;

	if (gguf_get_str(g, "general.architecture", &arch)) {
		set_err(err, err_len, "%s: general.architecture is missing", ld.path);
		return -1;
	}
	snprintf(arch_buf, sizeof(arch_buf), "%.*s", (int)(arch.len < 48 ? arch.len : 48), arch.p);
	if (arch.len >= 48 || (strcmp(arch_buf, "llama") && strcmp(arch_buf, "qwen2"))) {
		set_err(err, err_len,
		        "%s: unsupported architecture '%s%s' (supported: llama, qwen2)", ld.path,
		        arch_buf, arch.len >= 48 ? "..." : "");
		return -1;
	}
	ld.arch = arch_buf;
	if (n_ctx < 0 || n_ctx > LLM_CTX_MAX) {
		set_err(err, err_len, "context of %lld tokens: must be 1 to %d", (long long)n_ctx,
		        LLM_CTX_MAX);
		return -1;
	}
	m = calloc(1, sizeof(*m));
	if (!m) {
		set_err(err, err_len, "out of memory");
		return -1;
	}
	m->dev = dev;
	m->g = g;
	c = &m->cfg;
	if (read_config(&ld, c) || check_tensors(&ld, c, &need))
		goto err_free;
	c->n_ctx =
	    n_ctx ? n_ctx
	          : (c->n_ctx_train < LLM_DEFAULT_CTX_MAX ? c->n_ctx_train : LLM_DEFAULT_CTX_MAX);
	memset(&info, 0, sizeof(info));
	if (sampan_get_info(dev, &info) != SAMPAN_OK) {
		set_err(err, err_len, "cannot read the device info: %s", sampan_last_error());
		goto err_free;
	}
	free_mem =
	    info.mem_bytes - (info.mem_used < info.mem_bytes ? info.mem_used : info.mem_bytes);
	if (need > free_mem) {
		set_err(err, err_len,
		        "%s: the model's projections need %llu bytes (%.1f MiB) of card memory as "
		        "Q8_0; the device '%s' has %llu bytes (%.1f MiB) free of %llu",
		        ld.path, (unsigned long long)need, (double)need / 1048576.0, info.name,
		        (unsigned long long)free_mem, (double)free_mem / 1048576.0,
		        (unsigned long long)info.mem_bytes);
		goto err_free;
	}
	if (alloc_state(&ld, m))
		goto err_free;

	E = (uint64_t)c->n_embd;
	m->tok_embd = gguf_tensor(g, "token_embd.weight");
	m->layers = calloc((size_t)c->n_layer, sizeof(*m->layers));
	if (!m->layers) {
		set_err(err, err_len, "out of memory");
		goto err_free;
	}
	for (int64_t l = 0; l < c->n_layer; l++) {
		struct llm_layer *L = &m->layers[l];
		struct proj_part parts[3];

#define T(suffix)                                                                                  \
	(snprintf(name, sizeof(name), "blk.%lld." suffix, (long long)l), gguf_tensor(g, name))
		snprintf(name, sizeof(name), "blk.%lld.attn_norm.weight", (long long)l);
		if (!(L->attn_norm = load_vector(&ld, name, E, 1, &failed)))
			goto err_free;
		snprintf(name, sizeof(name), "blk.%lld.ffn_norm.weight", (long long)l);
		if (!(L->ffn_norm = load_vector(&ld, name, E, 1, &failed)))
			goto err_free;
		parts[0].t = T("attn_q.weight");
		parts[0].bias = T("attn_q.bias");
		parts[1].t = T("attn_k.weight");
		parts[1].bias = T("attn_k.bias");
		parts[2].t = T("attn_v.weight");
		parts[2].bias = T("attn_v.bias");
		snprintf(name, sizeof(name), "blk.%lld.attn_qkv", (long long)l);
		if (upload(&ld, name, parts, 3, E, &L->qkv))
			goto err_free;
		parts[0].t = T("attn_output.weight");
		parts[0].bias = NULL;
		if (upload(&ld, name, parts, 1, (uint64_t)(c->n_head * c->head_dim), &L->o))
			goto err_free;
		parts[0].t = T("ffn_gate.weight");
		parts[1].t = T("ffn_up.weight");
		parts[1].bias = NULL;
		snprintf(name, sizeof(name), "blk.%lld.ffn_gate_up", (long long)l);
		if (upload(&ld, name, parts, 2, E, &L->gate_up))
			goto err_free;
		parts[0].t = T("ffn_down.weight");
		if (upload(&ld, name, parts, 1, (uint64_t)c->n_ff, &L->down))
			goto err_free;
#undef T
		m->weight_bytes += sampan_weights_bytes(L->qkv.wt) + sampan_weights_bytes(L->o.wt) +
		                   sampan_weights_bytes(L->gate_up.wt) +
		                   sampan_weights_bytes(L->down.wt);
	}
	if (!(m->output_norm = load_vector(&ld, "output_norm.weight", E, 1, &failed)))
		goto err_free;
	{
		struct proj_part part = {
		    .t = gguf_tensor(g, c->tied_output ? "token_embd.weight" : "output.weight"),
		    .bias = NULL};

		if (upload(&ld, c->tied_output ? "output (token_embd.weight)" : "output.weight",
		           &part, 1, E, &m->output))
			goto err_free;
		m->weight_bytes += sampan_weights_bytes(m->output.wt);
	}
	*out = m;
	return 0;

err_free:
	llm_model_destroy(m);
	return -1;
}

const struct llm_config *llm_model_config(const struct llm_model *m)
{
	return &m->cfg;
}

uint64_t llm_model_weight_bytes(const struct llm_model *m)
{
	return m->weight_bytes;
}

int64_t llm_model_pos(const struct llm_model *m)
{
	return m->pos;
}

void llm_model_reset(struct llm_model *m)
{
	m->pos = 0;
}

void llm_model_perf(const struct llm_model *m, struct llm_perf *p)
{
	*p = m->perf;
}

void llm_model_perf_reset(struct llm_model *m)
{
	memset(&m->perf, 0, sizeof(m->perf));
}

/* ---------------------------------------------------------------- forward */

/* y = x / sqrt(mean(x^2) + eps) * w over @n values (the sum in double). */
static void rmsnorm(float *y, const float *x, const float *w, int64_t n, float eps)
{
	double ss = 0;
	float scale;

	for (int64_t i = 0; i < n; i++)
		ss += (double)x[i] * x[i];
	scale = 1.0f / sqrtf((float)(ss / (double)n) + eps);
	for (int64_t i = 0; i < n; i++)
		y[i] = x[i] * scale * w[i];
}

/* cos/sin of position @pos for each rotated pair, theta_i = pos *
 * base^(-2i/n_rot), advanced by one multiplication per pair as ggml does. */
static void rope_cache(float *cs, int64_t n_rot, float base, int64_t pos)
{
	float theta_scale = powf(base, -2.0f / (float)n_rot);
	float theta = (float)pos;

	for (int64_t i = 0; i < n_rot / 2; i++) {
		cs[2 * i] = cosf(theta);
		cs[2 * i + 1] = sinf(theta);
		theta *= theta_scale;
	}
}

/* Rotates one head of @hd values: llama pairs (2i, 2i+1), qwen2 (NEOX)
 * pairs (i, i + n_rot/2); values past n_rot stay. */
static void rope_head(float *v, const float *cs, int64_t n_rot, enum llm_arch arch)
{
	for (int64_t i = 0; i < n_rot / 2; i++) {
		int64_t a = arch == LLM_ARCH_LLAMA ? 2 * i : i;
		int64_t b = arch == LLM_ARCH_LLAMA ? 2 * i + 1 : i + n_rot / 2;
		float x0 = v[a], x1 = v[b], c = cs[2 * i], s = cs[2 * i + 1];

		v[a] = x0 * c - x1 * s;
		v[b] = x0 * s + x1 * c;
	}
}

/* out (M, p->n) = quantize_q8_0(in (M, p->k)) x W^T on the device. */
static int project(struct llm_model *m, const struct llm_proj *p, const float *in, int64_t M,
                   float *out, struct llm_perf_part *perf, char *err, size_t err_len)
{
	struct sampan_matmul x;
	struct sampan_stats st;
	int64_t nb = p->k / SAMPAN_QBLOCK;
	int e;

	for (int64_t r = 0; r < M; r++)
		sampan_quantize_q8_0(in + r * p->k, p->k, m->aq + r * p->k, m->as + r * nb);
	memset(&x, 0, sizeof(x));
	x.m = M;
	x.a = m->aq;
	x.a_scale = m->as;
	x.out = out;
	e = sampan_matmul(m->dev, p->wt, &x);
	if (e != SAMPAN_OK) {
		set_err(err, err_len, "device matmul (%lld x %lld x %lld) failed: %s", (long long)M,
		        (long long)p->k, (long long)p->n,
		        sampan_last_error()[0] ? sampan_last_error() : sampan_strerror(e));
		return -1;
	}
	if (sampan_get_stats(m->dev, &st) == SAMPAN_OK) {
		perf->cycles += st.cycles;
		perf->macs += st.macs;
		perf->dev_bytes_read += st.dev_bytes_read;
	}
	perf->calls++;
	return 0;
}

/* One batch of @n tokens (n <= batch_max) at m->pos; logits of rows
 * first_out.. (if first_out < n) to @logits. */
static int forward_batch(struct llm_model *m, const int32_t *tokens, int64_t n, int64_t first_out,
                         float *logits, struct llm_perf_part *perf, char *err, size_t err_len)
{
	const struct llm_config *c = &m->cfg;
	const int64_t E = c->n_embd, hd = c->head_dim, H = c->n_head, HKV = c->n_head_kv;
	const int64_t QD = H * hd, KVD = HKV * hd, F = c->n_ff, NQKV = QD + 2 * KVD;
	const int64_t group = H / HKV, pos0 = m->pos;
	const float kq_scale = 1.0f / sqrtf((float)hd);

	for (int64_t t = 0; t < n; t++)
		gguf_row_to_f32(m->tok_embd, (uint64_t)tokens[t], m->x + t * E);

	for (int64_t l = 0; l < c->n_layer; l++) {
		const struct llm_layer *L = &m->layers[l];
		float *kc = m->k_cache + l * c->n_ctx * KVD, *vc = m->v_cache + l * c->n_ctx * KVD;

		/* attention */
		for (int64_t t = 0; t < n; t++)
			rmsnorm(m->xn + t * E, m->x + t * E, L->attn_norm, E, c->rms_eps);
		if (project(m, &L->qkv, m->xn, n, m->qkv, perf, err, err_len))
			return -1;
		for (int64_t t = 0; t < n; t++) {
			float *q = m->qkv + t * NQKV, *k = q + QD, *v = k + KVD;

			rope_cache(m->rope_cs, c->n_rot, c->rope_base, pos0 + t);
			for (int64_t h = 0; h < H; h++)
				rope_head(q + h * hd, m->rope_cs, c->n_rot, c->arch);
			for (int64_t h = 0; h < HKV; h++)
				rope_head(k + h * hd, m->rope_cs, c->n_rot, c->arch);
			memcpy(kc + (pos0 + t) * KVD, k, (size_t)KVD * sizeof(float));
			memcpy(vc + (pos0 + t) * KVD, v, (size_t)KVD * sizeof(float));
		}
		for (int64_t t = 0; t < n; t++) {
			const float *q = m->qkv + t * NQKV;
			float *o = m->xn + t * QD;
			int64_t npos = pos0 + t + 1;

			for (int64_t h = 0; h < H; h++) {
				const float *qh = q + h * hd;
				int64_t kvh = h / group;
				float mx = -INFINITY, *oh = o + h * hd;
				double sum = 0;

				for (int64_t p = 0; p < npos; p++) {
					const float *kh = kc + p * KVD + kvh * hd;
					float s = 0;

					for (int64_t i = 0; i < hd; i++)
						s += qh[i] * kh[i];
					s *= kq_scale;
					m->scores[p] = s;
					if (s > mx)
						mx = s;
				}
				for (int64_t p = 0; p < npos; p++) {
					m->scores[p] = expf(m->scores[p] - mx);
					sum += m->scores[p];
				}
				for (int64_t i = 0; i < hd; i++)
					oh[i] = 0;
				for (int64_t p = 0; p < npos; p++) {
					const float *vh = vc + p * KVD + kvh * hd;
					float w = (float)(m->scores[p] / sum);

					for (int64_t i = 0; i < hd; i++)
						oh[i] += w * vh[i];
				}
			}
		}
		if (project(m, &L->o, m->xn, n, m->proj, perf, err, err_len))
			return -1;
		for (int64_t i = 0; i < n * E; i++)
			m->x[i] += m->proj[i];

		/* feed-forward: down(silu(gate(x)) * up(x)) */
		for (int64_t t = 0; t < n; t++)
			rmsnorm(m->xn + t * E, m->x + t * E, L->ffn_norm, E, c->rms_eps);
		if (project(m, &L->gate_up, m->xn, n, m->ff, perf, err, err_len))
			return -1;
		for (int64_t t = 0; t < n; t++) {
			const float *gt = m->ff + t * 2 * F, *up = gt + F;
			float *h = m->hid + t * F;

			for (int64_t i = 0; i < F; i++)
				h[i] = gt[i] / (1.0f + expf(-gt[i])) * up[i];
		}
		if (project(m, &L->down, m->hid, n, m->proj, perf, err, err_len))
			return -1;
		for (int64_t i = 0; i < n * E; i++)
			m->x[i] += m->proj[i];
	}

	if (first_out < n) {
		int64_t rows = n - first_out;

		for (int64_t t = 0; t < rows; t++)
			rmsnorm(m->xn + t * E, m->x + (first_out + t) * E, m->output_norm, E,
			        c->rms_eps);
		if (project(m, &m->output, m->xn, rows, logits, perf, err, err_len))
			return -1;
	}
	return 0;
}

int llm_forward(struct llm_model *m, const int32_t *tokens, int64_t n, int64_t first_out,
                float *logits, char *err, size_t err_len)
{
	const struct llm_config *c = &m->cfg;
	int64_t pos_start = m->pos, done = 0;
	struct llm_perf_part *perf = n > 1 ? &m->perf.prefill : &m->perf.decode;
	double t0 = now_s();

	if (n < 1 || first_out < 0 || first_out > n) {
		set_err(err, err_len, "llm_forward: bad batch (%lld tokens, outputs from %lld)",
		        (long long)n, (long long)first_out);
		return -1;
	}
	if (n > c->n_ctx - m->pos) {
		set_err(err, err_len,
		        "%lld tokens do not fit the context: %lld of %lld positions are used",
		        (long long)n, (long long)m->pos, (long long)c->n_ctx);
		return -1;
	}
	for (int64_t t = 0; t < n; t++)
		if (tokens[t] < 0 || tokens[t] >= c->n_vocab) {
			set_err(err, err_len, "token id %d out of range (vocabulary of %lld)",
			        (int)tokens[t], (long long)c->n_vocab);
			return -1;
		}
	while (done < n) {
		int64_t b = n - done < m->batch_max ? n - done : m->batch_max;
		int64_t fo = b;
		float *lg = NULL;

		if (first_out < done + b) {
			fo = first_out > done ? first_out - done : 0;
			lg = logits + (done + fo - first_out) * c->n_vocab;
		}
		if (forward_batch(m, tokens + done, b, fo, lg, perf, err, err_len)) {
			m->pos = pos_start;
			return -1;
		}
		m->pos += b;
		done += b;
	}
	perf->tokens += (uint64_t)n;
	perf->wall_seconds += now_s() - t0;
	return 0;
}

/* ---------------------------------------------------------------- figures */

double llm_perf_cycles_per_token(const struct llm_perf_part *p)
{
	return p->tokens ? (double)p->cycles / (double)p->tokens : 0;
}

double llm_perf_utilization(const struct llm_perf_part *p, const struct sampan_info *info)
{
	double peak = (double)p->cycles * info->rows * info->cols;

	return peak > 0 ? (double)p->macs / peak : 0;
}

double llm_perf_bandwidth_fraction(const struct llm_model *m, const struct llm_perf_part *decode,
                                   const struct sampan_info *info)
{
	double per_token = llm_perf_cycles_per_token(decode);

	if (per_token <= 0 || info->bus_bytes == 0)
		return 0;
	return ((double)m->weight_bytes / info->bus_bytes) / per_token;
}
