/*
 * sample.h - choosing the next token from a row of logits: greedy, or
 * top-k, then top-p, then temperature, then a draw from a seeded generator
 * (the order of llama.cpp's default sampler chain).
 */
#ifndef SAMPAN_LLM_SAMPLE_H
#define SAMPAN_LLM_SAMPLE_H

#include <stdint.h>

/* Sampling options; llm_sampler_check() says whether they are valid. */
struct llm_sample_params {
	float temp;    /* 0: greedy; > 0: softmax(logits / temp) */
	int32_t top_k; /* keep the k most likely tokens; 0: all */
	float top_p;   /* keep the most likely tokens until their probability reaches p; 1: all */
	uint64_t seed;
};

struct llm_sampler;

/* NULL when the parameters are invalid (temp negative or not finite, top_k
 * negative, top_p outside (0, 1] or NaN; @why then says which) or memory is
 * short (@why "out of memory"). */
struct llm_sampler *llm_sampler_create(const struct llm_sample_params *p, int32_t n_vocab,
                                       const char **why);
void llm_sampler_destroy(struct llm_sampler *s);

/* Index of the largest of @n logits (the lowest index among equals; NaN
 * never wins). */
int32_t llm_argmax(const float *logits, int32_t n);

/* The next token for @logits (n_vocab values; not modified). Greedy when
 * temp == 0; otherwise:
 *   1. top-k: the k largest logits (ties: lower id first), all when k == 0;
 *   2. top-p: softmax of those, sorted; the shortest prefix whose
 *      probabilities sum to >= p (at least one token);
 *   3. temperature: softmax(logit / temp) over what is left;
 *   4. one uniform draw in [0, 1) from the sampler's generator
 *      (splitmix64 seeded with @seed: the same seed gives the same tokens).
 */
int32_t llm_sample(struct llm_sampler *s, const float *logits);

#endif /* SAMPAN_LLM_SAMPLE_H */
