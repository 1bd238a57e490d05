/*
 * model.h - the transformer forward pass of GGUF language models of the
 * llama and qwen2 families, with every projection on a sampan device.
 *
 * At load time each projection (Q, K, V, O, gate, up, down, output; the
 * output is token_embd when the file has no output.weight) is converted to
 * Q8_0 blocks and uploaded once as sampan_weights:
 *   Q8_0 as it is; Q4_0 exactly (a Q8_0 block with the same fp16 scale and
 *   q = nibble - 8); F32 and F16 through sampan_quantize_q8_0 (ggml's
 *   reference quantizer), which is what llama.cpp's Q8_0 conversion does.
 * Q, K and V share one upload (N = q + k + v rows, qwen2's biases with them)
 * and so do gate and up: one device call per shared input.
 *
 * Per forward call the activations of each projection are quantized to
 * Q8_0 on the host (sampan_quantize_q8_0) and multiplied on the device
 * (sampan_matmul, M = the tokens of the call). The embedding lookup,
 * RMSNorm, RoPE, attention over the KV cache, SwiGLU and the residuals run
 * on the host in float.
 */
#ifndef SAMPAN_LLM_MODEL_H
#define SAMPAN_LLM_MODEL_H

#include <stddef.h>
#include <stdint.h>

#include "gguf.h"
#include "sampan.h"

enum llm_arch { LLM_ARCH_LLAMA = 1, LLM_ARCH_QWEN2 = 2 };

/* The hyperparameters read from the file (and the context chosen). */
struct llm_config {
	enum llm_arch arch;
	const char *arch_name; /* "llama", "qwen2" */
	int64_t n_vocab;       /* rows of token_embd */
	int64_t n_embd;
	int64_t n_layer;
	int64_t n_ff;
	int64_t n_head, n_head_kv;
	int64_t head_dim;    /* n_embd / n_head, or attention.key_length */
	int64_t n_rot;       /* rope.dimension_count (default head_dim) */
	int64_t n_ctx_train; /* context_length */
	int64_t n_ctx;       /* the KV cache of this instance, in tokens */
	float rms_eps;
	float rope_base;
	int tied_output; /* 1: the output projection is token_embd */
	int qkv_bias;    /* 1: attn_{q,k,v}.bias (qwen2) */
};

/* Device figures of the forward calls so far, summed from sampan_get_stats
 * after every projection. */
struct llm_perf_part {
	uint64_t tokens; /* tokens run (a prefill of 7 tokens counts 7) */
	uint64_t calls;  /* sampan_matmul calls */
	uint64_t cycles, macs, dev_bytes_read;
	double wall_seconds; /* host time in llm_forward, device included */
};

struct llm_perf {
	struct llm_perf_part prefill; /* calls with more than one token */
	struct llm_perf_part decode;  /* calls with one token */
};

struct llm_model;

/* Loads the model in @g (kept open by the caller while the model lives)
 * onto @dev with a KV cache of @n_ctx tokens (0: the model's
 * context_length, at most 4096). Refuses unsupported architectures, tensor
 * types and shapes, naming them, and a model whose weights do not fit the
 * card memory left, with the sizes. -1 and a message in @err on failure. */
int llm_model_load(struct sampan_device *dev, const struct gguf *g, int64_t n_ctx,
                   struct llm_model **out, char *err, size_t err_len);
void llm_model_destroy(struct llm_model *m);

const struct llm_config *llm_model_config(const struct llm_model *m);

/* Card memory taken by the uploaded weights, in bytes: what one decode
 * step reads at least. */
uint64_t llm_model_weight_bytes(const struct llm_model *m);

/* Tokens in the KV cache (the position of the next token). */
int64_t llm_model_pos(const struct llm_model *m);

/* Empties the KV cache (the next token is at position 0). */
void llm_model_reset(struct llm_model *m);

/* Runs @n tokens at positions pos .. pos + n - 1, appending them to the KV
 * cache, as one batch (every projection with M = n). Writes the logits of
 * tokens @first_out .. n - 1 to @logits, (n - first_out, n_vocab) row-major:
 * first_out = n - 1 gives the last token's only, and costs one output row.
 * Fails (-1, message in @err, the cache left as it was) when the tokens do
 * not fit the context, on a bad token id or a device error. */
int llm_forward(struct llm_model *m, const int32_t *tokens, int64_t n, int64_t first_out,
                float *logits, char *err, size_t err_len);

/* The figures of the calls so far; llm_model_perf_reset zeroes them. */
void llm_model_perf(const struct llm_model *m, struct llm_perf *p);
void llm_model_perf_reset(struct llm_model *m);

/* Derived figures of @p on a device of @info (0 when the device has no
 * cycle counter): cycles per token, macs / (cycles * rows * cols), and the
 * decode bandwidth fraction, (weight bytes / bus bytes) / decode cycles per
 * token: 1.0 would be a token in the time its weights take to stream once
 * over the card-memory bus. */
double llm_perf_cycles_per_token(const struct llm_perf_part *p);
double llm_perf_utilization(const struct llm_perf_part *p, const struct sampan_info *info);
double llm_perf_bandwidth_fraction(const struct llm_model *m, const struct llm_perf_part *decode,
                                   const struct sampan_info *info);

#endif /* SAMPAN_LLM_MODEL_H */
